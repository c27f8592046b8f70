#!/usr/bin/env bash
# Logs reach syslog and journald from the master and from the workers, with
# the right ident, priority and fields, and a log socket that is missing or
# full never holds the daemon up.
#
# The test runs in a mount namespace of its own (unshare -m) whose /dev and
# /run are fresh tmpfs (with /dev/null, /dev/fuse and the like bound in): the
# test's receivers (python, SOCK_DGRAM) are bound at /dev/log and at
# /run/systemd/journal/socket there, and the host's logging is untouched.
#
#   syslog    --log syslog -d, one worker: the master's start line arrives as
#             "<30>Mmm dd hh:mm:ss lxcfs[PID]: serving ..." (daemon.info); the
#             worker's own debug line from its pid, "<31>... lxcfs[WPID]:
#             worker 0: ready ..."; a worker SIGKILLed by the test as a crash
#             at daemon.err (<27>); a worker stopped (SIGSTOP) and replaced for
#             the request deadline as a hang at daemon.warning (<28>); SIGTERM
#             at info. Nothing of it on stderr.
#   journald  --log journald -d: the same events as datagrams of KEY=value
#             lines: MESSAGE, PRIORITY (6, 7, 3), SYSLOG_IDENTIFIER=lxcfs,
#             SYSLOG_FACILITY=3, SYSLOG_PID of the process that speaks, and
#             LXCFS_WORKER=<slot> on the workers' lines only; nothing reaches
#             the syslog receiver meanwhile.
#   auto      --log auto picks journald while its socket exists, then syslog,
#             then stderr. With no --log: stderr on a file means stderr; stderr
#             on systemd's journal stream (JOURNAL_STREAM names it) means
#             journald; stderr on /dev/null (an init script's) means auto.
#   missing   --log syslog with no /dev/log: lxcfs starts, serves and replaces
#             a killed worker at once; its lines go to stderr after one note
#             saying why, and are counted in log_dropped; once /dev/log is
#             back, lines go there again, after a note of how many were lost.
#   full      a receiver that never reads: its queue fills, yet 8 workers
#             killed one after the other are each replaced within 2 s, reads
#             and lxcfs-ctl status answer within 1 s, and log_dropped counts
#             what the socket did not take.
if [ -z "${LXCFS_LOGGING_NS:-}" ]; then
	# Everything below, traps included, runs in the private mount namespace.
	exec env LXCFS_LOGGING_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs logs to syslog(3) only, with no target option"
command -v unshare >/dev/null || skip "no unshare"

CTL=$LXCFS_BUILD/lxcfs-ctl
SYSLOG=/dev/log
JOURNAL=/run/systemd/journal/socket

# --- a /dev and a /run of our own ---------------------------------------------------

nsdev=$TEST_TMP/nsdev
mkdir "$nsdev"
mount -t tmpfs -o mode=0755 lxcfs-test-dev "$nsdev" || fail "mount tmpfs for /dev"
for n in null zero full random urandom tty fuse; do
	[ -e "/dev/$n" ] || continue
	: >"$nsdev/$n"
	mount --bind "/dev/$n" "$nsdev/$n" || fail "bind /dev/$n"
done
ln -s /proc/self/fd "$nsdev/fd"
ln -s /proc/self/fd/0 "$nsdev/stdin"
ln -s /proc/self/fd/1 "$nsdev/stdout"
ln -s /proc/self/fd/2 "$nsdev/stderr"
mkdir "$nsdev/shm" "$nsdev/pts"
# Moved, not bound: nothing stays mounted under the test's folder.
mount --move "$nsdev" /dev || fail "mount --move onto /dev"
mount -t tmpfs -o mode=0755 lxcfs-test-run /run || fail "mount tmpfs on /run"
mkdir -p /run/systemd/journal
[ -e /dev/log ] && fail "/dev/log exists in our namespace"
log "private /dev and /run: $(ls /dev | tr '\n' ' ')"

# --- receivers -------------------------------------------------------------------------

