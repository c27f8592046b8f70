#!/usr/bin/env bash
# A real LXC container sees its own figures through share/lxcfs/lxc.mount.hook.
#
# Debian's lxc (installed when missing, with busybox-static) makes a busybox
# container offline (lxc-create -t busybox) in a private lxcpath, with a
# config of its own: 256 MiB, CPU 1, no network, the hooks of this tree
# against this test's lxcfs mount (the shipped 00-lxcfs.conf with the paths
# `make install` would write, plus the mount point as the hooks' argument).
# It is started from the test's own cgroups (lxc.cgroup.relative = 1), so
# every cgroup LXC makes lands below them. Inside (lxc-attach):
#   - /proc/meminfo says MemTotal 262144 kB; busybox top's header agrees
#     (busybox free asks sysinfo(2), which no filesystem can answer: shown
#     only); /proc/uptime is the container's age; cpuinfo has one processor,
#     sys/devices/system/cpu/online and possible say 1, /proc/stat has one
#     CPU line;
#     every file of the mount is bound, and /var/lib/lxcfs for nesting;
#   - lxcfs-ctl upgrade while a shell loop in the container reads meminfo
#     and checks MemTotal: no read fails or shows another figure;
#   - lxc-stop -k and lxc-start: the same again, and /proc/stat starts from
#     the new life (lower than the old life's, then a busy loop moves it);
#   - a reboot from inside: LXC runs lxc.reboot.hook and starts it again,
#     bound once more, no bind of the old life left.
# Before that, the mount hook alone in a private mount namespace: it refuses
# a mount point that is not an lxcfs, and binds nothing through a symbolic
# link of the container's root.
# LXC leaves an empty lxc.pivot cgroup after each stop: removed. The container
# is destroyed and its lock folder under /run/lxc removed on every path (the
# cgroups and paths are in the test's state, see lib.sh).
# run_all: once
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_runtime.sh"

