#!/usr/bin/env bash
# Dense hosts: does a read cost the same with 10000 containers as with one?
#
#   bench/dense.sh [BUILD]      (bench/run.sh runs it after its tables)
#
# denseread creates DENSE_MAX memory cgroups below this script's own memory
# cgroup (lxcfs-bench.PID/cg0..), each with its own memory limit, and one
# reader process sitting in each (a reader in the host pid namespace is its
# own container, for ours and for upstream alike). They are created once;
# each N of DENSE_COUNTS uses readers 0..N-1. For each target and N, a fresh
# server, then:
#   warm   each of the N readers reads the file once (untimed: fills the
#          reader identity cache, as long-lived containers would have)
#   run    the N readers open+read+close it for DENSE_SECONDS at DENSE_RATE
#          reads/s in all, spread evenly over readers and time
# and per N: p50/p99 latency, server CPU per read (master + workers, from
# schedstat), ours' cache counters from `lxcfs-ctl stats` over the run, its
# shared-memory size and the master's resident memory, and p50 and CPU/read
# relative to N=1 (the target: within 20 %). Every reader checks the
# MemTotal it reads is its own cgroup's limit (column wrong).
#
# Ours runs in three regimes, each its own sweep over N:
#   hit    --cache-ttl-ms DENSE_HIT_TTL_MS (600000): after the warm pass
#          every read is a snapshot lookup plus a render, at every N
#   live   --cache-ttl-ms 0: every read refreshes from cgroupfs, at every N
#   ttl    --cache-ttl-ms DENSE_TTL_MS (100, the default): at a fixed total
#          rate each of N readers reads every N/RATE s, so from N=100 on a
#          cgroup's values are older than the TTL at every read and nearly
#          every read is a refresh, while at N=1 nearly every read is a hit
# hit and live do the same work per read at every N: their ratios to N=1
# are what N itself costs (tables, identity cache, shared memory, the
# kernel's own per-cgroup state). ttl's ratio adds the change from hits to
# refreshes: a refresh is the price of fresh values for a container read
# less often than the TTL, the row shows what it is.
#
# Knobs (environment):
#   DENSE_COUNTS       cgroup counts (default "1 100 1000 10000";
#                      BENCH_QUICK=1: "1 100 1000")
#   DENSE_SECONDS      seconds per measurement (default 10: at 10000
#                      cgroups and 1000 reads/s, each reads once)
#   DENSE_RATE         reads/s, all readers together (default 1000)
#   DENSE_WARM_RATE    reads/s of the warm pass (default 1000: a first read
#                      of a new reader costs ours ~2x a later one, and at
#                      2000/s on one CPU ours' 500 ms request deadline starts
#                      killing busy workers)
#   DENSE_TARGETS      "floor ours" (default); add "upstream" to compare
#   DENSE_MODE         pinned (default: server and readers on BENCH_CPU) or
#                      unpinned
#   DENSE_REGIMES      ours' regimes (default "hit live ttl")
#   DENSE_TTL_MS       --cache-ttl-ms of regime ttl (default 100)
#   DENSE_HIT_TTL_MS   --cache-ttl-ms of regime hit (default 600000)
#   DENSE_MAX_CGROUPS  ours' --max-cgroups (default 20000)
#   DENSE_FILE         the file read (default proc/meminfo)
# Output: a table on stdout, also saved to BUILD/bench/dense.txt.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
bench_init dense "${1:-build}"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	COUNTS=${DENSE_COUNTS:-"1 100 1000"}
else
	COUNTS=${DENSE_COUNTS:-"1 100 1000 10000"}
