#!/usr/bin/env bash
# The control socket is root's alone, and nothing a client sends hurts lxcfs.
#
#   - lxcfs-ctl with no daemon exits 3 with a clear message; pointed at a
#     socket that does not speak lxcfs's protocol (one that echoes, one that
#     closes at once, one that answers as a web server) it exits 4 with one;
#     lxcfs-ctl COMMAND --help exits 0 for every command, usage errors 2;
#     lxcfs-ctl --version, lxcfs --version and -v print the version and
#     build id, lxcfs -h the usage, all exiting 0;
#   - RUNDIR/lxcfs/control.sock is a socket of mode 0600 owned by root, in a
#     folder of mode 0700; a non-root lxcfs-ctl fails and says why;
#   - random bytes, truncated and malformed requests, a connection that sends
#     nothing, clients that never read their replies, 50 connections at once,
#     1 MiB lines and a client sending a byte at a time neither crash nor stall
#     the master: two readers in a container keep reading meanwhile (none kept
#     waiting past the request deadline + 100 ms), and lxcfs-ctl status
#     answers within 1 s after each;
#   - with the socket opened up by a careless chmod, the daemon still refuses
#     a non-root peer, and lxcfs-ctl says so (exit 1, "permission denied");
#   - lxcfs-ctl snapshot, 8 at once, does not stall the readers either;
#     --cgroup with ct1's cgroup and --table memory shows ct1's entries and
#     nothing else, containers' entries come before pid entries, --limit N
#     shows N rows and says how many were left out, --limit 0 only counts;
#   - no worker died of any of it: worker_deaths (crashes, hangs, failed
#     starts) in lxcfs-ctl status is still 0 at the end.
# Checks that do not stop the scenario are gathered and reported together.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_load.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs has no control socket"

CTL=$LXCFS_BUILD/lxcfs-ctl
[ -x "$CTL" ] || fail "no $CTL"
COMMANDS=(status workers stats snapshot upgrade restart-worker scale attach)
PROBLEMS=()

# exit_text RC: RC, and the signal when it is one (141: SIGPIPE).
exit_text()
{
	if [ "$1" -gt 128 ] && [ "$1" -lt 160 ]; then
		echo "$1 (killed by SIG$(kill -l $(($1 - 128))))"
	else
		echo "$1"
	fi
}

# problem WHAT: a failed check that need not stop the scenario.
problem()
{
	log "PROBLEM: $*"
	PROBLEMS+=("$*")
}

# --- without a daemon -----------------------------------------------------------

out=$("$CTL" --runtime-dir "$TEST_TMP/nothing" status 2>&1)
rc=$?
log "no daemon: exit $rc: $out"
[ $rc = 3 ] || problem "lxcfs-ctl with no daemon exited $rc, expected 3: $out"
grep -q "no lxcfs answers on $TEST_TMP/nothing/lxcfs/control.sock" <<<"$out" ||
	problem "lxcfs-ctl with no daemon does not say so clearly: $out"

# A socket file nobody listens on (a daemon that died): refused, exit 3 too.
"$PYTHON" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
	"$TEST_TMP/dead.sock" || fail "cannot make a dead socket"
out=$("$CTL" --socket "$TEST_TMP/dead.sock" status 2>&1)
rc=$?
log "dead socket: exit $rc: $out"
[ $rc = 3 ] || problem "lxcfs-ctl on a socket nobody listens on exited $rc, expected 3: $out"

# Sockets that are not lxcfs's: one echoes what it gets, one closes at once,
# one answers as a web server would.
cat >"$TEST_TMP/servers.py" <<'EOF'
import os, socket, sys, threading

def serve(path, handle):
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(16)
    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=handle, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()

def echo(c):
    try:
        while True:
            b = c.recv(4096)
            if not b:
                break
            c.sendall(b)
    finally:
        c.close()

def close_at_once(c):
    c.close()

def http(c):
    c.recv(4096)
    c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    c.close()

d = sys.argv[1]
serve(d + "/echo.sock", echo)
serve(d + "/close.sock", close_at_once)
serve(d + "/http.sock", http)
open(d + "/servers.ready", "w").close()
while not os.path.exists(d + "/servers.stop"):
    threading.Event().wait(0.1)
