#!/usr/bin/env bash
# Without swap accounting a container sees no swap, on a host that has some.
#
# A v1 kernel booted without swap accounting (swapaccount=0) has no
# memory.memsw.* files. This machine has them, and may have no swap; so the
# daemon runs in a private mount namespace where the host looks like such a
# kernel's: its /proc/meminfo with 8 GiB of swap, and its memory hierarchy a
# copy of the container's real cgroup files (limit, usage, memory.stat,
# swappiness) without the memsw ones, at the same path. Everything else is
# real: the container (a 300 MiB memory cgroup below ours, a process in it
# with lxcfs's meminfo and swaps bound over its /proc, in the daemon's
# namespace where the mount lives) and its clients:
#  1. no memsw: free -b's Swap: line is 0 0 0, /proc/swaps is its header,
#     meminfo's SwapTotal and SwapFree are 0 (the host has 8 GiB); its
#     MemTotal is still its 300 MiB.
#  2. the same copy with memsw files (a 500 MiB memsw limit, 20 MiB in
#     swap): free shows 512000 kB of swap (200 MiB of memsw beyond the
#     limit + MemTotal, SPEC), 20 MiB used, and swaps one "none" line of the
#     same figures. So the first answer comes from the missing files.
# Nothing is mounted outside the namespace, which dies with the daemon.
. "$(dirname "$0")/lib.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "runs ours in a namespace of its own"
cg_detect
[ "$CG_MODE" = v1 ] || skip "needs cgroup v1 (memsw is v1's)"
MEMMNT=$(cg_v1_mount memory)
MEMMNT=${MEMMNT%% *}

