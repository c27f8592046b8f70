#!/usr/bin/env bash
# Counters a reader sees never go backwards, and load averages outlive workers.
#
#  1. /proc/stat: in a one-CPU container with a busy loop, three readers (two
#     of the container's own processes, one entered with setns) read
#     /proc/stat in a tight loop for 15 s while a worker is SIGKILLed every
#     300 ms (every ready worker at once each 4th time; 4 workers, as on a
#     4-CPU host). Every field of every cpu line is >= its value in the
#     reader's previous read, every read succeeds and is whole, and the
#     counters did advance.
#  2. /proc/loadavg (-l): in a fresh one-CPU container whose only runnable
#     thread is a busy loop, the averages are read every 0.5 s from the first
#     read on (which starts them at 0). Each value shown must be the kernel's
#     fixed-point EWMA after K samples of one runnable thread (calc_load of
#     include/linux/sched/loadavg.h: FSHIFT 11, EXP_1 1884, EXP_5 2014,
#     EXP_15 2037, rounding up while rising; printed as fs/proc/loadavg.c
#     does), all three averages for the same K, with K within one sample
#     period of the time elapsed since the first read divided by 5 s. Just
#     after the third sample every worker is SIGKILLed at once: the next
#     reads continue from where the averages were (their state lives in
#     shared memory), not from 0. Meanwhile another reader reads
#     /proc/loadavg in a tight loop: its 1-min average never goes down.
#  3. /proc/stat floors under snapshot pressure: with --max-cgroups 16, 24
#     one-CPU containers (each with cpuacct and cpuset cgroups of its own)
#     read /proc/stat in a tight loop for 12 s, one reader each
#     (tests/tools/filecheck --monotonic): every field of every cpu line is
#     >= its value in the reader's previous read, although the snapshot
#     keeps the values of only 16 cgroups and evicts the others all along.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_load.sh" # tool_bin (its kill_workers is replaced below)

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs has no workers to kill"

# The pool of a 4-CPU host (the default is one worker per CPU): a request may
# then see every worker of the pool die when they are killed at once.
WORKERS=${COUNTERS_WORKERS:-4}
# Every how many kills of phase 1 all workers die at once (0: never).
ALL_EVERY=${COUNTERS_KILL_ALL_EVERY:-4}

