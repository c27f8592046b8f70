#!/usr/bin/env bash
# A Docker container sees its own figures through lxcfs files bound with -v.
#
# A dockerd of the test's own (Debian's docker.io: no bridge, no iptables,
# its data root, exec root, pidfile, socket and trust key in the test's
# folder), started from the test's cgroups with a relative cgroup parent so
# that runc makes each container's cgroups below them. Its one image is
# imported from a busybox rootfs (busybox-static) made here: no registry.
#   docker run --rm --network none -m 300m --cpuset-cpus 1
#     -v MNT/proc/{meminfo,cpuinfo,stat,uptime}:/proc/...
#     -v MNT/sys/devices/system/cpu/online:/sys/devices/system/cpu/online
# shows MemTotal 307200 kB, one processor in cpuinfo, online "1", one CPU in
# /proc/stat and the container's age in uptime; the same container without
# the binds shows the host's. What reads what: busybox nproc counts the CPUs
# of the process's affinity mask (sched_getaffinity(2)), which the cpuset
# alone sets (1, with or without lxcfs); `nproc --all` counts the cpuN
# folders of /sys/devices/system/cpu (the host's, whatever is bound); glibc's
# sysconf(_SC_NPROCESSORS_ONLN) reads the online file lxcfs serves.
#
# Skipped, with the reason, when docker.io is not installed and the test may
# not install it (a host run by systemd, where the package starts a dockerd
# of its own), or when dockerd or a first container cannot run here. On a
# cgroup v2 host it is skipped too: there dockerd would need a delegated
# subtree of its own, which this harness does not set up.
# run_all: once
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_runtime.sh"

