#!/usr/bin/env bash
# Run every fuzz harness (tests/fuzz/fuzz_*.c, built into BUILD/fuzz/) for
# FUZZ_SECONDS each (default 60), from seeds its seed_*.py writes, keeping
# the corpus it grows under BUILD/fuzz/corpus. A crash stops with the input
# saved as BUILD/fuzz/crash-* and a non-zero exit.
#
#   tests/fuzz/run.sh BUILD
set -u
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
for h in "$build"/fuzz/fuzz_*; do
	[ -x "$h" ] || continue
	name=$(basename "$h")
	corpus=$build/fuzz/corpus/$name
	mkdir -p "$corpus"
	seed=$root/tests/fuzz/seed_${name#fuzz_}.py
	[ -f "$seed" ] && python3 "$seed" "$corpus"
	# stderr of the code under test closed (its log lines), libFuzzer's own kept.
	out=$("$h" -max_total_time="$secs" -close_fd_mask=2 -artifact_prefix="$build/fuzz/" \
		-print_final_stats=1 "$corpus" 2>&1)
	r=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' <<<"$out")
	echo "$name: ${execs:-?} executions in $secs s, exit $r"
	if [ $r != 0 ]; then
		grep -m20 -E "ERROR|SUMMARY|#0|#1|#2|#3|crash-" <<<"$out" | sed 's/^/  /'
		rc=1
	fi
done
exit $rc
