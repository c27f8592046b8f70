#!/usr/bin/env bash
# Zero-downtime operations: every worker is replaced while sixteen readers read.
#
# Two containers (256 MiB on CPU 0; 384 MiB on every CPU), eight readers in
# each over meminfo, cpuinfo, stat and uptime, every read checked whole and
# the container's own (tests/tools/filecheck):
#   upgrade  lxcfs-ctl upgrade --worker-binary <a build of version 9.9.9-test>
#            exits 0 having printed one line per worker ("worker 0 -> 4: pid
#            OLD -> NEW, ready in X ms, drained in Y ms, version 9.9.9-test")
#            and a summary; no failed, short or wrong read, none kept
#            waiting past the request deadline + 100 ms; afterwards every
#            worker reports 9.9.9-test (lxcfs-ctl --json workers), none of the
#            old pids is left.
#   scale    lxcfs-ctl scale 6 then scale 4: one line per worker started or
#            stopped, no failed read.
#   SIGUSR1  the worker binary on disk replaced (renamed over, as a package
#            manager does) by version 9.9.10-test, then SIGUSR1 to the master:
#            a rolling restart from it, logged per worker; every worker
#            replaced and reporting 9.9.10-test, restarts counted, no failed
#            read.
# Through all three, the counters an operator alerts on stay 0 (worker_deaths,
# worker_crashes, worker_hangs, worker_start_failures in lxcfs-ctl status),
# and each planned stop is counted in worker_exits_planned instead.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_load.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs has no lxcfs-ctl upgrade"

WORKERS=4

# The new versions, built once: 9.9.9-test, then 9.9.10-test from the same
# objects with only the file that carries the version recompiled.
v2=$(build_worker "$TEST_TMP/b2" VERSION=9.9.9-test)
cp -a "$TEST_TMP/b2" "$TEST_TMP/b3"
rm -f "$TEST_TMP/b3/obj/workers/worker_main.o" "$TEST_TMP/b3/lxcfs-worker"
v3=$(build_worker "$TEST_TMP/b3" VERSION=9.9.10-test)

start_lxcfs --workers "$WORKERS"
two_containers

# workers_field FIELD: that field of every worker, sorted, space-separated.
workers_field()
{
	ctl_json workers "sorted(str(w['$1']) for w in ws)" | tr '\n' ' '
}

versions_are()
{
	[ "$(ctl_json workers "sum(w['version'].startswith('$1 ') for w in ws)")" = "$WORKERS" ] &&
		pool_is "$WORKERS"
}

none_of()
{
	local p
	for p in $1; do
		case " $(workers_field pid) " in *" $p "*) return 1 ;; esac
	done
}

some_served()
{
	[ "$(ctl_json stats 'sum(f["requests"] for f in d["file"])')" -gt "$1" ]
}

# The exit counters of lxcfs-ctl status, "deaths crashes hangs start_failures planned".
exits()
{
	ctl_json status '" ".join(str(d["master"]["worker_" + k]) for k in ("deaths", "crashes", "hangs", "start_failures", "exits_planned"))'
}

# exits_are WHAT BEFORE N: no unplanned end of a worker since BEFORE (an
# exits line), and N more planned ones.
exits_are()
{
	local what=$1 d0 c0 h0 s0 p0 d1 c1 h1 s1 p1
	read -r d0 c0 h0 s0 p0 <<<"$2"
	read -r d1 c1 h1 s1 p1 <<<"$(exits)"
	log "$what: worker deaths $d0 -> $d1 (crashes $c0 -> $c1, hangs $h0 -> $h1, failed starts $s0 -> $s1), planned exits $p0 -> $p1"
	[ "$d1" = 0 ] && [ "$c1" = 0 ] && [ "$h1" = 0 ] && [ "$s1" = 0 ] ||
		fail "$what: an alert-worthy counter moved: deaths $d1, crashes $c1, hangs $h1, failed starts $s1 (planned exits $p0 -> $p1)"
	[ "$p1" = $((p0 + $3)) ] || fail "$what: planned exits $p0 -> $p1, expected $3 more"
}

