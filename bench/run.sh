#!/usr/bin/env bash
# Read-latency table: native /proc, the FUSE floor, this lxcfs, upstream lxcfs.
#
#   bench/run.sh [BUILD]        (make bench runs it with BUILD=build)
#
# For every file in FILES and every target, readlat times open+read+close and
# pread with 1 and with 8 reader processes, first with everything free to run
# on any CPU, then with the server and the readers pinned to one CPU (cross-CPU
# wake-ups cost ~60 us on these VMs and swamp everything else when unpinned).
# Server CPU time per read is the growth of utime+stime of the server and all
# its descendants (our workers) over the run, divided by the reads done.
#
# The table goes to stdout and to BUILD/bench/results.txt; server logs to
# BUILD/bench/logs/. Every server started here is stopped and unmounted on
# every exit path, by pid.
#
# Knobs (environment):
#   FILES          files to bench, relative to /proc unless they start with
#                  proc/ or sys/ (default "meminfo")
#   BENCH_SECONDS  seconds per measurement (default 3)
#   BENCH_READERS  reader counts (default "1 8")
#   BENCH_OPS      "open pread"
#   BENCH_MODES    "unpinned pinned"
#   BENCH_TARGETS  "native floor ours upstream"
#   BENCH_CPU      the CPU of the pinned mode (default 0)
#   UPSTREAM_LXCFS upstream binary (default /usr/bin/lxcfs)
set -euo pipefail

BUILD=${1:-build}
if [ ! -d "$BUILD" ]; then
	echo "run.sh: no build directory $BUILD" >&2
	exit 1
fi
BUILD=$(cd "$BUILD" && pwd)

FILES=${FILES:-meminfo}
RUN_S=${BENCH_SECONDS:-3}
READERS=${BENCH_READERS:-"1 8"}
OPS=${BENCH_OPS:-"open pread"}
MODES=${BENCH_MODES:-"unpinned pinned"}
TARGETS=${BENCH_TARGETS:-"native floor ours upstream"}
PIN_CPU=${BENCH_CPU:-0}
UPSTREAM=${UPSTREAM_LXCFS:-/usr/bin/lxcfs}
MOUNT_TIMEOUT_S=10
STOP_TIMEOUT_S=5
CLK_TCK=$(getconf CLK_TCK)

READLAT=$BUILD/bench/readlat
FLOOR=$BUILD/bench/floor
OUT_DIR=$BUILD/bench
RESULTS=$OUT_DIR/results.txt
LOG_DIR=$OUT_DIR/logs

for bin in "$READLAT" "$FLOOR"; do
	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin not built (make $bin)" >&2
		exit 1
	fi
done
mkdir -p "$LOG_DIR"

tmp=$(mktemp -d /tmp/lxcfs-bench.XXXXXX)

# The one server running at a time, and its processes as "pid starttime"
# lines (starttime guards against killing a recycled pid).
SERVER_PID=
SERVER_MNT=
SERVER_LOG=
SERVER_TREE=
SERVER_WHY=

# Print "pid starttime ticks" for $1 and every descendant. No
# /proc/PID/task/*/children here (CONFIG_PROC_CHILDREN is off on these
# kernels), so walk the ppid links of all of /proc/*/stat.
proc_tree() {
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
	{
		pid = $1
		s = $0
		sub(/^.*\) /, "", s)	# drop "pid (comm) ": comm may hold spaces
		n = split(s, f, " ")
		# f[1] is field 3 (state): ppid 4, utime 14, stime 15, starttime 22
		ppid[pid] = f[2]; ticks[pid] = f[12] + f[13]; start[pid] = f[20]
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
			print p, start[p], ticks[p]
	}'
}

tree_ticks() {
	proc_tree "$1" | awk '{ t += $3 } END { print t + 0 }'
}

# Kill what is left of a process list from proc_tree, if still the same
# processes (same start time).
kill_tree() {
	local pid start rest now
	while read -r pid start rest; do
		[ -r "/proc/$pid/stat" ] || continue
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
		echo "run.sh: server $SERVER_PID ignored SIGTERM for ${STOP_TIMEOUT_S}s, killing it" >&2
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	wait "$SERVER_PID" 2>/dev/null || true
	kill_tree "$SERVER_TREE"
	if [ -n "$SERVER_MNT" ] && mountpoint -q "$SERVER_MNT"; then
		fusermount3 -u -z "$SERVER_MNT" 2>/dev/null || umount -l "$SERVER_MNT" 2>/dev/null ||
			echo "run.sh: could not unmount $SERVER_MNT" >&2
	fi
	SERVER_PID=
	SERVER_MNT=
	SERVER_TREE=
}

