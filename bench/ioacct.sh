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
# Prints, per row, the median throughput (MB/s) and the median CPU time dd
# took per MiB moved (user + system: the cost per request lands there, and
# other load on a shared machine moves it less than the wall clock).
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

# run DD-ARGS...: "MB/s CPU-us-per-MiB" of one dd: its throughput, and the CPU
# time (user + system) it took per MiB moved, which other load on the machine
# disturbs less than the wall clock.
run()
{
	local t0 t1 out
	t0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	out=$(dd "$@" 2>&1)
	t1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" '/copied/ {
		mib = $1 / 1048576
		for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.,]+$/ && $(i + 1) ~ /B\/s$/) {
			v = $i; sub(",", ".", v); u = $(i + 1)
			if (u == "GB/s") v *= 1000; else if (u == "kB/s") v /= 1000
		}
		printf "%s %.0f\n", v, t * 1000000 / hz / mib }' <<<"$out"
}

median()
{
	sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

printf '%-5s %-3s %-5s %-9s %-13s %s\n' op bs stats "MB/s" "CPU us/MiB" "(medians of $runs runs; MB/s per run)"
for bs in 4k 64k; do
	count=32768
	[ $bs = 64k ] && count=4096
	for op in write read; do
		: >"$tmp/r.on"
		: >"$tmp/r.off"
		for i in $(seq "$runs"); do
			for which in off on; do
				n=$off
				[ $which = on ] && n=$on
				if [ $op = write ]; then
					run if=/dev/zero of="/dev/loop$n" bs=$bs count=$count oflag=direct
				else
					run if="/dev/loop$n" of=/dev/null bs=$bs count=$count iflag=direct
				fi >>"$tmp/r.$which"
			done
		done
		for which in off on; do
			printf '%-5s %-3s %-5s %-9s %-13s %s\n' $op $bs $which \
				"$(awk '{ print $1 }' "$tmp/r.$which" | median)" \
				"$(awk '{ print $2 }' "$tmp/r.$which" | median)" \
				"($(awk '{ print $1 }' "$tmp/r.$which" | tr '\n' ' '))"
		done
	done
done