cat >"$TEST_TMP/receiver.py" <<'EOF'
# A log socket of the test: each datagram is one line of OUT, its newlines
# as tabs. With "noread" it binds and never reads: the queue fills.
import os, signal, socket, sys

path, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
open(out + ".ready", "w").close()
if mode == "noread":
    while True:
        signal.pause()
with open(out, "a", buffering=1) as f:
    while True:
        d = s.recv(1 << 16)
        f.write(d.decode(errors="replace").rstrip("\n").replace("\n", "\t") + "\n")
EOF

declare -A RECV_PID=()

# receiver_start NAME PATH [noread]: datagrams to PATH land in $TEST_TMP/NAME.got.
receiver_start()
{
	local name=$1 path=$2 mode=${3:-read}
	rm -f "$TEST_TMP/$name.got.ready"
	: >>"$TEST_TMP/$name.got"
	"$PYTHON" "$TEST_TMP/receiver.py" "$path" "$TEST_TMP/$name.got" "$mode" 2>>"$TEST_TMP/receivers.log" &
	RECV_PID[$name]=$!
	record_pid receiver "$!"
	wait_for 5 test -e "$TEST_TMP/$name.got.ready" || fail "receiver $name on $path did not start"
	log "receiver $name listening on $path ($mode)"
}

# receiver_stop NAME PATH: the receiver gone, its socket file removed.
receiver_stop()
{
	kill "${RECV_PID[$1]}" 2>/dev/null
	wait "${RECV_PID[$1]}" 2>/dev/null
	rm -f "$2"
}

# got NAME: what NAME received so far.
got()
{
	cat "$TEST_TMP/$1.got"
}

# wait_got SECS NAME ERE WHAT: until NAME received a line matching ERE.
wait_got()
{
	wait_for "$1" grep -qE "$3" "$TEST_TMP/$2.got" ||
		fail "$4: no line matching '$3' from $2 in $1 s; got: $(tail -5 "$TEST_TMP/$2.got" | tr '\n' '|')"
	log "ok: $4: $(grep -m1 -E "$3" "$TEST_TMP/$2.got")"
}

# journal_has WHAT KEY=ERE...: some datagram holds each KEY with a value
# matching ERE in whole ("KEY=!" for a KEY it must not have).
journal_has()
{
	local what=$1 hit
	shift
	hit=$("$PYTHON" - "$TEST_TMP/journal.got" "$@" <<'EOF'
import re, sys
path, conds = sys.argv[1], sys.argv[2:]
for line in open(path):
    fields = dict(kv.split("=", 1) for kv in line.rstrip("\n").split("\t") if "=" in kv)
    ok = True
    for c in conds:
        k, rx = c.split("=", 1)
        if rx == "!":
            ok = ok and k not in fields
        else:
            ok = ok and k in fields and re.fullmatch(rx, fields[k]) is not None
    if ok:
        print(line.rstrip("\n"))
        break
EOF
	)
	[ -n "$hit" ] || fail "$what: no journal datagram with $*; got: $(tail -5 "$TEST_TMP/journal.got" | tr '\n' '|')"
	log "ok: $what: $hit"
}

ctl_field()
{
	timeout 5 "$CTL" --runtime-dir "$RUNDIR" --json status |
		"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["master"][sys.argv[1]])' "$1"
}

# The first worker's pid, once there is one that is ready.
one_worker()
{
	local p
	wait_for 5 eval '[ -n "$(lxcfs_worker_pids)" ]' || fail "no worker running"
	p=$(lxcfs_worker_pids | head -1)
	echo "$p"
}

# replaced PID: a worker other than PID is ready and serves.
replaced()
{
	local p
	for p in $(lxcfs_worker_pids); do
		[ "$p" != "$1" ] && timeout 2 head -c 9 "$MNT/proc/meminfo" >/dev/null && return 0
	done
	return 1
}

STAMP='[A-Z][a-z]{2} [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9]'

# --- syslog ---------------------------------------------------------------------------

