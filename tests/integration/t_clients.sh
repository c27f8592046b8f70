#!/usr/bin/env bash
# Real clients in a real container show the container's figures.
#
# A container with 300 MiB and one CPU (cpuset "1"), in new pid and mount
# namespaces, with every lxcfs proc file bind-mounted over its /proc and
# sys/devices/system/cpu/online over /sys/devices/system/cpu/online, as
# runtimes do, and a cgroup of its own in every controller lxcfs reads. From
# a process entered with setns (lxc-attach, docker exec) and from one of the
# container's own processes (a child of its init):
#   free -b                    total 314572800
#   top -bn1                   "MiB Mem :" total 300.0, up 0 min
#   uptime, uptime -s          up a minute at most, the container's load average (-l);
#                              started when the container did
#   /proc/uptime               the container's age, advancing with the clock
#   vmstat 1 2, vmstat -s      memory columns within 300 MiB, 307200 K total memory,
#                              CPU percentages that add up to 100
#   grep -c ^processor /proc/cpuinfo, getconf _NPROCESSORS_ONLN,
#   python3 os.cpu_count()     1 (the host has more)
. "$(dirname "$0")/lib.sh"

# Run a client in container ct1, entered (setns) or as a child of its init.
client()
{
	local how=$1
	shift
	if [ "$how" = setns ]; then
		in_container ct1 "$@"
	else
		in_init ct1 "$@"
	fi
}

# cpulist_count LIST: how many CPUs "0,2-3" names.
cpulist_count()
{
	awk -F, '{ for (i = 1; i <= NF; i++) { n = split($i, r, "-"); c += n == 2 ? r[2] - r[1] + 1 : 1 } }
		END { print c + 0 }' <<<"$1"
}

[ "$(grep -c ^processor /proc/cpuinfo)" -ge 2 ] || skip "needs a host with 2 CPUs (the container gets CPU 1)"

start_lxcfs -l
ct_made_before=${EPOCHREALTIME}
make_container ct1 mem=300M cpus=1 files=meminfo,cpuinfo,stat,uptime,loadavg,swaps,diskstats
ct_made_after=${EPOCHREALTIME}
ct_join_cgroups ct1 cpu cpuacct blkio
ct_bind_cpu_online ct1
host_uptime=$(awk '{ print $1 }' /proc/uptime)
awk -v u="$host_uptime" 'BEGIN { exit !(u > 300) }' ||
	log "note: the host booted $host_uptime s ago: uptime checks tell it from the container's less well"

