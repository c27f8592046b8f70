#!/usr/bin/env bash
# Upstream's command lines start lxcfs unchanged.
#
# -o allow_other, -o nonempty, -o direct_io, -o entry_timeout=N and
# -o attr_timeout=N, each alone, all in one -o and spread over several, start a
# daemon that serves (they are accepted and dropped, as upstream drops them;
# libfuse 3 alone would refuse all but allow_other); nonempty on a folder that
# holds a file too. Other -o options still reach the mount (ro shows in
# /proc/mounts), and one libfuse does not know is still refused, with its
# name, leaving no mount. -h and --version/-v answer on stdout and exit 0.
# A daemon killed with its standby and its workers (kill -9, all of them)
# leaves a mount nobody serves (ENOTCONN): a new lxcfs started on it detaches
# it and serves, with one mount at the mount point.
# run_all: once
. "$(dirname "$0")/lib.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "checks this lxcfs' own command line and processes"

LXCFS=$LXCFS_BUILD/lxcfs

# mount_options: the options of the mount at $MNT, as /proc/mounts shows them.
mount_options()
{
	awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts
}

# serves_with DESCRIPTION ARGS...: lxcfs started with ARGS serves meminfo
# to everyone (allow_other), then stops cleanly.
serves_with()
{
	local what=$1 opts
	shift
	start_lxcfs "$@"
	opts=$(mount_options)
	case ,$opts, in *,allow_other,*) ;; *) fail "$what: mount options '$opts' lack allow_other" ;; esac
	setpriv --reuid 65534 --regid 65534 --clear-groups head -c 9 "$MNT/proc/meminfo" |
		expect_eq "MemTotal:" - "$what: meminfo read by uid 65534"
	stop_lxcfs
	log "ok: $what: served, mount options $opts"
}

serves_with "-o allow_other" -o allow_other
serves_with "-o nonempty" -o nonempty
serves_with "-o direct_io" -o direct_io
serves_with "-o entry_timeout=0.5" -o entry_timeout=0.5
serves_with "-o attr_timeout=10" -o attr_timeout=10
serves_with "all in one -o" -o allow_other,nonempty,direct_io,entry_timeout=0.5,attr_timeout=0.5
serves_with "several -o" -o allow_other -o direct_io,nonempty -oentry_timeout=1 -o attr_timeout=1

# nonempty on a mount point that holds a file, as an old init script would.
mkdir -p "$TEST_TMP/mnt"
echo left >"$TEST_TMP/mnt/a-file"
serves_with "-o nonempty on a non-empty folder" -o nonempty
expect_eq left "$(cat "$TEST_TMP/mnt/a-file")" "the folder's own file after the unmount"
rm -f "$TEST_TMP/mnt/a-file"

# Another option goes to the mount, with the dropped ones taken out around it.
start_lxcfs -o allow_other,ro,direct_io -o nonempty
opts=$(mount_options)
case ,$opts, in *,ro,*) ;; *) fail "-o ro: mount options '$opts' lack ro" ;; esac
head -c 9 "$MNT/proc/meminfo" | expect_eq "MemTotal:" - "meminfo on a ro mount"
stop_lxcfs
log "ok: -o allow_other,ro,direct_io -o nonempty: mount options $opts"

# An option libfuse does not know is refused, by name, and nothing is mounted.
out=$(timeout 10 "$LXCFS" -f --runtime-dir "$RUNDIR" --worker-binary "$LXCFS_BUILD/lxcfs-worker" \
	-o allow_other,no_such_option "$MNT" 2>&1 </dev/null)
rc=$?
log "-o allow_other,no_such_option: exit $rc: $(tr '\n' ' ' <<<"$out")"
[ $rc = 1 ] || fail "-o no_such_option: exit $rc, expected 1"
grep -q "no_such_option" <<<"$out" || fail "-o no_such_option: the option is not named: $out"
grep -q " $MNT " /proc/mounts && fail "-o no_such_option left $MNT mounted"

# -h and --version / -v: on stdout, exit 0, nothing on stderr.
for flag in -h --help; do
	out=$("$LXCFS" "$flag" 2>"$TEST_TMP/err")
	rc=$?
	[ $rc = 0 ] && [ ! -s "$TEST_TMP/err" ] && grep -q "^Usage: lxcfs \[options\] MOUNTPOINT" <<<"$out" ||
		fail "$flag: exit $rc, stdout '$(head -1 <<<"$out")', stderr '$(cat "$TEST_TMP/err")'"
	grep -q "allow_other, nonempty, direct_io" <<<"$out" || fail "$flag does not say which -o options are dropped"
done
for flag in -v --version; do
	out=$("$LXCFS" "$flag" 2>"$TEST_TMP/err")
	rc=$?
	[ $rc = 0 ] && [ ! -s "$TEST_TMP/err" ] && grep -Eq '^lxcfs [0-9]+\.[0-9]+\.[0-9]+ \(build [^)]+\)$' <<<"$out" ||
		fail "$flag: exit $rc, stdout '$out', stderr '$(cat "$TEST_TMP/err")'"
	log "ok: $flag: $out"
done

# A daemon killed whole: the master, its standby and every worker at once,
# so that nobody holds the connection.
start_lxcfs
[ -n "$(lxcfs_standby_pid)" ] || fail "no standby to kill"
[ -n "$(lxcfs_worker_pids)" ] || fail "no workers to kill"
lxcfs_kill_whole
enotconn()
{
	local err
	err=$(stat "$MNT/proc/meminfo" 2>&1 >/dev/null)
	grep -q "Transport endpoint is not connected" <<<"$err"
}
wait_for 5 enotconn || fail "after kill -9 of the whole daemon, $MNT does not answer ENOTCONN: $(stat "$MNT" 2>&1 | head -1)"
log "ok: the mount is left with no server: $(stat "$MNT/proc/meminfo" 2>&1 >/dev/null)"

# lxcfs started again on it, as a service manager restarts it.
start_lxcfs
grep -q "detached a stale mount at $MNT" "$LXCFS_LOG" || fail "no 'detached a stale mount' line in the log"
expect_eq 1 "$(awk -v m="$MNT" '$2 == m' /proc/mounts | wc -l)" "mounts at $MNT after the restart"
stat "$MNT/proc/meminfo" >/dev/null || fail "stat of meminfo on the new mount"
stop_lxcfs
pass
