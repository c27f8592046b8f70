#!/usr/bin/env bash
# The whole suite: unit and integration tests of one build, then again of an
# AddressSanitizer/UBSan build when one is given (but for the tests of how
# lxcfs meets other programs, marked "# run_all: once").
#
#   tests/run_all.sh BUILD [ASAN_BUILD]
#
# The last line is "N passed, N failed" (totals over every pass); the exit
# status is non-zero when anything failed. Under the sanitizer build, a report
# aborts the process that made it: the unit test fails, and the integration
# tests find the report in the daemon's log (a crashed worker is replaced by
# the master, so the log is what tells).
set -u
build=${1:-build}
asan_build=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

total_passed=0 total_failed=0
summary=()

# run_pass LABEL CMD...: run one runner, add its "N passed, N failed" to the totals.
run_pass()
{
	local label=$1 out line p f rc
	shift
	echo "== $label"
	out=$(mktemp /tmp/lxcfs-run-all.XXXXXX)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	rm -f "$out"
	p=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")
	f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")
	p=${p:-0} f=${f:-0}
	# A runner that failed without counting a failure still counts as one.
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "$label: exited with status $rc"
		f=1
	fi
	total_passed=$((total_passed + p))
	total_failed=$((total_failed + f))
	summary+=("$label: $p passed, $f failed")
}

start=$SECONDS
run_pass "unit ($build)" tests/run_unit.sh "$build"
run_pass "integration ($build)" tests/run_integration.sh "$build"

if [ -n "$asan_build" ]; then
	# Unit tests keep leak detection; the daemon's forked workers exit through
	# paths where LeakSanitizer only adds noise.
	run_pass "unit ($asan_build)" env \
		ASAN_OPTIONS=${UNIT_ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		tests/run_unit.sh "$asan_build"
	# The sanitizer pass looks for memory errors on every path the scenarios
	# take; the chaos scenarios run half as long there (their counts and
	# bounds are the normal pass's job), which keeps make test near 15 min.
	run_pass "integration ($asan_build)" env LXCFS_SANITIZER_PASS=1 \
		CHAOS_SECONDS=${CHAOS_SECONDS:-8} KILL_TEST_SECONDS=${KILL_TEST_SECONDS:-10} \
		SNAPSHOT_KILL_SECONDS=${SNAPSHOT_KILL_SECONDS:-8} \
		MASTER_KILL_SECONDS=${MASTER_KILL_SECONDS:-10} MASTER_KILLS=${MASTER_KILLS:-3} \
		COUNTERS_SECONDS=${COUNTERS_SECONDS:-8} COUNTERS_EVICT_SECONDS=${COUNTERS_EVICT_SECONDS:-6} \
		BAD_CGROUP_SHORT_READERS=${BAD_CGROUP_SHORT_READERS:-1000} \
		ASAN_OPTIONS=${DAEMON_ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:print_summary=1} \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		tests/run_integration.sh "$asan_build"
fi

echo "== summary ($((SECONDS - start)) s)"
for s in "${summary[@]}"; do echo "  $s"; done
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
