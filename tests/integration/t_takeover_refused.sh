#!/usr/bin/env bash
# A takeover that cannot proceed says why in one line and changes nothing.
#
# lxcfs serves a container whose reader reads meminfo throughout. Each of
# these exits non-zero with one line on stderr, and the running daemon goes
# on serving (the same master pid, no failed read):
#   no daemon      --takeover with a runtime dir nobody serves
#   not our mount  --takeover of another folder than the one lxcfs serves
#   not our fs     --takeover of a tmpfs mount point, with nobody's runtime dir
#   in progress    a second --takeover while a first one waits for its workers
#                  (the first then completes: the mount has a new master)
#   cannot start   --takeover whose workers cannot run (/bin/false)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_load.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs has no takeover"

start_lxcfs --workers 2
make_container ct1 mem=256M
fc=$(tool_bin filecheck)
reader=$(in_init_bg ct1 "$fc" --tag ct1 --seconds 120 --stop-file "$TEST_TMP/reader.stop" \
	--mem-total 262144 --slow-ms 2000 /proc/meminfo)

# refused NAME ARGS...: lxcfs --takeover ARGS exits non-zero with one line (in
# OUT), and the daemon still serves with the same master.
refused()
{
	local name=$1 rc pid0=$LXCFS_PID
	shift
	OUT=$(timeout 60 "$LXCFS_BUILD/lxcfs" --takeover "$@" 2>&1 </dev/null)
	rc=$?
	log "$name: exit $rc: $OUT"
	[ "$rc" != 0 ] || fail "$name: lxcfs --takeover exited 0"
	[ "$(wc -l <<<"$OUT")" = 1 ] || fail "$name: $(wc -l <<<"$OUT") lines, not one: $OUT"
	[ "$(cat "$RUNDIR/lxcfs.pid")" = "$pid0" ] && pid_alive "$pid0" ||
		fail "$name: the master changed or died"
	timeout 5 head -c 9 "$MNT/proc/meminfo" | grep -q '^MemTotal:' || fail "$name: the mount does not serve"
}

mkdir -p "$TEST_TMP/nobody" "$TEST_TMP/other" "$TEST_TMP/tmpfs"
refused "no daemon" -f --runtime-dir "$TEST_TMP/nobody" "$MNT"
refused "not our mount" -f --runtime-dir "$RUNDIR" "$TEST_TMP/other"
mount -t tmpfs none "$TEST_TMP/tmpfs" || fail "mount tmpfs"
state_add mounts "$TEST_TMP/tmpfs"
refused "not our fs" -f --runtime-dir "$TEST_TMP/nobody" "$TEST_TMP/tmpfs"
grep -q "is a tmpfs mount, not lxcfs" <<<"$OUT" || fail "not our fs: the line does not say the mount is not lxcfs"
umount "$TEST_TMP/tmpfs"
refused "cannot start" -f --runtime-dir "$RUNDIR" --worker-binary /bin/false "$MNT"

# A first takeover whose workers take 2 s to start, then a second meanwhile.
cat >"$TEST_TMP/slowworker" <<EOF
#!/bin/sh
sleep 2
exec "$LXCFS_BUILD/lxcfs-worker" "\$@"
EOF
chmod +x "$TEST_TMP/slowworker"
"$LXCFS_BUILD/lxcfs" --takeover -f --runtime-dir "$RUNDIR" --worker-binary "$TEST_TMP/slowworker" \
	--workers 2 "$MNT" </dev/null >>"$LXCFS_LOG" 2>&1 &
first=$!
record_pid daemon "$first"
wait_for 5 grep -q "takeover requested by pid $first" "$LXCFS_LOG" || fail "the first takeover did not begin"
refused "in progress" -f --runtime-dir "$RUNDIR" "$MNT"
grep -q "another takeover (pid $first) is under way" "$LXCFS_LOG" ||
	fail "the second takeover was not refused as one in progress"
wait_for 20 eval '[ "$(cat "$RUNDIR/lxcfs.pid")" = "$first" ]' || fail "the first takeover did not complete"
lxcfs_adopt_master || fail "no master after the first takeover"
LXCFS_CHILD=$first

: >"$TEST_TMP/reader.stop"
out=$(init_wait ct1 "$reader" 30 2>&1) || fail "the reader: $out"
log "reader: $(grep ops= <<<"$out")"
pass
