#!/usr/bin/env bash
# A container sees its own memory in /proc/meminfo.
#
# free(1) and top(1) in a 300 MiB container show 300 MiB, both for a process
# that entered the container (setns, as lxc-attach and docker exec do) and for
# the container's own processes (children of its init). A 128 MiB container
# reading at the same time always sees 128 MiB. When a process of the first
# container allocates and holds 100 MiB, its MemFree and MemAvailable drop by
# about 100 MiB, and the other container's do not.
. "$(dirname "$0")/lib.sh"

start_lxcfs
make_container ct1 mem=300M
make_container ct2 mem=128M

# A reader in the host's pid namespace (this script) sees its own cgroup's
# limit, or the host's MemTotal when that is lower or there is none.
own_limit=$(own_memory_limit)
host_total=$(meminfo_kb MemTotal </proc/meminfo)
expect_total=$host_total
[ "$own_limit" != max ] && [ $((own_limit / 1024)) -lt "$host_total" ] && expect_total=$((own_limit / 1024))
meminfo_kb MemTotal <"$MNT/proc/meminfo" | expect_eq "$expect_total" - "host reader: MemTotal kB"

# free -b and top, entered like lxc-attach / docker exec.
in_container ct1 free -b | awk '/^Mem:/ {print $2}' | expect_eq 314572800 - "ct1 (setns): free -b total"
in_container ct1 env TERM=dumb COLUMNS=200 top -bn1 | awk '/^MiB Mem :/ {print $4}' |
	expect_eq 300.0 - "ct1 (setns): top 'MiB Mem :' total"
in_container ct2 free -b | awk '/^Mem:/ {print $2}' | expect_eq 134217728 - "ct2 (setns): free -b total"
# The same from the containers' own processes.
in_init ct1 free -b | awk '/^Mem:/ {print $2}' | expect_eq 314572800 - "ct1 (init child): free -b total"
in_init ct1 env TERM=dumb COLUMNS=200 top -bn1 | awk '/^MiB Mem :/ {print $4}' |
	expect_eq 300.0 - "ct1 (init child): top 'MiB Mem :' total"
in_init ct2 free -b | awk '/^Mem:/ {print $2}' | expect_eq 134217728 - "ct2 (init child): free -b total"

# Both containers read at the same time, each from an init child and a setns'd
# process: every read must be whole and show that container's own MemTotal.
rl=$(readloop_bin)
j1=$(in_init_bg ct1 "$rl" --seconds 4 --expect-total 307200 /proc/meminfo)
j2=$(in_init_bg ct2 "$rl" --seconds 4 --expect-total 131072 /proc/meminfo)
in_container ct1 "$rl" --seconds 4 --expect-total 307200 /proc/meminfo >"$TEST_TMP/s1.out" 2>&1 &
s1=$!
in_container ct2 "$rl" --seconds 4 --expect-total 131072 /proc/meminfo >"$TEST_TMP/s2.out" 2>&1 &
s2=$!
wait "$s1"; rc1=$?
wait "$s2"; rc2=$?
log "ct1 setns reader: $(tr '\n' ' ' <"$TEST_TMP/s1.out")"
log "ct2 setns reader: $(tr '\n' ' ' <"$TEST_TMP/s2.out")"
[ "$rc1" = 0 ] || fail "ct1 setns reader: $(tr '\n' ' ' <"$TEST_TMP/s1.out")"
[ "$rc2" = 0 ] || fail "ct2 setns reader: $(tr '\n' ' ' <"$TEST_TMP/s2.out")"
out=$(init_wait ct1 "$j1" 30 2>&1) || fail "ct1 init-child reader: $(echo $out)"
log "ct1 init-child reader: $(echo $out)"
out=$(init_wait ct2 "$j2" 30 2>&1) || fail "ct2 init-child reader: $(echo $out)"
log "ct2 init-child reader: $(echo $out)"

# A process of ct1 allocates 100 MiB (bytearray zero-fills: the pages are
# touched) and holds it. It starts first and waits, so that the interpreter's
# own memory is already in the "before" figures.
go=$TEST_TMP/alloc.go
stop=$TEST_TMP/alloc.stop
ja=$(in_init_bg ct1 "$PYTHON" -c '
import os, sys, time
go, stop = sys.argv[1], sys.argv[2]
print("started", flush=True)
while not os.path.exists(go):
    time.sleep(0.02)
b = bytearray(100 * 1024 * 1024)
print("allocated", flush=True)
deadline = time.time() + 60
while not os.path.exists(stop) and time.time() < deadline:
    time.sleep(0.02)
' "$go" "$stop")
wait_for 20 eval 'init_job_out ct1 "$ja" | grep -q started' || fail "allocator did not start"
# Values may be cached for a short while (--cache-ttl-ms, 100 ms by default).
sleep 0.5
before1=$(in_init ct1 cat /proc/meminfo) || fail "ct1: cannot read /proc/meminfo"
before2=$(in_container ct2 cat /proc/meminfo) || fail "ct2: cannot read /proc/meminfo"
touch "$go"
wait_for 20 eval 'init_job_out ct1 "$ja" | grep -q allocated' || fail "allocator did not allocate"
sleep 0.5
after1=$(in_init ct1 cat /proc/meminfo) || fail "ct1: cannot read /proc/meminfo"
after2=$(in_container ct2 cat /proc/meminfo) || fail "ct2: cannot read /proc/meminfo"
for f in MemFree MemAvailable; do
	b=$(meminfo_kb $f <<<"$before1") || fail "ct1: no $f line"
	a=$(meminfo_kb $f <<<"$after1") || fail "ct1: no $f line"
	log "ct1 $f: $b kB before, $a kB after"
	expect_near 102400 $((b - a)) 15360 "ct1: $f drop in kB after allocating 100 MiB"
	b=$(meminfo_kb $f <<<"$before2") || fail "ct2: no $f line"
	a=$(meminfo_kb $f <<<"$after2") || fail "ct2: no $f line"
	expect_near 0 $((b - a)) 15360 "ct2: $f change in kB while ct1 allocates"
done
meminfo_kb MemTotal <<<"$after1" | expect_eq 307200 - "ct1: MemTotal kB while allocated"
touch "$stop"
init_wait ct1 "$ja" 30 >/dev/null || fail "allocator failed"

destroy_container ct1
destroy_container ct2
stop_lxcfs
pass
