#!/usr/bin/env bash
# Two containers see only their own figures, also while both read at once.
#
# ctA (300 MiB, cpuset 0) and ctB (128 MiB, cpuset 1), each with a cgroup of
# its own in every controller lxcfs reads (memory, cpuset, cpu, cpuacct,
# blkio) and the lxcfs files bind-mounted over /proc and
# /sys/devices/system/cpu/online:
#  1. Both read meminfo, cpuinfo, stat and cpu/online in loops at the same
#     time, from their own processes and entered with setns: every read shows
#     that container's MemTotal, its one CPU (the host CPU of its cpuset: its
#     apicid), its online list and one cpuN line in stat numbered as online
#     numbers that CPU.
#  2. With -l, a busy loop in ctA: after two or three 5 s samples ctA's 1-min
#     load average is at least 0.10 (one runnable thread gives 0.08, 0.15,
#     0.22 after 1, 2, 3 samples) and ctB's at most 0.02; ctA's /proc/stat
#     cpuN user+system ticks grew as its cgroup's user+system time on host
#     CPU 0 did (cpuacct.usage_all; within 1 % of the wall time + 5 ticks)
#     and by 1 s of CPU at least; ctB's by at most 5 ticks more than its own
#     cgroup's time (near zero).
#  3. Block I/O: with a generous blk-throttle limit on both containers' blkio
#     cgroups for the disk under our temp dir (v1 keeps per-cgroup statistics
#     only where a throttle rule exists), 20 MiB written and read back with
#     O_DIRECT in ctA show in ctA's /proc/diskstats (at least 40960 sectors
#     each way on that disk) and not in ctB's (under 2048 each way: ctB's own
#     processes may page something in); each container's sectors are what
#     its own blkio cgroup counted.
. "$(dirname "$0")/lib.sh"