# The container's real memory cgroup.
cg_base memory
CT=$CG_DIR/swp
mkdir "$CT" || fail "mkdir $CT"
state_add cgroups "$CT"
echo 300M >"$CT/memory.limit_in_bytes" || fail "cannot limit $CT"
REL=${CT#"$MEMMNT"}

# fake_tree DIR MEMSW(yes|no): a copy of the container's cgroup files at REL below DIR.
fake_tree()
{
	local d=$1$REL f
	rm -rf "$1"
	mkdir -p "$d"
	for f in memory.limit_in_bytes memory.usage_in_bytes memory.swappiness memory.use_hierarchy; do
		cat "$CT/$f" >"$d/$f"
	done
	if [ "$2" = yes ]; then
		cat "$CT/memory.stat" >"$d/memory.stat"
		echo $((500 << 20)) >"$d/memory.memsw.limit_in_bytes"
		echo $(($(cat "$CT/memory.usage_in_bytes") + (20 << 20))) >"$d/memory.memsw.usage_in_bytes"
		# memory.stat's own memsw limit, the kernel's minimum over the ancestors
		sed -i "s/^hierarchical_memsw_limit .*/hierarchical_memsw_limit $((500 << 20))/" "$d/memory.stat"
	else
		# as the kernel prints it without memsw: no swap lines
		grep -v -e '^swap ' -e '^total_swap ' -e '^hierarchical_memsw_limit ' "$CT/memory.stat" >"$d/memory.stat"
	fi
}

# A host with 8 GiB of swap: this machine's meminfo with its swap lines replaced.
awk '$1 == "SwapTotal:" || $1 == "SwapFree:" { printf "%-16s%8d kB\n", $1, 8388604; next } { print }' \
	/proc/meminfo >"$TEST_TMP/meminfo.host"

# start_in_ns FAKE: the daemon in a private mount namespace seeing FAKE as its memory hierarchy.
start_in_ns()
{
	MNT=$TEST_TMP/mnt
	RUNDIR=$TEST_TMP/run
	LXCFS_LOG=$TEST_TMP/lxcfs.log
	mkdir -p "$MNT" "$RUNDIR"
	log "start in a private mount namespace, memory hierarchy $1"
	unshare --mount --propagation private -- sh -c '
		mount --bind "$1" /proc/meminfo || exit 97
		mount --bind "$2" "$3" || exit 97
		shift 3
		exec "$@"' sh "$TEST_TMP/meminfo.host" "$1" "$MEMMNT" \
		"$LXCFS_BUILD/lxcfs" -f --runtime-dir "$RUNDIR" --worker-binary "$LXCFS_BUILD/lxcfs-worker" \
		--workers 2 "$MNT" </dev/null >>"$LXCFS_LOG" 2>&1 &
	LXCFS_PID=$!
	LXCFS_CHILD=$LXCFS_PID
	record_pid daemon "$LXCFS_PID"
	LXCFS_STARTED=1
	wait_for 10 in_ns sh -c 'timeout 5 head -c 9 "$1/proc/meminfo" | grep -q "^MemTotal:"' sh "$MNT" ||
		fail "lxcfs not serving $MNT in its namespace: $(tail -3 "$LXCFS_LOG" | tr '\n' ' ')"
	lxcfs_worker_pids >/dev/null
}

in_ns()
{
	timeout -k 5 60 nsenter -t "$LXCFS_PID" -m -- "$@"
}

# in_ct CMD: CMD in the container's cgroup, in the daemon's namespace, with
# lxcfs's meminfo and swaps bound over /proc (a mount namespace of its own).
in_ct()
{
	# the cgroup joined from here: in the namespace its folder is the copy
	timeout -k 5 60 sh -c 'echo $$ >"$1/cgroup.procs" || exit 97
		pid=$2
		shift 2
		exec nsenter -t "$pid" -m -- unshare --mount --propagation private -- sh -c "
			mount --bind \"\$1/proc/meminfo\" /proc/meminfo && mount --bind \"\$1/proc/swaps\" /proc/swaps || exit 97
			shift
			exec \"\$@\"" sh "$@"' sh "$CT" "$LXCFS_PID" "$MNT" "$@"
}

# check SWAP_KB USED_KB: what the container's clients show.
check()
{
	local out total used
	out=$(in_ct free -k) || fail "free -k in the container failed"
	log "free -k: $(grep -E '^(Mem|Swap):' <<<"$out" | tr -s ' ' | tr '\n' '|')"
	awk '/^Mem:/ { print $2 }' <<<"$out" | expect_eq 307200 - "free: Mem total (kB), its 300 MiB"
	total=$(awk '/^Swap:/ { print $2 }' <<<"$out")
	used=$(awk '/^Swap:/ { print $3 }' <<<"$out")
	expect_eq "$1" "$total" "free: Swap total (kB)"
	expect_near "$2" "$used" 1024 "free: Swap used (kB)"
	out=$(in_ct cat /proc/meminfo)
	meminfo_kb SwapTotal <<<"$out" | expect_eq "$1" - "meminfo SwapTotal"
	out=$(in_ct cat /proc/swaps)
	log "/proc/swaps: $(tr '\t' ' ' <<<"$out" | tr '\n' '|')"
	head -1 <<<"$out" | expect_eq "$(printf 'Filename\t\t\t\tType\t\tSize\tUsed\tPriority')" - "swaps header"
	if [ "$1" = 0 ]; then
		expect_eq 1 "$(wc -l <<<"$out")" "swaps lines without swap accounting"
	else
		awk 'NR == 2 { print $1, $2, $3 }' <<<"$out" | expect_eq "none virtual $1" - "swaps device"
	fi
}

# --- 1. no memsw
fake_tree "$TEST_TMP/nomemsw" no
start_in_ns "$TEST_TMP/nomemsw"
in_ns grep -c memsw /proc/self/mountinfo >/dev/null # the namespace is there
in_ns sh -c 'ls "$1$2" | grep -c memsw' sh "$MEMMNT" "$REL" | expect_eq 0 - "memsw files the daemon sees"
in_ns awk '$1 == "SwapTotal:" { print $2 }' /proc/meminfo | expect_eq 8388604 - "the host's SwapTotal the daemon sees (kB)"
check 0 0
stop_lxcfs

# --- 2. with memsw: 200 MiB beyond the limit, 20 MiB swapped
fake_tree "$TEST_TMP/memsw" yes
start_in_ns "$TEST_TMP/memsw"
check 512000 20480
stop_lxcfs

rmdir "$CT" && state_del cgroups "$CT"
pass
