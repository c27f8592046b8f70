#!/usr/bin/env bash
# Read-latency tables: native /proc, the FUSE floor, this lxcfs, upstream lxcfs;
# then the dense-host scenario (dense.sh) and the loadavg sampler (loadavg.sh).
#
#   bench/run.sh [BUILD]        (make bench runs it with BUILD=build)
#
# 1. The full matrix for MATRIX_FILES (meminfo): readlat with 1 and 8 reader
#    processes, open+read+close and pread, first with everything free to run
#    on any CPU, then with the server and the readers pinned to one CPU
#    (cross-CPU wake-ups cost ~60 us on these VMs and swamp everything else
#    when unpinned).
# 2. Every other file of FILES: one row per target, 1 reader,
#    open+read+close, in FILE_MODE (pinned). Upstream 5.0.3 has no
#    proc/pressure/*: n/a there.
# 3. Ours against upstream on meminfo: server CPU per read, 8-reader
#    reads/s, and the targets of the project, each PASS or MISS with its
#    figures (information for the reader: a MISS does not fail the run).
# Server CPU time per read is the CPU time of the server and all its
# descendants (our workers), and of the children they reaped, over the run
# (lib.sh tree_cpu_us: schedstat), divided by the reads done.
#
# The tables go to stdout and to BUILD/bench/results.txt; server logs to
# BUILD/bench/logs/. Every server started here is stopped and unmounted on
# every exit path, by pid.
#
# Knobs (environment):
#   FILES             files of table 2, relative to /proc unless they start
#                     with proc/ or sys/ (default: every file lxcfs serves)
#   MATRIX_FILES      files of the full matrix (default "meminfo")
#   BENCH_SECONDS     seconds per matrix row (default 2)
#   BENCH_FILE_SECONDS seconds per table-2 row (default 1.5)
#   BENCH_READERS     matrix reader counts (default "1 8")
#   BENCH_OPS         "open pread"
#   BENCH_MODES       "unpinned pinned"
#   BENCH_FILE_MODE   mode of table 2 (default pinned)
#   BENCH_TARGETS     "native floor ours upstream"
#   BENCH_CPU         the CPU of the pinned mode (default 0)
#   BENCH_DENSE       1 (default) runs bench/dense.sh afterwards, 0 skips it
#   BENCH_LOADAVG     1 (default) runs bench/loadavg.sh afterwards, 0 skips it
#   BENCH_QUICK       1: 1 s rows, dense up to 1000 cgroups, 10 s loadavg
#                     windows (a smoke run, about three minutes)
#   UPSTREAM_LXCFS    upstream binary (default /usr/bin/lxcfs)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
bench_init bench "${1:-build}"

QUICK=${BENCH_QUICK:-0}
ALL_FILES="meminfo cpuinfo stat uptime loadavg swaps diskstats slabinfo proc/pressure/cpu proc/pressure/io proc/pressure/memory sys/devices/system/cpu/online"
FILES=${FILES:-$ALL_FILES}
MATRIX_FILES=${MATRIX_FILES:-meminfo}
if [ "$QUICK" = 1 ]; then
	RUN_S=${BENCH_SECONDS:-1}
	FILE_S=${BENCH_FILE_SECONDS:-1}
else
	RUN_S=${BENCH_SECONDS:-2}
	FILE_S=${BENCH_FILE_SECONDS:-1.5}
fi
READERS=${BENCH_READERS:-"1 8"}
OPS=${BENCH_OPS:-"open pread"}
MODES=${BENCH_MODES:-"unpinned pinned"}
TARGETS=${BENCH_TARGETS:-"native floor ours upstream"}
FILE_MODE=${BENCH_FILE_MODE:-pinned}
[[ " $MODES " == *" $FILE_MODE "* ]] || FILE_MODE=${MODES%% *}