fi
SECS=${DENSE_SECONDS:-10}
RATE=${DENSE_RATE:-1000}
WARM_RATE=${DENSE_WARM_RATE:-1000}
DTARGETS=${DENSE_TARGETS:-floor ours}
MODE=${DENSE_MODE:-pinned}
TTL_MS=${DENSE_TTL_MS:-100}
HIT_TTL_MS=${DENSE_HIT_TTL_MS:-600000}
REGIMES=${DENSE_REGIMES:-"hit live ttl"}
MAX_CG=${DENSE_MAX_CGROUPS:-20000}
DFILE=$(rel_path "${DENSE_FILE:-proc/meminfo}")
LIMIT_MB=256
RESULTS=$OUT_DIR/dense.txt
DENSEREAD=$BUILD/bench/denseread

# regime_ttl REGIME: ours' --cache-ttl-ms in it.
regime_ttl() {
	case $1 in
	hit) echo "$HIT_TTL_MS" ;;
	live) echo 0 ;;
	*) echo "$TTL_MS" ;;
	esac
}

MAX_N=0
for n in $COUNTS; do
	[ "$n" -gt "$MAX_N" ] && MAX_N=$n
done

dr_prepare memory

BENCH_CLEANUP_HOOK=dr_stop
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pin=()
[ "$MODE" = pinned ] && pin=(--cpu "$PIN_CPU")
echo "dense: $MAX_N cgroups and readers under $CG_BASE" >&2
setup_start=$SECONDS
dr_start "$LOG_DIR/denseread.log" 600 --cgroup "$CG_BASE" --count "$MAX_N" \
	--limit-mb "$LIMIT_MB" "${pin[@]}" \
	--expect-prefix "$(head -c 9 "/$DFILE" | awk '{ print $1 }')" || exit 1
echo "  $DR_READY (setup $((SECONDS - setup_start)) s)" >&2

declare -A R
row_fmt='%-9s %-6s %6s %6s %8s %8s %7s %8s %7s %6s %6s %7s %7s %7s %7s %7s %6s %6s %5s %4s %5s\n'

