#!/usr/bin/env bash
# What upstream never served: a container's /proc/vmstat, and the
# procs_running and procs_blocked lines of its /proc/stat.
#
# A container with 300 MiB and CPU 1, lxcfs's meminfo, stat and vmstat bound
# over its /proc, a cgroup of its own in the cpu and cpuacct hierarchies too:
#  1. vmstat has the host's lines, names and order (the kernel's format:
#     "name value", one per line), every value a number.
#  2. Its memory lines are its cgroup's memory.stat in pages, read just
#     after (tolerance 2 MiB): nr_shmem after 32 MiB written to a tmpfs of
#     its own, nr_anon_pages while a process holds 64 MiB, nr_file_pages;
#     nr_free_pages is its meminfo's MemFree; nr_kernel_stack in kB.
#  3. Touching 64 MiB of new memory in the container raises its pgfault by
#     at least 16384 (one fault per 4 KiB page), as its cgroup counts them,
#     and its pgfault stays below the host's.
#  4. /proc/stat: with two busy loops in the container, procs_running is 2
#     for a reader entered with setns (it stays outside the container's
#     cgroup) and 3 for one of its own processes (the reader counts, as the
#     kernel counts the reader of its /proc/stat); with a process stuck in
#     uninterruptible sleep (a vfork parent whose child never execs),
#     procs_blocked is 1, 0 once it is gone. The other lines are the host's.
. "$(dirname "$0")/lib.sh"

