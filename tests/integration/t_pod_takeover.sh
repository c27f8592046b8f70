#!/usr/bin/env bash
# A DaemonSet's new pod takes the node's lxcfs over from the old pod
# (deploy/kubernetes/lxcfs-pod, the containers' entry point), without a
# failed read, and the old pod stays idle until deleted.
#
# Two "pods" as Kubernetes makes them on a node, without Kubernetes: each
# lxcfs-pod runs in a mount namespace of its own, the mount point a shared
# mount of the "host" that both namespaces are peers of (mountPropagation:
# Bidirectional), the runtime dir a folder both see (a hostPath). Then:
#   1. pod 1 mounts and serves; its readiness probe (lxcfs-pod ready) passes;
#   2. pod 2 starts while a reader in the host reads meminfo in a loop: it
#      takes the mount over; its probe passes, pod 1's fails; pod 1's lxcfs
#      has exited and its lxcfs-pod stays (a container that exited would be
#      restarted by kubelet and take the mount back);
#   3. pod 1 deleted (SIGTERM): it exits, the mount stays, same mount id;
#   4. pod 2 deleted: its lxcfs unmounts.
# No read of the reader fails.
# run_all: once
. "$(dirname "$0")/lib.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs cannot be taken over"
POD=$REPO_ROOT/deploy/kubernetes/lxcfs-pod
NODE=$TEST_TMP/node
NMNT=$NODE/var/lib/lxcfs
NRUN=$NODE/run/lxcfs
mkdir -p "$NODE"
mount -t tmpfs node "$NODE" || fail "mount tmpfs on $NODE"
state_add mounts "$NODE"
mount --make-shared "$NODE" || fail "mount --make-shared $NODE"
mkdir -p "$NMNT" "$NRUN"

# pod N: lxcfs-pod in a new mount namespace, a peer of the node's mounts.
declare -A PODPID=()
pod()
{
	unshare -m --propagation unchanged \
		env PATH="$LXCFS_BUILD:$PATH" LXCFS_MOUNT="$NMNT" LXCFS_RUNTIME_DIR="$NRUN" LXCFS_CGROUP_NS= \
		sh "$POD" --workers 2 --worker-binary "$LXCFS_BUILD/lxcfs-worker" \
		</dev/null >"$TEST_TMP/pod$1.log" 2>&1 &
	PODPID[$1]=$!
	record_pid pod "$!"
}

# ready N: pod N's readiness probe, run in its mount namespace as kubelet does.
ready()
{
	nsenter -t "${PODPID[$1]}" -m env LXCFS_MOUNT="$NMNT" LXCFS_RUNTIME_DIR="$NRUN" \
		PATH="$LXCFS_BUILD:$PATH" sh "$POD" ready 2>/dev/null
}

master()
{
	cat "$NRUN/lxcfs.pid" 2>/dev/null
}

mount_id()
{
	awk -v m="$NMNT" '$5 == m { print $1 }' /proc/self/mountinfo | tail -1
}

# --- 1
pod 1
wait_for 15 ready 1 || fail "pod 1 not ready: $(tr '\n' ' ' <"$TEST_TMP/pod1.log")"
m1=$(master)
record_pid daemon "$m1"
mid=$(mount_id)
[ -n "$mid" ] || fail "no mount at $NMNT in the node's namespace"
head -1 "$NMNT/proc/meminfo" | grep -q '^MemTotal:' || fail "$NMNT/proc/meminfo is not served"
log "pod 1 (lxcfs-pod ${PODPID[1]}) serves: master $m1, mount id $mid"

# --- 2
cat >"$TEST_TMP/reader.py" <<'EOF'
import os, sys
path, stop = sys.argv[1], sys.argv[2]
n = errors = 0
while not os.path.exists(stop):
    try:
        with open(path) as f:
            if not f.read().startswith("MemTotal:"):
                errors += 1
    except OSError as e:
        errors += 1
        print("read failed:", e, file=sys.stderr)
    n += 1
print(n, errors)
EOF
"$PYTHON" "$TEST_TMP/reader.py" "$NMNT/proc/meminfo" "$TEST_TMP/stop" >"$TEST_TMP/reader.out" 2>&1 &
reader=$!
record_pid reader "$reader"
sleep 1
pod 2
wait_for 15 ready 2 || fail "pod 2 not ready: $(tr '\n' ' ' <"$TEST_TMP/pod2.log")"
m2=$(master)
record_pid daemon "$m2"
log "pod 2 (lxcfs-pod ${PODPID[2]}) took over: master $m1 -> $m2"
[ "$m2" != "$m1" ] || fail "the master is still pod 1's"
! ready 1 || fail "pod 1 still ready after pod 2 took over"
wait_for 10 eval '! pid_alive "$m1"' || fail "pod 1's lxcfs ($m1) still running"
wait_for 10 grep -q 'idle until deleted' "$TEST_TMP/pod1.log" ||
	fail "pod 1 does not say it went idle: $(tr '\n' ' ' <"$TEST_TMP/pod1.log")"
pid_alive "${PODPID[1]}" || fail "pod 1's lxcfs-pod exited (kubelet would start it again)"
sleep 1
: >"$TEST_TMP/stop"
wait "$reader"
read -r reads errors <"$TEST_TMP/reader.out" || fail "reader: $(cat "$TEST_TMP/reader.out")"
log "reader across the takeover: $reads reads, $errors failed"
[ "$errors" = 0 ] || fail "$errors of $reads reads failed across the takeover: $(tail -2 "$TEST_TMP/reader.out")"

# --- 3
kill -TERM "${PODPID[1]}"
wait_for 10 eval '! pid_alive "${PODPID[1]}"' || fail "pod 1 did not exit on SIGTERM"
wait "${PODPID[1]}"
rc=$?
[ "$rc" = 0 ] || fail "pod 1 exited with status $rc"
[ "$(mount_id)" = "$mid" ] || fail "the mount changed: id $mid -> $(mount_id)"
head -1 "$NMNT/proc/meminfo" | grep -q '^MemTotal:' || fail "$NMNT not served after pod 1 was deleted"
log "pod 1 deleted: the mount stays (id $mid), served by pod 2"

# --- 4
kill -TERM "${PODPID[2]}"
wait_for 15 eval '! pid_alive "${PODPID[2]}"' || fail "pod 2 did not exit on SIGTERM"
wait_for 5 eval '[ -z "$(mount_id)" ]' || fail "$NMNT still mounted after pod 2 was deleted"
log "pod 2 deleted: unmounted"
umount "$NODE" || fail "umount $NODE"
state_del mounts "$NODE"
pass