receiver_start syslog "$SYSLOG"
start_lxcfs --log syslog -d --workers 1 --request-timeout-ms 200
wait_got 5 syslog "^<30>$STAMP lxcfs\[$LXCFS_PID\]: serving $MNT with 1 workers .*logging to syslog$" \
	"syslog: the master's start line at daemon.info"
w=$(one_worker)
wait_got 5 syslog "^<31>$STAMP lxcfs\[$w\]: worker 0: ready \(pid $w\)$" \
	"syslog: the worker's debug line, from its own pid"
kill -KILL "$w"
wait_got 5 syslog "^<27>$STAMP lxcfs\[$LXCFS_PID\]: worker 0 \(pid $w\): killed by signal 9 \(SIGKILL\)$" \
	"syslog: a crashed worker at daemon.err"
wait_for 5 replaced "$w" || fail "worker $w not replaced"
w2=$(one_worker)
wait_got 5 syslog "^<31>$STAMP lxcfs\[$w2\]: worker 0: ready \(pid $w2\)$" \
	"syslog: the replacement's debug line"
kill -STOP "$w2"
head -c 9 "$MNT/proc/meminfo" >/dev/null || fail "read while the worker is stopped"
wait_got 5 syslog "^<28>$STAMP lxcfs\[$LXCFS_PID\]: worker 0 \(pid $w2, state T, .*\) did not answer request [0-9]+ in 200 ms: replacing it$" \
	"syslog: a hung worker at daemon.warning"
wait_got 5 syslog "^<28>$STAMP lxcfs\[$LXCFS_PID\]: worker 0 \(pid $w2\): deadline: signal 9$" \
	"syslog: the hung worker's end at daemon.warning"
[ "$(ctl_field log)" = syslog ] || fail "lxcfs-ctl status says log=$(ctl_field log), expected syslog"
read -r crashes hangs <<<"$(ctl_field worker_crashes) $(ctl_field worker_hangs)"
[ "$crashes $hangs" = "1 1" ] || fail "syslog: crashes $crashes, hangs $hangs; expected 1 and 1"
stop_lxcfs
wait_got 5 syslog "^<30>$STAMP lxcfs\[$LXCFS_PID\]: signal 15 \(TERM\): unmounting and exiting$" \
	"syslog: SIGTERM at daemon.info"
if grep -E '^(lxcfs|worker [0-9]+): ' "$LXCFS_LOG"; then
	fail "syslog: lines went to stderr too: $(grep -m3 -E '^(lxcfs|worker [0-9]+): ' "$LXCFS_LOG" | tr '\n' '|')"
fi
log "syslog: $(wc -l <"$TEST_TMP/syslog.got") datagrams, none on stderr"

# --- journald ---------------------------------------------------------------------------

receiver_start journal "$JOURNAL"
syslog_before=$(wc -l <"$TEST_TMP/syslog.got")
start_lxcfs --log journald -d --workers 2
wait_for 5 grep -q "MESSAGE=serving" "$TEST_TMP/journal.got" || fail "journald: no start line"
journal_has "journald: the master's start line" "MESSAGE=serving $MNT with 2 workers .*" \
	PRIORITY=6 SYSLOG_IDENTIFIER=lxcfs SYSLOG_FACILITY=3 "SYSLOG_PID=$LXCFS_PID" 'LXCFS_WORKER=!'
for w in $(lxcfs_worker_pids); do
	wait_for 5 grep -q "ready (pid $w)" "$TEST_TMP/journal.got" || fail "journald: no ready line of worker $w"
	journal_has "journald: worker pid $w's debug line" "MESSAGE=worker [01]: ready \(pid $w\)" \
		PRIORITY=7 SYSLOG_IDENTIFIER=lxcfs "SYSLOG_PID=$w" 'LXCFS_WORKER=[01]'
done
w=$(one_worker)
kill -KILL "$w"
wait_for 5 grep -q "(pid $w): killed by signal 9" "$TEST_TMP/journal.got" || fail "journald: no line of the kill"
journal_has "journald: a crashed worker at err" "MESSAGE=worker [01] \(pid $w\): killed by signal 9 \(SIGKILL\)" \
	PRIORITY=3 SYSLOG_IDENTIFIER=lxcfs "SYSLOG_PID=$LXCFS_PID" 'LXCFS_WORKER=!'