[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || skip "needs a host with 2 CPUs (the container gets CPU 1)"
cg_detect

start_lxcfs
make_container ct1 mem=300M cpus=1 files=meminfo,stat,vmstat
ct_join_cgroups ct1 cpu cpuacct
memcg=
for d in ${CT_CGS[ct1]}; do [ -f "$d/memory.stat" ] && memcg=$d; done
[ -n "$memcg" ] || fail "ct1: no memory cgroup"

# memstat KEY: the container's memory.stat figure (v1: its total_* key).
memstat()
{
	local k=$1
	[ "$CG_MODE" = v1 ] && k=total_$1
	awk -v k="$k" '$1 == k { print $2 }' "$memcg/memory.stat"
}

# vm NAME: the container's vmstat line NAME.
vm()
{
	in_container ct1 cat /proc/vmstat | awk -v k="$1" '$1 == k { print $2 }'
}

# --- 1. the host's lines, in the host's order.
out=$(in_container ct1 cat /proc/vmstat) || fail "ct1: cannot read /proc/vmstat"
diff <(awk '{ print $1 }' /proc/vmstat) <(awk '{ print $1 }' <<<"$out") >"$TEST_TMP/names.diff" ||
	fail "ct1: vmstat's lines are not the host's: $(head -5 "$TEST_TMP/names.diff" | tr '\n' ' ')"
awk 'NF != 2 || $2 !~ /^[0-9]+$/ { print; bad = 1 } END { exit bad }' <<<"$out" >"$TEST_TMP/bad.lines" ||
	fail "ct1: vmstat lines not 'name value': $(head -3 "$TEST_TMP/bad.lines" | tr '\n' ' ')"
log "ok: ct1: vmstat has the host's $(wc -l <<<"$out") lines in its order"

# --- 2. memory lines from its cgroup.
mkdir -p "$TEST_TMP/shm.ct1"
in_init ct1 sh -c 'mount -t tmpfs -o size=64m none "$1" && dd if=/dev/zero of="$1/fill" bs=1M count=32 status=none' \
	sh "$TEST_TMP/shm.ct1" || fail "ct1: cannot fill a tmpfs"
hold=$(in_init_bg ct1 "$PYTHON" -c '
import sys, time
b = bytearray(64 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
print("held", flush=True)
time.sleep(60)')
wait_for 20 eval '[ -n "$(init_job_out ct1 "$hold")" ]' || fail "ct1: the 64 MiB holder did not start"
sleep 0.3 # past the daemon's 100 ms cache
page=$(getconf PAGESIZE)
for pair in nr_shmem:shmem nr_anon_pages:$([ "$CG_MODE" = v1 ] && echo rss || echo anon) \
	nr_file_pages:$([ "$CG_MODE" = v1 ] && echo cache || echo file); do
	line=${pair%%:*} key=${pair#*:}
	got=$(vm "$line")
	want=$(($(memstat "$key") / page))
	expect_near "$want" "$got" 512 "ct1: vmstat $line (pages) against memory.stat $key"
done
shm=$(vm nr_shmem)
[ "$shm" -ge 8192 ] || fail "ct1: nr_shmem $shm pages, 32 MiB of tmpfs is 8192"
anon=$(vm nr_anon_pages)
[ "$anon" -ge 16384 ] || fail "ct1: nr_anon_pages $anon pages while 64 MiB are held"
free_kb=$(in_container ct1 cat /proc/meminfo | meminfo_kb MemFree)
expect_near "$free_kb" "$(($(vm nr_free_pages) * page / 1024))" 8192 "ct1: nr_free_pages (kB) against meminfo's MemFree"
if [ -n "$(memstat kernel_stack)" ]; then
	expect_near "$(($(memstat kernel_stack) / 1024))" "$(vm nr_kernel_stack)" 256 "ct1: nr_kernel_stack (kB)"
else
	expect_eq "$(awk '$1 == "nr_kernel_stack" { print $2 }' /proc/vmstat | wc -l)" 1 "ct1: nr_kernel_stack (the host's on v1)"
fi

# --- 3. page faults.
f0=$(vm pgfault)
in_init ct1 "$PYTHON" -c '
b = bytearray(64 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1' || fail "ct1: cannot touch 64 MiB"
sleep 0.3
f1=$(vm pgfault)
c1=$(memstat pgfault)
host_f=$(awk '$1 == "pgfault" { print $2 }' /proc/vmstat)
log "ct1: pgfault $f0 -> $f1 (its cgroup: $c1, the host: $host_f)"
[ $((f1 - f0)) -ge 16384 ] || fail "ct1: pgfault rose by $((f1 - f0)), 64 MiB touched is 16384 faults at least"
expect_near "$c1" "$f1" 2000 "ct1: pgfault against its cgroup's"
[ "$f1" -lt "$host_f" ] || fail "ct1: pgfault $f1 is not below the host's $host_f"

# --- 4. procs_running and procs_blocked.
# stat_line HOW NAME: the value of /proc/stat's NAME for a reader of ct1.
stat_line()
{
	if [ "$1" = setns ]; then in_container ct1 cat /proc/stat; else in_init ct1 cat /proc/stat; fi |
		awk -v k="$2" '$1 == k { print $2 }'
}
b1=$(in_init_bg ct1 "$PYTHON" -c 'while True: pass')
b2=$(in_init_bg ct1 "$PYTHON" -c 'while True: pass')
sleep 0.5
for try in 1 2 3; do
	r_setns=$(stat_line setns procs_running)
	r_init=$(stat_line init procs_running)
	[ "$r_setns" = 2 ] && [ "$r_init" = 3 ] && break
	log "procs_running setns $r_setns, init $r_init (try $try)"
	sleep 0.3
done
expect_eq 2 "$r_setns" "ct1: procs_running, two busy loops, read with setns"
expect_eq 3 "$r_init" "ct1: procs_running, two busy loops and the reader"
in_init ct1 pkill -f 'while True: pass' # the container's own: its pid namespace only
init_wait ct1 "$b1" 5 >/dev/null 2>&1
init_wait ct1 "$b2" 5 >/dev/null 2>&1

cat >"$TEST_TMP/dstate.c" <<'EOF'
/* Stay in uninterruptible sleep: vfork, and the child never execs or exits. */
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(void)
{
	if (vfork() == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	return 0;
}
EOF
gcc -O1 -o "$TEST_TMP/dstate" "$TEST_TMP/dstate.c" || fail "cannot build the D-state helper"
chmod 0755 "$TEST_TMP/dstate"
expect_eq 0 "$(stat_line setns procs_blocked)" "ct1: procs_blocked, nothing blocked"
dj=$(in_init_bg ct1 "$TEST_TMP/dstate")
sleep 0.5
for try in 1 2 3; do
	blocked=$(stat_line setns procs_blocked)
	[ "$blocked" = 1 ] && break
	sleep 0.3
done
expect_eq 1 "$blocked" "ct1: procs_blocked with a vfork parent waiting"
in_init ct1 pkill -KILL -x dstate
init_wait ct1 "$dj" 5 >/dev/null 2>&1
sleep 0.3
expect_eq 0 "$(stat_line setns procs_blocked)" "ct1: procs_blocked once it is gone"
out=$(in_container ct1 cat /proc/stat)
diff <(awk '$1 !~ /^cpu/ { print $1 }' /proc/stat) <(awk '$1 !~ /^cpu/ { print $1 }' <<<"$out") >/dev/null ||
	fail "ct1: /proc/stat's other lines are not the host's"
log "ok: ct1: $(grep -E '^(processes|procs_)' <<<"$out" | tr '\n' ' ')(host: $(grep -E '^procs_' /proc/stat | tr '\n' ' '))"

destroy_container ct1
stop_lxcfs
pass