# --- upgrade ------------------------------------------------------------------

old_pids=$(workers_field pid)
exits0=$(exits)
log "upgrade: before: pids $old_pids, versions $(ctl_json workers 'sorted(set(w["version"] for w in ws))')"
served=$(ctl_json stats 'sum(f["requests"] for f in d["file"])')
readers_start ct1 8
readers_start ct2 8
wait_for 10 some_served $((served + 1000)) || fail "the readers do not get going"
t0=${EPOCHREALTIME/./}
timeout 60 "$LXCFS_BUILD/lxcfs-ctl" --runtime-dir "$RUNDIR" upgrade --worker-binary "$v2" \
	>"$TEST_TMP/upgrade.out" 2>"$TEST_TMP/upgrade.err"
rc=$?
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
sed 's/^/# lxcfs-ctl upgrade: /' "$TEST_TMP/upgrade.out" "$TEST_TMP/upgrade.err" >&2
log "upgrade: lxcfs-ctl exited $rc after $ms ms"
# The readers go on a while with the new workers.
served=$(ctl_json stats 'sum(f["requests"] for f in d["file"])')
wait_for 10 some_served $((served + 1000)) || fail "upgrade: reads stopped after the upgrade"
readers_collect "upgrade"
[ $rc = 0 ] || fail "lxcfs-ctl upgrade exited $rc: $(cat "$TEST_TMP/upgrade.err")"
# One line per worker, then the summary, and nothing else after the header.
line_re='^worker [0-9]+ -> [0-9]+: pid [0-9]+ -> [0-9]+, ready in [0-9]+ ms, drained in [0-9]+ ms, version 9\.9\.9-test '
n=$(grep -cE "$line_re" "$TEST_TMP/upgrade.out")
[ "$n" = "$WORKERS" ] || fail "upgrade: $n progress lines 'worker N -> M: pid OLD -> NEW, ready in X ms, drained in Y ms, version 9.9.9-test', expected $WORKERS"
for p in $old_pids; do
	grep -qE "^worker [0-9]+ -> [0-9]+: pid $p -> " "$TEST_TMP/upgrade.out" ||
		fail "upgrade: no progress line for the worker of pid $p"
done
tail -1 "$TEST_TMP/upgrade.out" | grep -qE "^replaced $WORKERS workers in [0-9]+ ms" ||
	fail "upgrade: the last line is not the summary 'replaced $WORKERS workers in N ms': $(tail -1 "$TEST_TMP/upgrade.out")"
[ "$(wc -l <"$TEST_TMP/upgrade.out")" = $((WORKERS + 2)) ] ||
	fail "upgrade: expected a header, $WORKERS worker lines and a summary, got $(wc -l <"$TEST_TMP/upgrade.out") lines"
wait_for 10 versions_are 9.9.9-test ||
	fail "upgrade: workers after it: $(ctl_json workers '["%s %s %s" % (w["pid"], w["state"], w["version"]) for w in ws]' | tr '\n' ';')"
none_of "$old_pids" || fail "upgrade: old worker pids left: before $old_pids, now $(workers_field pid)"
log "upgrade: after: pids $(workers_field pid), versions $(ctl_json workers 'sorted(set(w["version"] for w in ws))')"
exits_are upgrade "$exits0" "$WORKERS"

# --- scale: up by two, then back ---------------------------------------------