EOF
"$PYTHON" "$TEST_TMP/servers.py" "$TEST_TMP" &
servers=$!
wait_for 10 test -e "$TEST_TMP/servers.ready" || fail "the fake servers did not start"
for s in echo close http; do
	for cmd in status "scale 2"; do
		# shellcheck disable=SC2086
		out=$(timeout 10 "$CTL" --socket "$TEST_TMP/$s.sock" $cmd 2>&1)
		rc=$?
		log "lxcfs-ctl $cmd on the $s server: exit $(exit_text $rc): $out"
		[ $rc = 4 ] || problem "lxcfs-ctl $cmd on the $s server exited $(exit_text $rc), expected 4: '$out'"
		grep -q "did not answer as lxcfs does\|closed the connection" <<<"$out" ||
			problem "lxcfs-ctl $cmd on the $s server does not say what is wrong: $out"
	done
done
: >"$TEST_TMP/servers.stop"
wait "$servers"

# --- help -------------------------------------------------------------------------

for c in "${COMMANDS[@]}"; do
	out=$("$CTL" "$c" --help 2>&1)
	rc=$?
	[ $rc = 0 ] || problem "lxcfs-ctl $c --help exited $rc: $out"
	grep -q "^Usage: lxcfs-ctl .* $c" <<<"$out" || problem "lxcfs-ctl $c --help prints no usage: $out"
done
"$CTL" --help >/dev/null || problem "lxcfs-ctl --help exited $?"
out=$("$CTL" no-such-command 2>&1)
[ $? = 2 ] || problem "lxcfs-ctl no-such-command did not exit 2: $out"
out=$("$CTL" scale 2>&1)
[ $? = 2 ] || problem "lxcfs-ctl scale without N did not exit 2: $out"
log "lxcfs-ctl COMMAND --help exits 0 for ${COMMANDS[*]}; usage errors exit 2"

# Versions, with the build id: lxcfs-ctl and lxcfs print and exit 0, no daemon needed.
for a in --version -v; do
	out=$("$CTL" $a 2>&1)
	rc=$?
	[ $rc = 0 ] && grep -qE '^lxcfs-ctl [0-9][^ ]* \(build [^)]+\)$' <<<"$out" ||
		problem "lxcfs-ctl $a: exit $rc: '$out'"
done
for a in --version -v; do
	out=$("$LXCFS_BUILD/lxcfs" $a 2>&1)
	rc=$?
	[ $rc = 0 ] && grep -qE '^lxcfs [0-9][^ ]* \(build [^)]+\)$' <<<"$out" ||
		problem "lxcfs $a: exit $rc: '$out'"
done
out=$("$LXCFS_BUILD/lxcfs" -h 2>&1)
rc=$?
[ $rc = 0 ] && grep -q '^Usage: lxcfs ' <<<"$out" && grep -q -- '--log TARGET' <<<"$out" ||
	problem "lxcfs -h: exit $rc: $(head -2 <<<"$out")"
log "versions: $("$CTL" --version), $("$LXCFS_BUILD/lxcfs" --version); lxcfs -h exits 0"

# --- the daemon's socket ------------------------------------------------------------

start_lxcfs --workers 2
SOCK=$RUNDIR/lxcfs/control.sock
[ -S "$SOCK" ] || fail "no socket at $SOCK"
read -r mode owner <<<"$(stat -c '%a %U' "$SOCK")"
dmode=$(stat -c '%a' "$RUNDIR/lxcfs")
log "socket $SOCK: mode $mode, owner $owner; folder mode $dmode"
[ "$mode" = 600 ] || problem "control socket mode $mode, expected 600"
[ "$owner" = root ] || problem "control socket owned by $owner, expected root"
[ "$dmode" = 700 ] || problem "folder $RUNDIR/lxcfs mode $dmode, expected 700"

# ctl_answers WHAT: lxcfs-ctl status answers within 1 s; the master is alive.
ctl_answers()
{
	local t0 ms out
	pid_alive "$LXCFS_PID" || fail "the master died after $1"
	t0=${EPOCHREALTIME/./}
	out=$(timeout 5 "$CTL" --runtime-dir "$RUNDIR" status 2>&1) || fail "lxcfs-ctl status after $1: $out"
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	log "after $1: lxcfs-ctl status answered in $ms ms"
	[ $ms -lt 1000 ] || problem "lxcfs-ctl status took $ms ms after $1"
}

