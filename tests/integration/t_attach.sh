#!/usr/bin/env bash
# Containers started before lxcfs get its files with lxcfs-ctl attach.
#
# Two containers (256 MiB and 384 MiB) start with nothing bound: they see
# the host's MemTotal. lxcfs starts; lxcfs-ctl attach PID of the first binds
# every served file its /proc has (and sys/devices/system/cpu/online): it
# sees 256 MiB, and as many mounts sit on those files as files were bound.
# A second attach binds nothing (every file "already"), the mount count
# stays. The daemon is then killed whole (standby, master, workers): the
# container's binds answer ENOTCONN. A new lxcfs on the same mount point;
# attach again detaches the stale binds and binds the new mount's files
# ("rebound"): 256 MiB again, the same mount count as before. attach --all
# --dry-run finds both containers and changes nothing; attach --all
# --cgroup (the test's own cgroups, so that no other container on this
# machine is touched) attaches exactly the two: the second now sees 384 MiB,
# the first is left as it is. Refused: a process of our own mount namespace
# (exit 1: binding there would cover the host's /proc), a pid that does not
# exist (1), a pid that is not a number, --cgroup without --all (2); with no
# daemon answering, exit 3.
. "$(dirname "$0")/lib.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "lxcfs-ctl attach is this lxcfs' control client"

CTL=$LXCFS_BUILD/lxcfs-ctl

# Made before lxcfs starts: MNT is where it will mount.
MNT=$TEST_TMP/mnt
mkdir -p "$MNT"
make_container ct1 mem=256M files=none
make_container ct2 mem=384M files=none
host_total=$(meminfo_kb MemTotal </proc/meminfo)
ct_total()
{
	in_container "$1" cat /proc/meminfo | meminfo_kb MemTotal
}
# mounts_of NAME: mounts stacked on the container's /proc files and on the
# lists of /sys/devices/system/cpu (online, possible, present, offline), stale
# ones included. (Not the whole
# mountinfo: the container's copy of the host's mounts loses one whenever
# another test on this machine removes a folder that was a mount point.)
mounts_of()
{
	awk '$5 ~ "^/proc/[^/]+$" || $5 ~ "^/proc/pressure/" ||
	     $5 ~ "^/sys/devices/system/cpu/(online|possible|present|offline)$"' \
		"/proc/${CT_INIT[$1]}/mountinfo" | wc -l
}
expect_eq "$host_total" "$(ct_total ct1)" "ct1 MemTotal before lxcfs"
expect_eq "$host_total" "$(ct_total ct2)" "ct2 MemTotal before lxcfs"

# With no daemon: exit 3 and why.
out=$("$CTL" --runtime-dir "$TEST_TMP/run" attach "${CT_INIT[ct1]}" 2>&1)
rc=$?
[ $rc = 3 ] && grep -q "no lxcfs answers" <<<"$out" || fail "attach with no daemon: exit $rc: $out"

start_lxcfs
attach()
{
	timeout 30 "$CTL" --runtime-dir "$RUNDIR" attach "$@"
}
# field NAME: NAME=N of the summary line on stdin.
field()
{
	grep -o " $1=[0-9]*" | head -1 | cut -d= -f2
}

n0=$(mounts_of ct1)
out=$(attach "${CT_INIT[ct1]}") || fail "attach ct1: exit $?: $out"
log "attach ct1: $out"
bound=$(field bound <<<"$out")
[ "${bound:-0}" -ge 2 ] || fail "attach ct1 bound '${bound:-}' files"
expect_eq 0 "$(field failed <<<"$out")" "files failed"
expect_eq 262144 "$(ct_total ct1)" "ct1 MemTotal after attach"
n1=$(mounts_of ct1)
expect_eq $((n0 + bound)) "$n1" "ct1 mounts after binding $bound files"
grep -q " /proc/meminfo .* - fuse.lxcfs " "/proc/${CT_INIT[ct1]}/mountinfo" ||
	fail "ct1's /proc/meminfo is not an lxcfs mount"
if in_container ct1 test -e /sys/devices/system/cpu/online; then
	grep -q " /sys/devices/system/cpu/online .* - fuse.lxcfs " "/proc/${CT_INIT[ct1]}/mountinfo" ||
		fail "ct1's sys/devices/system/cpu/online is not bound"
fi
# Nothing bound twice.
out=$(attach "${CT_INIT[ct1]}") || fail "second attach ct1: exit $?: $out"
log "second attach ct1: $out"
expect_eq 0 "$(field bound <<<"$out")" "files bound by a second attach"
expect_eq "$bound" "$(field already <<<"$out")" "files already bound at a second attach"
expect_eq "$n1" "$(mounts_of ct1)" "ct1 mounts after a second attach"

