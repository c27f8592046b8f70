#!/usr/bin/env bash
# A container restarted under the same name (lxc-stop -k; lxc-start, docker
# restart) is a new container: its cgroups are made again at the same paths,
# and nothing lxcfs kept for the old ones may stick to them.
#
#  1. Container web (one CPU, cpu and cpuacct cgroups of its own, stat,
#     loadavg and uptime bound, -l) burns CPU until its /proc/stat shows at
#     least 3 s of it and its load average has been sampled above 0: lxcfs
#     now keeps a never-backwards floor and load averages for it. A reader
#     in the host's pid namespace, put in web's cgroups, reads them too (it
#     sees its own cgroup: the container's).
#  2. web is restarted (restart_container): the host reader is moved out to
#     the test's own cgroups for the moment web has none, then back in. A
#     reader starts in the new web at once. Both keep their files open and
#     read them from offset 0 (each such read renders afresh) every 100 ms,
#     as top does.
#  3. A busy loop of 3 s of CPU time in the new web. Each reader's first
#     figures are the new life's (user+system below the old life's, 1-min
#     load 0.00, the in-container reader's uptime that of the new init), and
#     user+system of its cpu line grows by at least half of 3 s x USER_HZ
#     (upstream: +300) instead of staying at the old life's figures until
#     the new ones pass them.
. "$(dirname "$0")/lib.sh"

HZ=100
LOOP_CPU_S=3

start_lxcfs -l

cat >"$TEST_TMP/reader.py" <<'EOF'
# reader.py OUT STOP STAT LOADAVG UPTIME: keep the three files open and read
# each from offset 0 every 100 ms until STOP exists; one line per round:
# "<monotonic s> <user+system of the cpu line> <1-min load> <uptime s>".
import os, sys, time
out, stop = sys.argv[1], sys.argv[2]
fds = [os.open(p, os.O_RDONLY) for p in sys.argv[3:6]]
with open(out, "w", buffering=1) as o:
    while not os.path.exists(stop):
        stat, load, up = (os.pread(fd, 65536, 0).decode() for fd in fds)
        w = stat.split("\n")[0].split()
        assert w[0] == "cpu", stat[:40]
        o.write("%.3f %d %s %s\n" % (time.monotonic(), int(w[1]) + int(w[3]), load.split()[0],
                                     up.split()[0]))
        time.sleep(0.1)
EOF
# Usage figures of the last line a reader wrote: "<user+system> <1-min load> <uptime>".
last_of() { tail -1 "$1" | cut -d' ' -f2-; }
first_of() { head -1 "$1" | cut -d' ' -f2-; }

# move_to PID DIR...: PID into each cgroup DIR.
move_to()
{
	local pid=$1 d
	shift
	for d in "$@"; do
		echo "$pid" >"$d/cgroup.procs" || fail "cannot move $pid into $d"
	done
}

# --- 1. A busy past.
make_container web cpus=0 files=stat,loadavg,uptime
ct_join_cgroups --need web cpu cpuacct
in_container web cat /proc/loadavg >/dev/null # the load averages start at the first read
busy=$(in_init_bg web bash -c 'while [ ! -e "$1" ]; do :; done' _ "$TEST_TMP/busy1.stop")
"$PYTHON" "$TEST_TMP/reader.py" "$TEST_TMP/host.out" "$TEST_TMP/readers.stop" \
	"$MNT/proc/stat" "$MNT/proc/loadavg" "$MNT/proc/uptime" &