READLAT=$BUILD/bench/readlat
RESULTS=$OUT_DIR/results.txt
for bin in "$READLAT" "$BUILD/bench/floor"; do
	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin not built (make $bin)" >&2
		exit 1
	fi
done

# The floor serves every file either table asks for, with the host's content.
FLOOR_FILES=
for f in $MATRIX_FILES $FILES; do
	FLOOR_FILES="$FLOOR_FILES $(rel_path "$f")"
done

# Table-2 files: FILES minus those of the matrix (their row comes from it).
OTHER_FILES=
for f in $FILES; do
	[[ " $MATRIX_FILES " == *" $f "* ]] || OTHER_FILES="$OTHER_FILES $f"
done

trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Results, keyed "mode|file|target|readers|op".
declare -A P50 P99 RATE CPU ERRS NOTE
# Why a target has no numbers, keyed "mode|target".
declare -A NA

# measure MODE FILE TARGET PATH SECONDS "READERS" "OPS"
measure() {
	local mode=$1 file=$2 target=$3 path=$4 secs=$5 readers_list=$6 ops_list=$7
	local prefix readers op out key t0 t1 kv k v ops
	local -a cpu_arg=()
	local -A r

	[ "$mode" = pinned ] && cpu_arg=(--cpu "$PIN_CPU")
	# Check content too: a first word like "MemTotal:" must come back.
	prefix=
	read -r prefix _ <"/$(rel_path "$file")" 2>/dev/null || true
	[[ $prefix =~ ^[A-Za-z] ]] || prefix=

	for readers in $readers_list; do
		for op in $ops_list; do
			key="$mode|$file|$target|$readers|$op"
			if [ "$target" != native ] && ! served "$path"; then
				P50[$key]=n/a
				NOTE[$key]="$target does not serve $(rel_path "$file")"
				continue
			fi
			t0=0
			[ -n "$SERVER_PID" ] && t0=$(tree_cpu_us "$SERVER_PID")
			out=$(timeout -k 5 $((${secs%.*} + 31)) "$READLAT" --mode "$op" \
				--readers "$readers" --seconds "$secs" "${cpu_arg[@]}" \
				${prefix:+--expect-prefix "$prefix"} "$path" 2>>"$tmp/readlat.err") || true
			t1=0
			[ -n "$SERVER_PID" ] && t1=$(tree_cpu_us "$SERVER_PID")

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
					CPU[$key]=$(awk -v d=$((t1 - t0)) -v n="$ops" \
						'BEGIN { printf "%.1f", d / n }')
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

ROW_FMT='%-9s %7s %5s %9s %9s %9s %11s %9s %12s %6s\n'

# row KEY-PREFIX (mode|file|target) READERS OP FIRST-COLUMN...
print_row() {
	local mode=$1 file=$2 target=$3 readers=$4 op=$5 key p50
	key="$mode|$file|$target|$readers|$op"
	p50=${P50[$key]:-n/a}
	if [ -n "${NA[$mode|$target]:-}" ] || [ "$p50" = n/a ]; then
		printf "$ROW_FMT" "$target" "$readers" "$op" n/a n/a n/a n/a - - -
		return
	fi
	printf "$ROW_FMT" "$target" "$readers" "$op" "$p50" "${P99[$key]:--}" \
		"${RATE[$key]:--}" "${CPU[$key]:--}" \
		"$(ratio "$p50" "${P50[$mode|$file|floor|$readers|$op]:-}")" \
		"$(ratio "$p50" "${P50[$mode|$file|upstream|$readers|$op]:-}")" "${ERRS[$key]:--}"
}

mode_desc() {
	if [ "$1" = pinned ]; then
		echo "servers and readers pinned to CPU $PIN_CPU"
	else
		echo "servers and readers on any CPU"
	fi
}

# Table 1: the full matrix of one file in one mode.
print_matrix() {
	local mode=$1 file=$2 target readers op
	echo
	echo "== $file, $mode: full matrix ($(mode_desc "$mode"); ${RUN_S}s per row) =="
	printf "$ROW_FMT" target readers op p50_us p99_us reads/s cpu_us/read p50/floor \
		p50/upstream errors
	for target in $TARGETS; do
		for readers in $READERS; do
			for op in $OPS; do
				print_row "$mode" "$file" "$target" "$readers" "$op"
			done
		done
	done
	print_notes "$mode" "$file"
}

print_notes() {
	local mode=$1 file=$2 target k
	for target in $TARGETS; do
		[ -z "${NA[$mode|$target]:-}" ] || echo "n/a $target: ${NA[$mode|$target]}"
		for k in "${!NOTE[@]}"; do
			[[ $k == "$mode|$file|$target|"* ]] && echo "n/a: ${NOTE[$k]}" && break
		done
	done
	return 0
}

# Table 2: one row per file and target, 1 reader, open+read+close.
print_files() {
	local mode=$FILE_MODE file target
	[ -n "$FILES" ] || return 0
	echo
	echo "== every file: open+read+close, 1 reader, $mode ($(mode_desc "$mode"); ${FILE_S}s per row; rows of $MATRIX_FILES: from the matrix, ${RUN_S}s) =="
	printf '%-30s ' file
	printf "$ROW_FMT" target readers op p50_us p99_us reads/s cpu_us/read p50/floor \
		p50/upstream errors
	for file in $FILES; do
		for target in $TARGETS; do
			printf '%-30s ' "$(rel_path "$file")"
			print_row "$mode" "$file" "$target" 1 open
		done
	done
	for target in $TARGETS; do
		[ -z "${NA[$mode|$target]:-}" ] || echo "n/a $target: ${NA[$mode|$target]}"
	done
	local k
	for k in "${!NOTE[@]}"; do
		echo "n/a: ${NOTE[$k]}"
	done | sort -u
}

# verdict NAME OK-EXPR(awk, on a and b) A B TEXT
verdict() {
	local label=$1 cond=$2 a=$3 b=$4 text=$5 res
	case "$a|$b" in
	*-* | *failed* | *n/a* | "|"* | *"|")
		printf '%-4s %s: not measured in this run\n' "n/a" "$label"
		return
		;;
	esac
	res=$(awk -v a="$a" -v b="$b" "BEGIN { if ($cond) print \"PASS\"; else print \"MISS\" }")
	printf '%-4s %s: %s\n' "$res" "$label" "$text"
}