# A non-root caller: lxcfs-ctl copied where nobody may run it.
cp "$CTL" "$TEST_TMP/lxcfs-ctl"
chmod 0755 "$TEST_TMP/lxcfs-ctl"
out=$(setpriv --reuid 65534 --regid 65534 --clear-groups "$TEST_TMP/lxcfs-ctl" --socket "$SOCK" status 2>&1)
rc=$?
log "non-root lxcfs-ctl: exit $rc: $out"
[ $rc != 0 ] || problem "a non-root lxcfs-ctl was answered: $out"
grep -qi "permission denied" <<<"$out" || problem "a non-root lxcfs-ctl is not told why: $out"
ctl_answers "non-root callers"

# A container reads all along.
make_container ct1 mem=256M files=meminfo,uptime
CT_MEM_KB["ct1"]=262144 # checked by the readers
readers_start ct1 2 meminfo uptime

# The abuses, in python: each prints one line "ok WHAT: details" or "BAD ...".
cat >"$TEST_TMP/abuse.py" <<'EOF'
import os, socket, sys, time

path, what = sys.argv[1], sys.argv[2]

def conn(rcvbuf=None):
    s = socket.socket(socket.AF_UNIX)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(path)
    return s

def reply(s, limit=10):
    s.settimeout(limit)
    b = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            b += d
    except socket.timeout:
        return b, "timeout"
    except ConnectionResetError:
        return b, "reset"
    return b, "closed"

def first(b):
    return b.split(b"\n")[0][:80].decode(errors="replace")

if what == "random":
    import random
    r = random.Random(7)
    for i in range(20):
        s = conn()
        s.sendall(bytes(r.randrange(256) for _ in range(r.randrange(1, 8192))) + (b"\n" if i % 2 else b""))
        if i % 2 == 0:
            s.shutdown(socket.SHUT_WR)
        b, how = reply(s)
        s.close()
        if how == "timeout":
            print("BAD random bytes %d: no answer and not closed in 10 s" % i)
            sys.exit(1)
    print("ok random: 20 connections of random bytes answered or closed")

elif what == "malformed":
    reqs = [b"LXCFS-CTL/1 sta", b"LXCFS-CTL/1", b"LXCFS-CTL/1\n", b"LXCFS-CTL/1 \n", b"\n",
            b"LXCFS-CTL/2 status\n", b"lxcfs-ctl/1 status\n", b"LXCFS-CTL/1 nosuch\n",
            b"LXCFS-CTL/1 scale\n", b"LXCFS-CTL/1 scale 0\n", b"LXCFS-CTL/1 scale -1\n",
            b"LXCFS-CTL/1 scale 99999999999999999999\n", b"LXCFS-CTL/1 scale 2x\n",
            b"LXCFS-CTL/1 restart-worker\n", b"LXCFS-CTL/1 restart-worker 999\n",
            b"LXCFS-CTL/1 restart-worker -1\n", b"LXCFS-CTL/1 upgrade %2Fno%2Fsuch%2Fbinary\n",
            b"LXCFS-CTL/1 upgrade /dev/null\n", b"LXCFS-CTL/1 status\x00\xff\n",
            b"LXCFS-CTL/1 stat\x00us\n", b"LXCFS-CTL/1 status extra args here\n"]
    for q in reqs:
        s = conn()
        s.sendall(q)
        s.shutdown(socket.SHUT_WR)
        b, how = reply(s)
        s.close()
        if how == "timeout":
            print("BAD %r: no answer and not closed in 10 s" % q)
            sys.exit(1)
        if b and not b.startswith(b"LXCFS/1 "):
            print("BAD %r: answered %r" % (q, first(b)))
            sys.exit(1)
        ok_ops = (b"LXCFS-CTL/1 status\x00\xff\n", b"LXCFS-CTL/1 status extra args here\n")
        if b"result ok=1" in b and q not in ok_ops:
            print("BAD %r: an operation was carried out: %r" % (q, b[-200:]))
            sys.exit(1)
        print("  %r -> %s %s" % (q, first(b) or "(nothing)", how))
    print("ok malformed: %d truncated or malformed requests answered or closed" % len(reqs))

elif what == "silent":
    # Connects and sends nothing: the daemon must not wait on it, and should
    # drop it. Meanwhile a real request is answered.
    s = conn()
    t0 = time.monotonic()
    b, how = reply(s, 15)
    print("ok silent: a connection that sends nothing was %s after %.1f s" % (how, time.monotonic() - t0))
    if how == "timeout":
        print("BAD silent: kept open 15 s")
        sys.exit(1)

elif what == "noread":
    # Asks for a reply and never reads it, with the smallest receive buffer.
    socks = []
    for i in range(8):
        s = conn(rcvbuf=1024)
        s.sendall(b"LXCFS-CTL/1 stats\n")
        socks.append(s)
    time.sleep(3)
    for s in socks:
        s.close()
    print("ok noread: 8 clients held their replies unread for 3 s")