[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs (the container is given CPU 1)"
need_packages lxc busybox-static
HOOKS=$REPO_ROOT/share/lxcfs
CT=lxcfs-ct$TEST_MAIN_PID
LXCPATH=$TEST_TMP/lxc
ROOTFS=$LXCPATH/$CT/rootfs
MEM_KB=262144

lxc()
{
	local tool=lxc-$1
	shift
	timeout -k 5 60 "$tool" -P "$LXCPATH" -n "$CT" "$@"
}

# in_ct CMD...: CMD in the container (lxc-attach: its namespaces and cgroups).
in_ct()
{
	lxc attach --clear-env -v PATH=/bin:/sbin:/usr/bin:/usr/sbin -- "$@"
}

start_lxcfs

# --- The mount hook alone, against a made-up container root.
f=$TEST_TMP/fake
mkdir -p "$f/proc/pressure" "$f/sys/devices/system/cpu" "$f/var/lib" "$TEST_TMP/elsewhere" \
	"$TEST_TMP/notlxcfs"
for g in proc/meminfo proc/cpuinfo proc/stat proc/pressure/cpu sys/devices/system/cpu/online; do
	: >"$f/$g"
done
ln -s "$TEST_TMP/elsewhere" "$f/var/lib/lxcfs"
out=$(unshare -m --propagation private sh -c '
	export LXC_ROOTFS_MOUNT=$1 LXC_NAME=fake
	"$2/lxc.mount.hook" "$3" fake lxc mount
	echo "status $?"
	awk "{ for (i = 7; \$i != \"-\"; i++) ; if (\$(i + 1) == \"fuse.lxcfs\") print \$5 }" \
		/proc/self/mountinfo | grep "^$1/" | sort
	head -1 "$1/proc/meminfo" | tr -s " "
	"$2/lxc.mount.hook" "$4" fake lxc mount
	echo "status $?"
' _ "$f" "$HOOKS" "$MNT" "$TEST_TMP/notlxcfs" 2>&1)
out=${out//$f/ROOT}
psi=
[ -f "$MNT/proc/pressure/cpu" ] && psi="ROOT/proc/pressure/cpu|" # not in upstream 5.0
expect_eq "lxcfs mount hook (fake): /var/lib/lxcfs is reached through a symbolic link: not bound|\
status 0|ROOT/proc/cpuinfo|ROOT/proc/meminfo|${psi}ROOT/proc/stat|\
ROOT/sys/devices/system/cpu/online|MemTotal: $(meminfo_kb MemTotal <"$MNT/proc/meminfo") kB|\
lxcfs mount hook (fake): $TEST_TMP/notlxcfs is not an lxcfs mount|status 1" \
	"$(tr '\n' '|' <<<"$out" | sed 's/|$//')" "the mount hook on a made-up root (ROOT)"

# --- The container.
runtime_cgroups
mkdir -p "$LXCPATH"
state_add paths "/run/lxc/lock $LXCPATH"
# The shipped conf with the paths `make install PREFIX=...` writes into it.
sed "s|/usr/share/lxcfs/\(lxc\.[a-z]*\.hook\)|$HOOKS/\1 $MNT|" \
	"$REPO_ROOT/share/lxc/config/common.conf.d/00-lxcfs.conf" >"$TEST_TMP/00-lxcfs.conf"
cat >"$TEST_TMP/ct.conf" <<EOF
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.cgroup.relative = 1
lxc.cgroup.memory.limit_in_bytes = 256M
lxc.cgroup.cpuset.cpus = 1
lxc.include = $TEST_TMP/00-lxcfs.conf
EOF
log "container config: $(grep -h hook "$TEST_TMP/00-lxcfs.conf" | tr '\n' ' ')"
lxc create -t busybox -f "$TEST_TMP/ct.conf" >"$TEST_TMP/lxc-create.log" 2>&1 ||
	fail "lxc-create -t busybox: $(tail -3 "$TEST_TMP/lxc-create.log" | tr '\n' ' ')"
mkdir -p "$ROOTFS/var/lib/lxcfs"

# Binds the hook should make: each file of the mount that the container's
# /proc has, the lists of sys/devices/system/cpu, and /var/lib/lxcfs.
want_binds=1
for f in "$MNT"/proc/* "$MNT"/proc/pressure/*; do
	[ -f "$f" ] && [ -e "/proc/${f#"$MNT"/proc/}" ] && want_binds=$((want_binds + 1))
done
for f in online possible present offline; do
	[ -f "$MNT/sys/devices/system/cpu/$f" ] && [ -e "/sys/devices/system/cpu/$f" ] &&
		want_binds=$((want_binds + 1))
done

CT_T0=
ct_start()
{
	CT_T0=$(date +%s.%N)
	in_runtime_cgroups timeout -k 5 60 lxc-start -P "$LXCPATH" -n "$CT" -l INFO \
		-o "$TEST_TMP/lxc.log" || fail "lxc-start: $(grep -E 'ERROR' "$TEST_TMP/lxc.log" | tail -3)"
	lxc wait -s RUNNING -t 20 || fail "container $CT not RUNNING"
	log "container $CT running: init pid $(lxc info -pH)"
}

# ct_stat_busy: user + system of the container's "cpu " line.
ct_stat_busy()
{
	in_ct cat /proc/stat | awk '$1 == "cpu" { print $2 + $4; exit }'
}

# check_ct PHASE: what the container sees.
check_ct()
{
	local phase=$1 out age up
	out=$(in_ct cat /proc/meminfo) || fail "$phase: cat /proc/meminfo in the container failed"
	log "$phase: inside, cat /proc/meminfo: $(head -3 <<<"$out" | tr -s ' ' | tr '\n' '|')"
	meminfo_kb MemTotal <<<"$out" | expect_eq $MEM_KB - "$phase: MemTotal"

	out=$(in_ct top -bn1 | head -3)
	log "$phase: inside, top -bn1: $(tr '\n' '|' <<<"$out")"
	sed -n 's/^Mem: \([0-9]*\)K used, \([0-9]*\)K free.*/\1 \2/p' <<<"$out" |
		awk '{ print $1 + $2 }' | expect_eq $MEM_KB - "$phase: top's used + free (K)"
	log "$phase: inside, free (sysinfo(2): the host's total): $(in_ct free | sed -n 2p | tr -s ' ')"

	up=$(in_ct cat /proc/uptime) || fail "$phase: cat /proc/uptime failed"
	age=$(awk -v t0="$CT_T0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.2f", now - t0 }')
	log "$phase: inside, cat /proc/uptime: $up (container started $age s ago)"
	awk -v u="${up%% *}" -v a="$age" 'BEGIN { exit !(u >= 0 && u <= a + 1) }' ||
		fail "$phase: uptime ${up%% *} s is not the container's age (about $age s)"

	in_ct grep -c processor /proc/cpuinfo | expect_eq 1 - "$phase: grep -c processor /proc/cpuinfo"
	in_ct cat /sys/devices/system/cpu/online | expect_eq 1 - "$phase: sys/devices/system/cpu/online"
	in_ct cat /sys/devices/system/cpu/possible | expect_eq 1 - "$phase: sys/devices/system/cpu/possible"
	out=$(in_ct cat /proc/stat)
	log "$phase: inside, head -3 /proc/stat: $(head -3 <<<"$out" | cut -c1-60 | tr '\n' '|')"
	grep -c '^cpu[0-9]' <<<"$out" | expect_eq 1 - "$phase: cpuN lines of /proc/stat"

	out=$(in_ct cat /proc/self/mountinfo |
		awk '{ for (i = 7; $i != "-"; i++) ; if ($(i + 1) == "fuse.lxcfs") print $5 }')
	wc -l <<<"$out" | expect_eq $want_binds - "$phase: lxcfs binds in the container"
	grep -qx /var/lib/lxcfs <<<"$out" || fail "$phase: /var/lib/lxcfs not bound"
	in_ct head -1 /var/lib/lxcfs/proc/meminfo | tr -s ' ' |
		expect_eq "MemTotal: $MEM_KB kB" - "$phase: /var/lib/lxcfs/proc/meminfo"
}

ct_start
check_ct "first start"

# --- lxcfs-ctl upgrade while the container reads.
if [ "$LXCFS_IMPL" = ours ]; then
	rm -f "$ROOTFS/tmp/stop"
	in_ct sh -c '
		n=0 e=0
		while [ ! -e /tmp/stop ] && [ $n -lt 2000000 ]; do
			k= v=
			read -r k v _ </proc/meminfo
			[ "$k $v" = "MemTotal: $1" ] || e=$((e + 1))
			n=$((n + 1))
		done
		echo "reads=$n errors=$e"' _ $MEM_KB >"$TEST_TMP/loop.out" 2>&1 &
	loop=$!
	sleep 1
	out=$("$LXCFS_BUILD/lxcfs-ctl" --runtime-dir "$RUNDIR" upgrade 2>&1) ||
		fail "lxcfs-ctl upgrade: $out"
	log "lxcfs-ctl upgrade: $(tr '\n' '|' <<<"$out")"
	sleep 1
	: >"$ROOTFS/tmp/stop"
	wait_for 20 eval '! pid_alive '"$loop" || fail "the reading loop did not stop"
	wait "$loop"
	out=$(cat "$TEST_TMP/loop.out")
	log "reading loop in the container across the upgrade: $out"
	[ "$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$out")" = 0 ] || fail "reads failed across the upgrade: $out"
	[ "$(sed -n 's/^reads=\([0-9]*\).*/\1/p' <<<"$out")" -ge 100 ] || fail "too few reads: $out"
	check_ct "after lxcfs-ctl upgrade"
fi

# A busy loop: this life's CPU time.
busy()
{
	in_ct sh -c 'i=0; while [ $i -lt 800000 ]; do i=$((i + 1)); done'
}
busy
life1=$(ct_stat_busy)
log "first life: user+system $life1 after a busy loop"
[ "$life1" -ge 50 ] || fail "a busy loop of about 1.5 s moved user+system only to $life1"

# --- lxc-stop -k, then lxc-start again.
lxc stop -k || fail "lxc-stop -k"
rmdir_runtime_cgroups lxc.pivot || fail "cannot remove LXC's lxc.pivot cgroups"
ct_start
life2=$(ct_stat_busy)
check_ct "after lxc-stop -k; lxc-start"
busy
life2b=$(ct_stat_busy)
log "second life: user+system $life2 at start, $life2b after a busy loop (first life: $life1)"
[ "$life2" -lt "$life1" ] || fail "/proc/stat of the new life starts at $life2, the old life ended at $life1"
[ "$life2b" -ge $((life2 + 50)) ] || fail "a busy loop moved user+system only from $life2 to $life2b"

# --- A reboot from inside: LXC runs the post-stop hook and starts it again.
old=$(lxc info -pH)
hooks_before=$(grep -c 'lxc.reboot.hook' "$TEST_TMP/lxc.log")
CT_T0=$(date +%s.%N)
in_ct reboot
wait_for 30 eval 'p=$(lxc info -pH 2>/dev/null); [ -n "$p" ] && [ "$p" != "$old" ]' ||
	fail "the container did not come back after a reboot"
lxc wait -s RUNNING -t 20 || fail "container $CT not RUNNING after a reboot"
log "rebooted: init pid $old -> $(lxc info -pH)"
grep -q 'Container requested reboot' "$TEST_TMP/lxc.log" || fail "LXC did not see a reboot"
life3=$(ct_stat_busy)
log "third life: user+system $life3 at start (second life: $life2b)"
[ "$life3" -lt "$life2b" ] || fail "/proc/stat after the reboot starts at $life3, the life before ended at $life2b"
[ "$(grep -c 'lxc.reboot.hook' "$TEST_TMP/lxc.log")" -gt "$hooks_before" ] ||
	fail "lxc.reboot.hook did not run at the reboot"
check_ct "after a reboot"

# --- Gone, with everything LXC made.
lxc stop -k || fail "lxc-stop -k"
lxc destroy -f >>"$TEST_TMP/lxc-create.log" 2>&1 || fail "lxc-destroy"
rmdir_runtime_cgroups lxc.pivot || fail "cannot remove LXC's lxc.pivot cgroups"
left=$(runtime_cgroups_below)
[ -z "$left" ] || fail "cgroups left by LXC: $(tr '\n' ' ' <<<"$left")"
stop_lxcfs
pass
