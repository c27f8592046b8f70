# shellcheck shell=bash disable=SC2034
# Shared by bench/run.sh, bench/dense.sh and bench/loadavg.sh (sourced, not run).
#
# Starting and stopping one FUSE server at a time (floor, ours, upstream),
# measuring the CPU of a server and all its descendants, and removing the
# cgroups a bench made. Every process started here is stopped by pid, on
# every exit path: a script sets `trap bench_cleanup EXIT` (and its own
# cleanup hook in BENCH_CLEANUP_HOOK) after bench_init.
#
# Globals a script may set before start_server:
#   FLOOR_FILES   paths (relative to the mount) the floor serves
#   OURS_EXTRA    array: extra options for build/lxcfs (-l, --cache-ttl-ms ...)
#   PIN_CPU       the CPU of the pinned mode

MOUNT_TIMEOUT_S=10
STOP_TIMEOUT_S=5
CLK_TCK=$(getconf CLK_TCK)
UPSTREAM=${UPSTREAM_LXCFS:-/usr/bin/lxcfs}
PIN_CPU=${BENCH_CPU:-0}
FLOOR_FILES=${FLOOR_FILES:-proc/meminfo}
OURS_EXTRA=()
BENCH_CLEANUP_HOOK=

# The one server running at a time, and its processes as "pid starttime"
# lines (starttime guards against killing a recycled pid).
SERVER_PID=
SERVER_MNT=
SERVER_LOG=
SERVER_RUN=
SERVER_TREE=
SERVER_WHY=

# bench_init NAME BUILD: check the build, make the temporary directory.
# Sets BUILD (absolute), OUT_DIR, LOG_DIR, tmp.
bench_init() {
	local name=$1
	BUILD=$2
	if [ ! -d "$BUILD" ]; then
		echo "$name: no build directory $BUILD" >&2
		exit 1
	fi
	BUILD=$(cd "$BUILD" && pwd)
	OUT_DIR=$BUILD/bench
	LOG_DIR=$OUT_DIR/logs
	mkdir -p "$LOG_DIR"
	tmp=$(mktemp -d "/tmp/lxcfs-$name.XXXXXX")
}

