#!/usr/bin/env bash
# The master SIGKILLed again and again: no reader notices, a new master serves within 2 s.
#
# Sixteen readers in two containers (256 MiB on CPU 0; 384 MiB on every CPU)
# read meminfo, cpuinfo, stat and uptime, every read checked whole and the
# container's own, none allowed to keep its reader waiting over 2 s. The
# master (the pid in the pidfile) is SIGKILLed MASTER_KILLS times (default 5)
# over MASTER_KILL_SECONDS (default 15): each time its standby takes over, and
# within 2 s the pidfile names a new live master and lxcfs-ctl status answers
# with that pid. The last time the master is not killed but stopped
# (SIGSTOP, as a debugger or an operator might): the standby kills it and
# takes over the same way. No read fails, none is short, wrong or the host's, the mount
# never answers ENOTCONN, and the workers the first master started are still
# the ones serving. soak_master.sh runs the 60 s form (20 kills).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_load.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs is one process: a kill ends the mount"

KILLS=${MASTER_KILLS:-5}
SECS=${MASTER_KILL_SECONDS:-15}
BOUND_MS=2000
# shellcheck disable=SC2034 # readers_start's bound on a reader's life
READER_MAX_S=$((SECS + 60))

start_lxcfs --workers 2
two_containers
workers0=$(lxcfs_worker_pids | sort | tr '\n' ' ')

# new_master_serves OLD: the pidfile names another live master, and lxcfs-ctl
# status answers with that pid.
new_master_serves()
{
	local new
	new=$(cat "$RUNDIR/lxcfs.pid" 2>/dev/null)
	[ -n "$new" ] && [ "$new" != "$1" ] && pid_alive "$new" || return 1
	[ "$(timeout 2 "$LXCFS_BUILD/lxcfs-ctl" --runtime-dir "$RUNDIR" --json status 2>/dev/null |
		"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["master"]["pid"])' 2>/dev/null)" = "$new" ]
}

readers_start ct1 8 -- --slow-ms "$BOUND_MS"
readers_start ct2 8 -- --slow-ms "$BOUND_MS"
sleep 1
times=()
for ((k = 1; k <= KILLS; k++)); do
	sleep "$(awk -v s="$SECS" -v n="$KILLS" 'BEGIN { printf "%.2f", s / n - 0.2 }')"
	old=$LXCFS_PID
	sig=KILL
	[ "$k" = "$KILLS" ] && sig=STOP
	t0=$(date +%s%N)
	kill -"$sig" "$old"
	wait_for 10 new_master_serves "$old" || fail "kill $k: no new master serving 10 s after SIG$sig of $old"
	ms=$((($(date +%s%N) - t0) / 1000000))
	times+=("$ms")
	lxcfs_adopt_master || fail "kill $k: the pidfile's master is gone"
	wait_for 5 eval '[ -n "$(lxcfs_standby_pid)" ]' || fail "kill $k: the new master $LXCFS_PID started no standby"
	[ "$sig" = KILL ] || wait_for 5 eval '! pid_alive "$old"' || fail "the stopped master $old is still there"
	log "kill $k: master $old SIG$sig; master $LXCFS_PID serving after $ms ms"
done
readers_collect "$KILLS master kills"
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
p50=$(sed -n "$(((KILLS + 1) / 2))p" <<<"$sorted")
max=$(tail -1 <<<"$sorted")
log "time to a new master: p50 $p50 ms, max $max ms (${times[*]}); longest read wait $MAX_WAIT_MS ms, slowest read $MAX_MS ms"
[ "$max" -le "$BOUND_MS" ] || fail "a new master took $max ms to serve (bound $BOUND_MS ms)"
[ "$READS" -gt $((16 * SECS)) ] || fail "only $READS reads in $SECS s by 16 readers"
[ "$(lxcfs_worker_pids | sort | tr '\n' ' ')" = "$workers0" ] ||
	fail "workers changed across master kills: $workers0-> $(lxcfs_worker_pids | tr '\n' ' ')"
grep -q "requests the previous master had read and not answered are lost" "$LXCFS_LOG" &&
	fail "the kernel did not queue again what a dead master held"
pass
