#!/usr/bin/env bash
# An upgrade to a worker built for another shared memory layout stops cleanly.
#
# A worker built with SHM_LAYOUT_VERSION=99 refuses to attach to the running
# daemon's region. lxcfs-ctl upgrade --worker-binary <it> exits non-zero with
# a message that names the layout; the old workers keep serving throughout
# (sixteen readers in two containers see no failed, short or wrong read), with
# the same pids and version afterwards; and the refused binary is not used
# later: a worker killed after the failed upgrade comes back as the old version.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_load.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs has no lxcfs-ctl upgrade"

WORKERS=4
bad=$(build_worker "$TEST_TMP/b99" EXTRA_CFLAGS=-DSHM_LAYOUT_VERSION=99)

start_lxcfs --workers "$WORKERS"
two_containers

workers_list()
{
	ctl_json workers 'sorted("%s %s" % (w["pid"], w["version"]) for w in ws)' | tr '\n' ';'
}

before=$(workers_list)
version=$(ctl_json workers 'ws[0]["version"]')
log "before: $before"
readers_start ct1 8
readers_start ct2 8
t0=${EPOCHREALTIME/./}
timeout 60 "$LXCFS_BUILD/lxcfs-ctl" --runtime-dir "$RUNDIR" upgrade --worker-binary "$bad" \
	>"$TEST_TMP/upgrade.out" 2>"$TEST_TMP/upgrade.err"
rc=$?
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
sed 's/^/# lxcfs-ctl upgrade (stdout): /' "$TEST_TMP/upgrade.out" >&2
sed 's/^/# lxcfs-ctl upgrade (stderr): /' "$TEST_TMP/upgrade.err" >&2
log "lxcfs-ctl upgrade exited $rc after $ms ms"
# Reads go on after the refusal too.
sleep 1
readers_collect "refused upgrade"
[ $rc != 0 ] || fail "lxcfs-ctl upgrade to an incompatible worker exited 0"
[ $rc = 1 ] || fail "lxcfs-ctl upgrade to an incompatible worker exited $rc, expected 1 (the operation stopped)"
grep -qi "layout" "$TEST_TMP/upgrade.err" ||
	fail "lxcfs-ctl's message does not name the layout: $(cat "$TEST_TMP/upgrade.err")"
grep -Eq "refus.*layout version [0-9]+ .*version 99" "$LXCFS_LOG" ||
	fail "the daemon log does not say which layouts differ: $(grep -i layout "$LXCFS_LOG" | tr '\n' ' ')"
grep -i layout "$LXCFS_LOG" | sed 's/^/# daemon: /' >&2
wait_for 5 pool_is "$WORKERS" || fail "not $WORKERS ready workers after the refused upgrade"
after=$(workers_list)
log "after: $after"
if [ "$after" != "$before" ]; then
	why=
	for p in $(tr ';' '\n' <<<"$before" | awk '{ print $1 }'); do
		case ";$after" in *";$p "*) ;; *) why+=" $(grep "pid ${p}[,)]" "$LXCFS_LOG" | head -2 | tr '\n' ' ')" ;; esac
	done
	fail "the workers changed: before $before, after $after; the daemon log on the missing ones:$why"
fi

# The refused binary stays refused: a replacement is the old version.
victim=$(ctl_json workers 'ws[0]["pid"]')
kill -KILL "$victim"
wait_for 10 eval '! pid_alive '"$victim"' && pool_is '"$WORKERS" ||
	fail "worker $victim not replaced after the refused upgrade"
[ "$(ctl_json workers 'sorted(set(w["version"] for w in ws))')" = "$version" ] ||
	fail "a worker started after the refused upgrade runs another version: $(workers_list)"
log "a worker killed afterwards came back as $version: $(workers_list)"
out=$(in_container ct1 "$(tool_bin filecheck)" --count 100 --slow-ms "$SLOW_MS" \
	--mem-total "${CT_MEM_KB[ct1]}" /proc/meminfo /proc/uptime 2>&1) || fail "reads afterwards: $out"

check_sanitizer_log
destroy_container ct1
destroy_container ct2
stop_lxcfs
pass