# Killed whole: the container's binds go stale.
lxcfs_kill_whole
err=$(in_container ct1 cat /proc/meminfo 2>&1 >/dev/null)
grep -q "Transport endpoint is not connected" <<<"$err" || fail "ct1 after lxcfs was killed: '$err'"
log "ok: ct1's meminfo after lxcfs was killed whole: $err"

start_lxcfs
out=$(attach "${CT_INIT[ct1]}") || fail "attach ct1 over stale binds: exit $?: $out"
log "attach ct1 over stale binds: $(tr '\n' ' ' <<<"$out")"
expect_eq "$bound" "$(field rebound <<<"$out")" "files bound again over stale binds"
expect_eq 262144 "$(ct_total ct1)" "ct1 MemTotal after attach over stale binds"
expect_eq "$n1" "$(mounts_of ct1)" "ct1 mounts after attach over stale binds"
out=$(attach "${CT_INIT[ct1]}") || fail "attach ct1 again: exit $?: $out"
expect_eq "$bound" "$(field already <<<"$out")" "files already bound after the re-bind"

# --all: the dry run finds both (and perhaps other containers of this
# machine, which it must not touch); scoped to our cgroups, it attaches ours.
n2=$(mounts_of ct2)
out=$(attach --all --dry-run) || fail "attach --all --dry-run: exit $?: $out"
log "attach --all --dry-run: $(tr '\n' ' ' <<<"$out")"
for ct in ct1 ct2; do
	grep -q "^pid ${CT_INIT[$ct]} " <<<"$out" || fail "attach --all --dry-run does not find $ct (pid ${CT_INIT[$ct]})"
done
expect_eq "$n2" "$(mounts_of ct2)" "ct2 mounts after a dry run"
expect_eq "$host_total" "$(ct_total ct2)" "ct2 MemTotal after a dry run"

base=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; found = 1; exit }
	$1 == 0 && $2 == "" { v2 = $3 } END { if (!found) print v2 }' "/proc/${CT_INIT[ct1]}/cgroup")
base=${base%/*}
out=$(attach --all --cgroup "$base") || fail "attach --all --cgroup $base: exit $?: $out"
log "attach --all --cgroup $base: $(tr '\n' ' ' <<<"$out")"
expect_eq 2 "$(grep -c '^pid ' <<<"$out")" "containers attach --all --cgroup found"
grep -q "^2 containers attached, 0 failed" <<<"$out" || fail "attach --all summary: $(tail -1 <<<"$out")"
grep "^pid ${CT_INIT[ct1]} " <<<"$out" | field already | expect_eq "$bound" - "ct1 files already bound at --all"
grep "^pid ${CT_INIT[ct2]} " <<<"$out" | field bound | expect_eq "$bound" - "ct2 files bound at --all"
expect_eq 393216 "$(ct_total ct2)" "ct2 MemTotal after attach --all"
expect_eq 262144 "$(ct_total ct1)" "ct1 MemTotal after attach --all"
out=$(timeout 30 "$CTL" --runtime-dir "$RUNDIR" --json attach --all --cgroup "$base") ||
	fail "--json attach --all: exit $?"
"$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["found"] == 2 and d["failed"] == 0, d
assert all(c["bound"] == 0 and c["already"] > 0 for c in d["container"]), d
assert all(v == "already" or v == "missing" for c in d["container"] for v in c["files"].values()), d
' "$out" || fail "--json attach --all: $out"

# Refusals.
out=$(attach $$ 2>&1)
rc=$?
[ $rc = 1 ] && grep -q "shares our mount namespace" <<<"$out" || fail "attach of our own shell: exit $rc: $out"
grep -q " /proc/meminfo .* fuse.lxcfs " /proc/self/mountinfo && fail "the host's /proc/meminfo got bound"
out=$(attach 2147483647 2>&1)
rc=$?
[ $rc = 1 ] || fail "attach of a pid that does not exist: exit $rc: $out"
log "ok: a pid that does not exist: $out; our own mount namespace: refused"
for args in "abc" "1x" "0" "" "--cgroup / 1" "--all 1"; do
	# shellcheck disable=SC2086
	out=$(attach $args 2>&1)
	rc=$?
	[ $rc = 2 ] || fail "attach $args: exit $rc, expected 2: $out"
done

destroy_container ct1 ct2
stop_lxcfs
pass