elif what == "many":
    n = int(sys.argv[3])
    socks, refused = [], 0
    for i in range(n):
        try:
            socks.append(conn())
        except OSError as e:
            refused += 1
    for s in socks:
        try:
            s.sendall(b"LXCFS-CTL/1 status\n")
        except OSError:
            pass
    oks = busy = other = 0
    for s in socks:
        b, how = reply(s)
        s.close()
        if b.startswith(b"LXCFS/1 OK"):
            oks += 1
        elif b.startswith(b"LXCFS/1 ERR"):
            busy += 1
        else:
            other += 1
    print("ok many: %d at once: %d answered, %d told busy, %d closed or refused at connect %d"
          % (n, oks, busy, other, refused))
    if oks == 0:
        print("BAD many: none answered")
        sys.exit(1)

elif what == "long":
    for tail in (b"", b"\n"):
        s = conn()
        try:
            s.sendall(b"LXCFS-CTL/1 status " + b"x" * (1 << 20) + tail)
        except OSError as e:
            pass
        b, how = reply(s)
        s.close()
        print("  1 MiB line%s -> %s %s" % (" with a newline" if tail else "", first(b) or "(nothing)", how))
        if how == "timeout":
            print("BAD long: no answer and not closed in 10 s")
            sys.exit(1)
    print("ok long: 1 MiB lines refused")

elif what == "slow":
    # One byte every 200 ms: dropped as stalled, not waited on forever.
    s = conn()
    t0 = time.monotonic()
    try:
        for c in b"LXCFS-CTL/1 status":
            s.sendall(bytes([c]))
            time.sleep(0.2)
        s.sendall(b"\n")
    except OSError:
        pass
    b, how = reply(s)
    print("ok slow: a client sending a byte every 200 ms got %s, %s after %.1f s" % (first(b) or "(nothing)", how, time.monotonic() - t0))
EOF

abuse()
{
	local out
	out=$(timeout 60 "$PYTHON" "$TEST_TMP/abuse.py" "$SOCK" "$@" 2>&1) || fail "control $1: $out"
	grep -v '^ok' <<<"$out" | sed 's/^/#   /' >&2
	log "$(grep '^ok' <<<"$out")"
	ctl_answers "$1"
}

abuse random
abuse malformed
abuse silent &
silent=$!
# While the silent one is open: answered at once.
sleep 0.5
ctl_answers "a silent connection opened"
wait $silent || fail "control silent connection"
abuse noread &
noread=$!
sleep 1
ctl_answers "8 clients not reading their replies"
wait $noread || fail "control noread"
abuse many 50
abuse long
abuse slow
READERS_SOFT=1 readers_collect "control socket abuse" || problem "$READER_PROBLEM"
pool_is 2 || problem "the pool changed: $(ctl workers | tr -s ' \n' ' ')"