# kill_workers one|ready|all: SIGKILL one random ready worker, every ready
# worker (as lxcfs-ctl status reports them: killing workers still starting
# only slows the pool down with a restart backoff), or every worker process;
# prints how many were killed.
kill_workers()
{
	local -a w=()
	local n=0 p
	[ "$1" = all ] || mapfile -t w < <(lxcfs_ctl_workers 2>/dev/null | awk '$2 == "ready" { print $1 }')
	[ ${#w[@]} -gt 0 ] || mapfile -t w < <(lxcfs_worker_pids)
	[ "$1" = one ] && [ ${#w[@]} -gt 0 ] && w=("${w[RANDOM % ${#w[@]}]}")
	for p in "${w[@]}"; do
		# Only a child of our master (the pids lxcfs-ctl gave are checked too).
		[ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" = "$LXCFS_PID" ] || continue
		kill -KILL "$p" 2>/dev/null && n=$((n + 1))
	done
	echo $n
}

pool_full()
{
	[ "$(lxcfs_worker_pids | wc -l)" = "$WORKERS" ]
}

start_lxcfs -l --workers $WORKERS

# --- 1. /proc/stat never goes backwards, worker deaths included.
make_container ct1 mem=256M cpus=0 files=stat
ct_join_cgroups --need ct1 cpu cpuacct
busy=$(in_init_bg ct1 bash -c 'while [ ! -e "$1" ]; do :; done' _ "$TEST_TMP/busy1.stop")

cat >"$TEST_TMP/statmono.py" <<'EOF'
# statmono.py SECONDS: read /proc/stat in a tight loop; every field of every
# cpu line must be >= its value in the previous read. Prints "reads=N bad=N
# errors=N advanced=N" (advanced: reads where some cpu counter grew); the
# first problems go to stderr; exits 1 on any problem.
import sys, time
secs = float(sys.argv[1])
reads = bad = errors = advanced = 0
prev = None

def problem(msg):
    global bad
    bad += 1
    if bad <= 5:
        print("read %d: %s" % (reads, msg), file=sys.stderr)

end = time.monotonic() + secs
while time.monotonic() < end:
    reads += 1
    try:
        with open("/proc/stat") as f:
            text = f.read()
    except OSError as e:
        errors += 1
        problem("error %s" % e)
        continue
    cur = {}
    for line in text.splitlines():
        if line.startswith("cpu"):
            w = line.split()
            try:
                cur[w[0]] = [int(x) for x in w[1:]]
            except ValueError:
                problem("malformed line %r" % line)
    if not text.endswith("\n") or "\nctxt " not in text or "cpu" not in cur or "cpu0" not in cur:
        problem("not a whole stat (%d bytes): %r" % (len(text), text[:80]))
        continue
    if prev is not None:
        if sorted(cur) != sorted(prev):
            problem("cpu lines changed: %s -> %s" % (sorted(prev), sorted(cur)))
        grew = False
        for k in cur:
            if k not in prev:
                continue
            for i, (a, b) in enumerate(zip(prev[k], cur[k])):
                if b < a:
                    problem("%s field %d went back from %d to %d" % (k, i + 1, a, b))
                elif b > a:
                    grew = True
        advanced += grew
    prev = cur
print("reads=%d bad=%d errors=%d advanced=%d" % (reads, bad, errors, advanced))
sys.exit(1 if bad else 0)
EOF
SECS=${COUNTERS_SECONDS:-15}
j1=$(in_init_bg ct1 "$PYTHON" "$TEST_TMP/statmono.py" $((SECS + 1)))
j2=$(in_init_bg ct1 "$PYTHON" "$TEST_TMP/statmono.py" $((SECS + 1)))
in_container ct1 "$PYTHON" "$TEST_TMP/statmono.py" $((SECS + 1)) >"$TEST_TMP/s1.out" 2>&1 &
s1=$!

# A worker SIGKILLed every 300 ms (on a fixed schedule), every ready one at
# once each ALL_EVERY-th time.
kills=0 ticks=0
end=$((SECONDS + SECS))
next=${EPOCHREALTIME/./}
while [ $SECONDS -lt $end ]; do
	pid_alive "$LXCFS_PID" || fail "the master died while workers were being killed"
	ticks=$((ticks + 1))
	if [ "$ALL_EVERY" -gt 0 ] && [ $((ticks % ALL_EVERY)) = 0 ]; then which=ready; else which=one; fi
	kills=$((kills + $(kill_workers $which)))
	next=$((next + 300000))
	wait_us=$((next - ${EPOCHREALTIME/./}))
	[ $wait_us -gt 0 ] && sleep "$(printf '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000)))"
done
log "$kills workers killed in $SECS s"
# At least one a second on average (a slow build starts its workers slowly).
[ $kills -ge $SECS ] || fail "only $kills workers killed in $SECS s"

wait "$s1" || fail "setns stat reader: $(tr '\n' ' ' <"$TEST_TMP/s1.out")"
outs=("$(cat "$TEST_TMP/s1.out")")
log "setns stat reader: ${outs[0]}"
for j in "$j1" "$j2"; do
	out=$(init_wait ct1 "$j" 30 2>&1) || fail "init-child stat reader: $(echo $out)"
	log "init-child stat reader: $out"
	outs+=("$out")
done
for out in "${outs[@]}"; do
	reads=$(sed -n 's/.*reads=\([0-9]*\).*/\1/p' <<<"$out")
	adv=$(sed -n 's/.*advanced=\([0-9]*\).*/\1/p' <<<"$out")
	[ "${reads:-0}" -ge $((SECS * 20)) ] || fail "a stat reader made only ${reads:-0} reads in $SECS s: $out"
	[ "${adv:-0}" -ge 10 ] || fail "the counters of a stat reader advanced in only ${adv:-0} reads: $out"
done
log "ok: no counter went backwards for any reader, across $kills worker deaths"
touch "$TEST_TMP/busy1.stop"
init_wait ct1 "$busy" 30 || fail "the busy loop of ct1 did not stop"
destroy_container ct1
wait_for 10 pool_full || fail "pool has $(lxcfs_worker_pids | wc -l) workers, configured $WORKERS"

# --- 2. loadavg: the kernel's formula, and state kept across worker deaths.
make_container ct2 mem=256M cpus=1 files=loadavg
ct_join_cgroups --need ct2 cpu cpuacct
busy=$(in_init_bg ct2 bash -c 'while [ ! -e "$1" ]; do :; done' _ "$TEST_TMP/busy2.stop")
# The busy loop runs (its bash has exec'd) before the averages start.
wait_for 10 eval '[ "$(in_container ct2 ps -e -o stat=,args= | grep -c "^R.*while")" = 1 ]' ||
	fail "the busy loop of ct2 is not running: $(in_container ct2 ps -e -o pid,stat,args | tr '\n' '|')"

# Each read: "<before> <after> <loadavg line>", wall clock (s) around it. The
# reader is entered with setns, so it is never one of ct2's runnable threads.
readload()
{
	local a b l
	a=$EPOCHREALTIME
	l=$(in_container ct2 cat /proc/loadavg) || fail "ct2: reading /proc/loadavg failed"
	b=$EPOCHREALTIME
	echo "$a $b $l" >>"$TEST_TMP/load.log"
	echo "$l"
}
first=$(readload)
first_at=$(head -1 "$TEST_TMP/load.log")
# Meanwhile another reader (entered with setns too) reads as fast as it can,
# as many monitoring agents would: with one runnable thread all along, the
# 1-min average it sees must never go down.
cat >"$TEST_TMP/loadmono.py" <<'EOF'
import sys, time
stop = sys.argv[1]
reads = back = 0
prev = None
t0 = time.monotonic()
while True:
    try:
        open(stop).close()
        break
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        text = f.read()
    reads += 1
    cur = float(text.split()[0])
    if prev is not None and cur < prev:
        back += 1
        if back <= 3:
            print("at +%.1f s: 1-min load went back from %.2f to %.2f" % (time.monotonic() - t0, prev, cur),
                  file=sys.stderr)
    prev = cur
print("reads=%d back=%d last=%s" % (reads, back, text.strip()))
sys.exit(1 if back else 0)
EOF
in_container ct2 "$PYTHON" "$TEST_TMP/loadmono.py" "$TEST_TMP/loadmono.stop" >"$TEST_TMP/loadmono.out" 2>&1 &
loadmono=$!
log "ct2's first /proc/loadavg: $first"
killed_at=
last=$first samples_seen=0
deadline=$((SECONDS + 40))
while [ $SECONDS -lt $deadline ]; do
	sleep 0.5
	l=$(readload)
	if awk -v a="${l%% *}" -v b="${last%% *}" 'BEGIN { exit !(a < b) }'; then
		when="no worker killed yet"
		[ -n "$killed_at" ] && when="after every worker was killed"
		fail "ct2's 1-min load went back from ${last%% *} to ${l%% *} at +$(awk -v a="${first_at%% *}" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s, $when, with its busy loop running all along"
	fi
	if [ "${l%% *}" != "${last%% *}" ]; then
		samples_seen=$((samples_seen + 1))
		log "ct2 /proc/loadavg: $l"
		# Just after the third sample (the next one is ~5 s away): every
		# worker at once.
		if [ $samples_seen = 3 ] && [ -z "$killed_at" ]; then
			n=$(kill_workers all)
			killed_at=$(wc -l <"$TEST_TMP/load.log")
			log "all $n workers SIGKILLed at ${l%% *}"
			wait_for 10 pool_full || fail "pool not refilled 10 s after killing every worker"
			after=$(readload)
			log "ct2 /proc/loadavg after every worker died: $after"
			awk -v a="${after%% *}" -v b="${l%% *}" 'BEGIN { exit !(a >= b && a > 0) }' ||
				fail "ct2's 1-min load went from ${l%% *} to ${after%% *} when every worker died"
		fi
		[ $samples_seen -ge 5 ] && break
	fi
	last=$l
done

touch "$TEST_TMP/loadmono.stop"
wait "$loadmono" || fail "ct2's /proc/loadavg read in a tight loop: $(tr '\n' ' ' <"$TEST_TMP/loadmono.out")"
log "ok: ct2's /proc/loadavg read in a tight loop never went down: $(cat "$TEST_TMP/loadmono.out")"

# Check every read against the kernel's formula.
out=$("$PYTHON" - "$TEST_TMP/load.log" 2>&1 <<'EOF'
import sys
FSHIFT, FIXED_1 = 11, 1 << 11
EXP = (1884, 2014, 2037)
PERIOD = 5.0

def calc_load(load, exp, active):
    newload = load * exp + active * (FIXED_1 - exp)
    if active >= load:
        newload += FIXED_1 - 1
    return newload // FIXED_1

def show(x):
    x += FIXED_1 // 200
    return "%d.%02d" % (x >> FSHIFT, ((x & (FIXED_1 - 1)) * 100) >> FSHIFT)

# seq[K]: the three averages as printed after K samples of one runnable thread.
seq, avg = [], [0, 0, 0]
for k in range(40):
    seq.append(" ".join(show(a) for a in avg))
    avg = [calc_load(a, e, 1 * FIXED_1) for a, e in zip(avg, EXP)]

rows = [l.split() for l in open(sys.argv[1])]
t0a, t0b = float(rows[0][0]), float(rows[0][1])
bad, lastk = [], 0
for r in rows:
    a, b, shown = float(r[0]), float(r[1]), " ".join(r[2:5])
    # The averages started within the first read; this read happened in [a, b].
    lo = max(0, int((a - t0b) // PERIOD) - 1)
    hi = int((b - t0a) // PERIOD) + 1
    # The 1-min average rises strictly over these K: K is the first match.
    k = seq.index(shown) if shown in seq else None
    if k is None:
        bad.append("at +%.1f s: %s is no value of the formula (K in %d..%d: %s)"
                   % (a - t0a, shown, lo, hi, " | ".join(seq[lo:hi + 1])))
        continue
    if not lo <= k <= hi:
        bad.append("at +%.1f s: %s is K=%d, expected K in %d..%d" % (a - t0a, shown, k, lo, hi))
    if k < lastk:
        bad.append("at +%.1f s: %s went back to K=%d from K=%d" % (a - t0a, shown, k, lastk))
    lastk = max(lastk, k)
    if r[5].split("/")[0] != "1":
        bad.append("at +%.1f s: %s runnable, expected 1 (the busy loop)" % (a - t0a, r[5]))
print("%d reads, the last at +%.1f s at K=%d: %s" % (len(rows), float(rows[-1][0]) - t0a, lastk,
                                                   " ".join(rows[-1][2:])))
if bad:
    print("; ".join(bad[:3]))
    sys.exit(1)
EOF
) || fail "ct2's /proc/loadavg against the kernel's formula: $(echo $out)"
log "ok: every ct2 /proc/loadavg read matches the kernel's formula: $out"
[ $samples_seen -ge 5 ] || fail "only $samples_seen load samples seen in 40 s"
[ -n "$killed_at" ] || fail "workers were never killed"

touch "$TEST_TMP/busy2.stop"
init_wait ct2 "$busy" 30 || fail "the busy loop of ct2 did not stop"
destroy_container ct2
stop_lxcfs

# --- 3. /proc/stat floors survive snapshot eviction.
NCT=${COUNTERS_EVICT_CONTAINERS:-24}
ESECS=${COUNTERS_EVICT_SECONDS:-12}
start_lxcfs --max-cgroups 16
fc=$(tool_bin filecheck)
for ((i = 0; i < NCT; i++)); do
	make_container ev$i cpus=$((i % $(nproc))) files=stat
	ct_join_cgroups --need ev$i cpuacct
done
stop=$TEST_TMP/evict.stop
declare -A evjob=()
for ((i = 0; i < NCT; i++)); do
	evjob[$i]=$(in_init_bg ev$i "$fc" --monotonic --tag ev$i --cpus 1 --stop-file "$stop" \
		--seconds $((ESECS + 30)) /proc/stat)
done
sleep "$ESECS"
touch "$stop"
reads=0 back=0 backmax=0 bad=()
for ((i = 0; i < NCT; i++)); do
	out=$(init_wait ev$i "${evjob[$i]}" 30 2>&1) || bad+=("$(echo $out)")
	o=$(grep 'ops=' <<<"$out")
	reads=$((reads + $(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<<" $o")))
	back=$((back + $(sed -n 's/.* back=\([0-9]*\).*/\1/p' <<<"$o")))
	m=$(sed -n 's/.* backmax=\([0-9]*\).*/\1/p' <<<"$o")
	[ "${m:-0}" -gt $backmax ] && backmax=$m
done
evictions=$(timeout 5 "$LXCFS_BUILD/lxcfs-ctl" --runtime-dir "$RUNDIR" --json stats |
	"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
t = {x["name"]: x for x in d["table"]}
print("%d evictions, %d of %d container entries, %d stat floors of %d" % (d["cache"]["evictions"],
      t["container"]["entries"], t["container"]["capacity"], t["stat"]["entries"], t["stat"]["capacity"]))')
log "$NCT containers, $reads stat reads, $back went backwards (largest step $backmax); snapshot: $evictions"
[ $back = 0 ] || fail "$back of $reads /proc/stat reads went backwards under eviction (largest step $backmax): $(head -c 300 <<<"${bad[0]:-}")"
[ ${#bad[@]} = 0 ] || fail "a stat reader under eviction: ${bad[0]}"
[ $reads -ge $((NCT * 20)) ] || fail "only $reads stat reads by $NCT readers in $ESECS s"
names=()
for ((i = 0; i < NCT; i++)); do names+=("ev$i"); done
destroy_container "${names[@]}"
stop_lxcfs
pass
