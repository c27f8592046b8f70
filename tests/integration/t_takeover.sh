#!/usr/bin/env bash
# The whole daemon replaced under load, twice, without unmounting.
#
# Sixteen readers in two containers (256 MiB on CPU 0; 384 MiB on every CPU)
# read meminfo, cpuinfo, stat and uptime throughout, every read checked whole
# and the container's own, none kept waiting over 2 s. Then:
#   1. lxcfs --takeover -l, another build (version 9.9.9-test, shared memory
#      layout 99: nothing of the old region can be read as it is): the old
#      master, standby and workers exit, the new build serves (lxcfs-ctl
#      status names it), -l given now turns loadavg on in the containers;
#   2. lxcfs-ctl upgrade --all --binary (this build again, layout back).
# The mount is the same one throughout (its mount id), no read fails, and a
# meminfo opened and half read before the first takeover reads on after it
# as one text: the rest continues the first bytes, and a read from offset 1
# gives the same text again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_load.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs cannot be replaced without unmounting"

BOUND_MS=2000
# shellcheck disable=SC2034 # readers_start's bound on a reader's life
READER_MAX_S=240
B2=$TEST_TMP/b2
build_daemon "$B2" VERSION=9.9.9-test EXTRA_CFLAGS=-DSHM_LAYOUT_VERSION=99

start_lxcfs --workers 2
two_containers
# A cpu cgroup of its own, where the load averages -l shows are kept.
ct_join_cgroups ct1 cpu
mount_id()
{
	awk -v m="$MNT" '$5 == m { print $1 }' /proc/self/mountinfo
}
mid0=$(mount_id)
[ -n "$mid0" ] || fail "no mount at $MNT"

# loadavg_total CT: the thread count (4th field) of the container's loadavg.
loadavg_total()
{
	in_container "$1" cat "$MNT/proc/loadavg" | awk '{ split($4, a, "/"); print a[2] }'
}
host_total=$(awk '{ split($4, a, "/"); print a[2] }' /proc/loadavg)
before=$(loadavg_total ct1)
log "loadavg threads before: ct1 $before, host $host_total"

# A reader that opens meminfo, reads 100 bytes, and the rest once told to.
cat >"$TEST_TMP/halfread.py" <<'EOF'
import os, sys, time
fd = os.open("/proc/meminfo", os.O_RDONLY)
first = os.read(fd, 100)
open(sys.argv[1] + ".started", "w").close()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
rest = b""
while True:
    b = os.read(fd, 65536)
    if not b:
        break
    rest += b
again = os.pread(fd, 1 << 20, 1)
text = first + rest
print("ok" if again == text[1:] else "pread from 1 differs: %r" % again[:80])
sys.stdout.write(text.decode())
EOF
half=$(in_init_bg ct1 "$PYTHON" "$TEST_TMP/halfread.py" "$TEST_TMP/half.go")
wait_for 10 test -f "$TEST_TMP/half.go.started" || fail "the half reader did not start"

readers_start ct1 8 -- --slow-ms "$BOUND_MS"
readers_start ct2 8 -- --slow-ms "$BOUND_MS"
sleep 2

# serving_pid: the master lxcfs-ctl status names.
serving_pid()
{
	timeout 2 "$LXCFS_BUILD/lxcfs-ctl" --runtime-dir "$RUNDIR" --json status 2>/dev/null |
		"$PYTHON" -c 'import json, sys; d = json.load(sys.stdin)["master"]; print(d["pid"], d["layout"], d["version"])' 2>/dev/null
}

# --- 1: lxcfs --takeover, another build and layout, -l added
old=$LXCFS_PID
old_workers=$(lxcfs_worker_pids | tr '\n' ' ')
old_standby=$(lxcfs_standby_pid)
t0=$(date +%s%N)
"$B2/lxcfs" --takeover -f -l --runtime-dir "$RUNDIR" --worker-binary "$B2/lxcfs-worker" \
	--workers 2 "$MNT" </dev/null >>"$LXCFS_LOG" 2>&1 &