# The mode opened up by mistake: the daemon itself refuses a non-root peer,
# seen first from a plain client, then from lxcfs-ctl, which must say why.
chmod 0711 "$RUNDIR/lxcfs"
chmod 0666 "$SOCK"
out=$(setpriv --reuid 65534 --regid 65534 --clear-groups "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
b = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    b += d
print(b.decode(errors="replace").strip())' "$SOCK" 2>&1)
log "non-root peer, socket mode 0666, sending nothing: the daemon says: $out"
grep -q "^LXCFS/1 ERR permission denied" <<<"$out" ||
	problem "the daemon does not refuse a non-root peer clearly: $out"
out=$(setpriv --reuid 65534 --regid 65534 --clear-groups "$TEST_TMP/lxcfs-ctl" --socket "$SOCK" status 2>&1)
rc=$?
out2=$(setpriv --reuid 65534 --regid 65534 --clear-groups "$TEST_TMP/lxcfs-ctl" --socket "$SOCK" scale 1 2>&1)
rc2=$?
chmod 0700 "$RUNDIR/lxcfs"
chmod 0600 "$SOCK"
log "non-root lxcfs-ctl status, socket mode 0666: exit $(exit_text $rc): $out"
log "non-root lxcfs-ctl scale 1, socket mode 0666: exit $(exit_text $rc2): $out2"
pool_is 2 || problem "the pool changed after a non-root scale request"
ctl_answers "non-root peers on an open socket"
[ $rc2 != 0 ] || problem "a non-root peer could scale: $out2"
[ $rc = 1 ] || problem "a non-root lxcfs-ctl status on an open socket: exit $(exit_text $rc), expected 1 (refused) and a message: '$out'"
grep -qi "permission denied" <<<"$out" || problem "a non-root lxcfs-ctl status is not told why: '$out'"
[ $rc2 = 1 ] || problem "a non-root lxcfs-ctl scale 1 on an open socket: exit $(exit_text $rc2), expected 1 (refused) and a message: '$out2'"
grep -qi "permission denied" <<<"$out2" || problem "a non-root lxcfs-ctl scale 1 is not told why: '$out2'"

# lxcfs-ctl snapshot, 8 at once, while the readers read.
readers_start ct1 2 meminfo uptime
sleep 0.5
t0=${EPOCHREALTIME/./}
snaps=()
for _ in $(seq 8); do
	ctl snapshot >/dev/null &
	snaps+=($!)
done
for p in "${snaps[@]}"; do
	wait "$p" || problem "lxcfs-ctl snapshot exited $?"
done
log "8 lxcfs-ctl snapshot at once took $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
sleep 0.5
READERS_SOFT=1 readers_collect "8 lxcfs-ctl snapshot at once" || problem "$READER_PROBLEM"
ctl_answers "8 lxcfs-ctl snapshot at once"

# The snapshot's filters and order, as an operator looking for one container uses them.
ct1_cg=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; found = 1; exit }
	$1 == 0 && $2 == "" { v2 = $3 } END { if (!found) print v2 }' "/proc/${CT_INIT[ct1]}/cgroup")
out=$(timeout 10 "$CTL" --runtime-dir "$RUNDIR" --json snapshot --table memory --cgroup "$ct1_cg")
verdict=$("$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
es = d.get("entry", [])
counts = {c["table"]: c for c in d["count"]}
bad = [e for e in es if e["table"] != "memory"]
if not es or bad or counts["pid"]["matched"] != 0 or counts["memory"]["matched"] != len(es):
    print("BAD %d entries, others %s, counts %s" % (len(es), bad[:2], counts["memory"]))
else:
    print("ok %d memory entries of the container: %s" % (len(es), ", ".join(e["key"] for e in es)))
' "$out" 2>&1)
log "snapshot --table memory --cgroup $ct1_cg: $verdict"
case $verdict in ok*) ;; *) problem "snapshot --table memory --cgroup $ct1_cg: $verdict" ;; esac
out=$(timeout 10 "$CTL" --runtime-dir "$RUNDIR" snapshot --limit 5 --json) # --json after the command too
verdict=$("$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
es, s = d.get("entry", []), d["snapshot"]
ranks = [2 if e["table"] == "pid" else 1 if e["table"] in ("host", "sysfs") else 0 for e in es]
if len(es) != min(5, s["entries"]) or s["shown"] != len(es) or s["left_out"] != s["entries"] - len(es):
    print("BAD %d rows, snapshot record %s" % (len(es), s))
elif ranks != sorted(ranks):
    print("BAD order: %s" % [e["table"] for e in es])
else:
    print("ok %d of %d shown, %d left out, tables in order %s" % (len(es), s["entries"], s["left_out"], [e["table"] for e in es]))
' "$out" 2>&1)
log "snapshot --limit 5: $verdict"
case $verdict in ok*) ;; *) problem "snapshot --limit 5: $verdict" ;; esac
out=$(timeout 10 "$CTL" --runtime-dir "$RUNDIR" snapshot --limit 0 2>&1)
rc=$?
[ $rc = 0 ] && ! grep -q '^entry:' <<<"$out" && grep -q '^count:' <<<"$out" ||
	problem "snapshot --limit 0: exit $rc: $(head -3 <<<"$out" | tr '\n' ' ')"
ctl_answers "snapshot with filters"

exits=$(ctl_json status '" ".join("%s=%s" % (k, d["master"]["worker_" + k]) for k in ("deaths", "crashes", "hangs", "start_failures", "exits_planned"))')
log "worker exits over the whole abuse: $exits"
case " $exits " in
*" deaths=0 crashes=0 hangs=0 start_failures=0 "*) ;;
*) problem "workers died while clients abused the control socket: $exits" ;;
esac

check_sanitizer_log
destroy_container ct1
stop_lxcfs
[ ${#PROBLEMS[@]} = 0 ] || fail "${#PROBLEMS[@]} problems: $(printf '%s; ' "${PROBLEMS[@]}")"
pass
