#!/usr/bin/env bash
# --enable-io-accounting: a container's diskstats is its own on a v1 host,
# also on a disk nobody ever set a blk-throttle rule on.
#
# A fresh loop device (made for this test, on a file of a private tmpfs, and
# removed at the end) stands for such a disk: the kernel keeps no v1 blkio
# statistics for it. A container (blkio cgroup of its own) writes and reads
# 10 MiB on it with O_DIRECT:
#  1. Without the option: its blkio cgroup counts nothing there, and its
#     diskstats has no line of its own for the disk (none, or the host's).
#  2. lxcfs restarted with --enable-io-accounting: the log says which disks
#     it turned the statistics on for (this one among them), no limit is set
#     anywhere (the disk's throttle rules of the root cgroup and of every
#     cgroup under ours are empty) and nothing of lxcfs's is left in the
#     blkio hierarchy. The same I/O then shows in the container's diskstats:
#     20480 sectors written and read at least, exactly what its blkio cgroup
#     counted; a second container that did nothing there has no line for it.
#  3. At exit lxcfs says what stays on (the kernel keeps the statistics until
#     the disk goes: no interface turns them off) and leaves nothing behind.
. "$(dirname "$0")/lib.sh"

cg_detect
[ "$CG_MODE" = v1 ] || skip "needs cgroup v1 (on v2 io.stat counts every disk already)"
[ -n "$(cg_v1_mount blkio)" ] || skip "no v1 blkio hierarchy"
[ -c /dev/loop-control ] || skip "no /dev/loop-control"

# ---------------------------------------------------------------------------
# The disk: a loop device of our own, removed on every exit path.