for how in setns init; do
	log "--- clients run from a process of ct1 ($how)"

	# free -b: the total, and the other columns within it.
	out=$(client $how free -b) || fail "$how: free -b failed"
	awk '/^Mem:/ { print $2 }' <<<"$out" | expect_eq 314572800 - "$how: free -b total"
	awk '/^Mem:/ { exit !($3 <= $2 && $4 <= $2 && $7 <= $2 && $4 > 0) }' <<<"$out" ||
		fail "$how: free -b columns outside the total: $(grep ^Mem: <<<"$out")"

	# top -bn1: memory in MiB, the container's uptime in its first line.
	out=$(client $how env TERM=dumb COLUMNS=200 top -bn1) || fail "$how: top -bn1 failed"
	awk '/^MiB Mem :/ { print $4 }' <<<"$out" | expect_eq 300.0 - "$how: top 'MiB Mem :' total"
	head -1 <<<"$out" | grep -Eq ' up [01] min,' ||
		fail "$how: top's first line does not show the container's age: $(head -1 <<<"$out")"
	log "ok: $how: top: $(head -1 <<<"$out")"

	# uptime: up a minute at most (the host has been up far longer).
	out=$(client $how uptime) || fail "$how: uptime failed"
	grep -Eq ' up [01] min,' <<<"$out" || fail "$how: uptime does not show the container's age: $out"
	log "ok: $how: uptime: $out"
	# Its load average is the container's /proc/loadavg (a 5 s sample may land
	# between the two reads: then once more).
	for try in 1 2 3; do
		out=$(client $how sh -c 'uptime; cat /proc/loadavg') || fail "$how: uptime failed"
		up=$(head -1 <<<"$out" | sed -n 's/.*load average: \([0-9.]*\), \([0-9.]*\), \([0-9.]*\)$/\1 \2 \3/p')
		la=$(tail -1 <<<"$out" | awk '{ print $1, $2, $3 }')
		[ -n "$up" ] && [ "$up" = "$la" ] && break
		log "$how: uptime's load average '$up', /proc/loadavg '$la' (try $try)"
	done
	expect_eq "$la" "$up" "$how: uptime's load average, as in the container's /proc/loadavg"
	# uptime -s: now minus /proc/uptime, to the second: when the container started.
	out=$(client $how uptime -s) || fail "$how: uptime -s failed"
	since=$(date -d "$out" +%s) || fail "$how: uptime -s printed '$out'"
	awk -v s="$since" -v a="${ct_made_before%.*}" -v b="${ct_made_after%.*}" \
		'BEGIN { exit !(s >= a - 2 && s <= b + 2) }' ||
		fail "$how: uptime -s says $out ($since), the container started between ${ct_made_before%.*} and ${ct_made_after%.*} (+- 2 s)"
	log "ok: $how: uptime -s = $out (container made at $(date -d "@${ct_made_before%.*}" +%T))"

	# /proc/uptime: the container's age, and it advances with the clock. The
	# reads are bracketed by the wall clock (two decimals: +- 0.01 each).
	out=$(client $how sh -c 'date +%s.%N; cat /proc/uptime; date +%s.%N; sleep 1
		date +%s.%N; cat /proc/uptime; date +%s.%N') || fail "$how: reading /proc/uptime failed"
	log "$how: /proc/uptime, 1 s apart, bracketed by the wall clock: $(echo $out)"
	mapfile -t l <<<"$out"
	[ ${#l[@]} = 6 ] || fail "$how: unexpected output reading /proc/uptime: $(echo $out)"
	"$PYTHON" - "$ct_made_before" "$ct_made_after" "${l[@]}" <<'EOF' || fail "$how: /proc/uptime: $(echo $out)"
import sys
made_a, made_b = float(sys.argv[1]), float(sys.argv[2])
t1a, u1, t1b, t2a, u2, t2b = sys.argv[3:9]
t1a, t1b, t2a, t2b = map(float, (t1a, t1b, t2a, t2b))
age1, idle1 = map(float, u1.split())
age2, idle2 = map(float, u2.split())
bad = []
# The container started between made_a and made_b; read between t1a and t1b.
if not (t1a - made_b - 0.02 <= age1 <= t1b - made_a + 0.02):
    bad.append("age %.2f, expected %.2f..%.2f" % (age1, t1a - made_b, t1b - made_a))
d = age2 - age1
if not (t2a - t1b - 0.02 <= d <= t2b - t1a + 0.02):
    bad.append("advanced %.2f s, the wall clock %.2f..%.2f s" % (d, t2a - t1b, t2b - t1a))
for age, idle in ((age1, idle1), (age2, idle2)):
    if not (0 <= idle <= age + 0.01):
        bad.append("idle %.2f outside 0..age %.2f" % (idle, age))
if bad:
    print("; ".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
	log "ok: $how: /proc/uptime is the container's age and advances with the clock"

	# vmstat 1 2: the memory columns (kB) within 300 MiB; the CPU columns, from
	# the container's /proc/stat, add up to 100 (each rounded).
	out=$(client $how vmstat 1 2) || fail "$how: vmstat 1 2 failed"
	log "$how: vmstat 1 2: $(tail -2 <<<"$out" | tr -s ' ' | tr '\n' '|')"
	[ "$(grep -cE '^ *[0-9]' <<<"$out")" = 2 ] || fail "$how: vmstat 1 2 printed no 2 sample lines: $out"
	awk '/^ *[0-9]/ {
		# r b swpd free buff cache si so bi bo in cs us sy id wa st
		if ($3 != 0) { print "swpd " $3 " with no swap"; bad = 1 }
		if ($4 <= 0 || $4 + $5 + $6 > 307200) { print "free+buff+cache " $4 "+" $5 "+" $6 " kB outside 300 MiB"; bad = 1 }
		s = $13 + $14 + $15 + $16 + $17
		if (s < 97 || s > 103) { print "us+sy+id+wa+st = " s; bad = 1 }
	} END { exit bad }' <<<"$out" >"$TEST_TMP/vmstat.bad" ||
		fail "$how: vmstat 1 2: $(head -1 "$TEST_TMP/vmstat.bad")"
	log "ok: $how: vmstat 1 2 memory columns within 300 MiB, CPU columns add up"
	# Its free column is the container's MemFree (as the container's free -k
	# shows it, give or take what changed in between).
	freekb=$(client $how free -k | awk '/^Mem:/ { print $4 }')
	expect_near "$freekb" "$(awk '/^ *[0-9]/ { f = $4 } END { print f }' <<<"$out")" 20480 \
		"$how: vmstat free kB against free -k"
	client $how vmstat -s | awk '/ K total memory$/ { print $1 }' | expect_eq 307200 - "$how: vmstat -s total memory (K)"

	# The CPU count, three ways.
	client $how grep -c ^processor /proc/cpuinfo | expect_eq 1 - "$how: processors in /proc/cpuinfo"
	client $how getconf _NPROCESSORS_ONLN | expect_eq 1 - "$how: getconf _NPROCESSORS_ONLN"
	client $how "$PYTHON" -c 'import os; print(os.cpu_count())' | expect_eq 1 - "$how: python3 os.cpu_count()"
	client $how cat /sys/devices/system/cpu/online | expect_eq 1 - "$how: /sys/devices/system/cpu/online"
	client $how grep -c '^cpu' /proc/stat | expect_eq 2 - "$how: cpu lines in /proc/stat (cpu, cpu0)"
done

# A reader in the host's pid namespace (this script) sees its own cpuset.
cg_own cpuset
own_cpus=$(cat "$CG_DIR/cpuset.cpus" 2>/dev/null || cat /sys/devices/system/cpu/online)
grep -c ^processor "$MNT/proc/cpuinfo" | expect_eq "$(cpulist_count "$own_cpus")" - \
	"host reader: processors in $MNT/proc/cpuinfo (own cpuset $own_cpus)"

destroy_container ct1
stop_lxcfs
pass