[ "$(ctl_field log)" = journald ] || fail "lxcfs-ctl status says log=$(ctl_field log), expected journald"
stop_lxcfs
[ "$(wc -l <"$TEST_TMP/syslog.got")" = "$syslog_before" ] ||
	fail "journald: lines reached the syslog receiver too: $(tail -n +$((syslog_before + 1)) "$TEST_TMP/syslog.got" | head -3 | tr '\n' '|')"
log "journald: $(wc -l <"$TEST_TMP/journal.got") datagrams, none to syslog"

# --- auto and the default ---------------------------------------------------------------

# log_target_is WHAT TARGET ARGS...: lxcfs started with ARGS logs to TARGET.
log_target_is()
{
	local what=$1 want=$2
	shift 2
	start_lxcfs "$@"
	[ "$(ctl_field log)" = "$want" ] || fail "$what: lxcfs-ctl status says log=$(ctl_field log), expected $want"
	log "ok: $what: $want"
	stop_lxcfs
}

# Like start_lxcfs, with stderr on /dev/null as an init script leaves it.
start_lxcfs_quiet()
{
	MNT=$TEST_TMP/mnt RUNDIR=$TEST_TMP/run LXCFS_LOG=/dev/null
	mkdir -p "$MNT" "$RUNDIR"
	state_add mounts "$MNT"
	"$LXCFS_BUILD/lxcfs" -f --runtime-dir "$RUNDIR" --worker-binary "$LXCFS_BUILD/lxcfs-worker" \
		--workers 2 "$MNT" </dev/null >/dev/null 2>&1 &
	LXCFS_PID=$!
	LXCFS_CHILD=$LXCFS_PID
	record_pid daemon "$LXCFS_PID"
	LXCFS_STARTED=1
	wait_for 10 lxcfs_ready || fail "lxcfs with stderr on /dev/null is not serving"
}