# Table 3 and the targets, for the first matrix file (meminfo).
print_summary() {
	local file=${MATRIX_FILES%% *} mode op k1 k8 oc uc o8 u8
	[ -n "$file" ] || return 0
	echo
	echo "== $file, ours vs upstream: server CPU per read (1 reader) and reads/s (8 readers) =="
	printf '%-9s %5s %10s %10s %7s %11s %11s %7s\n' mode op cpu_ours cpu_upstr ratio \
		"reads/s x8" "upstr x8" ratio
	for mode in $MODES; do
		for op in $OPS; do
			k1="$mode|$file|ours|1|$op"
			k8="$mode|$file|ours|8|$op"
			oc=${CPU[$k1]:--}
			uc=${CPU[$mode|$file|upstream|1|$op]:--}
			o8=${RATE[$k8]:--}
			u8=${RATE[$mode|$file|upstream|8|$op]:--}
			printf '%-9s %5s %10s %10s %7s %11s %11s %7s\n' "$mode" "$op" "$oc" "$uc" \
				"$(ratio "$oc" "$uc")" "$o8" "$u8" "$(ratio "$o8" "$u8")"
		done
	done
	echo "(cpu in µs of server CPU, master + workers for ours, per operation)"

	local po pu pf cpo cpu_ r8o r8u uo uu
	po=${P50[pinned|$file|ours|1|open]:--}
	pu=${P50[pinned|$file|upstream|1|open]:--}
	pf=${P50[pinned|$file|floor|1|open]:--}
	cpo=${CPU[pinned|$file|ours|1|open]:--}
	cpu_=${CPU[pinned|$file|upstream|1|open]:--}
	r8o=${RATE[unpinned|$file|ours|8|open]:--}
	r8u=${RATE[unpinned|$file|upstream|8|open]:--}
	uo=${P50[unpinned|$file|ours|1|open]:--}
	uu=${P50[unpinned|$file|upstream|1|open]:--}
	echo
	echo "== targets, from this run ($file, open+read+close; information, not a test) =="
	verdict "p50 pinned x1 <= 1/3 of upstream" "a * 3 <= b" "$po" "$pu" \
		"ours $po us, upstream $pu us, ratio $(ratio "$po" "$pu") (<= 0.33)"
	verdict "p50 pinned x1 <= 2x floor" "a <= 2 * b" "$po" "$pf" \
		"ours $po us, floor $pf us, ratio $(ratio "$po" "$pf") (<= 2.00)"
	verdict "CPU per read pinned x1 <= 1/4 of upstream" "a * 4 <= b" "$cpo" "$cpu_" \
		"ours $cpo us, upstream $cpu_ us, ratio $(ratio "$cpo" "$cpu_") (<= 0.25)"
	verdict "reads/s unpinned x8 >= 3x upstream" "a >= 3 * b" "$r8o" "$r8u" \
		"ours $r8o/s, upstream $r8u/s, ratio $(ratio "$r8o" "$r8u") (>= 3.00)"
	verdict "p50 unpinned x1 <= upstream" "a <= b" "$uo" "$uu" \
		"ours $uo us, upstream $uu us, ratio $(ratio "$uo" "$uu") (<= 1.00)"
}