exits0=$(exits)
served=$(ctl_json stats 'sum(f["requests"] for f in d["file"])')
readers_start ct1 4
readers_start ct2 4
wait_for 10 some_served $((served + 500)) || fail "the readers do not get going"
ctl scale $((WORKERS + 2)) >"$TEST_TMP/scale.out" 2>&1 || fail "lxcfs-ctl scale $((WORKERS + 2)) exited $?: $(cat "$TEST_TMP/scale.out")"
ctl scale "$WORKERS" >>"$TEST_TMP/scale.out" 2>&1 || fail "lxcfs-ctl scale $WORKERS exited $?: $(cat "$TEST_TMP/scale.out")"
served=$(ctl_json stats 'sum(f["requests"] for f in d["file"])')
wait_for 10 some_served $((served + 500)) || fail "scale: reads stopped after scaling"
readers_collect "scale"
sed 's/^/# lxcfs-ctl scale: /' "$TEST_TMP/scale.out" >&2
n=$(grep -cE '^worker [0-9]+: started, pid [0-9]+, ready in [0-9]+ ms$' "$TEST_TMP/scale.out")
[ "$n" = 2 ] || fail "scale: $n lines 'worker N: started, pid P, ready in X ms', expected 2"
n=$(grep -cE '^worker [0-9]+: pid [0-9]+ drained in [0-9]+ ms, stopped$' "$TEST_TMP/scale.out")
[ "$n" = 2 ] || fail "scale: $n lines 'worker N: pid P drained in X ms, stopped', expected 2"
grep -qE "^scaled from $WORKERS to $((WORKERS + 2)) workers in [0-9]+ ms" "$TEST_TMP/scale.out" &&
	grep -qE "^scaled from $((WORKERS + 2)) to $WORKERS workers in [0-9]+ ms" "$TEST_TMP/scale.out" ||
	fail "scale: no summary lines 'scaled from A to B workers in N ms'"
wait_for 10 pool_is "$WORKERS" || fail "scale: not $WORKERS ready workers after scaling back"
exits_are scale "$exits0" 2

# --- SIGUSR1: a rolling restart from the binary on disk ------------------------

cp "$v3" "$v2.new" && mv -f "$v2.new" "$v2" || fail "cannot replace $v2"
old_pids=$(workers_field pid)
restarts0=$(ctl_json workers 'sum(w["restarts"] for w in ws)')
exits0=$(exits)
log_lines=$(wc -l <"$LXCFS_LOG")
served=$(ctl_json stats 'sum(f["requests"] for f in d["file"])')
readers_start ct1 8
readers_start ct2 8
wait_for 10 some_served $((served + 1000)) || fail "the readers do not get going"
t0=${EPOCHREALTIME/./}
kill -USR1 "$LXCFS_PID"
wait_for 30 eval 'versions_are 9.9.10-test && none_of "$old_pids"' ||
	fail "SIGUSR1: 30 s later: $(ctl_json workers '["%s %s %s" % (w["pid"], w["state"], w["version"]) for w in ws]' | tr '\n' ';')"
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
served=$(ctl_json stats 'sum(f["requests"] for f in d["file"])')
wait_for 10 some_served $((served + 1000)) || fail "SIGUSR1: reads stopped after the restart"
readers_collect "SIGUSR1"
tail -n +$((log_lines + 1)) "$LXCFS_LOG" | grep -v "killed by signal" | sed 's/^/# daemon: /' >&2
n=$(tail -n +$((log_lines + 1)) "$LXCFS_LOG" | grep -cE "^lxcfs: worker [0-9]+ -> [0-9]+: pid [0-9]+ -> [0-9]+, ready in [0-9]+ ms, drained in [0-9]+ ms, version 9\.9\.10-test ")
[ "$n" = "$WORKERS" ] || fail "SIGUSR1: the log has $n lines of a worker replaced by 9.9.10-test, expected $WORKERS"
restarts1=$(ctl_json workers 'sum(w["restarts"] for w in ws)')
took=$(tail -n +$((log_lines + 1)) "$LXCFS_LOG" | sed -n "s/.*replaced $WORKERS workers in \([0-9]*\) ms.*/\1/p" | tail -1)
log "SIGUSR1: every worker replaced (the daemon says in ${took:-?} ms; seen by lxcfs-ctl polls after $ms ms): pids $(workers_field pid); restarts $restarts0 -> $restarts1"
[ "$restarts1" -gt "$restarts0" ] || fail "SIGUSR1: the workers' restarts did not advance ($restarts0 -> $restarts1)"
exits_are SIGUSR1 "$exits0" "$WORKERS"

check_sanitizer_log
destroy_container ct1
destroy_container ct2
stop_lxcfs
pass
