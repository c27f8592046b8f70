#!/usr/bin/env bash
# The loadavg sampler's cost follows the containers read, not those present.
#
#   bench/loadavg.sh [BUILD]    (bench/run.sh runs it after dense.sh)
#
# With -l, ours counts every 5 s the running threads of each container whose
# loadavg was read in the last 10 minutes. denseread makes LOADAVG_CGROUPS
# cpu cgroups below this script's own cpu cgroup (the hierarchy loadavg
# counts in), each with one sleeping reader process in it. For each K of
# LOADAVG_READ, a fresh `lxcfs -l`, then readers 0..K-1 read /proc/loadavg
# once each (as themselves, so ours samples their containers from then on),
# then nobody reads for LOADAVG_SECONDS while we take the CPU the daemon
# (master + workers, schedstat) spends: the sampler alone, since serving a
# read costs what the read-latency tables show. K=0 is the daemon idle with
# every cgroup present; the cost should grow with K only.
#
# Knobs (environment):
#   LOADAVG_CGROUPS   cgroups (and sleeping readers) present (default 200)
#   LOADAVG_READ      how many of them are read, one window each
#                     (default "0 5 200")
#   LOADAVG_SECONDS   window length (default 20: four sampling periods;
#                     BENCH_QUICK=1: 10)
#   LOADAVG_TARGETS   "ours" (default); "ours upstream" adds upstream -l
#   LOADAVG_MAX_CGROUPS  ours' --max-cgroups (default: ours' default, 10000)
# Output: a table on stdout, also saved to BUILD/bench/loadavg.txt.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
bench_init loadavg "${1:-build}"

NCG=${LOADAVG_CGROUPS:-200}
READ=${LOADAVG_READ:-"0 5 200"}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	SECS=${LOADAVG_SECONDS:-10}
else
	SECS=${LOADAVG_SECONDS:-20}
fi
LTARGETS=${LOADAVG_TARGETS:-ours}
RESULTS=$OUT_DIR/loadavg.txt
DENSEREAD=$BUILD/bench/denseread
OURS_EXTRA=(-l)
MAXCG_DESC="--max-cgroups default"
if [ -n "${LOADAVG_MAX_CGROUPS:-}" ]; then
	OURS_EXTRA+=(--max-cgroups "$LOADAVG_MAX_CGROUPS")
	MAXCG_DESC="--max-cgroups $LOADAVG_MAX_CGROUPS"
fi
PERIOD_S=5

dr_prepare cpu

BENCH_CLEANUP_HOOK=dr_stop
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "loadavg: $NCG cgroups with a sleeping reader each under $CG_BASE" >&2
dr_start "$LOG_DIR/denseread-loadavg.log" 300 --cgroup "$CG_BASE" --count "$NCG" || exit 1
echo "  $DR_READY" >&2

declare -A R
for target in $LTARGETS; do
	for k in $READ; do
		if ! start_server "$target" unpinned "loadavg-$target-$k"; then
			echo "  $target K=$k: n/a: $SERVER_WHY" >&2
			R[$target|$k]=n/a
			continue
		fi
		out=ops=0
		if [ "$k" -gt 0 ]; then
			out=$(dr_cmd "warm $k 200 $SERVER_MNT/proc/loadavg" $((k / 200 + 30)))
		fi
		c0=$(tree_cpu_us "$SERVER_PID")
		t0=$(date +%s.%N)
		sleep "$SECS"
		c1=$(tree_cpu_us "$SERVER_PID")
		t1=$(date +%s.%N)
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "  $target K=$k: n/a: the server exited during the window" >&2
			R[$target|$k]=n/a
			stop_server
			continue
		fi
		echo "  $target K=$k: reads before the window: $out; window $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, cpu $((c1 - c0)) us" >&2
		R[$target|$k]=ok
		R[$target|$k|reads]=$(sed -n 's/^ops=\([0-9]*\).*/\1/p' <<<"$out")
		R[$target|$k|errs]=$(awk '{ e = 0; for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "errors" || kv[1] == "bad" || kv[1] == "hung") e += kv[2] } print e }' <<<"$out")
		R[$target|$k|cpu_s]=$(awk -v d=$((c1 - c0)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", d / (b - a) }')
		stop_server
	done
done

# Per read container and sampling period, above the same target's K=0.
for target in $LTARGETS; do
	base=${R[$target|0|cpu_s]:-}
	for k in $READ; do
		R[$target|$k|per]=-
		[ "${R[$target|$k]:-}" = ok ] && [ -n "$base" ] && [ "$k" -gt 0 ] || continue
		R[$target|$k|per]=$(awk -v c="${R[$target|$k|cpu_s]}" -v b="$base" -v k="$k" \
			-v p="$PERIOD_S" 'BEGIN { printf "%.1f", (c - b) * p / k }')
	done
done

{
	echo
	echo "== loadavg sampler: $NCG cpu cgroups present, one sleeping process in each; K of them read once, then ${SECS}s with no reads (ours -l, $MAXCG_DESC; a fresh daemon per K) =="
	printf '%-9s %5s %8s %6s %13s %26s\n' target K present reads "cpu_us/s" "over_K0_us/container/5s"
	for target in $LTARGETS; do
		for k in $READ; do
			if [ "${R[$target|$k]:-}" != ok ]; then
				printf '%-9s %5s %8s %6s %13s %26s\n' "$target" "$k" "$NCG" n/a n/a n/a
				continue
			fi
			printf '%-9s %5s %8s %6s %13s %26s\n' "$target" "$k" "$NCG" \
				"${R[$target|$k|reads]:--}" "${R[$target|$k|cpu_s]}" "${R[$target|$k|per]}"
		done
	done
	echo "cpu_us/s: CPU of the daemon (master + workers, schedstat) per second of the"
	echo "window: the 5 s sampler and whatever else runs while nothing is read; K=0"
	echo "should be about 0. over_K0_us/container/5s: what K read containers add over"
	echo "K=0, per container and sampling period (noise at small K: a few hundred us/s)."
} | tee "$RESULTS"

dr_stop
BENCH_CLEANUP_HOOK=
