#!/usr/bin/env bash
# A cgroup removed under its readers, readers that vanish, SIGUSR2: the daemon
# falls back, logs little, and never crashes.
#
#  1. Three readers of container ct1 (two of its own processes, one entered
#     with setns) read every lxcfs file in a loop (proc/{cpuinfo,diskstats,
#     loadavg,meminfo,slabinfo,stat,swaps,uptime}, proc/pressure/*,
#     sys/devices/system/cpu/online, all bind-mounted as runtimes do). First
#     every read shows the container's view. Then the container's processes
#     are moved to the parent cgroups and its cgroups removed while they read:
#     each read is still whole and shows the container's view, the parent's
#     values or the host's file (SPEC's fallback), never an error. The log
#     grows by a bounded number of lines however many reads fall back. Then
#     the container is destroyed (pid namespace killed) while they read.
#  2. Thousands of short-lived readers in a container (each forked, opens and
#     reads one file, exits), a third of them SIGKILLed at once, mid-read or
#     before: no reader that lived sees an error, and the log stays short.
#  3. SIGUSR2: a container reader sees the host's meminfo, cpuinfo and
#     cpu/online; SIGUSR2 again, the container's again.
# Throughout: the master and the workers started at first never die (no
# crash), lxcfs-ctl status answers, and the log has no sanitizer report.
. "$(dirname "$0")/lib.sh"