cleanup() {
	stop_server || true
	if grep -q " $tmp/" /proc/mounts; then
		echo "run.sh: leaving $tmp: something is still mounted under it" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# FILES entry -> path relative to a root ("meminfo" -> "proc/meminfo").
rel_path() {
	case $1 in
	proc/* | sys/*) echo "$1" ;;
	*) echo "proc/$1" ;;
	esac
}

# start_server TARGET MODE: start it, wait for its mount. Sets SERVER_PID and
# SERVER_MNT, or returns 1 with the reason in SERVER_WHY.
start_server() {
	local target=$1 mode=$2 probe i f
	local -a pin=() cmd=()

	[ "$mode" = pinned ] && pin=(taskset -c "$PIN_CPU")
	SERVER_MNT=$tmp/$target
	SERVER_LOG=$LOG_DIR/$target-$mode.log
	mkdir -p "$SERVER_MNT"
	case $target in
	floor)
		cmd=("$FLOOR" -f)
		for f in $FILES; do
			f=$(rel_path "$f")
			case $f in
			proc/*/*) ;; # the floor serves flat /proc names only
			proc/*) cmd+=(-F "${f#proc/}") ;;
			esac
		done
		;;
	ours)
		if [ ! -x "$BUILD/lxcfs" ] || [ ! -x "$BUILD/lxcfs-worker" ]; then
			SERVER_WHY="$BUILD/lxcfs or lxcfs-worker not built"
			return 1
		fi
		mkdir -p "$tmp/run"
		cmd=("$BUILD/lxcfs" -f --runtime-dir "$tmp/run" --workers 2
			--worker-binary "$BUILD/lxcfs-worker")
		;;
	upstream)
		if [ ! -x "$UPSTREAM" ]; then
			SERVER_WHY="$UPSTREAM not installed"
			return 1
		fi
		# -p: upstream's default pidfile /run/lxcfs.pid may belong to a
		# system lxcfs.
		cmd=("$UPSTREAM" -f -p "$tmp/upstream-$mode.pid")
		;;
	esac
	"${pin[@]}" "${cmd[@]}" "$SERVER_MNT" >"$SERVER_LOG" 2>&1 </dev/null &
	SERVER_PID=$!

	probe=$SERVER_MNT/$(rel_path "${FILES%% *}")
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

# Results, keyed "mode|file|target|readers|op".
declare -A P50 P99 RATE CPU ERRS
# Why a target has no numbers, keyed "mode|target".
declare -A NA

# measure MODE FILE TARGET PATH
measure() {
	local mode=$1 file=$2 target=$3 path=$4 prefix readers op out key
	local t0 t1 kv k v ops
	local -a cpu_arg=()
	local -A r

	[ "$mode" = pinned ] && cpu_arg=(--cpu "$PIN_CPU")
	# Check content too: a first word like "MemTotal:" must come back.
	prefix=
	read -r prefix _ <"/$(rel_path "$file")" 2>/dev/null || true
	[[ $prefix =~ ^[A-Za-z] ]] || prefix=

	for readers in $READERS; do
		for op in $OPS; do
			key="$mode|$file|$target|$readers|$op"
			t0=0
			[ -n "$SERVER_PID" ] && t0=$(tree_ticks "$SERVER_PID")
			out=$(timeout -k 5 $((${RUN_S%.*} + 31)) "$READLAT" --mode "$op" \
				--readers "$readers" --seconds "$RUN_S" "${cpu_arg[@]}" \
				${prefix:+--expect-prefix "$prefix"} "$path" 2>>"$tmp/readlat.err") || true
			t1=0
			[ -n "$SERVER_PID" ] && t1=$(tree_ticks "$SERVER_PID")

			r=()
			for kv in $out; do
				k=${kv%%=*}
				v=${kv#*=}
				r[$k]=$v
			done
			if [ -z "${r[ops]:-}" ]; then
				P50[$key]=failed
				echo "  $target $file x$readers $op: readlat failed: $(tail -n 1 "$tmp/readlat.err" 2>/dev/null)" >&2
				continue
			fi
			ops=${r[ops]}
			ERRS[$key]=$((${r[errors]:-0} + ${r[bad]:-0} + ${r[hung]:-0}))
			if [ "$ops" -eq 0 ]; then
				P50[$key]=failed
			else
				P50[$key]=${r[p50_us]}
				P99[$key]=${r[p99_us]}
				RATE[$key]=${r[ops_per_s]}
				if [ -n "$SERVER_PID" ]; then
					CPU[$key]=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$ops" \
						'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
				fi
			fi
			printf '  %-8s %-10s x%-2s %-5s %s\n' "$target" "$file" "$readers" "$op" "$out" >&2
		done
	done
}

# ratio A B: A/B with two decimals, or "-".
ratio() {
	case "$1|$2" in
	*-* | *failed* | *n/a* | "|"* | *"|") echo - ;;
	*) awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }' ;;
	esac
}

print_table() {
	local mode=$1 file=$2 target readers op key fkey ukey p50 desc
	if [ "$mode" = pinned ]; then
		desc="servers and readers pinned to CPU $PIN_CPU"
	else
		desc="servers and readers on any CPU"
	fi
	echo
	echo "== $file, $mode ($desc; ${RUN_S}s per row) =="
	printf '%-9s %7s %5s %9s %9s %9s %11s %9s %12s %6s\n' target readers op p50_us p99_us \
		reads/s cpu_us/read p50/floor p50/upstream errors
	for target in $TARGETS; do
		for readers in $READERS; do
			for op in $OPS; do
				key="$mode|$file|$target|$readers|$op"
				if [ -n "${NA[$mode|$target]:-}" ]; then
					printf '%-9s %7s %5s %9s %9s %9s %11s %9s %12s %6s\n' \
						"$target" "$readers" "$op" n/a n/a n/a n/a - - -
					continue
				fi
				p50=${P50[$key]:-n/a}
				fkey="$mode|$file|floor|$readers|$op"
				ukey="$mode|$file|upstream|$readers|$op"
				printf '%-9s %7s %5s %9s %9s %9s %11s %9s %12s %6s\n' \
					"$target" "$readers" "$op" "$p50" "${P99[$key]:--}" \
					"${RATE[$key]:--}" "${CPU[$key]:--}" \
					"$(ratio "$p50" "${P50[$fkey]:-}")" \
					"$(ratio "$p50" "${P50[$ukey]:-}")" "${ERRS[$key]:--}"
			done
		done
	done
	for target in $TARGETS; do
		[ -z "${NA[$mode|$target]:-}" ] || echo "n/a $target: ${NA[$mode|$target]}"
	done
}

{
	echo "lxcfs read-latency bench, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "kernel $(uname -r), $(nproc) CPUs, rev $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	[ -x "$UPSTREAM" ] && echo "upstream: $("$UPSTREAM" --version 2>&1 | head -n 1)"
	echo "Compare p50s and ratios within this run only: these machines are noisy."
} >"$tmp/header"
cat "$tmp/header" >&2

for mode in $MODES; do
	echo "-- $mode" >&2
	for target in $TARGETS; do
		if [ "$target" != native ]; then
			if ! start_server "$target" "$mode"; then
				NA[$mode|$target]=$SERVER_WHY
				echo "  $target: n/a: $SERVER_WHY" >&2
				continue
			fi
		fi
		for file in $FILES; do
			if [ "$target" = native ]; then
				measure "$mode" "$file" native "/$(rel_path "$file")"
			else
				measure "$mode" "$file" "$target" "$SERVER_MNT/$(rel_path "$file")"
			fi
		done
		stop_server
	done
done

{
	cat "$tmp/header"
	for mode in $MODES; do
		for file in $FILES; do
			print_table "$mode" "$file"
		done
	done
	echo
	echo "cpu_us/read: server CPU (utime+stime of it and its children) per operation;"
	echo "an open op is open+read+read(EOF)+close. errors: failed, bad or hung reads."
} | tee "$RESULTS"
echo "saved to $RESULTS" >&2
