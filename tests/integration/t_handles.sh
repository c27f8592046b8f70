#!/usr/bin/env bash
# No container can exhaust the shared handle table: each holds at most its share.
#
# lxcfs keeps one table of open files for every reader on the host (262,144 by
# default) and charges each open to the reader's container, which may hold
# 1/64 of it (4,096). Scenario:
#   hoard  four unprivileged processes (uid 65534) in container "hog" open its
#          files until refused, each open read by one byte (so its content is
#          kept too): together they get exactly the share, then EMFILE; the
#          refusals make a handful of log lines, not one per open; opening a
#          passed-through sys file (cpu/uevent) at the limit is refused too and
#          the daemon lives on (a NULL name there once crashed the master);
#          meanwhile two other containers read every served file whole, in 1-
#          and 7-byte reads, with no error and their own figures; lxcfs-ctl
#          status names the hog with its 4,096 handles and its refusals; when
#          the hoarders exit, every handle and chunk is back.
#   many   one hoarder in each of 20 containers: each gets its whole share
#          (81,920 open in all) and the victims still read with no error.
#   full   with --max-handles 64 and a share of all 64, a full table: ENFILE
#          for every open, cpu/uevent's too (the master once crashed
#          logging that refusal), and the master lives.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_load.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs has one handle table for all, without shares"

SHARE=4096
MANY=${HANDLES_CONTAINERS:-20}
FDHOLD=$(tool_bin fdhold)
FC=$(tool_bin filecheck)
NPROC=$(nproc)
ALL_CPUS=0
[ "$NPROC" -ge 2 ] && ALL_CPUS=0-$((NPROC - 1))
VICTIM_FILES=meminfo,cpuinfo,stat,uptime,loadavg,diskstats,swaps,slabinfo

start_lxcfs
[ "$(ctl_json status 'd["handles"]["total"]')" = 262144 ] || fail "table of $(ctl_json status 'd["handles"]["total"]') handles, not 262144"
[ "$(ctl_json status 'd["handles"]["per_container"]')" = "$SHARE" ] ||
	fail "a container's share is $(ctl_json status 'd["handles"]["per_container"]'), not $SHARE"

make_container hog mem=300M files=meminfo,cpuinfo,stat,uptime
make_container v1 mem=256M cpus=0 files=$VICTIM_FILES
make_container v2 mem=384M cpus=$ALL_CPUS files=$VICTIM_FILES
declare -A VMEM=([v1]=262144 [v2]=393216) VCPUS=([v1]=1 [v2]=$NPROC)

# victims_start SECONDS CHUNK: a reader in v1 and in v2, as uid 65534, of every
# served file, whole, CHUNK bytes per read(2), checked against its container.
# A whole slabinfo in 1-byte reads takes tens of thousands of requests: the
# bound on a read's wait is the deadline's own, for each of them, not a file's.
VJOBS=()
victims_start()
{
	local ct
	for ct in v1 v2; do
		VJOBS+=("$ct $(in_init_bg "$ct" setpriv --reuid 65534 --regid 65534 --clear-groups \
			"$FC" --tag "$ct/chunk$2" --seconds "$1" --chunk "$2" \
			--mem-total "${VMEM[$ct]}" --cpus "${VCPUS[$ct]}" \
			/proc/meminfo /proc/cpuinfo /proc/stat /proc/uptime /proc/loadavg /proc/diskstats \
			/proc/swaps /proc/slabinfo "$MNT/proc/pressure/cpu" "$MNT/proc/pressure/io" \
			"$MNT/proc/pressure/memory" "$MNT/sys/devices/system/cpu/online")")
	done
}

victims_check()
{
	local r ct job out
	for r in "${VJOBS[@]}"; do
		read -r ct job <<<"$r"
		out=$(init_wait "$ct" "$job" 120 2>&1) || fail "victim in $ct: $(tr '\n' ' ' <<<"$out")"
		log "victim $(grep ops= <<<"$out")"
	done
	VJOBS=()
}

# hoarders_start CT N: N hoarders (uid 65534) in CT, each until refused.
HJOBS=()
hoarders_start()
{
	local ct=$1 n=$2 i
	shift 2
	for ((i = 0; i < n; i++)); do
		HJOBS+=("$ct $(in_init_bg "$ct" prlimit --nofile=8192:8192 \
			setpriv --reuid 65534 --regid 65534 --clear-groups \
			"$FDHOLD" --stop-file "$TEST_TMP/hoard.stop" --seconds 240 "$@" \
			/proc/meminfo /proc/cpuinfo /proc/stat /proc/uptime)")
	done
}

# hoarders_report: wait for every hoarder's report line; sets OPENED (sum)
# and ERRNOS (the failures, sorted and counted).
hoarders_report()
{
	local r ct job f
	OPENED=0 ERRNOS=
	for r in "${HJOBS[@]}"; do
		read -r ct job <<<"$r"
		f=${CT_DIR[$ct]}/jobs/$job/out
		wait_for 120 grep -q opened= "$f" || fail "hoarder $job in $ct reported nothing: $(cat "${f%/out}/err")"
		OPENED=$((OPENED + $(sed -n 's/^opened=\([0-9]*\).*/\1/p' "$f")))
		ERRNOS+="$(sed -n 's/.*failed_errno=\([A-Z]*\).*/\1/p' "$f") "
	done
	ERRNOS=$(tr ' ' '\n' <<<"$ERRNOS" | grep . | sort | uniq -c | tr -s ' \n' ' ')
}