# ct_remove_cgroups NAME: move every process of the container to the parent
# cgroups and remove the container's cgroups, while it runs on.
ct_remove_cgroups()
{
	local name=$1 cg parent p
	for cg in ${CT_CGS[$name]}; do
		parent=${cg%/*}
		for _ in $(seq 200); do
			p=$(cat "$cg/cgroup.procs" 2>/dev/null)
			[ -z "$p" ] && break
			for p in $p; do echo "$p" >"$parent/cgroup.procs" 2>/dev/null; done
		done
		rmdir "$cg" || fail "container $name: cannot remove $cg (procs: $(cat "$cg/cgroup.procs" 2>/dev/null | tr '\n' ' '))"
		state_del cgroups "$cg"
	done
	CT_CGS[$name]=
}

# The daemon is whole: the master runs, no worker crashed (the only worker
# deaths allowed are the master's replacements of a worker too slow for the
# request deadline, which a loaded machine or a sanitizer build can cause),
# the pool is full, lxcfs-ctl answers, no sanitizer report.
check_daemon()
{
	local crashes slow n
	pid_alive "$LXCFS_PID" || fail "$1: the master died: $(tail -3 "$LXCFS_LOG" | tr '\n' ' ')"
	crashes=$(grep -E '^lxcfs: worker [0-9]+ \(pid [0-9]+\): ' "$LXCFS_LOG" | grep -v ': deadline: signal 9$')
	[ -z "$crashes" ] || fail "$1: a worker died: $(head -2 <<<"$crashes" | tr '\n' ' ')"
	slow=$(grep -cE 'did not answer request|not ready after' "$LXCFS_LOG")
	[ "$slow" = 0 ] || log "note: $1: $slow worker(s) replaced for missing the request deadline so far: $(grep -m1 -E 'did not answer request|not ready after' "$LXCFS_LOG")"
	[ "$LXCFS_IMPL" = upstream ] ||
		wait_for 20 eval '[ "$(lxcfs_worker_pids | wc -l)" = "$WORKERS" ]' ||
		fail "$1: the pool has $(lxcfs_worker_pids | wc -l) workers, configured $WORKERS"
	if [ "$LXCFS_IMPL" != upstream ] && [ -x "$LXCFS_BUILD/lxcfs-ctl" ]; then
		lxcfs_ctl_status >/dev/null 2>&1 || fail "$1: lxcfs-ctl status failed: $(lxcfs_ctl_status 2>&1 | tail -2)"
	fi
	check_sanitizer_log
	n=$(lxcfs_worker_pids | tr '\n' ' ')
	log "ok: $1: master $LXCFS_PID and workers [$n] alive, no worker crashed, lxcfs-ctl status answers, no sanitizer report"
}

log_lines()
{
	wc -l <"$LXCFS_LOG"
}

host_total=$(meminfo_kb MemTotal </proc/meminfo)
host_cpus=$(grep -c ^processor /proc/cpuinfo)
host_online=$(cat /sys/devices/system/cpu/online)
[ "$host_cpus" -ge 2 ] || skip "needs a host with 2 CPUs (the container gets one)"

WORKERS=2
if [ "$LXCFS_IMPL" = upstream ]; then start_lxcfs -l; else start_lxcfs -l --workers $WORKERS; fi
files=meminfo,cpuinfo,stat,uptime,loadavg,swaps,diskstats,slabinfo
[ -e /proc/pressure/cpu ] && [ -e "$MNT/proc/pressure/cpu" ] && files+=,pressure/cpu,pressure/io,pressure/memory
make_container ct1 mem=200M cpus=1 files=$files
ct_join_cgroups ct1 cpu cpuacct blkio
ct_bind_cpu_online ct1

# Values a read may show: the container's, the host's, and the parent's (our
# base cgroups: no limit of their own, so our own limit or the host's).
own_limit=$(own_memory_limit)
parent_total=$host_total
[ "$own_limit" != max ] && [ $((own_limit / 1024)) -lt "$host_total" ] && parent_total=$((own_limit / 1024))
cg_own cpuset
parent_online=$(cat "$CG_DIR/cpuset.cpus" 2>/dev/null || echo "$host_online")

# --- 1. Readers of every file while the container's cgroups go away.
cat >"$TEST_TMP/allfiles.py" <<'EOF'
# allfiles.py LOG CT_TOTAL HOST_TOTAL PARENT_TOTAL CT_ONLINE HOST_ONLINE PARENT_ONLINE:
# read every lxcfs file in a loop until killed. Each read is classified: the
# container's view, the host's, the parent's; a read that is none of them or
# fails is BAD. A progress line "t=... n=... ct=... host=... parent=... bad=..."
# goes to LOG every 100 loops, with a "views FILE/VIEW=N ..." line after it;
# BAD lines at once.
import os, re, sys, time
log = open(sys.argv[1], "a", buffering=1)
ct_total, host_total, parent_total = sys.argv[2:5]
ct_online, host_online, parent_online = sys.argv[5:8]

def ncpus(lst):
    n = 0
    for part in lst.split(","):
        a, _, b = part.partition("-")
        n += int(b) - int(a) + 1 if b else 1
    return n

views = {"ct": 0, "host": 0, "parent": 0}
per_file = {}
bad = 0

def which(value, ct, host, parent):
    if value == ct:
        return "ct"
    if value == host:
        return "host"
    if value == parent:
        return "parent"
    return None

def check(name, text):
    """The view a read shows (ct, host, parent, or any), or raise ValueError."""
    if name == "meminfo":
        m = re.match(r"MemTotal: +(\d+) kB\n", text)
        v = m and which(m.group(1), ct_total, host_total, parent_total)
        if not v or "\nMemFree:" not in text:
            raise ValueError("meminfo starts %r" % text[:40])
        return v
    if name == "cpuinfo":
        n = len(re.findall(r"^processor\s*:", text, re.M))
        v = which(n, ncpus(ct_online), ncpus(host_online), ncpus(parent_online))
        if not v or not text.endswith("\n"):
            raise ValueError("cpuinfo with %d processors" % n)
        return v
    if name == "online":
        v = which(text.strip(), ct_online, host_online, parent_online)
        if not v or not text.endswith("\n"):
            raise ValueError("cpu/online %r" % text)
        return v
    if name == "stat":
        cpus = [l.split()[0] for l in text.splitlines() if l.startswith("cpu")]
        v = which(len(cpus) - 1, ncpus(ct_online), ncpus(host_online), ncpus(parent_online))
        if not v or cpus[0] != "cpu" or "\nctxt " not in text:
            raise ValueError("stat cpu lines %r" % cpus)
        return v
    if name == "uptime":
        if not re.fullmatch(r"\d+\.\d\d \d+\.\d\d\n", text):
            raise ValueError("uptime %r" % text)
        return "any"
    if name == "loadavg":
        if not re.fullmatch(r"\d+\.\d\d \d+\.\d\d \d+\.\d\d \d+/\d+ -?\d+\n", text):
            raise ValueError("loadavg %r" % text)
        return "any"
    if name == "swaps":
        if not text.startswith("Filename"):
            raise ValueError("swaps %r" % text[:40])
        return "any"
    if name == "slabinfo":
        if not text.startswith("slabinfo - version"):
            raise ValueError("slabinfo %r" % text[:40])
        return "any"
    if name == "diskstats":
        for l in text.splitlines():
            if len(l.split()) < 14:
                raise ValueError("diskstats line %r" % l)
        return "any"
    if name.startswith("pressure"):
        if not text.startswith("some "):
            raise ValueError("%s %r" % (name, text[:40]))
        return "any"
    raise ValueError("unknown file " + name)

files = [("meminfo", "/proc/meminfo"), ("cpuinfo", "/proc/cpuinfo"), ("stat", "/proc/stat"),
         ("uptime", "/proc/uptime"), ("loadavg", "/proc/loadavg"), ("swaps", "/proc/swaps"),
         ("diskstats", "/proc/diskstats"), ("slabinfo", "/proc/slabinfo"),
         ("online", "/sys/devices/system/cpu/online")]
if os.path.exists("/proc/pressure/cpu"):
    files += [("pressure/" + p, "/proc/pressure/" + p) for p in ("cpu", "io", "memory")]
n = 0
while True:
    n += 1
    for name, path in files:
        try:
            with open(path) as f:
                text = f.read()
            v = check(name, text)
            if v in views:
                views[v] += 1
                per_file[name + "/" + v] = per_file.get(name + "/" + v, 0) + 1
        except (OSError, ValueError) as e:
            bad += 1
            print("BAD t=%.3f %s: %s" % (time.time(), name, e), file=log)
    if n % 100 == 0:
        print("t=%.3f n=%d ct=%d host=%d parent=%d bad=%d"
              % (time.time(), n, views["ct"], views["host"], views["parent"], bad), file=log)
        print("views " + " ".join("%s=%d" % kv for kv in sorted(per_file.items())), file=log)
EOF
args=("$TEST_TMP"/r.log 204800 "$host_total" "$parent_total" 1 "$host_online" "$parent_online")
readers=()
for i in 1 2; do
	args[0]=$TEST_TMP/r$i.log
	readers+=("$(in_init_bg ct1 "$PYTHON" "$TEST_TMP/allfiles.py" "${args[@]}")")
done
args[0]=$TEST_TMP/r3.log
in_container ct1 "$PYTHON" "$TEST_TMP/allfiles.py" "${args[@]}" >"$TEST_TMP/r3.out" 2>&1 &
r3=$!

# latest N FIELD: the value of FIELD (n, ct, host, parent, bad) in reader N's last progress line.
latest()
{
	grep '^t=' "$TEST_TMP/r$1.log" 2>/dev/null | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}
# wait_loops LOOPS: wait until each reader has done LOOPS loops more than mark[i].
declare -a mark=(0 0 0 0)
# views_delta OLD NEW: the per-file view counts of NEW minus those of OLD.
views_delta()
{
	awk -v a="$1" -v b="$2" 'BEGIN {
		n = split(a, x, " "); for (i = 2; i <= n; i++) { split(x[i], kv, "="); old[kv[1]] = kv[2] }
		n = split(b, y, " "); for (i = 2; i <= n; i++) { split(y[i], kv, "="); d = kv[2] - old[kv[1]]; if (d) printf "%s=%d ", kv[1], d }
	}'
}
wait_loops()
{
	local i
	for i in 1 2 3; do
		wait_for 60 eval '[ "$(latest '"$i"' n)" -ge '"$((mark[i] + $1))"' ] 2>/dev/null' ||
			fail "reader $i made no progress: $(tail -2 "$TEST_TMP/r$i.log" 2>/dev/null | tr '\n' ' ')"
	done
}
wait_loops 300
for i in 1 2 3; do
	log "reader $i, container intact: $(grep '^t=' "$TEST_TMP/r$i.log" | tail -1)"
	[ "$(latest $i host)" = 0 ] && [ "$(latest $i parent)" = 0 ] && [ "$(latest $i bad)" = 0 ] ||
		fail "reader $i saw other than the container's view while nothing was wrong: $(grep '^t=' "$TEST_TMP/r$i.log" | tail -1); $(grep -m2 BAD "$TEST_TMP/r$i.log" | tr '\n' ' ')"
	mark[i]=$(latest $i n)
done
check_daemon "container intact"

lines_before=$(log_lines)
ct_remove_cgroups ct1
log "ct1's cgroups removed; its processes now in the parent cgroups"
wait_loops 200
lines_mid=$(log_lines)
declare -a views_mid
for i in 1 2 3; do
	mark[i]=$(latest $i n)
	views_mid[i]=$(grep '^views' "$TEST_TMP/r$i.log" | tail -1)
done
wait_loops 200
lines_after=$(log_lines)
for i in 1 2 3; do
	log "reader $i, cgroups removed: $(grep '^t=' "$TEST_TMP/r$i.log" | tail -1)"
	log "reader $i, views in the second 200 loops: $(views_delta "${views_mid[i]}" "$(grep '^views' "$TEST_TMP/r$i.log" | tail -1)")"
	! grep -q BAD "$TEST_TMP/r$i.log" ||
		fail "reader $i, cgroups removed: $(grep -m3 BAD "$TEST_TMP/r$i.log" | tr '\n' ' ')"
done
log "daemon log: $((lines_mid - lines_before)) lines in the first 200 loops after the removal, $((lines_after - lines_mid)) in the next 200"
grep -v 'killed by signal' "$LXCFS_LOG" | tail -n +"$((lines_before + 1))" | sed 's/ ([0-9]* so far)//; s/pid [0-9]*/pid N/g' |
	sort | uniq -c | sort -rn | head -8 | sed 's/^/#   /' >&2
# Rate-limited: the first reads that fall back may be logged, later ones are
# not (a few per thousand at most). The limit is per worker process: each
# worker started since the removal (replacing one too slow for the deadline)
# may log its own first lines again, for each kind of fallback.
replaced=$(tail -n +"$((lines_before + 1))" "$LXCFS_LOG" | head -n "$((lines_after - lines_before))" |
	grep -cE '^lxcfs: worker [0-9]+ \(pid [0-9]+\): ')
bound=$((20 + 100 * replaced))
[ "$replaced" = 0 ] || log "note: $replaced worker(s) replaced since the removal: up to $bound lines allowed in the second 200 loops"
[ $((lines_after - lines_mid)) -le $bound ] ||
	fail "the log grew by $((lines_after - lines_mid)) lines in the second 200 loops after the cgroups went (by $((lines_mid - lines_before)) in the first, $replaced worker(s) replaced): not rate-limited"
check_daemon "cgroups removed under readers"

destroy_container ct1
wait "$r3" 2>/dev/null
for i in 1 2 3; do
	! grep -q BAD "$TEST_TMP/r$i.log" ||
		fail "reader $i, container destroyed: $(grep -m3 BAD "$TEST_TMP/r$i.log" | tr '\n' ' ')"
done
log "ok: no reader saw an error or a read that was neither the container's, the parent's nor the host's"
check_daemon "container destroyed under readers"

# --- 2. Thousands of short-lived readers, a third killed at once.
# Room for the forking reader and its children (python forks copy pages on
# write): the readers must not meet the container's OOM killer.
make_container ct2 mem=512M cpus=0 files=$files
ct_join_cgroups ct2 cpu cpuacct blkio
cat >"$TEST_TMP/shortlived.py" <<'EOF'
# shortlived.py N: fork N readers, each opens one lxcfs file, reads it whole
# and exits (1 if the read failed or was empty); every third is SIGKILLed at
# once after the fork, before, during or after its read. Prints
# "readers=N ok=N failed=N killed=N" and the first failures.
import os, random, signal, sys, time
N = int(sys.argv[1])
paths = ["/proc/meminfo", "/proc/cpuinfo", "/proc/stat", "/proc/uptime", "/proc/loadavg",
         "/proc/swaps", "/proc/diskstats", "/sys/devices/system/cpu/online"]
ok = failed = killed = 0
live = {}

def reap(block):
    global ok, failed, killed
    while live:
        try:
            pid, st = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        path = live.pop(pid, "?")
        if os.WIFSIGNALED(st):
            killed += 1
        elif os.WEXITSTATUS(st) == 0:
            ok += 1
        else:
            failed += 1
            if failed <= 5:
                print("reader of %s failed (status %d)" % (path, os.WEXITSTATUS(st)), file=sys.stderr)

for i in range(N):
    path = paths[i % len(paths)]
    pid = os.fork()
    if pid == 0:
        try:
            with open(path, "rb") as f:
                data = f.read()
            os._exit(0 if data else 1)
        except OSError:
            os._exit(2)
    live[pid] = path
    if i % 3 == 0:
        if random.random() < 0.5:
            time.sleep(random.random() / 2000)
        os.kill(pid, signal.SIGKILL)
    if len(live) >= 32:
        reap(False)
reap(True)
print("readers=%d ok=%d failed=%d killed=%d" % (N, ok, failed, killed))
sys.exit(1 if failed else 0)
EOF
lines_before=$(log_lines)
SHORT=${BAD_CGROUP_SHORT_READERS:-3000}
j=$(in_init_bg ct2 "$PYTHON" "$TEST_TMP/shortlived.py" "$SHORT")
out=$(in_container ct2 "$PYTHON" "$TEST_TMP/shortlived.py" "$SHORT" 2>&1) ||
	fail "short-lived readers entered with setns: $(echo $out)"
log "short-lived readers entered with setns: $out"
out=$(init_wait ct2 "$j" 120 2>&1) || fail "short-lived readers of the container (status $?): $(echo $out)"
log "short-lived readers of the container: $out"
added=$(($(log_lines) - lines_before))
log "daemon log: $added lines for $((2 * SHORT)) short-lived readers"
grep -v 'killed by signal' "$LXCFS_LOG" | tail -n +"$((lines_before + 1))" | sed 's/ ([0-9]* so far)//; s/pid [0-9]*/pid N/g; s/request [0-9]*/request N/' |
	sort | uniq -c | sort -rn | head -8 | sed 's/^/#   /' >&2
[ "$added" -le $((2 * SHORT / 20)) ] ||
	fail "the log grew by $added lines for $((2 * SHORT)) short-lived readers: not rate-limited"
check_daemon "short-lived readers"

# --- 3. SIGUSR2: host content, then the container's again.
ct2_view()
{
	local m c o
	m=$(in_container ct2 cat /proc/meminfo | meminfo_kb MemTotal)
	c=$(in_container ct2 grep -c ^processor /proc/cpuinfo)
	o=$(in_container ct2 cat "$MNT/sys/devices/system/cpu/online")
	echo "$m $c $o"
}
ct2_view | expect_eq "524288 1 0" - "ct2: MemTotal kB, processors, cpu/online"
kill -USR2 "$LXCFS_PID"
host_view="$host_total $host_cpus $host_online"
if ! wait_for 10 eval '[ "$(ct2_view)" = "$host_view" ]'; then
	if [ "$LXCFS_IMPL" = upstream ] && [ "$(ct2_view)" = "$host_total $host_cpus " ]; then
		differs_upstream "cpu/online is empty while virtualization is off"
		host_view="$host_total $host_cpus "
	else
		fail "ct2 after SIGUSR2: $(ct2_view), expected the host's $host_view"
	fi
fi
log "ok: SIGUSR2: ct2 sees the host's MemTotal, processors and cpu/online: $(ct2_view)"
kill -USR2 "$LXCFS_PID"
wait_for 10 eval '[ "$(ct2_view)" = "524288 1 0" ]' ||
	fail "ct2 after the second SIGUSR2: $(ct2_view), expected its own 524288 1 0"
log "ok: SIGUSR2 again: ct2 sees its own figures again: $(ct2_view)"
check_daemon "SIGUSR2 twice"

destroy_container ct2
stop_lxcfs
pass