[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs (the container is given CPU 1)"
if ! [ -x /usr/sbin/dockerd ] || ! [ -x /usr/bin/docker ]; then
	[ -d /run/systemd/system ] &&
		skip "docker.io is not installed (apt-get install docker.io): not installed by the test on a host run by systemd, where the package starts a dockerd of its own"
	need_packages docker.io
fi
need_packages busybox-static
cg_detect
[ "$CG_MODE" = v1 ] || skip "cgroup v2 host: dockerd would need a delegated subtree of its own"

D=$TEST_TMP/docker
IMAGE=lxcfs-test-busybox:$TEST_MAIN_PID
mkdir -p "$D"
dk()
{
	timeout -k 5 120 /usr/bin/docker -H "unix://$D/docker.sock" "$@"
}

start_lxcfs

# runc makes a container's v1 cgroups at the cgroup parent taken from its own
# cgroup in each hierarchy (it runs in ours), but on a hybrid host its
# unified cgroup at that path from the root of the unified hierarchy: the
# parent is the path of our unified base cgroup, so that both land below ours.
runtime_cgroups
parent=docker
[ -n "$RT_UNIFIED_PATH" ] && parent=${RT_UNIFIED_PATH#/}

# Folders dockerd and containerd make outside their roots on their first run.
for d in /run/docker /run/docker/plugins /run/containerd /run/containerd/s; do
	[ -e "$d" ] || state_add dirs "$d"
done
# dockerd 20.10 writes a trust key, by default /etc/docker/key.json.
key_before=0
[ -e /etc/docker/key.json ] && key_before=1
printf '{ "deprecated-key-path": "%s" }\n' "$D/key.json" >"$D/daemon.json"
runtime_exec /usr/sbin/dockerd --iptables=false --ip6tables=false --ip-masq=false \
	--bridge=none --userland-proxy=false --config-file "$D/daemon.json" \
	--data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/docker.pid" \
	-H "unix://$D/docker.sock" --cgroup-parent "$parent" </dev/null >"$D/dockerd.log" 2>&1 &
DOCKERD=$!
record_pid dockerd "$DOCKERD"
dockerd_ready()
{
	pid_alive "$DOCKERD" && dk version >/dev/null 2>&1
}
if ! wait_for 60 dockerd_ready; then
	why=$(grep -E 'level=(error|fatal)' "$D/dockerd.log" | tail -1)
	pid_alive "$DOCKERD" || skip "dockerd cannot run here: ${why:-$(tail -1 "$D/dockerd.log")}"
	fail "dockerd does not answer after 60 s: ${why:-$(tail -1 "$D/dockerd.log")}"
fi
log "dockerd $(dk version -f '{{.Server.Version}}') serving, storage $(dk info -f '{{.Driver}}'), cgroup parent $parent"

mkdir -p "$D/rootfs/bin" "$D/rootfs/proc" "$D/rootfs/sys" "$D/rootfs/dev" "$D/rootfs/etc" "$D/rootfs/tmp"
cp /bin/busybox "$D/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$D/rootfs/bin/$a"
done
tar -C "$D/rootfs" -c . | dk import - "$IMAGE" >/dev/null || fail "docker import failed"

# A first container: whether containers can run here at all.
out=$(dk run --rm --network none "$IMAGE" true 2>&1) ||
	skip "dockerd runs but cannot start a container here: $(tail -1 <<<"$out")"

BINDS=()
for f in proc/meminfo proc/cpuinfo proc/stat proc/uptime sys/devices/system/cpu/online; do
	BINDS+=(-v "$MNT/$f:/$f")
done
PROBE='
	grep MemTotal /proc/meminfo
	echo "processors $(grep -c processor /proc/cpuinfo)"
	echo "online $(cat /sys/devices/system/cpu/online)"
	echo "nproc $(nproc)"
	echo "nproc_all $(nproc --all)"
	echo "stat_cpus $(grep -c "^cpu[0-9]" /proc/stat)"
	echo "uptime $(cat /proc/uptime)"'

t0=$(date +%s.%N)
out=$(dk run --rm --network none -m 300m --cpuset-cpus 1 "${BINDS[@]}" "$IMAGE" sh -c "$PROBE" 2>&1) ||
	fail "docker run with the lxcfs files: $out"
age=$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.2f", now - t0 }')
log "inside, with lxcfs: $(tr -s ' ' <<<"$out" | tr '\n' '|')"
host=$(dk run --rm --network none -m 300m --cpuset-cpus 1 "$IMAGE" sh -c "$PROBE" 2>&1) ||
	fail "docker run without lxcfs: $host"
log "inside, without lxcfs: $(tr -s ' ' <<<"$host" | tr '\n' '|')"

field()
{
	awk -v k="$1" '$1 == k { print $2; exit }' <<<"$2"
}
field MemTotal: "$out" | expect_eq 307200 - "MemTotal (kB) with lxcfs"
field processors "$out" | expect_eq 1 - "grep -c processor /proc/cpuinfo with lxcfs"
field online "$out" | expect_eq 1 - "sys/devices/system/cpu/online with lxcfs"
field stat_cpus "$out" | expect_eq 1 - "cpuN lines of /proc/stat with lxcfs"
field nproc "$out" | expect_eq 1 - "nproc (affinity: the cpuset) with lxcfs"
up=$(field uptime "$out")
awk -v u="$up" -v a="$age" 'BEGIN { exit !(u >= 0 && u <= a + 1) }' ||
	fail "uptime $up s is not the container's age (it ran $age s)"
field MemTotal: "$host" | expect_eq "$(meminfo_kb MemTotal </proc/meminfo)" - "MemTotal (kB) without lxcfs: the host's"
field processors "$host" | expect_eq "$(grep -c processor /proc/cpuinfo)" - "processors without lxcfs: the host's"
field nproc "$host" | expect_eq 1 - "nproc (affinity: the cpuset) without lxcfs"
all=$(ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l)
field nproc_all "$out" | expect_eq "$all" - "nproc --all (cpuN folders in sysfs) with lxcfs: the host's"

# --- Gone: dockerd stops its containerd and unmounts what it mounted.
kill -TERM "$DOCKERD"
wait_for 30 eval '! pid_alive "$DOCKERD"' || fail "dockerd still running 30 s after SIGTERM"
wait "$DOCKERD"
left=$(awk -v d="$D/" 'index($2, d) == 1 { print $2 }' /proc/mounts)
[ -z "$left" ] || fail "dockerd left mounts: $(tr '\n' ' ' <<<"$left")"
[ "$key_before" = 1 ] || [ ! -e /etc/docker/key.json ] || fail "dockerd wrote /etc/docker/key.json"
wait_for 10 eval '[ -z "$(runtime_cgroups_below | grep -v "/$parent\$")" ]' ||
	fail "cgroups left by runc: $(runtime_cgroups_below | tr '\n' ' ')"
stop_lxcfs
pass