{
	echo "lxcfs read-latency bench, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "kernel $(uname -r), $(nproc) CPUs, rev $(git -C "$BENCH_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	[ -x "$UPSTREAM" ] && echo "upstream: $("$UPSTREAM" --version 2>&1 | head -n 1)"
	echo "Compare p50s and ratios within this run only: these machines are noisy."
} >"$tmp/header"
cat "$tmp/header" >&2

bench_start=$SECONDS
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
		root=$SERVER_MNT
		[ "$target" = native ] && root=
		for file in $MATRIX_FILES; do
			measure "$mode" "$file" "$target" "$root/$(rel_path "$file")" "$RUN_S" \
				"$READERS" "$OPS"
		done
		if [ "$mode" = "$FILE_MODE" ]; then
			for file in $OTHER_FILES; do
				measure "$mode" "$file" "$target" "$root/$(rel_path "$file")" \
					"$FILE_S" 1 open
			done
		fi
		stop_server
	done
done

{
	cat "$tmp/header"
	for mode in $MODES; do
		for file in $MATRIX_FILES; do
			print_matrix "$mode" "$file"
		done
	done
	print_files
	print_summary
	echo
	echo "cpu_us/read: server CPU (it, its children and reaped children; schedstat) per operation;"
	echo "an open op is open+read+read(EOF)+close. errors: failed, bad or hung reads."
	echo "Read-latency tables took $((SECONDS - bench_start)) s."
} | tee "$RESULTS"

# The scenarios run as their own scripts (own cgroups, own cleanup); their
# tables are appended to the results.
if [ "${BENCH_DENSE:-1}" = 1 ]; then
	echo >&2
	"$BENCH_DIR/dense.sh" "$BUILD" | tee -a "$RESULTS" || echo "run.sh: dense.sh failed" >&2
fi
if [ "${BENCH_LOADAVG:-1}" = 1 ]; then
	echo >&2
	"$BENCH_DIR/loadavg.sh" "$BUILD" | tee -a "$RESULTS" || echo "run.sh: loadavg.sh failed" >&2
fi
echo "saved to $RESULTS" >&2