# ct_cgroup NAME CTRL: the container's cgroup folder for CTRL.
ct_cgroup()
{
	local cg m
	for cg in ${CT_CGS[$1]}; do
		if [ "$CG_MODE" = v2 ]; then echo "$cg"; return 0; fi
		m=$(cg_v1_mount "$2")
		case $cg in "${m%% *}"/*) echo "$cg"; return 0 ;; esac
	done
	fail "container $1 has no $2 cgroup"
}

# host_apicid CPU: the apicid line of host CPU N ("" when cpuinfo has none).
host_apicid()
{
	awk -v cpu="$1" -F'\t*: ' '$1 == "processor" { p = $2 } $1 == "apicid" && p == cpu { print $2; exit }' /proc/cpuinfo
}

# 1-min load average of a container (read from outside its cgroups, so that
# the reader is never one of its runnable threads).
load1()
{
	in_container "$1" cat /proc/loadavg | awk '{ print $1 }'
}

# user+system ticks of the (one) cpuN line of a container's /proc/stat.
stat_busy()
{
	in_container "$1" cat /proc/stat | awk '$1 ~ /^cpu[0-9]+$/ { print $2 + $4; exit }'
}

[ "$(grep -c ^processor /proc/cpuinfo)" -ge 2 ] || skip "needs a host with 2 CPUs (one per container)"

start_lxcfs -l
files=meminfo,cpuinfo,stat,uptime,loadavg,diskstats
make_container ctA mem=300M cpus=0 files=$files
make_container ctB mem=128M cpus=1 files=$files
ct_join_cgroups --need ctA cpu cpuacct blkio
ct_join_cgroups --need ctB cpu cpuacct blkio
ct_bind_cpu_online ctA
ct_bind_cpu_online ctB

# --- 1. Concurrent reads, each container its own figures, every read.
cat >"$TEST_TMP/reads.py" <<'EOF'
# reads.py SECONDS MEMTOTAL_KB ONLINE APICID IMPL: read the files in a loop; print
# "reads=N bad=N", the first problems on stderr; exit 1 on any problem.
import sys, time
secs, total, online, apicid = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
upstream = sys.argv[5] == "upstream"
reads = bad = 0

def problem(msg):
    global bad
    bad += 1
    if bad <= 5:
        print("read %d: %s" % (reads, msg), file=sys.stderr)

def slurp(path):
    with open(path) as f:
        return f.read()

end = time.monotonic() + secs
while time.monotonic() < end:
    reads += 1
    try:
        m = slurp("/proc/meminfo")
        first = m.split("\n", 1)[0].split()
        if first[:1] != ["MemTotal:"] or first[1] != total:
            problem("meminfo starts %r, expected MemTotal %s kB" % (m[:40], total))
        c = slurp("/proc/cpuinfo")
        procs = [l for l in c.splitlines() if l.startswith("processor")]
        ids = [l.split(":")[1].strip() for l in c.splitlines() if l.startswith("apicid")]
        if len(procs) != 1 or procs[0].split(":")[1].strip() != "0":
            problem("cpuinfo processors %r, expected one numbered 0" % procs)
        elif apicid and ids != [apicid]:
            problem("cpuinfo apicid %r, expected [%s] (the host CPU of the cpuset)" % (ids, apicid))
        o = slurp("/sys/devices/system/cpu/online")
        if o != online + "\n":
            problem("cpu/online %r, expected %r" % (o, online))
        # stat's cpuN line keeps the host CPU's number, as online lists it
        s = slurp("/proc/stat")
        cpus = [l.split()[0] for l in s.splitlines() if l.startswith("cpu")]
        if cpus != ["cpu", "cpu" + online]:
            problem("stat cpu lines %r, expected cpu and cpu%s" % (cpus, online))
    except OSError as e:
        problem("error %s" % e)
print("reads=%d bad=%d" % (reads, bad))
sys.exit(1 if bad else 0)
EOF
apicA=$(host_apicid 0)
apicB=$(host_apicid 1)
if [ -z "$apicA" ] || [ "$apicA" = "$apicB" ]; then
	log "note: host cpuinfo has no distinct apicid per CPU: not checked"
	apicA='' apicB=''
fi
secs=6
jA=$(in_init_bg ctA "$PYTHON" "$TEST_TMP/reads.py" $secs 307200 0 "$apicA" "$LXCFS_IMPL")
jB=$(in_init_bg ctB "$PYTHON" "$TEST_TMP/reads.py" $secs 131072 1 "$apicB" "$LXCFS_IMPL")
in_container ctA "$PYTHON" "$TEST_TMP/reads.py" $secs 307200 0 "$apicA" "$LXCFS_IMPL" >"$TEST_TMP/sA.out" 2>&1 &
sA=$!
in_container ctB "$PYTHON" "$TEST_TMP/reads.py" $secs 131072 1 "$apicB" "$LXCFS_IMPL" >"$TEST_TMP/sB.out" 2>&1 &
sB=$!
wait "$sA" || fail "ctA setns reader: $(tr '\n' ' ' <"$TEST_TMP/sA.out")"
wait "$sB" || fail "ctB setns reader: $(tr '\n' ' ' <"$TEST_TMP/sB.out")"
log "ok: ctA setns reader: $(cat "$TEST_TMP/sA.out")"
log "ok: ctB setns reader: $(cat "$TEST_TMP/sB.out")"
out=$(init_wait ctA "$jA" 60 2>&1) || fail "ctA init-child reader: $(echo $out)"
log "ok: ctA init-child reader: $out"
out=$(init_wait ctB "$jB" 60 2>&1) || fail "ctB init-child reader: $(echo $out)"
log "ok: ctB init-child reader: $out"

# --- 2. A busy loop in ctA: its load and its CPU ticks, none in ctB.
cgA=$(ct_cgroup ctA cpuacct)
cgB=$(ct_cgroup ctB cpuacct)
# CPU time of a container's cgroup on host CPU N in ns, as the SPEC says stat
# takes it: v1 user+system of cpuacct.usage_all (the kernel's tick-sampled
# split, which may differ from cpuacct.usage by several per cent), v2
# cpu.stat usage_usec (one CPU per container here).
cg_usage_ns()
{
	if [ "$CG_MODE" = v2 ]; then
		awk '$1 == "usage_usec" { printf "%.0f\n", $2 * 1000 }' "$1/cpu.stat"
	else
		awk -v cpu="$2" '$1 == cpu { printf "%.0f\n", $2 + $3 }' "$1/cpuacct.usage_all"
	fi
}
# The loadavg entries start (at 0) with a first read.
load1 ctA | expect_eq 0.00 - "ctA: 1-min load before the busy loop"
load1 ctB | expect_eq 0.00 - "ctB: 1-min load before the busy loop"
uA0=$(cg_usage_ns "$cgA" 0)
uB0=$(cg_usage_ns "$cgB" 1)
sA0=$(stat_busy ctA)
sB0=$(stat_busy ctB)
t0=$EPOCHREALTIME
# One runnable thread until told to stop ([ is a bash builtin: no fork).
busy=$(in_init_bg ctA bash -c 'while [ ! -e "$1" ]; do :; done' _ "$TEST_TMP/busy.stop")
log "busy loop started in ctA; ctA cpu0 user+system $sA0 ticks, ctB $sB0"
# Poll until two samples at least have seen it (0.15), up to 30 s.
deadline=$((SECONDS + 30))
seenA=
while :; do
	lA=$(load1 ctA)
	seenA+="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "+%.0fs:", b - a }')$lA "
	awk -v l="$lA" 'BEGIN { exit !(l >= 0.15) }' && break
	[ $SECONDS -ge $deadline ] && break
	sleep 1
done
elapsed=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
lB=$(load1 ctB)
log "after $elapsed s of the busy loop: ctA 1-min load $lA, ctB $lB"
awk -v l="$lA" 'BEGIN { exit !(l >= 0.10) }' ||
	fail "ctA: 1-min load $lA after $elapsed s of a busy loop, expected >= 0.10 (read every second: $seenA)"
awk -v l="$lB" 'BEGIN { exit !(l <= 0.02) }' ||
	fail "ctB: 1-min load $lB while only ctA is busy, expected <= 0.02"
log "ok: ctA 1-min load $lA >= 0.10, ctB $lB <= 0.02"
in_container ctA cat /proc/loadavg | awk '{ split($4, r, "/"); print (r[1] >= 1) }' |
	expect_eq 1 - "ctA: runnable threads at the last sample >= 1"
in_container ctB cat /proc/loadavg | awk '{ split($4, r, "/"); print r[1] }' |
	expect_eq 0 - "ctB: runnable threads at the last sample"

sA1=$(stat_busy ctA)
sB1=$(stat_busy ctB)
uA1=$(cg_usage_ns "$cgA" 0)
uB1=$(cg_usage_ns "$cgB" 1)
t1=$EPOCHREALTIME
out=$("$PYTHON" - "$t0" "$t1" "$sA0" "$sA1" "$uA0" "$uA1" "$sB0" "$sB1" "$uB0" "$uB1" 2>&1 <<'EOF'
import sys
t0, t1 = float(sys.argv[1]), float(sys.argv[2])
sA0, sA1, uA0, uA1, sB0, sB1, uB0, uB1 = map(int, sys.argv[3:11])
wall = t1 - t0
dA, cA = sA1 - sA0, (uA1 - uA0) / 1e7  # ticks shown, ticks used (USER_HZ 100)
dB, cB = sB1 - sB0, (uB1 - uB0) / 1e7
print("in %.1f s: ctA's stat +%d ticks, its cgroup +%.0f; ctB's stat +%d, its cgroup +%.0f"
      % (wall, dA, cA, dB, cB))
bad = []
# The reads of stat and of cpuacct are not simultaneous, and values may be a
# cache period old: 1 % of the wall time plus 5 ticks.
if abs(dA - cA) > wall + 5:
    bad.append("ctA's stat grew %d ticks, its cgroup's usage %.0f" % (dA, cA))
# The busy loop shares its CPU with whatever else runs on the machine: it must
# have had 1 s of it at least for the comparison to mean something.
if dA < 100:
    bad.append("ctA's stat grew %d ticks in %.1f s of a busy loop (< 1 s of CPU)" % (dA, wall))
if dB > cB + 5:
    bad.append("ctB's stat grew %d ticks, its cgroup's usage %.0f" % (dB, cB))
if bad:
    print("; ".join(bad))
    sys.exit(1)
EOF
) || fail "$(echo $out)"
log "ok: $out"
touch "$TEST_TMP/busy.stop"
init_wait ctA "$busy" 30 || fail "the busy loop did not stop"

# --- 3. Block I/O in ctA shows in its diskstats only.
# The whole disk under a folder (blk-throttle rules name disks, not partitions).
disk_of()
{
	local mm sys
	mm=$(findmnt -no MAJ:MIN -T "$1" | head -1 | tr -d ' ')
	sys=/sys/dev/block/$mm
	[ -n "$mm" ] && [ -e "$sys" ] || return 1
	[ -e "$sys/partition" ] && mm=$(cat "$sys/../dev")
	echo "$mm"
}
blk_note=
if [ "$CG_MODE" != v1 ]; then
	blk_note="cgroup v2: the v1 blkio part does not apply"
elif ! dev=$(disk_of "$TEST_TMP"); then
	blk_note="$TEST_TMP is on no block device ($(findmnt -no SOURCE,FSTYPE -T "$TEST_TMP"))"
fi
if [ -z "$blk_note" ]; then
	bA=$(ct_cgroup ctA blkio)
	bB=$(ct_cgroup ctB blkio)
	for b in "$bA" "$bB"; do
		for f in blkio.throttle.read_bps_device blkio.throttle.write_bps_device; do
			echo "$dev 1000000000" >"$b/$f" || { blk_note="cannot set $f on $dev in $b"; break 2; }
		done
	done
fi
if [ -n "$blk_note" ]; then
	log "note: block I/O part not run: $blk_note"
else
	log "blk-throttle limit of 1 GB/s on $dev for ctA and ctB"
	mkdir "$TEST_TMP/io"
	out=$(in_init ctA sh -c 'dd if=/dev/zero of="$1" bs=1M count=20 oflag=direct conv=fsync 2>&1 &&
		dd if="$1" of=/dev/null bs=1M iflag=direct 2>&1' _ "$TEST_TMP/io/data") ||
		fail "ctA: O_DIRECT dd failed: $(echo $out)"
	log "ctA: dd: $(echo $out)"
	rm -f "$TEST_TMP/io/data"
	rmdir "$TEST_TMP/io"
	# diskstats: major minor name reads merged sectors ms writes merged sectors ms ...
	maj=${dev%:*} min=${dev#*:}
	# cg_sectors BLKIO_CGROUP: "read write" sectors the cgroup itself counts on $dev.
	cg_sectors()
	{
		awk -v d="$dev" '$1 == d && $2 == "Read" { r = $3 } $1 == d && $2 == "Write" { w = $3 }
			END { printf "%d %d\n", r / 512, w / 512 }' "$1/blkio.throttle.io_service_bytes_recursive"
	}
	# ct_sectors NAME: "read write" sectors of $dev in the container's diskstats
	# ("0 0" without a line), bracketed by its cgroup's own counters before and
	# after: "before | shown | after".
	ct_sectors()
	{
		local b a shown
		b=$(cg_sectors "$2")
		shown=$(in_container "$1" cat /proc/diskstats |
			awk -v a="$maj" -v b="$min" '$1 == a && $2 == b { r = $6; w = $10 } END { printf "%d %d\n", r, w }')
		a=$(cg_sectors "$2")
		echo "$b | $shown | $a"
	}
	sleep 0.3 # older than any cached value (--cache-ttl-ms, 100 by default)
	sA=$(ct_sectors ctA "$bA")
	sB=$(ct_sectors ctB "$bB")
	log "ctA sectors read/written on $dev: cgroup before | diskstats | cgroup after: $sA"
	log "ctB sectors read/written on $dev: cgroup before | diskstats | cgroup after: $sB"
	# Each container's diskstats shows what its own cgroup counted (values may
	# be a cache period old: 64 sectors of slack below).
	blk_ok=1
	for x in "ctA:$sA" "ctB:$sB"; do
		awk -F'|' '{ split($1, b, " "); split($2, s, " "); split($3, a, " ")
			exit !(s[1] >= b[1] - 64 && s[1] <= a[1] && s[2] >= b[2] - 64 && s[2] <= a[2]) }' <<<"${x#*:}" ||
			{ blk_ok=0; differs_upstream "${x%%:*}: diskstats sectors for $dev are not its cgroup's: ${x#*:}"; }
	done
	# The 20 MiB show in ctA's, and not in ctB's (which may show what its own
	# processes read or wrote: an evicted page of its shell paged in, say).
	awk -F'|' '{ split($2, s, " "); exit !(s[1] >= 40960 && s[2] >= 40960) }' <<<"$sA" ||
		{ blk_ok=0; differs_upstream "ctA: sectors read and written on $dev: $sA, expected both >= 40960 (20 MiB)"; }
	awk -F'|' '{ split($2, s, " "); exit !(s[1] < 2048 && s[2] < 2048) }' <<<"$sB" ||
		{ blk_ok=0; differs_upstream "ctB: sectors read and written on $dev: $sB, expected both < 2048 (1 MiB)"; }
	if [ $blk_ok = 1 ]; then
		log "ok: the 20 MiB of ctA show in its diskstats only, each container's sectors are its cgroup's"
	fi
fi

destroy_container ctA
destroy_container ctB
stop_lxcfs
pass