new=$!
record_pid daemon "$new"
wait_for 15 eval '[ "$(serving_pid | cut -d" " -f1)" = "$new" ]' ||
	fail "lxcfs --takeover (pid $new) not serving after 15 s: $(tail -3 "$LXCFS_LOG" | tr '\n' ' ')"
ms=$((($(date +%s%N) - t0) / 1000000))
read -r _ layout version <<<"$(serving_pid)"
log "takeover 1: master $old -> $new ($version, layout $layout) in $ms ms"
LXCFS_PID=$new
LXCFS_CHILD=$new
case $version in 9.9.9-test*) ;; *) fail "the new master says version $version" ;; esac
[ "$layout" = 99 ] || fail "the new master serves layout $layout, not 99"
wait_for 10 eval '! pid_alive "$old"' || fail "the old master $old is still running"
for p in $old_workers $old_standby; do
	wait_for 10 eval '! pid_alive '"$p" || fail "pid $p of the old daemon is still running"
done
[ "$(mount_id)" = "$mid0" ] || fail "the mount changed: id $mid0 -> $(mount_id)"
lxcfs_worker_pids >/dev/null
wait_for 5 eval '[ -n "$(lxcfs_standby_pid)" ]' || fail "the new master started no standby"

: >"$TEST_TMP/half.go"
out=$(init_wait ct1 "$half" 30) || fail "the half reader failed: $out"
[ "$(head -1 <<<"$out")" = ok ] || fail "meminfo read across the takeover: $(head -1 <<<"$out")"
text=$(tail -n +2 <<<"$out")
[ "$(head -1 <<<"$text" | tr -s ' ')" = "MemTotal: 262144 kB" ] ||
	fail "meminfo read across the takeover starts '$(head -1 <<<"$text")'"
[ "$(wc -l <<<"$text")" = "$HOST_MEM_LINES" ] ||
	fail "meminfo read across the takeover has $(wc -l <<<"$text") lines, not $HOST_MEM_LINES"
log "a meminfo half read before the takeover read on after it as one text"

after=$(loadavg_total ct1)
log "loadavg threads after -l: ct1 $after, host $host_total"
[ "$after" -lt "$host_total" ] && [ "$after" -lt 100 ] ||
	fail "-l given at takeover did not turn loadavg on: ct1 sees $after threads, the host $host_total"

# --- 2: lxcfs-ctl upgrade --all, back to this build and layout
old=$LXCFS_PID
old_workers=$(lxcfs_worker_pids | tr '\n' ' ')
out=$("$LXCFS_BUILD/lxcfs-ctl" --runtime-dir "$RUNDIR" upgrade --all --binary "$LXCFS_BUILD/lxcfs" \
	--worker-binary "$LXCFS_BUILD/lxcfs-worker" 2>&1) || fail "lxcfs-ctl upgrade --all: $out"
log "upgrade --all: $(tr '\n' ' ' <<<"$out")"
lxcfs_adopt_master || fail "no master in the pidfile after upgrade --all"
LXCFS_CHILD= # started by lxcfs-ctl, not by us
read -r _ layout version <<<"$(serving_pid)"
[ "$layout" = "$(sed -n 's/^#define SHM_LAYOUT_VERSION \([0-9]*\)/\1/p' "$REPO_ROOT/shm/layout.h")" ] ||
	fail "after upgrade --all the master serves layout $layout"
wait_for 10 eval '! pid_alive "$old"' || fail "the master $old is still running after upgrade --all"
for p in $old_workers; do
	wait_for 10 eval '! pid_alive '"$p" || fail "worker $p is still running after upgrade --all"
done
[ "$(mount_id)" = "$mid0" ] || fail "the mount changed: id $mid0 -> $(mount_id)"
wait_for 5 eval '[ -n "$(lxcfs_standby_pid)" ]' || fail "the upgraded master started no standby"

sleep 1
readers_collect "two takeovers"
log "reads: $READS; longest wait $MAX_WAIT_MS ms"
pass
