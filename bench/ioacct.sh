#!/usr/bin/env bash
# What --enable-io-accounting costs: O_DIRECT dd throughput on a disk whose
# v1 blkio statistics are off against one where they are on.
#
#   bench/ioacct.sh [BUILD]      (BUILD: where lxcfs-worker is, default build)
#
# Two fresh loop devices, each on a 256 MiB file of a private tmpfs, so that
# the device is as fast as the CPU lets it be and any cost per request shows
# (a real disk hides it behind its own latency). The statistics are turned on
# for the second one only, by the same helper lxcfs runs at start
# (lxcfs-worker --io-accounting start; it turns them on for every disk that
# does not count yet, so the first device is made after it ran). Then,
# alternating between the two so that drift of the machine hits both alike,
# RUNS runs each of:
#   write  dd if=/dev/zero of=DEV bs=BS count=N oflag=direct
#   read   dd if=DEV of=/dev/null bs=BS count=N iflag=direct
# for BS 4k (128 MiB: the most requests, the worst case) and 64k (256 MiB).
# Prints, per row, the throughput (MB/s) and the CPU time dd took per MiB
# moved (user + system: the cost per request lands there), the median and the
# best of the runs (other load on a shared machine only ever makes a run
# worse, so the best runs compare the costs themselves).
#
# Knobs: RUNS (default 5). Run as root. Everything made here (the tmpfs, the
# loop devices) is removed on every exit path; nothing else is touched, but
# the statistics stay on for the second device until it is removed, which
# this script does at the end (the kernel drops them with the disk).
set -u
build=${1:-build}
runs=${RUNS:-5}
worker=$build/lxcfs-worker
[ "$(id -u)" = 0 ] || { echo "ioacct.sh: run as root" >&2; exit 1; }
[ -x "$worker" ] || { echo "ioacct.sh: no $worker (make first)" >&2; exit 1; }
[ -d /sys/fs/cgroup/blkio ] || { echo "ioacct.sh: no v1 blkio hierarchy: nothing to measure" >&2; exit 1; }

tmp=$(mktemp -d /tmp/lxcfs-ioacct.XXXXXX) || exit 1
loops=()

# loop_ctl OP N: LOOP_CTL_ADD (0x4C80) or LOOP_CTL_REMOVE (0x4C81) of /dev/loopN.
loop_ctl()
{
	python3 -c 'import fcntl, os, sys
fd = os.open("/dev/loop-control", os.O_RDWR)
fcntl.ioctl(fd, int(sys.argv[1], 16), int(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

cleanup()
{
	local n
	for n in "${loops[@]}"; do
		losetup -d "/dev/loop$n" 2>/dev/null
		# removed once the detach is through (EBUSY until then)
		for _ in $(seq 50); do
			loop_ctl 0x4C81 "$n" && break
			sleep 0.1
		done
	done
	# a detached loop device lets go of its file a moment later
	for _ in $(seq 50); do
		mountpoint -q "$tmp/fs" || break
		umount "$tmp/fs" 2>/dev/null && break
		sleep 0.1
	done
	mountpoint -q "$tmp/fs" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# new_loop FILE: a loop device of our own on FILE (a number nobody uses) in
# $LOOP (not a command substitution: the subshell would lose the record).
new_loop()
{
	local n
	for n in $(seq 200 255); do
		[ -e "/dev/loop$n" ] && continue
		loop_ctl 0x4C80 "$n" || continue
		loops+=("$n")
		losetup "/dev/loop$n" "$1" || return 1
		LOOP=$n
		return 0
	done
	return 1
}

# counted N: whether the kernel counts loopN in the v1 blkio statistics.
counted()
{
	grep -q "^7:$1 " /sys/fs/cgroup/blkio/blkio.throttle.io_serviced
}

mkdir "$tmp/fs" && mount -t tmpfs -o size=600m none "$tmp/fs" || exit 1
truncate -s 256M "$tmp/fs/on" "$tmp/fs/off"
new_loop "$tmp/fs/on" || { echo "ioacct.sh: no free loop device" >&2; exit 1; }
on=$LOOP
"$worker" --io-accounting start --log stderr 2>&1 | sed 's/^/# /' >&2
new_loop "$tmp/fs/off" || { echo "ioacct.sh: no free loop device" >&2; exit 1; }
off=$LOOP
counted "$on" || { echo "ioacct.sh: statistics not on for loop$on" >&2; exit 1; }
! counted "$off" || { echo "ioacct.sh: statistics already on for loop$off" >&2; exit 1; }
echo "# statistics on: loop$on; off: loop$off; $runs runs each; $(uname -r), $(nproc) CPUs"

# The runs: python's wait4() gives each dd's CPU time to the microsecond (the
# clock ticks of /proc/PID/stat are too coarse for a 64k run). Prints, per
# row, the median and the best (highest MB/s, lowest CPU: interference by
# other load only ever makes a run worse) of the runs.
python3 - "$runs" "/dev/loop$off" "/dev/loop$on" <<'PY'
import os, re, statistics, subprocess, sys, time

runs, dev_off, dev_on = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def run(args):
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 2)
        os.execvp("dd", ["dd"] + args)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    if status:
        sys.exit("dd %s failed" % args)
    return wall, ru.ru_utime + ru.ru_stime

print("%-5s %-3s %-5s %9s %9s %13s %13s" % ("op", "bs", "stats", "MB/s med", "MB/s best",
      "CPU us/MiB med", "best"))
for bs, count in (("4k", 32768), ("64k", 4096)):
    mib = (4096 if bs == "4k" else 65536) * count / 1048576.0
    for op in ("write", "read"):
        res = {"off": [], "on": []}
        for _ in range(runs):
            for which, dev in (("off", dev_off), ("on", dev_on)):
                if op == "write":
                    args = ["if=/dev/zero", "of=" + dev, "bs=" + bs, "count=%d" % count, "oflag=direct"]
                else:
                    args = ["if=" + dev, "of=/dev/null", "bs=" + bs, "count=%d" % count, "iflag=direct"]
                wall, cpu = run(args)
                res[which].append((mib * 1.048576 / wall, cpu * 1e6 / mib))
        for which in ("off", "on"):
            mbs = [r[0] for r in res[which]]
            cpu = [r[1] for r in res[which]]
            print("%-5s %-3s %-5s %9.0f %9.0f %13.0f %13.0f" % (op, bs, which, statistics.median(mbs),
                  max(mbs), statistics.median(cpu), min(cpu)))
        sys.stdout.flush()
PY