# Like start_lxcfs, with stderr on a stream socket that JOURNAL_STREAM names,
# as systemd starts a unit; a child of the launcher reads and drops it.
start_lxcfs_journal_stream()
{
	MNT=$TEST_TMP/mnt RUNDIR=$TEST_TMP/run LXCFS_LOG=$TEST_TMP/stream.log
	mkdir -p "$MNT" "$RUNDIR"
	state_add mounts "$MNT"
	"$PYTHON" -c '
import os, socket, sys
a, b = socket.socketpair()
if os.fork() == 0:
    a.close()
    with open(sys.argv[1], "ab") as f:
        while True:
            d = b.recv(4096)
            if not d:
                os._exit(0)
            f.write(d)
b.close()
st = os.fstat(a.fileno())
os.dup2(a.fileno(), 2)
os.environ["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
os.execv(sys.argv[2], sys.argv[2:])' "$LXCFS_LOG" "$LXCFS_BUILD/lxcfs" -f --runtime-dir "$RUNDIR" \
		--worker-binary "$LXCFS_BUILD/lxcfs-worker" --workers 2 "$MNT" </dev/null >/dev/null &
	LXCFS_PID=$!
	LXCFS_CHILD=$LXCFS_PID
	record_pid daemon "$LXCFS_PID"
	LXCFS_STARTED=1
	wait_for 10 lxcfs_ready || fail "lxcfs with stderr on a journal stream is not serving"
}

log_target_is "auto with both sockets" journald --log auto
start_lxcfs_journal_stream
[ "$(ctl_field log)" = journald ] ||
	fail "no --log, stderr on the journal stream: log=$(ctl_field log), expected journald"
log "ok: no --log, stderr on systemd's journal stream: journald"
stop_lxcfs
receiver_stop journal "$JOURNAL"
log_target_is "auto with /dev/log only" syslog --log auto
log_target_is "no --log, stderr on a file" stderr
start_lxcfs_quiet
[ "$(ctl_field log)" = syslog ] || fail "no --log, stderr on /dev/null: log=$(ctl_field log), expected syslog (auto)"
wait_got 5 syslog "^<30>$STAMP lxcfs\[$LXCFS_PID\]: serving " "no --log, stderr on /dev/null: auto, here syslog"
stop_lxcfs
receiver_stop syslog "$SYSLOG"
log_target_is "auto with no socket" stderr --log auto

# --- missing socket -----------------------------------------------------------------------

t0=${EPOCHREALTIME/./}
start_lxcfs --log syslog --workers 2
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
log "missing: lxcfs serving $ms ms after its start, with no /dev/log"
grep -q "^lxcfs: log target syslog (/dev/log): No such file or directory: lines go to stderr until it is back$" "$LXCFS_LOG" ||
	fail "missing: no note on stderr of why lines come there: $(head -3 "$LXCFS_LOG" | tr '\n' '|')"
grep -q "^lxcfs: serving $MNT" "$LXCFS_LOG" || fail "missing: the start line is not on stderr"
w=$(one_worker)
t0=${EPOCHREALTIME/./}
kill -KILL "$w"
wait_for 5 replaced "$w" || fail "missing: worker $w not replaced"
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
log "missing: a killed worker replaced and serving in $ms ms"
[ "$ms" -lt 2000 ] || fail "missing: a killed worker took $ms ms to be replaced"
grep -q "^lxcfs: worker [01] (pid $w): killed by signal 9" "$LXCFS_LOG" || fail "missing: the kill is not on stderr"
dropped=$(ctl_field log_dropped)
[ "$dropped" -ge 2 ] || fail "missing: log_dropped $dropped, expected at least the start and the kill"
log "missing: log_dropped $dropped"
# The socket comes back: after the retry interval, lines go there again.
: >"$TEST_TMP/syslog.got"
receiver_start syslog "$SYSLOG"
sleep 1.2
w=$(one_worker)
kill -KILL "$w"
wait_got 5 syslog "^<28>$STAMP lxcfs\[$LXCFS_PID\]: [0-9]+ earlier log lines did not get here" \
	"back: a note of the lines lost"
wait_got 5 syslog "^<27>$STAMP lxcfs\[$LXCFS_PID\]: worker [01] \(pid $w\): killed by signal 9" \
	"back: the next line on syslog again"
stop_lxcfs

# --- full socket -------------------------------------------------------------------------------

receiver_stop syslog "$SYSLOG"
receiver_start stuck "$SYSLOG" noread
lines0=$(wc -l <"$LXCFS_LOG")
start_lxcfs --log syslog -d --workers 2
for i in $(seq 8); do
	w=$(one_worker)
	t0=${EPOCHREALTIME/./}
	kill -KILL "$w"
	wait_for 5 replaced "$w" || fail "full: worker $w not replaced"
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	[ "$ms" -lt 2000 ] || fail "full: kill $i: replaced only after $ms ms"
	t0=${EPOCHREALTIME/./}
	timeout 5 head -c 9 "$MNT/proc/meminfo" >/dev/null || fail "full: read after kill $i"
	timeout 5 "$CTL" --runtime-dir "$RUNDIR" status >/dev/null || fail "full: lxcfs-ctl status after kill $i"
	ms2=$(((${EPOCHREALTIME/./} - t0) / 1000))
	[ "$ms2" -lt 1000 ] || fail "full: a read and lxcfs-ctl status took $ms2 ms after kill $i"
done
dropped=$(ctl_field log_dropped)
log "full: 8 workers killed and replaced (the last in $ms ms); log_dropped $dropped"
[ "$dropped" -gt 0 ] || fail "full: log_dropped is 0 with a socket nobody reads"
if tail -n +$((lines0 + 1)) "$LXCFS_LOG" | grep -E '^(lxcfs|worker [0-9]+): '; then
	fail "full: lines went to stderr: a full socket drops them"
fi
stop_lxcfs
receiver_stop stuck "$SYSLOG"
pass