hostreader=$!
record_pid reader "$hostreader"
# shellcheck disable=SC2086 # a list of folders
move_to "$hostreader" ${CT_CGS[web]}
past_ok()
{
	local s
	s=$(in_container web cat /proc/stat /proc/loadavg | awk '
		$1 == "cpu" { busy = $2 + $4 } NF == 5 && $4 ~ /\// { load = $1 }
		END { print busy, load }')
	read -r OLD_BUSY OLD_LOAD <<<"$s"
	[ "${OLD_BUSY:-0}" -ge $((LOOP_CPU_S * HZ)) ] && [ "${OLD_LOAD:-0.00}" != 0.00 ]
}
wait_for 30 past_ok || fail "web's past: $OLD_BUSY ticks, load $OLD_LOAD after 30 s of its busy loop"
touch "$TEST_TMP/busy1.stop"
init_wait web "$busy" 30 >/dev/null || fail "web's first busy loop did not stop"
past_ok
log "web before the restart: user+system $OLD_BUSY ticks, 1-min load $OLD_LOAD; host reader: $(last_of "$TEST_TMP/host.out")"

# --- 2. Restarted under the same name, readers waiting.
own=()
for d in ${CT_CGS[web]}; do own+=("$(dirname "$(dirname "$d")")"); done
move_to "$hostreader" "${own[@]}"
restart_container web
# shellcheck disable=SC2086
move_to "$hostreader" ${CT_CGS[web]}
restarted_at=$EPOCHREALTIME
rd=$(in_init_bg web "$PYTHON" "$TEST_TMP/reader.py" "$TEST_TMP/ct.out" "$TEST_TMP/readers.stop" \
	/proc/stat /proc/loadavg /proc/uptime)
wait_for 10 test -s "$TEST_TMP/ct.out" || fail "the reader in the new web wrote nothing"
# The host reader's reads from here on are in the new cgroups (those while it
# was out are of another cgroup).
sleep 0.3
host_from=$(($(wc -l <"$TEST_TMP/host.out") + 1))

# --- 3. 3 s of CPU in the new web.
loop=$(in_init_bg web "$PYTHON" -c '
import sys, time
w0 = time.monotonic()
while time.process_time() < float(sys.argv[1]):
    pass
print("%.3f %.3f" % (time.process_time(), time.monotonic() - w0))' $LOOP_CPU_S)
loop_out=$(init_wait web "$loop" 60) || fail "the busy loop of the new web failed: $loop_out"
sleep 0.3 # a last round of reads
touch "$TEST_TMP/readers.stop"
init_wait web "$rd" 30 >/dev/null || fail "the reader in the new web: $(cat "${CT_DIR[web]}/jobs/$rd/err")"
wait "$hostreader" || fail "the host reader failed"
read -r cpu_s wall_s <<<"$loop_out"
log "busy loop: $cpu_s s of CPU in $wall_s s"

# Each reader: the new life from its first read, and the loop's ticks.
check_reader()
{
	local what=$1 out=$2 first last grew
	read -r -a first <<<"$(first_of "$out")"
	read -r -a last <<<"$(last_of "$out")"
	grew=$((last[0] - first[0]))
	log "$what: user+system ${first[0]} -> ${last[0]} (+$grew ticks), 1-min load ${first[1]} -> ${last[1]}, uptime ${first[2]} -> ${last[2]}"
	[ "${first[0]}" -lt "$OLD_BUSY" ] ||
		fail "$what: first read after the restart shows user+system ${first[0]}, the old life's $OLD_BUSY"
	[ "${first[1]}" = 0.00 ] ||
		fail "$what: first read after the restart shows a 1-min load of ${first[1]}, the old life's (was $OLD_LOAD)"
	[ $grew -ge $((LOOP_CPU_S * HZ / 2)) ] ||
		fail "$what: user+system grew by $grew ticks over a busy loop of $LOOP_CPU_S s of CPU (at least $((LOOP_CPU_S * HZ / 2)) expected)"
}
check_reader "reader in the new web" "$TEST_TMP/ct.out"
# The in-container reader's uptime is the new init's age: less than the time since the restart.
since=$(awk -v a="$restarted_at" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
awk -v u="$(first_of "$TEST_TMP/ct.out" | cut -d' ' -f3)" -v s="$since" 'BEGIN { exit !(u <= s + 1) }' ||
	fail "web's uptime after the restart is $(first_of "$TEST_TMP/ct.out" | cut -d' ' -f3) s, its init is $since s old"
tail -n +"$host_from" "$TEST_TMP/host.out" >"$TEST_TMP/host.new"
check_reader "host reader in web's cgroups" "$TEST_TMP/host.new"

destroy_container web
stop_lxcfs
pass
