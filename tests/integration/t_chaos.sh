#!/usr/bin/env bash
# Sixteen readers never notice workers dying, hanging, or the pool changing size.
#
# Two containers (256 MiB on CPU 0; 384 MiB on every CPU), eight readers in
# each, every read of meminfo, cpuinfo, stat and uptime checked whole and the
# container's own (tests/tools/filecheck), none keeping its reader waiting
# longer than the request deadline + 100 ms (the read less the reader's own
# time on a run queue). Under that load:
#   kill   a random worker SIGKILLed every 50 ms for 15 s: no failed, short or
#          wrong read, no host content served; afterwards the pool back to its
#          size, no master descriptor and no shared memory chunk leaked;
#   hang   one worker SIGSTOPped: its requests complete elsewhere within the
#          deadline, it is killed and replaced in its slot, and lxcfs-ctl
#          workers shows the new pid with a last_exit naming the deadline;
#   scale  lxcfs-ctl scale 2, 8, 1, 4: each exits 0 with exactly that many
#          ready workers; no failed read.
# soak_chaos.sh is the kill phase for 60 s (CHAOS_SECONDS, CHAOS_PHASES).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_load.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs has no workers to kill"

SECS=${CHAOS_SECONDS:-15}
EVERY_MS=${CHAOS_KILL_EVERY_MS:-50}
WORKERS=${CHAOS_WORKERS:-4}
PHASES=${CHAOS_PHASES:-kill hang scale}
# shellcheck disable=SC2034 # readers_start's bound on a reader's life
READER_MAX_S=$((SECS + 60))

start_lxcfs --workers "$WORKERS" --request-timeout-ms "$REQUEST_TIMEOUT_MS"
two_containers

master_figures()
{
	ctl_json status '" ".join("%s=%s" % (k, d["master"][k]) for k in ("worker_deaths", "redispatched", "fallbacks", "pending"))'
}

# master_counter NAME: one figure of lxcfs-ctl status's master record.
master_counter()
{
	ctl_json status "d['master']['$1']"
}

some_worker_served()
{
	[ "$(ctl_json workers 'sum(w["served"] > 0 for w in ws)')" -gt 0 ]
}

worker_ready()
{
	[ "$(ctl_json workers "next((w['state'] for w in ws if w['id'] == $1), 'none')")" = ready ]
}

sixteen_readers()
{
	readers_start ct1 8
	readers_start ct2 8
}

phase_kill()
{
	local fb0 fds0 fds1
	fb0=$(master_counter fallbacks)
	fds0=$(ls "/proc/$LXCFS_PID/fd" | wc -l)
	log "kill: before: $(master_figures)"
	sixteen_readers
	kill_workers "$SECS" "$EVERY_MS" "$EVERY_MS"
	readers_collect "kill: $KILLS workers SIGKILLed"
	log "kill: after: $(master_figures)"
	# What the daemon said besides the kills (deadline kills, host fallbacks).
	grep -v "killed by signal 9" "$LXCFS_LOG" | tail -n +2 | sort | uniq -c | sort -rn | head -5 |
		sed 's/^/# daemon: /' >&2
	[ "$KILLS" -ge $((SECS * 1000 / EVERY_MS / 2)) ] ||
		fail "only $KILLS workers killed in $SECS s (planned one every $EVERY_MS ms)"
	[ "$READS" -gt $((16 * SECS)) ] || fail "only $READS reads in $SECS s by 16 readers"
	[ "$(master_counter fallbacks)" = "$fb0" ] ||
		fail "the master answered $(($(master_counter fallbacks) - fb0)) reads with host content while workers were killed"
	wait_for 10 pool_is "$WORKERS" ||
		fail "pool not back to $WORKERS ready workers 10 s after the kills: $(ctl workers | tr -s ' \n' ' ')"
	# Nothing leaked: the master's descriptors (a pidfd per worker) and, with
	# every file closed, the shared memory chunks that held rendered contents.
	fds1=$(ls "/proc/$LXCFS_PID/fd" | wc -l)
	wait_for 5 eval '[ "$(master_counter chunks_in_use)" = 0 ]' ||
		fail "kill: $(master_counter chunks_in_use) shared memory chunks still in use with no file open"
	log "kill: pool back to $WORKERS ready workers; master fds $fds0 -> $fds1, no chunk in use"
	[ "$fds1" -le $((fds0 + 2)) ] || fail "kill: the master's open files grew from $fds0 to $fds1"
}