# FILES entry -> path relative to a root ("meminfo" -> "proc/meminfo").
rel_path() {
	case $1 in
	proc/* | sys/*) echo "$1" ;;
	*) echo "proc/$1" ;;
	esac
}

# Print "pid starttime ticks cticks" for $1 and every descendant: ticks is
# utime+stime (all its threads, live or exited), cticks cutime+cstime (its
# children it has reaped: upstream's short-lived helpers, our replaced
# workers). No
# /proc/PID/task/*/children here (CONFIG_PROC_CHILDREN is off on these
# kernels), so walk the ppid links of all of /proc/*/stat.
proc_tree() {
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
	{
		pid = $1
		s = $0
		sub(/^.*\) /, "", s)	# drop "pid (comm) ": comm may hold spaces
		n = split(s, f, " ")
		# f[1] is field 3 (state): ppid 4, utime 14, stime 15, cutime 16,
		# cstime 17, starttime 22
		ppid[pid] = f[2]; ticks[pid] = f[12] + f[13]; start[pid] = f[20]
		cticks[pid] = f[14] + f[15]
	}
	END {
		if (!(root in ppid))
			exit
		in_tree[root] = 1
		do {
			grew = 0
			for (p in ppid)
				if (!(p in in_tree) && (ppid[p] in in_tree)) {
					in_tree[p] = 1
					grew = 1
				}
		} while (grew)
		for (p in in_tree)
			print p, start[p], ticks[p], cticks[p]
	}'
}

# CPU time of $1, its descendants and the children they reaped, in clock
# ticks (10 ms): utime+stime+cutime+cstime, threads that exited included.
tree_ticks() {
	proc_tree "$1" | awk '{ t += $3 + $4 } END { print t + 0 }'
}

# The same in µs, finer: every live thread's schedstat (sum_exec_runtime, ns
# resolution) plus, in ticks, what cannot be read that way: reaped children
# (cutime+cstime). Threads that exited without a reap (a multi-threaded
# server's idle threads) are lost: for ours (single-threaded processes) and
# upstream (libfuse 3.14 keeps its threads) that is nothing. Falls back to
# tree_ticks when schedstat is missing.
tree_cpu_us() {
	local tree pid ns=0 t ct
	tree=$(proc_tree "$1")
	if [ ! -r /proc/self/schedstat ]; then
		awk -v hz="$CLK_TCK" '{ t += $3 + $4 } END { printf "%.0f", t * 1e6 / hz }' <<<"$tree"
		return
	fi
	ct=$(awk -v hz="$CLK_TCK" '{ t += $4 } END { printf "%.0f", t * 1e6 / hz }' <<<"$tree")
	for pid in $(awk '{ print $1 }' <<<"$tree"); do
		for t in /proc/"$pid"/task/*/schedstat; do
			[ -r "$t" ] && read -r t _ <"$t" 2>/dev/null && ns=$((ns + t))
		done
	done
	echo $((ns / 1000 + ct))
}

# Kill what is left of a process list from proc_tree, if still the same
# processes (same start time).
kill_tree() {
	local pid start rest now
	while read -r pid start rest; do
		[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || continue
		now=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $20 }') || continue
		if [ "$now" = "$start" ]; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done <<<"$1"
}

stop_server() {
	local i
	[ -n "$SERVER_PID" ] || return 0
	# Its workers, recorded before the master goes: if the master dies
	# badly they are ours to clean up.
	SERVER_TREE=$(proc_tree "$SERVER_PID" || true)
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		echo "bench: server $SERVER_PID ignored SIGTERM for ${STOP_TIMEOUT_S}s, killing it" >&2
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	wait "$SERVER_PID" 2>/dev/null || true
	kill_tree "$SERVER_TREE"
	if [ -n "$SERVER_MNT" ] && mountpoint -q "$SERVER_MNT"; then
		fusermount3 -u -z "$SERVER_MNT" 2>/dev/null || umount -l "$SERVER_MNT" 2>/dev/null ||
			echo "bench: could not unmount $SERVER_MNT" >&2
	fi
	SERVER_PID=
	SERVER_MNT=
	SERVER_TREE=
}

bench_cleanup() {
	stop_server || true
	[ -z "$BENCH_CLEANUP_HOOK" ] || $BENCH_CLEANUP_HOOK || true
	if [ -z "${tmp:-}" ]; then
		:
	elif grep -q " $tmp/" /proc/mounts; then
		echo "bench: leaving $tmp: something is still mounted under it" >&2
	else
		rm -rf "$tmp"
	fi
}

# start_server TARGET MODE [LOGNAME]: start it, wait for its mount. Sets
# SERVER_PID, SERVER_MNT (and SERVER_RUN for ours: lxcfs-ctl --runtime-dir),
# or returns 1 with the reason in SERVER_WHY.
start_server() {
	local target=$1 mode=$2 logname=${3:-$1-$2} probe i f
	local -a pin=() cmd=()

	[ "$mode" = pinned ] && pin=(taskset -c "$PIN_CPU")
	SERVER_MNT=$tmp/$target
	SERVER_LOG=$LOG_DIR/$logname.log
	SERVER_RUN=
	mkdir -p "$SERVER_MNT"
	case $target in
	floor)
		cmd=("$BUILD/bench/floor" -f)
		for f in $FLOOR_FILES; do
			cmd+=(-F "$(rel_path "$f")")
		done
		;;
	ours)
		if [ ! -x "$BUILD/lxcfs" ] || [ ! -x "$BUILD/lxcfs-worker" ]; then
			SERVER_WHY="$BUILD/lxcfs or lxcfs-worker not built"
			return 1
		fi
		SERVER_RUN=$tmp/run
		mkdir -p "$SERVER_RUN"
		cmd=("$BUILD/lxcfs" -f --runtime-dir "$SERVER_RUN" --workers 2
			--worker-binary "$BUILD/lxcfs-worker" "${OURS_EXTRA[@]}")
		;;
	upstream)
		if [ ! -x "$UPSTREAM" ]; then
			SERVER_WHY="$UPSTREAM not installed"
			return 1
		fi
		# -p: upstream's default pidfile /run/lxcfs.pid may belong to a
		# system lxcfs.
		cmd=("$UPSTREAM" -f -p "$tmp/upstream-$mode.pid")
		[[ " ${OURS_EXTRA[*]} " == *" -l "* ]] && cmd+=(-l)
		;;
	*)
		SERVER_WHY="unknown target $target"
		return 1
		;;
	esac
	"${pin[@]}" "${cmd[@]}" "$SERVER_MNT" >"$SERVER_LOG" 2>&1 </dev/null &
	SERVER_PID=$!

	# Every target serves proc/meminfo (the floor always does).
	probe=$SERVER_MNT/proc/meminfo
	for ((i = 0; i < MOUNT_TIMEOUT_S * 10; i++)); do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			wait "$SERVER_PID" 2>/dev/null || true
			SERVER_PID=
			SERVER_WHY="exited before mounting: $(tail -n 1 "$SERVER_LOG" 2>/dev/null)"
			return 1
		fi
		# timeout: a server that mounted but hangs must not hang us.
		if mountpoint -q "$SERVER_MNT" &&
			timeout 2 head -c 1 "$probe" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	if mountpoint -q "$SERVER_MNT"; then
		SERVER_WHY="mounted, but $probe not readable within $MOUNT_TIMEOUT_S s"
	else
		SERVER_WHY="mount did not appear within $MOUNT_TIMEOUT_S s"
	fi
	stop_server
	return 1
}

# served PATH: does the running server have this file (bounded: a hung
# server must not hang us)?
served() {
	timeout 2 test -e "$1" 2>/dev/null
}

# ctl_json: `lxcfs-ctl --json stats` and `--json status` of the running ours
# (nothing for another target); json_num TEXT KEY: the number KEY holds in
# it ("-" if absent). The keys the benches use are unique in both documents.
ctl_json() {
	[ -n "$SERVER_RUN" ] || return 0
	timeout 5 "$BUILD/lxcfs-ctl" --runtime-dir "$SERVER_RUN" --json stats 2>/dev/null || true
	echo
	timeout 5 "$BUILD/lxcfs-ctl" --runtime-dir "$SERVER_RUN" --json status 2>/dev/null || true
}
json_num() {
	local v
	v=$(grep -o "\"$2\":\"\\?[0-9.]*" <<<"$1" | head -n 1 | sed 's/.*://; s/"//g')
	echo "${v:--}"
}

# A /proc/PID/status field in kB ("-" if absent).
status_kb() {
	awk -v k="$2:" '$1 == k { print $2; found = 1 } END { if (!found) print "-" }' \
		"/proc/$1/status" 2>/dev/null || echo -
}

# own_cgroup CONTROLLER: this process's cgroup path in that v1 hierarchy
# ("" for the root), or fails if the controller is not mounted as v1.
own_cgroup() {
	local ctrl=$1 path
	[ -d "/sys/fs/cgroup/$ctrl" ] || return 1
	path=$(awk -F: -v c="$ctrl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
		/proc/self/cgroup)
	[ -n "$path" ] || return 1
	[ "$path" = / ] && path=
	echo "$path"
}

# cgroup_purge DIR: kill the processes left in DIR/*/ (bench readers: only
# our processes ever enter these directories), then remove DIR/* and DIR.
cgroup_purge() {
	local dir=$1 d pid i
	[ -d "$dir" ] || return 0
	for ((i = 0; i < 50; i++)); do
		local left=0
		for d in "$dir"/*/; do
			[ -f "$d/cgroup.procs" ] || continue
			while read -r pid; do
				[ -n "$pid" ] || continue
				kill -KILL "$pid" 2>/dev/null || true
				left=1
			done <"$d/cgroup.procs"
		done
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	find "$dir" -mindepth 1 -maxdepth 1 -type d -exec rmdir {} + 2>/dev/null || true
	rmdir "$dir" 2>/dev/null || true
	if [ -d "$dir" ]; then
		echo "bench: could not remove $dir" >&2
		return 1
	fi
}

# denseread as a coprocess of dense.sh and loadavg.sh: its pid, stdin and
# stdout (copied from the coproc variables, which bash unsets when it ends),
# and its "ready" line.
DRPID=
DR_IN=
DR_OUT=
DR_READY=

# dr_prepare CONTROLLER: exit 1 without $DENSEREAD, exit 0 (skipped) without
# a cgroup v1 CONTROLLER hierarchy; else CG_BASE, the folder denseread makes
# its cgroups in, below this script's own cgroup of that hierarchy.
dr_prepare() {
	local own
	if [ ! -x "$DENSEREAD" ]; then
		echo "${0##*/}: $DENSEREAD not built" >&2
		exit 1
	fi
	if ! own=$(own_cgroup "$1"); then
		echo "${0##*/}: no cgroup v1 $1 hierarchy at /sys/fs/cgroup/$1: skipped" >&2
		exit 0
	fi
	CG_BASE=/sys/fs/cgroup/$1$own/lxcfs-bench.$$
}

# dr_start LOG TIMEOUT ARG...: start $DENSEREAD ARG... (its stderr to LOG)
# and wait up to TIMEOUT s until its readers are in their cgroups. Not in a
# $(...): the coprocess belongs to the calling shell.
dr_start() {
	local log=$1 timeout=$2
	shift 2
	coproc DR { exec "$DENSEREAD" "$@" 2>>"$log"; }
	DRPID=$DR_PID
	exec {DR_IN}>&"${DR[1]}" {DR_OUT}<&"${DR[0]}"
	if ! read -r -t "$timeout" DR_READY <&"$DR_OUT" || [[ $DR_READY != ready* ]]; then
		echo "${0##*/}: denseread did not get ready: $(tail -n 2 "$log")" >&2
		return 1
	fi
}

# dr_cmd COMMAND TIMEOUT: send one command to denseread, print its answer.
dr_cmd() {
	local line
	echo "$1" >&"$DR_IN"
	if ! read -r -t "$2" line <&"$DR_OUT"; then
		echo "${0##*/}: no answer from denseread to \"$1\" (it ended, or $2 s passed)" >&2
		return 1
	fi
	echo "$line"
}

# dr_stop: denseread stops its readers and removes its cgroups (seconds for
# 10000), or is killed after 60 s (its readers die with it); then CG_BASE
# goes, whatever was left in it.
dr_stop() {
	local i
	if [ -n "$DRPID" ] && kill -0 "$DRPID" 2>/dev/null; then
		{ echo quit >&"$DR_IN"; } 2>/dev/null || true
		for ((i = 0; i < 600; i++)); do
			kill -0 "$DRPID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DRPID" 2>/dev/null || true
		wait "$DRPID" 2>/dev/null || true
	fi
	DRPID=
	cgroup_purge "$CG_BASE"
}
