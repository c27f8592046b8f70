#!/usr/bin/env bash
# Readers never notice a worker dying or hanging.
#
# Eight readers loop open/read/close on /proc/meminfo inside a container with a
# known limit, for 20 s, while a random worker is SIGKILLed every 200 ms. Every
# read must succeed and be a complete meminfo with the container's MemTotal;
# afterwards the pool is back to its configured size and still serving. Then
# one worker, and then every worker, hangs (SIGSTOP): reads still succeed, and
# the hung workers are replaced.
. "$(dirname "$0")/lib.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs has no workers to kill"

WORKERS=${KILL_TEST_WORKERS:-4}
SECS=${KILL_TEST_SECONDS:-20}
READERS=8

start_lxcfs --workers "$WORKERS"
make_container ct1 mem=256M
total_kb=262144

lxcfs_worker_pids | wc -l | expect_eq "$WORKERS" - "workers at start"
status=$(lxcfs_ctl_status 2>&1) && log "lxcfs-ctl status: $(echo $status)"

# Half the readers are the container's own processes, half entered by setns.
# Some read in one call, some in small pieces (later pieces come from the
# rendering kept for the open file, whichever worker made it), one starts each
# open with a read at an offset. They run niced: eight busy readers on a small
# machine would otherwise starve the loop below that kills the workers.
rl=$(readloop_bin)
read_modes=("" "--chunk 512" "--chunk 61" "--pread-offset 100 --chunk 512")
jobs=()
setns_pids=()
for i in $(seq $((READERS / 2))); do
	mode=${read_modes[(i - 1) % ${#read_modes[@]}]}
	jobs+=("$(in_init_bg ct1 nice -n 10 "$rl" --seconds $((SECS + 1)) --expect-total $total_kb $mode /proc/meminfo)")
	in_container ct1 nice -n 10 "$rl" --seconds $((SECS + 1)) --expect-total $total_kb $mode /proc/meminfo \
		>"$TEST_TMP/setns.$i.out" 2>&1 &
	setns_pids+=($!)
done

# Kill a random worker every 200 ms (on a fixed schedule, whatever the load).
kills=0
end=$((SECONDS + SECS))
next=${EPOCHREALTIME/./}
while [ $SECONDS -lt $end ]; do
	pid_alive "$LXCFS_PID" || fail "the master died while workers were being killed"
	w=($(pgrep -P "$LXCFS_PID" '^lxcfs-worker'))
	if [ ${#w[@]} -gt 0 ]; then
		victim=${w[RANDOM % ${#w[@]}]}
		[ "$(proc_state "$victim")" != Z ] && kill -KILL "$victim" 2>/dev/null && kills=$((kills + 1))
	fi
	next=$((next + 200000))
	wait_us=$((next - ${EPOCHREALTIME/./}))
	[ $wait_us -gt 0 ] && sleep "$(printf '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000)))"
done
log "$kills workers killed in $SECS s"
# One every 200 ms is the plan; far fewer means the test did not test much.
[ $kills -ge $((SECS * 2)) ] || fail "only $kills workers killed in $SECS s (planned one every 200 ms)"

# Every reader: no error, no short or bad read.
ops=0
problems=()
for i in "${!setns_pids[@]}"; do
	wait "${setns_pids[i]}"
	rc=$?
	out=$(cat "$TEST_TMP/setns.$((i + 1)).out")
	log "setns reader $((i + 1)): $(echo $out)"
	[ $rc = 0 ] || problems+=("setns reader $((i + 1)) (status $rc): $(echo $out)")
	n=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$out")
	ops=$((ops + ${n:-0}))
done
for j in "${jobs[@]}"; do
	out=$(init_wait ct1 "$j" 30 2>&1)
	rc=$?
	log "init-child reader $j: $(echo $out)"
	[ $rc = 0 ] || problems+=("init-child reader (status $rc): $(echo $out)")
	n=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$out")
	ops=$((ops + ${n:-0}))
done
log "$ops reads in all"
[ ${#problems[@]} = 0 ] || fail "${problems[0]}${problems[1]:+; ${problems[1]}}"
[ $ops -gt $((READERS * SECS)) ] || fail "only $ops reads in $SECS s by $READERS readers"

# The pool is back to its size, and serves.
if ! wait_for 10 eval '[ "$(lxcfs_worker_pids | wc -l)" = "$WORKERS" ]'; then
	fail "pool has $(lxcfs_worker_pids | wc -l) workers 10 s after the last kill, configured $WORKERS"
fi
log "pool back to $WORKERS workers: $(echo $(lxcfs_worker_pids))"
if [ -x "$LXCFS_BUILD/lxcfs-ctl" ]; then
	log "lxcfs-ctl status: $(lxcfs_ctl_status 2>&1 | tr -s ' \n' ' ')"
	ctl=$(lxcfs_ctl_workers) || fail "lxcfs-ctl status failed: $(lxcfs_ctl_status 2>&1 | tail -2)"
	awk '{ print $1 }' <<<"$ctl" | sort | tr '\n' ' ' |
		expect_eq "$(lxcfs_worker_pids | sort | tr '\n' ' ')" - "worker pids in lxcfs-ctl status"
	awk '{ print $2 }' <<<"$ctl" | sort -u | tr '\n' ' ' | expect_eq "ready " - "worker states in lxcfs-ctl status"
fi
out=$(in_container ct1 "$rl" --count 200 --expect-total $total_kb /proc/meminfo 2>&1) ||
	fail "reads after the kills: $(echo $out)"

# A hung worker (here: stopped) is replaced after the request deadline, and
# readers see no error; the same with every worker hung at once, except that
# then the master may answer from the host file while no worker can (DESIGN:
# "last good content or the host file"): such reads are counted, not failed.
# Four readers at a time, so that requests reach every worker, hung ones too.
host_kb=$(meminfo_kb MemTotal </proc/meminfo)
for victims in one all; do
	mapfile -t w < <(lxcfs_worker_pids)
	[ $victims = one ] && w=("${w[0]}")
	also=()
	[ $victims = all ] && also=(--also-total "$host_kb")
	kill -STOP "${w[@]}"
	log "stopped worker(s) ${w[*]}"
	hang_jobs=()
	hang_pids=()
	for i in 1 2; do
		hang_jobs+=("$(in_init_bg ct1 "$rl" --seconds 4 --expect-total $total_kb "${also[@]}" /proc/meminfo)")
		in_container ct1 "$rl" --seconds 4 --expect-total $total_kb "${also[@]}" /proc/meminfo \
			>"$TEST_TMP/hang.$i.out" 2>&1 &
		hang_pids+=($!)
	done
	for i in 1 2; do
		wait "${hang_pids[i - 1]}" || fail "reads with $victims worker(s) hung: $(cat "$TEST_TMP/hang.$i.out")"
		log "setns reader with $victims worker(s) hung: $(cat "$TEST_TMP/hang.$i.out")"
		out=$(init_wait ct1 "${hang_jobs[i - 1]}" 30 2>&1) ||
			fail "reads with $victims worker(s) hung: $(echo $out)"
		log "init-child reader with $victims worker(s) hung: $(echo $out)"
	done
	for p in "${w[@]}"; do
		wait_for 2 eval '! pid_alive '"$p" ||
			fail "hung worker $p still there after 4 s of reads (state $(proc_state "$p"))"
	done
	wait_for 10 eval '[ "$(lxcfs_worker_pids | wc -l)" = "$WORKERS" ]' ||
		fail "pool has $(lxcfs_worker_pids | wc -l) workers after replacing hung ones, configured $WORKERS"
done

destroy_container ct1
stop_lxcfs
pass