phase_hang()
{
	local id pid restarts now t0 ms line
	sixteen_readers
	# The readers are under way: some worker has answered them.
	wait_for 10 some_worker_served || fail "no worker has served a request"
	read -r id pid restarts < <(ctl_json workers \
		'["%d %d %d" % (w["id"], w["pid"], w["restarts"]) for w in ws if w["state"] == "ready"][:1]')
	[ -n "$pid" ] || fail "no ready worker to hang"
	kill -STOP "$pid"
	t0=${EPOCHREALTIME/./}
	log "hang: worker $id (pid $pid) stopped under load"
	wait_for 10 eval '! pid_alive '"$pid" || {
		kill -KILL "$pid"
		fail "hung worker $id (pid $pid) still there 10 s after SIGSTOP (deadline $REQUEST_TIMEOUT_MS ms)"
	}
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	log "hang: worker $id (pid $pid) gone ${ms} ms after SIGSTOP"
	# The readers go on a while with the replacement.
	sleep 1
	readers_collect "hang: worker $id stopped"
	wait_for 10 worker_ready "$id" ||
		fail "worker $id not ready again 10 s after its hang: $(ctl workers | tr -s ' \n' ' ')"
	line=$(ctl_json workers "next('pid=%d restarts=%d last_exit=%s' % (w['pid'], w['restarts'], w['last_exit']) for w in ws if w['id'] == $id)")
	log "hang: worker $id now: $line"
	case $line in "pid=$pid "*) fail "worker $id still has pid $pid after its hang" ;; esac
	now=$(sed -n 's/.*restarts=\([0-9]*\).*/\1/p' <<<"$line")
	[ "$now" -gt "$restarts" ] || fail "worker $id: restarts was $restarts before its hang, now: $line"
	case $line in *last_exit=*deadline*) ;; *) fail "worker $id: last_exit does not say the deadline killed it: $line" ;; esac
	grep "pid ${pid}[,)]" "$LXCFS_LOG" | sed 's/^/# daemon: /' >&2
}

phase_scale()
{
	local n out rc t0 lines
	sixteen_readers
	for n in 2 8 1 4; do
		lines=$(wc -l <"$LXCFS_LOG")
		t0=${EPOCHREALTIME/./}
		out=$(ctl scale "$n" 2>&1)
		rc=$?
		log "scale $n: exit $rc after $(((${EPOCHREALTIME/./} - t0) / 1000)) ms: $(echo $out)"
		[ $rc = 0 ] || fail "lxcfs-ctl scale $n: exit $rc: $(echo $out)"
		pool_is "$n" ||
			fail "right after lxcfs-ctl scale $n: $(ctl workers | tr -s ' \n' ' '); the daemon said: $(tail -n +$((lines + 1)) "$LXCFS_LOG" | tr '\n' ' ')"
		# Some reads at this size.
		sleep 1
	done
	readers_collect "scale 2, 8, 1, 4"
	wait_for 5 pool_is 4 || fail "not 4 workers at the end: $(ctl workers | tr -s ' \n' ' ')"
	log "scale: 4 ready workers at the end: $(lxcfs_worker_pids | tr "\n" " ")"
}

for phase in $PHASES; do
	"phase_$phase"
done

check_sanitizer_log
destroy_container ct1
destroy_container ct2
stop_lxcfs
pass