LOOP=
loop_ctl()
{
	"$PYTHON" -c 'import fcntl, os, sys
fd = os.open("/dev/loop-control", os.O_RDWR)
fcntl.ioctl(fd, int(sys.argv[1], 16), int(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

loop_release()
{
	[ -n "$LOOP" ] || return 0
	losetup -d "/dev/loop$LOOP" 2>/dev/null
	for _ in $(seq 50); do
		loop_ctl 0x4C81 "$LOOP" && break
		sleep 0.1
	done
	LOOP=
	for _ in $(seq 50); do
		mountpoint -q "$TEST_TMP/disk" || break
		umount "$TEST_TMP/disk" 2>/dev/null && break
		sleep 0.1
	done
}
# Before lib.sh's own cleanup: the device first, then the daemon and the rest.
trap 'rc=$?; loop_release; test_finish $rc' EXIT

mkdir -p "$TEST_TMP/disk"
mount -t tmpfs -o size=80m none "$TEST_TMP/disk" || fail "cannot mount a tmpfs for the disk"
state_add mounts "$TEST_TMP/disk"
truncate -s 64M "$TEST_TMP/disk/img"
for n in $(seq 210 255); do
	[ -e "/dev/loop$n" ] && continue
	loop_ctl 0x4C80 "$n" || continue
	LOOP=$n
	break
done
[ -n "$LOOP" ] || skip "no free loop device number"
losetup "/dev/loop$LOOP" "$TEST_TMP/disk/img" || fail "losetup /dev/loop$LOOP"
DEV=$(cat "/sys/block/loop$LOOP/dev")
BLKIO=$(cg_v1_mount blkio)
BLKIO=${BLKIO%% *}
counted()
{
	grep -q "^$DEV " "$BLKIO/blkio.throttle.io_serviced"
}
counted && fail "loop$LOOP ($DEV) counts already: not a fresh disk"
log "disk: loop$LOOP ($DEV), statistics off"

# do_io CT: 10 MiB written and 10 MiB read back, O_DIRECT, by a process of CT.
do_io()
{
	in_init "$1" sh -c 'dd if=/dev/zero of="$1" bs=64k count=160 oflag=direct status=none &&
		dd if="$1" of=/dev/null bs=64k count=160 iflag=direct status=none' sh "/dev/loop$LOOP" ||
		fail "$1: direct I/O on loop$LOOP failed"
}

# disk_line CT: the container's diskstats line of the disk ("" when none).
disk_line()
{
	in_container "$1" cat /proc/diskstats | awk -v n="loop$LOOP" '$3 == n'
}

# cg_sectors CT OP: what the container's blkio cgroup counted on the disk (bytes / 512).
cg_sectors()
{
	local d
	for d in ${CT_CGS[$1]}; do
		[ -f "$d/blkio.throttle.io_service_bytes_recursive" ] || continue
		awk -v dev="$DEV" -v op="$2" '$1 == dev && $2 == op { print $3 / 512; f = 1 } END { if (!f) print 0 }' \
			"$d/blkio.throttle.io_service_bytes_recursive"
	done
}

# --- 1. without --enable-io-accounting
start_lxcfs
make_container ct1 mem=200M files=diskstats
ct_join_cgroups --need ct1 blkio
do_io ct1
counted && fail "loop$LOOP counts after the container's I/O, without any rule"
expect_eq 0 "$(cg_sectors ct1 Write)" "ct1: sectors written its blkio cgroup counted, statistics off"
line=$(disk_line ct1)
host=$(awk -v n="loop$LOOP" '$3 == n' /proc/diskstats)
if [ -n "$line" ]; then
	# the host's file as a whole (no device counted for the container at all)
	expect_eq "$(awk '{ print $10 }' <<<"$host")" "$(awk '{ print $10 }' <<<"$line")" \
		"ct1: sectors written on loop$LOOP without accounting (the host's)"
fi
if [ -n "$line" ]; then what="the host's line"; else what="no line"; fi
log "ok: without --enable-io-accounting ct1's diskstats has $what for loop$LOOP"

destroy_container ct1
stop_lxcfs

# --- 2. with it
start_lxcfs --enable-io-accounting
wait_for 10 grep -q "statistics turned on for .*loop$LOOP ($DEV)" "$LXCFS_LOG" ||
	fail "no log line turning the statistics on for loop$LOOP: $(grep 'io accounting' "$LXCFS_LOG" | tail -2)"
log "ok: $(grep 'statistics turned on' "$LXCFS_LOG" | tail -1 | sed 's/^.*io accounting: //')"
counted || fail "loop$LOOP does not count after lxcfs started"
# No limit anywhere: the root's rules and those of every cgroup under our own.
cg_own blkio
rules=$(cat "$BLKIO"/blkio.throttle.*_device; find "$CG_DIR" -name 'blkio.throttle.*_device' -exec cat {} + 2>/dev/null)
grep -q "^$DEV " <<<"$rules" && fail "a throttle rule on $DEV: $(grep "^$DEV " <<<"$rules" | head -1)"
[ -z "$(find "$CG_DIR" -maxdepth 1 -name 'lxcfs-io-accounting.*')" ] ||
	fail "lxcfs left a cgroup: $(find "$CG_DIR" -maxdepth 1 -name 'lxcfs-io-accounting.*')"

make_container ct1 mem=200M files=diskstats
ct_join_cgroups --need ct1 blkio
make_container ct2 mem=200M files=diskstats
ct_join_cgroups --need ct2 blkio
do_io ct1
sleep 0.3 # past the daemon's 100 ms cache
line=$(disk_line ct1)
[ -n "$line" ] || fail "ct1: no loop$LOOP line in its diskstats with --enable-io-accounting"
log "ct1: $line"
w=$(awk '{ print $10 }' <<<"$line")
r=$(awk '{ print $6 }' <<<"$line")
[ "$w" -ge 20480 ] && [ "$r" -ge 20480 ] || fail "ct1: $r sectors read, $w written on loop$LOOP: 10 MiB each is 20480"
expect_eq "$(cg_sectors ct1 Write)" "$w" "ct1: sectors written, as its blkio cgroup counted"
expect_eq "$(cg_sectors ct1 Read)" "$r" "ct1: sectors read, as its blkio cgroup counted"
expect_eq "" "$(disk_line ct2)" "ct2 (no I/O there): its loop$LOOP line"

# --- 3. at exit
destroy_container ct1 ct2
stop_lxcfs
grep -q "io accounting: nothing of ours left" "$LXCFS_LOG" || fail "no exit line on io accounting"
log "ok: at exit: $(grep 'io accounting: nothing of ours' "$LXCFS_LOG" | tail -1 | sed 's/^.*io accounting: //')"
[ -z "$(find "$CG_DIR" -maxdepth 1 -name 'lxcfs-io-accounting.*')" ] || fail "lxcfs left a cgroup at exit"
pass
