#!/usr/bin/env bash
# Run every unit test binary of one build folder; print the totals.
# Unit tests need no mount and no root beyond what their fixtures say.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
passed=0 failed=0
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	out=$(timeout 300 "$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/  /'
	line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
	p=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/')
	f=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ $rc -ne 0 ] && [ "${f:-0}" = 0 ]; then
		echo "  $t exited $rc"
		failed=$((failed + 1))
	fi
done
echo "unit ($build): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
