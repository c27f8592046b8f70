#!/usr/bin/env bash
# Run every integration test (tests/integration/t_*.sh) against one build folder.
#
#   tests/run_integration.sh [BUILD] [t_name ...]
#
# Each test runs with its own timeout (LXCFS_TEST_TIMEOUT, default 180 s) and
# LXCFS_BUILD=BUILD; LXCFS_IMPL=upstream runs them against /usr/bin/lxcfs
# instead. A test's private folder is made under a folder of this run, so that
# whatever a test killed on timeout left behind (daemon, mounts, container
# processes, cgroups) is reaped here before the next test starts.
# Prints "integration (BUILD): N passed, N failed" and exits non-zero on failure.
set -u
build=${1:-build}
shift $(($# > 0 ? 1 : 0))
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
case $build in /*) abs_build=$build ;; *) abs_build=$root/$build ;; esac
timeout_s=${LXCFS_TEST_TIMEOUT:-180}

if [ $# -gt 0 ]; then
	tests=()
	for t in "$@"; do tests+=("tests/integration/${t%.sh}.sh"); done
else
	tests=()
	for t in tests/integration/t_*.sh; do
		# A test of how lxcfs meets other programs (runtimes, packaging, parsers)
		# says so with this line: the sanitizer pass of run_all.sh, which is
		# about the daemon's own memory, leaves it out (LXCFS_SANITIZER_PASS=1).
		if [ "${LXCFS_SANITIZER_PASS:-0}" = 1 ] && grep -q '^# run_all: once$' "$t"; then
			echo "(not again under the sanitizers: $(basename "$t" .sh))"
			continue
		fi
		tests+=("$t")
	done
fi

run_dir=$(mktemp -d /tmp/lxcfs-it.XXXXXX) || exit 1
chmod 0755 "$run_dir"
tpid=
cleanup_run()
{
	grep -q " $run_dir/" /proc/mounts || rm -rf "$run_dir"
}
# Interrupted: the running test (in its own process group under timeout)
# gets SIGTERM, which its traps turn into a cleanup.
interrupted()
{
	trap - INT TERM
	if [ -n "$tpid" ]; then
		kill -TERM "$tpid" 2>/dev/null
		wait "$tpid"
	fi
	reap_leftovers
	echo "integration ($build): interrupted"
	exit 130
}
trap cleanup_run EXIT
trap interrupted INT TERM

# Undo whatever a test left in its private folder (normally nothing).
reap_leftovers()
{
	local d
	for d in "$run_dir"/lxcfs-test.*; do
		[ -d "$d" ] || continue
		echo "  reaping what $(basename "$d") left behind"
		LXCFS_LIB_NOINIT=1 bash -c '. tests/integration/lib.sh; reap_test_dir "$1"' _ "$d"
	done
}

passed=0 failed=0 skipped=0
failures=()
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	if [ ! -f "$t" ]; then
		echo "FAIL $name: no such test"
		failed=$((failed + 1))
		failures+=("$name")
		continue
	fi
	start=$SECONDS
	LXCFS_BUILD=$abs_build LXCFS_TEST_TMPDIR=$run_dir \
		timeout -k 20 "$timeout_s" bash "$t" >"$run_dir/out" 2>&1 &
	tpid=$!
	# Stream the output while the test runs.
	tail -s 0.2 -n +1 -f --pid=$tpid "$run_dir/out" 2>/dev/null | sed -u 's/^/  /' &
	tail_pid=$!
	wait $tpid 2>/dev/null
	rc=$?
	wait $tail_pid 2>/dev/null
	verdict=$(grep -E "^(PASS|FAIL|SKIP) $name" "$run_dir/out" | tail -1)
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		verdict="FAIL $name: timed out after $timeout_s s"
	elif [ -z "$verdict" ]; then
		verdict="FAIL $name: exited with status $rc without a verdict"
	elif [ $rc != 0 ] && [ "${verdict%% *}" != FAIL ]; then
		verdict="FAIL $name: exited with status $rc after '$verdict'"
	fi
	reap_leftovers
	case $verdict in
	PASS*) passed=$((passed + 1)) ;;
	SKIP*) skipped=$((skipped + 1)) ;;
	*)
		failed=$((failed + 1))
		failures+=("$verdict")
		;;
	esac
	echo "$verdict ($((SECONDS - start)) s)"
done

# Nothing of ours may stay mounted.
if grep -q " $run_dir/" /proc/mounts; then
	echo "FAIL: mounts left under $run_dir:"
	grep " $run_dir/" /proc/mounts
	failed=$((failed + 1))
fi
[ $skipped -gt 0 ] && echo "($skipped skipped)"
for f in "${failures[@]}"; do echo "  failed: $f"; done
label=$build
[ "${LXCFS_IMPL:-ours}" = upstream ] && label="upstream lxcfs"
echo "integration ($label): $passed passed, $failed failed"
[ $failed -eq 0 ]