# memfd_kb PID: kB resident in ours' shared region (the memfd's allocated
# blocks: pages any process of ours has touched), or "-".
memfd_kb() {
	local f
	for f in /proc/"$1"/fd/*; do
		case $(readlink "$f" 2>/dev/null) in
		/memfd:lxcfs*)
			stat -L -c '%b %B' "$f" 2>/dev/null | awk '{ printf "%.0f", $1 * $2 / 1024 }'
			return
			;;
		esac
	done
	echo -
}

# measure_n TARGET REGIME N (REGIME "-" for upstream, which has no cache)
measure_n() {
	local target=$1 regime=$2 n=$3 out kv c0 c1 j0 j1 ops mpid key="$1|$2"
	OURS_EXTRA=(--max-cgroups "$MAX_CG")
	[ "$regime" = - ] || OURS_EXTRA+=(--cache-ttl-ms "$(regime_ttl "$regime")")
	if ! start_server "$target" "$MODE" "dense-$target-$regime-$n"; then
		echo "  $target $regime N=$n: n/a: $SERVER_WHY" >&2
		R[$key|$n]="n/a"
		return
	fi
	mpid=$SERVER_PID
	# The floor serves the host's meminfo to everyone: nothing to check.
	local check=
	[ "$target" = floor ] && check=" nocheck"
	out=$(dr_cmd "warm $n $WARM_RATE $SERVER_MNT/$DFILE$check" $((n / (WARM_RATE > 0 ? WARM_RATE : 1) + 30)))
	echo "  $target $regime N=$n warm: $out" >&2
	R[$key|$n|warm]=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] ~ /^(errors|bad|wrong|hung)$/ && kv[2] > 0) printf "%s=%s ", kv[1], kv[2] } }' <<<"$out")
	j0=$(ctl_json)
	c0=$(tree_cpu_us "$mpid")
	out=$(dr_cmd "run $n $SECS $RATE $SERVER_MNT/$DFILE$check" $((SECS + 60)))
	c1=$(tree_cpu_us "$mpid")
	j1=$(ctl_json)
	echo "  $target $regime N=$n run:  $out" >&2
	if ! kill -0 "$mpid" 2>/dev/null; then
		echo "  $target $regime N=$n: n/a: the server exited during the run: $(tail -n 1 "$SERVER_LOG")" >&2
		R[$key|$n]="n/a"
		stop_server
		return
	fi

	local -A r=()
	for kv in $out; do
		r[${kv%%=*}]=${kv#*=}
	done
	ops=${r[ops]:-0}
	R[$key|$n|ops]=$ops
	R[$key|$n|p50]=${r[p50_us]:--}
	R[$key|$n|p99]=${r[p99_us]:--}
	R[$key|$n|rate]=${r[ops_per_s]:--}
	R[$key|$n|err]=$((${r[errors]:-0} + ${r[bad]:-0} + ${r[hung]:-0}))
	R[$key|$n|wrong]=${r[wrong]:--}
	R[$key|$n|late]=${r[late]:--}
	R[$key|$n|cpu]=$(awk -v d=$((c1 - c0)) -v n="$ops" 'BEGIN { if (n > 0) printf "%.1f", d / n; else print "-" }')
	local k a b
	for k in hits misses stale cgroupfs_reads; do
		a=$(json_num "$j0" "$k")
		b=$(json_num "$j1" "$k")
		if [ "$a" = - ] || [ "$b" = - ]; then
			R[$key|$n|$k]=-
		else
			R[$key|$n|$k]=$((b - a))
		fi
	done
	a=$(json_num "$j1" shm_bytes)
	R[$key|$n|shm]=$([ "$a" = - ] && echo - || awk -v b="$a" 'BEGIN { printf "%.0f", b / 1048576 }')
	a=$(memfd_kb "$mpid")
	R[$key|$n|shm_res]=$([ "$a" = - ] && echo - || awk -v k="$a" 'BEGIN { printf "%.1f", k / 1024 }')
	a=$(status_kb "$mpid" RssShmem)
	R[$key|$n|rss_shmem]=$([ "$a" = - ] && echo - || awk -v k="$a" 'BEGIN { printf "%.1f", k / 1024 }')
	a=$(status_kb "$mpid" VmRSS)
	R[$key|$n|rss]=$([ "$a" = - ] && echo - || awk -v k="$a" 'BEGIN { printf "%.1f", k / 1024 }')
	R[$key|$n]=ok
	stop_server
}

ratio() {
	case "$1|$2" in
	*-* | "|"* | *"|") echo - ;;
	*) awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }' ;;
	esac
}

# The series measured: "target|regime", upstream once (it has no cache).
SERIES=()
for target in $DTARGETS; do
	if [ "$target" = ours ]; then
		for regime in $REGIMES; do
			SERIES+=("ours|$regime")
		done
	else
		SERIES+=("$target|-")
	fi
done

run_start=$SECONDS
for series in "${SERIES[@]}"; do
	for n in $COUNTS; do
		measure_n "${series%%|*}" "${series#*|}" "$n"
	done
done

first=${COUNTS%% *}
{
	echo
	echo "== dense hosts: $DFILE read from N cgroups, one reader process in each ($MODE; $RATE reads/s in all for ${SECS}s per N after one warm read per reader; ours: --max-cgroups $MAX_CG, --cache-ttl-ms per regime: hit $HIT_TTL_MS, live 0, ttl $TTL_MS; setup of $MAX_N cgroups+readers: $((run_start - setup_start)) s) =="
	printf "$row_fmt" target regime N reads p50_us p99_us reads/s cpu/read hits misses stale \
		cgfs/rd shm_MiB shm_res master_rss m_shmem p50/N$first cpu/N$first wrong errs late
	for key in "${SERIES[@]}"; do
		for n in $COUNTS; do
			if [ "${R[$key|$n]:-}" != ok ]; then
				printf "$row_fmt" "${key%%|*}" "${key#*|}" "$n" n/a - - - - - - - - - - - - - - - - -
				continue
			fi
			printf "$row_fmt" "${key%%|*}" "${key#*|}" "$n" "${R[$key|$n|ops]}" "${R[$key|$n|p50]}" \
				"${R[$key|$n|p99]}" "${R[$key|$n|rate]}" "${R[$key|$n|cpu]}" \
				"${R[$key|$n|hits]}" "${R[$key|$n|misses]}" "${R[$key|$n|stale]}" \
				"$(ratio "${R[$key|$n|cgroupfs_reads]}" "${R[$key|$n|ops]}")" \
				"${R[$key|$n|shm]}" "${R[$key|$n|shm_res]}" \
				"${R[$key|$n|rss]}" "${R[$key|$n|rss_shmem]}" \
				"$(ratio "${R[$key|$n|p50]}" "${R[$key|$first|p50]:--}")" \
				"$(ratio "${R[$key|$n|cpu]}" "${R[$key|$first|cpu]:--}")" \
				"${R[$key|$n|wrong]}" "${R[$key|$n|err]}" "${R[$key|$n|late]}"
		done
	done
	echo "regime (ours): hit: every read a snapshot lookup (TTL $HIT_TTL_MS ms, after the warm"
	echo "pass); live: every read a refresh (TTL 0); ttl: the TTL of $TTL_MS ms at this rate."
	echo "cpu/read: server CPU in us (master + workers, schedstat) per read. hits, misses"
	echo "(not cached), stale (cached but older than the TTL: refreshed): ours' snapshot"
	echo "lookups over the run; cgfs/rd: cgroupfs files read per read (lxcfs-ctl stats)."
	echo "shm_MiB: size of ours' shared region (lxcfs-ctl status); shm_res: MiB of it"
	echo "resident (pages touched); master_rss, m_shmem: the master's VmRSS and RssShmem"
	echo "in MiB. wrong: reads whose MemTotal was not the reader's own cgroup limit."
	echo "errs: failed, bad or hung reads. late: reads that started over 10 ms after their"
	echo "slot: the machine, not only the server, was busy (above 1 % of reads, or reads/s"
	echo "under 90 % of $RATE: rerun)."
	for key in "${SERIES[@]}"; do
		for n in $COUNTS; do
			[ -z "${R[$key|$n|warm]:-}" ] ||
				echo "note: ${key/|/ } N=$n: the warm pass had ${R[$key|$n|warm]}(see $LOG_DIR/dense-${key/|/-}-$n.log)"
		done
	done
	last=${COUNTS##* }
	for key in "${SERIES[@]}"; do
		[ "${R[$key|$last]:-}" = ok ] && [ "${R[$key|$first]:-}" = ok ] || continue
		pr=$(ratio "${R[$key|$last|p50]}" "${R[$key|$first|p50]}")
		cr=$(ratio "${R[$key|$last|cpu]}" "${R[$key|$first|cpu]}")
		for what in "p50 $pr" "CPU/read $cr"; do
			set -- $what
			v=MISS
			[ "$2" != - ] && awk -v r="$2" 'BEGIN { exit !(r <= 1.2) }' && v=PASS
			[ "$2" = - ] && v=n/a
			noisy=
			for n in $first $last; do
				awk -v l="${R[$key|$n|late]}" -v o="${R[$key|$n|ops]}" \
					-v r="${R[$key|$n|rate]}" -v want="$RATE" \
					'BEGIN { exit !(l > 0.01 * o || r < 0.9 * want) }' &&
					noisy=" (noisy: late reads or reads/s under the rate at N=$n)"
			done
			echo "$v ${key/|/ }: $1 at N=$last within 20 % of N=$first: ratio $2 (<= 1.20)$noisy"
		done
	done
} | tee "$RESULTS"

dr_stop
BENCH_CLEANUP_HOOK=
echo "dense: done in $((SECONDS - setup_start)) s, cgroups removed" >&2