hoarders_stop()
{
	local r ct job
	: >"$TEST_TMP/hoard.stop"
	for r in "${HJOBS[@]}"; do
		read -r ct job <<<"$r"
		init_wait "$ct" "$job" 60 >/dev/null || fail "hoarder $job in $ct did not end"
	done
	HJOBS=()
	rm -f "$TEST_TMP/hoard.stop"
}

# --- hoard: one container at its share, two others reading everything
refusal_lines0=$(grep -c 'opens refused' "$LXCFS_LOG")
hoarders_start hog 4 --read 1
hoarders_report
log "hog: 4 hoarders opened $OPENED files (refused: $ERRNOS)"
[ "$OPENED" = "$SHARE" ] || fail "the hog's hoarders got $OPENED files open, not its share of $SHARE"
[ "$(tr -d ' ' <<<"$ERRNOS")" = 4EMFILE ] || fail "hoarders refused with $ERRNOS, not EMFILE each"

# At its limit, a passed-through sys file is refused the same way, and the master lives.
out=$(in_container hog setpriv --reuid 65534 --regid 65534 --clear-groups "$PYTHON" -c '
import os, sys
try:
    os.close(os.open(sys.argv[1], os.O_RDONLY))
    print("opened")
except OSError as e:
    print(e.errno)' "$MNT/sys/devices/system/cpu/uevent")
[ "$out" = 24 ] || fail "open of cpu/uevent at the hog's limit gave '$out', not EMFILE (24)"
pid_alive "$LXCFS_PID" || fail "the master died on a refused open of a passed-through file"

for chunk in 1 7; do
	victims_start 4 "$chunk"
	victims_check
done
head -c 64 "$MNT/sys/devices/system/cpu/uevent" >/dev/null || fail "the host cannot open cpu/uevent"

status=$(ctl --json status) || fail "lxcfs-ctl status failed"
"$PYTHON" - "$status" "$SHARE" <<'EOF' || fail "lxcfs-ctl status does not show the hog at its share"
import json, sys
d = json.loads(sys.argv[1]); share = int(sys.argv[2])
top = d["container"][0]
assert top["cgroup"].endswith("/hog"), top
assert top["handles"] == share and top["refused"] >= 5, top
assert d["handles"]["in_use"] >= share, d["handles"]
print("# status: %s holds %d handles, %d chunks, %d opens refused; %d of %d in use" % (
    top["cgroup"], top["handles"], top["chunks"], top["refused"], d["handles"]["in_use"],
    d["handles"]["total"]), file=sys.stderr)
EOF
lines=$(($(grep -c 'opens refused' "$LXCFS_LOG") - refusal_lines0))
log "refusal log lines: $lines"
[ "$lines" -ge 1 ] && [ "$lines" -le 6 ] || fail "$lines log lines for the hog's refusals (one per container per 10 s expected)"

hoarders_stop
wait_for 10 eval '[ "$(ctl_json status "d[\"handles\"][\"in_use\"]")" -lt 16 ]' ||
	fail "handles still in use after the hoarders exited: $(ctl_json status 'd["handles"]')"
wait_for 10 eval '[ "$(ctl_json status "d[\"master\"][\"chunks_in_use\"]")" -lt 16 ]' ||
	fail "content chunks still in use after the hoarders exited: $(ctl_json status 'd["master"]["chunks_in_use"]')"

# --- many: a hoarder in each of MANY containers; the table still has room for the others
for ((i = 0; i < MANY; i++)); do
	make_container "h$i" mem=64M files=meminfo,cpuinfo,stat,uptime
done
for ((i = 0; i < MANY; i++)); do
	hoarders_start "h$i" 1
done
victims_start 6 7
hoarders_report
victims_check
log "$MANY containers: $OPENED files held (refused: $ERRNOS)"
[ "$OPENED" = $((MANY * SHARE)) ] || fail "$MANY hoarders got $OPENED files open, not $MANY x $SHARE"
in_use=$(ctl_json status 'd["handles"]["in_use"]')
log "handles in use: $in_use of 262144"
hoarders_stop
for ((i = 0; i < MANY; i++)); do
	destroy_container "h$i"
done

# --- full: a table so small that one container may fill it (its share is all of it):
# then every open is ENFILE, a passed-through sys file's too, and the master lives.
stop_lxcfs
start_lxcfs --max-handles 64 --container-handles 64
out=$("$PYTHON" - "$MNT" <<'EOF'
import os, sys
fds = []
try:
    while True:
        fds.append(os.open(sys.argv[1] + "/proc/meminfo", os.O_RDONLY))
except OSError as e:
    first = e.errno
try:
    os.close(os.open(sys.argv[1] + "/sys/devices/system/cpu/uevent", os.O_RDONLY))
    second = 0
except OSError as e:
    second = e.errno
print(len(fds), first, second)
EOF
)
log "a full table of 64: opened, then errnos: $out"
[ "$out" = "64 23 23" ] || fail "with the table full: '$out', not 64 opens then ENFILE (23) twice"
pid_alive "$LXCFS_PID" || fail "the master died on a full table"
head -c 9 "$MNT/proc/meminfo" | grep -q MemTotal || fail "nothing served after the table emptied"
pass
