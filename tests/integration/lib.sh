# shellcheck shell=bash
#
# Integration test helpers, sourced by each tests/integration/t_*.sh.
#
# A test reads as a scenario:
#
#   . "$(dirname "$0")/lib.sh"
#   start_lxcfs
#   make_container ct1 mem=300M
#   in_container ct1 free -b | awk '/^Mem:/ {print $2}' | expect_eq 314572800 - "free -b total"
#   destroy_container ct1
#   stop_lxcfs
#   pass
#
# The last line a test prints is "PASS <name>", "FAIL <name>: <reason>" or
# "SKIP <name>: <reason>"; it exits 0 unless it failed. Progress goes to stderr.
#
# Helpers:
#   start_lxcfs [ARGS]        mount on $MNT (runtime dir $RUNDIR, log $LXCFS_LOG), wait until served
#   stop_lxcfs                SIGTERM; master and workers gone, no mount, no sanitizer report
#   lxcfs_worker_pids         the master's lxcfs-worker children (ours)
#   lxcfs_kill_whole          SIGKILL standby, master and workers at once: the mount is left
#                             with no server (ENOTCONN)
#   lxcfs_ctl_workers         "pid state" per worker, as lxcfs-ctl status reports them (ours)
#   make_container NAME [mem=SIZE] [cpus=LIST] [files=meminfo,...]
#                             cgroup below ours + init in new pid and mount namespaces,
#                             $MNT/proc/<file> bind-mounted over /proc/<file>;
#                             files=none (or files=) binds nothing: a container started
#                             before lxcfs (set MNT, or start_lxcfs, first)
#   in_container NAME CMD     CMD entered with nsenter -p -m (like lxc-attach, docker exec)
#   in_init NAME CMD          CMD run as a child of the container's init (in its cgroup)
#   in_init_bg / init_wait / init_job_out   the same, in the background
#   destroy_container NAME... kill their pid namespaces, remove their cgroups
#   ct_join_cgroups [--need] NAME CTRL...  cgroups in more v1 hierarchies (cpu, cpuacct, blkio)
#   restart_container NAME    destroyed and made again as before: new cgroups at the same
#                             paths, a new init (lxc-stop -k; lxc-start, docker restart)
#   ct_bind_cpu_online NAME   bind lxcfs' sys/devices/system/cpu/online in the container
#   readloop_bin              path of tests/tools/readloop for this build
#   expect_eq, expect_near, meminfo_kb, fail, skip, differs_upstream, pass
#
# Environment:
#   LXCFS_IMPL        "ours" (default) or "upstream" (the distribution's /usr/bin/lxcfs)
#   LXCFS_BUILD       build folder of ours (default <repo>/build): lxcfs, lxcfs-worker, tools/
#   LXCFS_WORKERS     --workers given to ours unless the test passes its own (default 2)
#   LXCFS_TEST_TMPDIR where the test's private folder is made (default /tmp); the runner
#                     points it at a folder of its own so it can reap what a killed test left
#   UPSTREAM_LXCFS    upstream binary (default /usr/bin/lxcfs)
#   LXCFS_TEST_KEEPDIR where a failed test's logs are kept (default /tmp)
#   IN_CONTAINER_TIMEOUT  seconds allowed to one in_container / in_init command (default 60)
#   PYTHON            python3 to use (default /usr/bin/python3)
#
# Everything a test creates is written down in $TEST_TMP/state as it is created
# (pids with their start times, cgroups, mounts, paths and folders outside
# $TEST_TMP), and removed on every path: the EXIT/INT/TERM traps here, or
# reap_test_dir run by the runner when the test had to be killed. Cgroups are
# only made below the test's own cgroup; processes are only ended by pid, and
# only ones the test started (or put in its own cgroups, or in cgroups a
# runtime made below them). Whatever is still mounted below $TEST_TMP at the
# end is the test's too (a runtime's own mounts: dockerd's data root) and is
# unmounted.

set -u

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LIB_DIR/../.." && pwd)
LXCFS_IMPL=${LXCFS_IMPL:-ours}
LXCFS_BUILD=${LXCFS_BUILD:-$REPO_ROOT/build}
case $LXCFS_BUILD in /*) ;; *) LXCFS_BUILD=$REPO_ROOT/$LXCFS_BUILD ;; esac
UPSTREAM_LXCFS=${UPSTREAM_LXCFS:-/usr/bin/lxcfs}
# The distribution's python: a pyenv shim under /root is neither fast nor
# reachable by an unprivileged user.
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=$(command -v python3); fi
fi

# ---------------------------------------------------------------------------
# Small utilities

log()
{
	printf '# [%s %s] %s\n' "${TEST_NAME:-lib}" "$(date +%T)" "$*" >&2
}

# wait_for SECONDS CMD...: run CMD every 50 ms until it succeeds; 1 on timeout.
wait_for()
{
	local limit=$1 start=$SECONDS
	shift
	while :; do
		"$@" && return 0
		[ $((SECONDS - start)) -ge "$limit" ] && return 1
		sleep 0.05
	done
}

# Start time of a pid (field 22 of /proc/PID/stat), to tell a pid from a reused one.
proc_start()
{
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo "${20}"
}

# State letter of a pid (R, S, Z, ...), empty when gone.
proc_state()
{
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}

# True while PID runs (a zombie counts as gone).
pid_alive()
{
	local st
	st=$(proc_state "$1")
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Every descendant of PID, children before grandchildren.
pid_descendants()
{
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			q[0] = root; head = 0; tail = 1
			while (head < tail) {
				n = split(kids[q[head++]], c, " ")
				for (i = 1; i <= n; i++) { print c[i]; q[tail++] = c[i] }
			}
		}'
}

# ---------------------------------------------------------------------------
# State: what this test made, one file per kind, so that any path can undo it.

state_add()
{
	printf '%s\n' "$2" >>"$TEST_TMP/state/$1"
}

state_del()
{
	local f=$TEST_TMP/state/$1
	[ -f "$f" ] || return 0
	grep -vxF -- "$2" "$f" >"$f.new"
	mv "$f.new" "$f"
}

# record_pid ROLE PID: remember PID (with its start time) for cleanup.
record_pid()
{
	local start
	start=$(proc_start "$2") || return 0
	state_add pids "$2 $start $1"
}

# Signal a recorded "PID START" only if it is still that process.
kill_recorded()
{
	local sig=$1 pid=$2 start=$3
	[ "$(proc_start "$pid")" = "$start" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null
	return 0
}

# reap_test_dir DIR: undo whatever the test with private folder DIR left: its
# containers' processes and cgroups, its daemon, its mounts. Safe to run twice.
# cg_kill_all CG: SIGKILL whatever runs in cgroup CG until it is empty (5 s at most).
cg_kill_all()
{
	local p
	for _ in $(seq 100); do
		p=$(cat "$1/cgroup.procs" 2>/dev/null)
		[ -z "$p" ] && break
		# shellcheck disable=SC2086
		kill -KILL $p 2>/dev/null
		sleep 0.05
	done
}

# cg_kill_tree CG: cg_kill_all for CG and then every cgroup below it: a
# runtime the test started (LXC, dockerd) makes cgroups of its own below ours.
# Each reached by a path relative to its parent, as in cg_rmtree.
cg_kill_tree()
{
	(
		cd "$1" 2>/dev/null || exit 0
		shopt -s dotglob # LXC's inner cgroup is ".lxc"
		cg_kill_all .
		for c in */; do [ -d "$c" ] && cg_kill_tree "${c%/}"; done
		exit 0
	)
}

# cg_rmtree DIR: remove cgroup DIR and every cgroup below it, deepest first,
# each reached by a path relative to its parent: the absolute paths of a deep
# tree can be longer than PATH_MAX.
cg_rmtree()
{
	(
		cd "$1" 2>/dev/null || exit 0
		shopt -s dotglob
		for c in */; do [ -d "$c" ] && cg_rmtree "${c%/}"; done
		exit 0
	)
	rmdir "$1"
}

# Used by the test's own traps and by the runner after a test it had to kill.
reap_test_dir()
{
	local dir=$1 st=$1/state pid start role cg mnt p i base rel d
	local -a cglist=()
	[ -d "$st" ] || return 0
	# Helpers and containers first (killing a pid-namespace init kills the namespace).
	if [ -f "$st/pids" ]; then
		while read -r pid start role; do
			case $role in daemon | worker) ;; *) kill_recorded KILL "$pid" "$start" ;; esac
		done <"$st/pids"
		# (a standby is killed with the helpers: it must not take over from the daemon)
	fi
	if [ -f "$st/cgroups" ]; then
		mapfile -t cglist <"$st/cgroups"
		# Whatever still runs in our cgroups is ours: kill it, deepest cgroup first.
		for ((i = ${#cglist[@]} - 1; i >= 0; i--)); do
			cg=${cglist[i]}
			# Only ever cgroups this library made (a guard against a bad state file).
			case $cg in */lxcfs-test.*) ;; *) continue ;; esac
			[ -d "$cg" ] || continue
			cg_kill_tree "$cg"
		done
	fi
	# Then the daemon: SIGTERM so it unmounts, SIGKILL if it does not go.
	if [ -f "$st/pids" ]; then
		while read -r pid start role; do
			[ "$role" = daemon ] || continue
			kill_recorded TERM "$pid" "$start"
			for _ in $(seq 100); do
				pid_alive "$pid" || break
				sleep 0.1
			done
			kill_recorded KILL "$pid" "$start"
		done <"$st/pids"
		while read -r pid start role; do
			[ "$role" = worker ] && kill_recorded KILL "$pid" "$start"
		done <"$st/pids"
		: >"$st/pids"
	fi
	if [ -f "$st/mounts" ]; then
		while read -r mnt; do
			if mountpoint -q "$mnt" 2>/dev/null || grep -q " $mnt " /proc/mounts; then
				umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
			fi
		done <"$st/mounts"
		: >"$st/mounts"
	fi
	# Then whatever a runtime mounted below the folder itself, deepest first.
	awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r mnt; do
			umount -l "$mnt" 2>/dev/null || echo "reap: cannot unmount $mnt" >&2
		done
	# Paths made for the test outside its folder, "BASE REL" (such as LXC's
	# lock folder for the test's lxcpath, /run/lxc/lock + the lxcpath): BASE/REL
	# removed, then its parents below BASE while they are empty.
	if [ -f "$st/paths" ]; then
		while read -r base rel; do
			case $rel in */lxcfs-test.*) ;; *) continue ;; esac
			rm -rf -- "$base$rel"
			d=$(dirname "$base$rel")
			while [ "${#d}" -gt "${#base}" ] && rmdir "$d" 2>/dev/null; do d=$(dirname "$d"); done
		done <"$st/paths"
		: >"$st/paths"
	fi
	# Folders a runtime made outside it only because the test ran it first
	# (dockerd's /run/docker): removed while empty, deepest first.
	if [ -f "$st/dirs" ]; then
		sort -r "$st/dirs" | while read -r d; do rmdir "$d" 2>/dev/null; done
		: >"$st/dirs"
	fi
	if [ ${#cglist[@]} -gt 0 ]; then
		for ((i = ${#cglist[@]} - 1; i >= 0; i--)); do
			cg=${cglist[i]}
			case $cg in */lxcfs-test.*) ;; *) continue ;; esac
			[ -d "$cg" ] || continue
			wait_for 5 cg_rmtree "$cg" 2>/dev/null || echo "reap: cannot remove cgroup $cg" >&2
		done
		: >"$st/cgroups"
	fi
	# Remove the folder only when nothing is mounted below it any more.
	if ! grep -q " $dir/" /proc/mounts; then
		rm -rf "$dir"
	else
		echo "reap: $dir still has mounts, left in place" >&2
	fi
}

# ---------------------------------------------------------------------------
# Verdicts

# fail REASON: the test fails with REASON (the first reason given wins). Works
# from a pipeline stage or a background job too: the main shell is told.
fail()
{
	[ -s "$TEST_TMP/fail_reason" ] || printf '%s\n' "$*" >"$TEST_TMP/fail_reason"
	log "FAIL: $*"
	[ "${FINISHING:-0}" = 1 ] && return 1
	if [ "$BASHPID" != "$TEST_MAIN_PID" ]; then
		kill -USR1 "$TEST_MAIN_PID" 2>/dev/null
		exit 1
	fi
	exit 1
}

skip()
{
	printf '%s\n' "$*" >"$TEST_TMP/skip_reason"
	log "SKIP: $*"
	[ "$BASHPID" = "$TEST_MAIN_PID" ] || kill -USR1 "$TEST_MAIN_PID" 2>/dev/null
	exit 0
}

# differs_upstream REASON: a failure for ours; for upstream a known difference,
# only noted (upstream behaviour the specification improves on).
differs_upstream()
{
	if [ "$LXCFS_IMPL" = upstream ]; then
		log "note (upstream differs): $*"
		return 0
	fi
	fail "$*"
}

pass()
{
	exit 0
}

# expect_eq EXPECTED [ACTUAL|-] [WHAT]: ACTUAL from stdin when "-" or absent.
expect_eq()
{
	local exp=$1 act what=${3:-value}
	if [ $# -ge 2 ] && [ "$2" != - ]; then act=$2; else act=$(cat); fi
	[ "$act" = "$exp" ] || fail "$what: expected '$exp', got '$act'"
	log "ok: $what = $act"
}

# expect_near EXPECTED ACTUAL|- TOLERANCE [WHAT]: |ACTUAL - EXPECTED| <= TOLERANCE.
expect_near()
{
	local exp=$1 act=$2 tol=$3 what=${4:-value}
	[ "$act" = - ] && act=$(cat)
	if ! awk -v e="$exp" -v a="$act" -v t="$tol" \
		'BEGIN { if (a !~ /^-?[0-9.]+$/) exit 1; d = a - e; if (d < 0) d = -d; exit !(d <= t) }'; then
		fail "$what: expected $exp +- $tol, got '$act'"
	fi
	log "ok: $what = $act (expected $exp +- $tol)"
}

# meminfo_kb FIELD: the kB value of FIELD ("MemFree") in the meminfo text on stdin.
meminfo_kb()
{
	awk -v f="$1:" '$1 == f { print $2; found = 1; exit } END { exit !found }'
}

# ---------------------------------------------------------------------------
# The daemon

LXCFS_PID=
LXCFS_STARTED=0

# start_lxcfs [ARGS...]: mount ours (or upstream) on a private mount point.
# Sets MNT, RUNDIR, LXCFS_PID, LXCFS_LOG.
start_lxcfs()
{
	local -a cmd
	local a has_workers=0
	MNT=$TEST_TMP/mnt
	RUNDIR=$TEST_TMP/run
	LXCFS_LOG=$TEST_TMP/lxcfs.log
	# A mount left by a daemon killed whole (lxcfs_kill_whole) answers ENOTCONN
	# to mkdir's stat: lxcfs detaches it, nothing to say here.
	mkdir -p "$MNT" "$RUNDIR" 2>/dev/null
	for a in "$@"; do [ "$a" = --workers ] && has_workers=1; done
	if [ "$LXCFS_IMPL" = upstream ]; then
		[ -x "$UPSTREAM_LXCFS" ] || fail "no upstream lxcfs at $UPSTREAM_LXCFS"
		cmd=("$UPSTREAM_LXCFS" -f -p "$RUNDIR/lxcfs.pid" "$@" "$MNT")
	else
		[ -x "$LXCFS_BUILD/lxcfs" ] || fail "no daemon at $LXCFS_BUILD/lxcfs (make binaries?)"
		cmd=("$LXCFS_BUILD/lxcfs" -f --runtime-dir "$RUNDIR"
			--worker-binary "$LXCFS_BUILD/lxcfs-worker")
		[ $has_workers = 1 ] || cmd+=(--workers "${LXCFS_WORKERS:-2}")
		cmd+=("$@" "$MNT")
	fi
	state_add mounts "$MNT"
	log "start: ${cmd[*]}"
	"${cmd[@]}" </dev/null >>"$LXCFS_LOG" 2>&1 &
	LXCFS_PID=$!
	LXCFS_CHILD=$LXCFS_PID
	record_pid daemon "$LXCFS_PID"
	LXCFS_STARTED=1
	if ! wait_for 10 lxcfs_ready; then
		pid_alive "$LXCFS_PID" || fail "lxcfs exited at start: $(tail -3 "$LXCFS_LOG" | tr '\n' ' ')"
		fail "lxcfs not serving $MNT/proc/meminfo after 10 s"
	fi
	lxcfs_worker_pids >/dev/null
	[ "$LXCFS_IMPL" = upstream ] || wait_for 5 eval '[ -n "$(lxcfs_standby_pid)" ]' ||
		log "no standby master under pid $LXCFS_PID"
	log "lxcfs pid $LXCFS_PID serving $MNT"
}

lxcfs_ready()
{
	pid_alive "$LXCFS_PID" || return 1
	mountpoint -q "$MNT" || return 1
	timeout 5 head -c 9 "$MNT/proc/meminfo" 2>/dev/null | grep -q '^MemTotal:'
}

# Worker pids of ours: the master's children named lxcfs-worker (recorded for cleanup).
lxcfs_worker_pids()
{
	local p shm=
	[ "$LXCFS_IMPL" = upstream ] && return 0
	# Our workers map the master's shared memory on fd 4. After a master was
	# replaced they are no longer its children, so they are told by that file.
	for p in /proc/"$LXCFS_PID"/fd/*; do
		case $(readlink "$p" 2>/dev/null) in
		/memfd:lxcfs-shm*)
			shm=$(stat -L -c %i "$p" 2>/dev/null)
			break
			;;
		esac
	done
	[ -n "$shm" ] || return 0
	for p in $(pgrep -x lxcfs-worker 2>/dev/null); do
		[ "$(stat -L -c %i "/proc/$p/fd/4" 2>/dev/null)" = "$shm" ] || continue
		pid_alive "$p" || continue
		grep -q "^$p " "$TEST_TMP/state/pids" 2>/dev/null || record_pid worker "$p"
		echo "$p"
	done
}

# The standby master of ours (it takes over if the master dies): recorded, so
# that a test killed midway leaves no daemon behind to take over.
lxcfs_standby_pid()
{
	local p
	[ "$LXCFS_IMPL" = upstream ] && return 0
	for p in $(pgrep -P "$LXCFS_PID" 2>/dev/null); do
		case " $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) " in
		*" --standby "*)
			grep -q "^$p " "$TEST_TMP/state/pids" 2>/dev/null || record_pid standby "$p"
			echo "$p"
			;;
		esac
	done
}

# lxcfs_adopt_master: after the master was replaced (its standby took over, or
# lxcfs --takeover), the daemon is the pid in the pidfile: not our child.
lxcfs_adopt_master()
{
	local new
	new=$(cat "$RUNDIR/lxcfs.pid" 2>/dev/null)
	[ -n "$new" ] && pid_alive "$new" || return 1
	[ "$new" = "$LXCFS_PID" ] && return 0
	LXCFS_PID=$new
	record_pid daemon "$new"
	lxcfs_worker_pids >/dev/null
	return 0
}

# lxcfs_kill_whole: SIGKILL the standby, the master and every worker at once
# (the standby first, lest it take over), as a crash of the whole daemon or
# an OOM kill of its cgroup leaves it: nobody holds the connection, and the
# mount (and every bind of it) answers ENOTCONN. The daemon is forgotten:
# start_lxcfs may start another on the same mount point.
lxcfs_kill_whole()
{
	local standby workers start p
	standby=$(lxcfs_standby_pid)
	workers=$(lxcfs_worker_pids | tr '\n' ' ')
	start=$(proc_start "$LXCFS_PID")
	log "kill -9 of the whole daemon: standby ${standby:-none}, master $LXCFS_PID, workers $workers"
	# shellcheck disable=SC2086
	kill -KILL $standby "$LXCFS_PID" $workers 2>/dev/null
	[ "$LXCFS_PID" = "${LXCFS_CHILD:-}" ] && wait "$LXCFS_PID" 2>/dev/null
	state_del pids "$LXCFS_PID $start daemon"
	LXCFS_STARTED=0
	for p in $standby $workers; do
		wait_for 5 eval '! pid_alive '"$p" || fail "pid $p survived SIGKILL"
	done
}

# lxcfs-ctl status of ours, or nothing when there is no lxcfs-ctl.
lxcfs_ctl_status()
{
	[ -x "$LXCFS_BUILD/lxcfs-ctl" ] || return 1
	timeout 5 "$LXCFS_BUILD/lxcfs-ctl" --runtime-dir "$RUNDIR" status
}

# Workers as lxcfs-ctl reports them, one "pid state" line each (ours only).
# Takes --json when the control client has it, else the text tables
# ("worker <id> pid <pid> ..." lines or an "id pid state ..." table): the
# control client's output format is still settling.
lxcfs_ctl_workers()
{
	local out
	if out=$(lxcfs_ctl_status_json 2>/dev/null); then
		"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
ws = d.get("workers", d.get("worker"))
if not isinstance(ws, list):
    sys.exit(1)
for w in ws:
    print(w["pid"], w.get("state", "?"))' <<<"$out" && return 0
	fi
	out=$(lxcfs_ctl_status) || return 1
	awk '$1 == "worker" && $3 == "pid" { print $4, "?"; next }
	     toupper($1) == "ID" && toupper($2) == "PID" { table = 1; next }
	     table && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ { print $2, $3; next }
	     table && NF == 0 { table = 0 }' <<<"$out"
}

lxcfs_ctl_status_json()
{
	[ -x "$LXCFS_BUILD/lxcfs-ctl" ] || return 1
	timeout 5 "$LXCFS_BUILD/lxcfs-ctl" --runtime-dir "$RUNDIR" --json status
}

# Sanitizer reports in the daemon's log fail the test: a worker that crashes is
# replaced by the master, so its report may be the only trace.
check_sanitizer_log()
{
	local hit
	[ -f "${LXCFS_LOG:-}" ] || return 0
	hit=$(grep -m1 -E 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:' "$LXCFS_LOG")
	[ -z "$hit" ] || fail "sanitizer report in the daemon log: $hit"
}

# stop_lxcfs: SIGTERM; the master and its workers must exit within 10 s and
# leave no mount behind.
stop_lxcfs()
{
	local workers p rc start
	[ "$LXCFS_STARTED" = 1 ] || return 0
	workers=$(lxcfs_worker_pids)
	start=$(proc_start "$LXCFS_PID")
	pid_alive "$LXCFS_PID" || fail "lxcfs (pid $LXCFS_PID) died before stop_lxcfs: $(tail -3 "$LXCFS_LOG" | tr '\n' ' ')"
	log "stop: SIGTERM to $LXCFS_PID (workers: $(echo $workers))"
	kill -TERM "$LXCFS_PID"
	if ! wait_for 10 eval '! pid_alive "$LXCFS_PID"'; then
		fail "lxcfs (pid $LXCFS_PID) still running 10 s after SIGTERM"
	fi
	if [ "$LXCFS_PID" = "${LXCFS_CHILD:-}" ]; then
		wait "$LXCFS_PID"
		rc=$?
	else
		# A master that took over is not our child: its log says how it ended.
		rc=0
		grep -q "(TERM): unmounting and exiting" "$LXCFS_LOG" || rc=1
	fi
	LXCFS_STARTED=0
	state_del pids "$LXCFS_PID $start daemon"
	log "lxcfs exited with status $rc"
	if mountpoint -q "$MNT" || grep -q " $MNT " /proc/mounts; then
		fail "$MNT still mounted after lxcfs exited"
	fi
	for p in $workers; do
		wait_for 3 eval '! pid_alive '"$p" ||
			fail "worker pid $p still running after the master exited"
	done
	check_sanitizer_log
	if [ "$LXCFS_IMPL" != upstream ] && [ "$rc" != 0 ]; then
		fail "lxcfs exited with status $rc after SIGTERM"
	fi
}

# ---------------------------------------------------------------------------
# Cgroups: below our own cgroup only. v1 (one hierarchy per controller, as on
# hybrid hosts) or v2 (memory.max; +memory enabled in a cgroup we create).

declare -A CG_BASE=() # controller (or "unified") -> our base cgroup folder
CG_MODE=

# Mount point and root of the v1 hierarchy holding CONTROLLER.
cg_v1_mount()
{
	awk -v want="$1" '{
		for (i = 1; i <= NF; i++) if ($i == "-") break
		if ($(i + 1) != "cgroup") next
		n = split($(i + 3), a, ",")
		for (j = 1; j <= n; j++) if (a[j] == want) { print $5, $4; exit }
	}' /proc/self/mountinfo
}

cg_v2_mount()
{
	awk '{ for (i = 1; i <= NF; i++) if ($i == "-") break
	       if ($(i + 1) == "cgroup2") { print $5, $4; exit } }' /proc/self/mountinfo
}

# Our own cgroup path in the hierarchy of CONTROLLER ("" = the v2 line).
cg_own_path()
{
	if [ -z "$1" ]; then
		awk -F: '$1 == "0" && $2 == "" { print $3; exit }' /proc/self/cgroup
	else
		awk -F: -v want="$1" '{ n = split($2, a, ","); for (j = 1; j <= n; j++)
			if (a[j] == want) { print $3; exit } }' /proc/self/cgroup
	fi
}

# The folder of our own cgroup given "MOUNT ROOT" and our path.
cg_own_dir()
{
	local mnt=$1 root=$2 own=$3
	[ "$root" != / ] && case $own in "$root"*) own=${own#"$root"} ;; esac
	own=${own%/}
	echo "$mnt$own"
}

cg_detect()
{
	local m
	[ -n "$CG_MODE" ] && return 0
	m=$(cg_v1_mount memory)
	if [ -n "$m" ]; then
		CG_MODE=v1
	else
		m=$(cg_v2_mount)
		[ -n "$m" ] || skip "no cgroup hierarchy with the memory controller"
		# shellcheck disable=SC2086
		set -- $m
		grep -qw memory "$1/cgroup.controllers" 2>/dev/null ||
			skip "cgroup2 at $1 has no memory controller"
		CG_MODE=v2
	fi
	log "cgroups: $CG_MODE"
}

# cg_own CONTROLLER: sets CG_DIR to the folder of our own cgroup for CONTROLLER.
cg_own()
{
	local m own
	cg_detect
	if [ "$CG_MODE" = v1 ]; then
		m=$(cg_v1_mount "$1")
		[ -n "$m" ] || fail "no v1 hierarchy for $1"
		own=$(cg_own_path "$1")
	else
		m=$(cg_v2_mount)
		own=$(cg_own_path "")
	fi
	# shellcheck disable=SC2086
	CG_DIR=$(cg_own_dir $m "$own")
}

# Our own effective memory limit in bytes (the least over our cgroup and its
# ancestors), or "max".
own_memory_limit()
{
	local dir file v best=max m
	cg_own memory
	dir=$CG_DIR
	file=memory.max
	[ "$CG_MODE" = v1 ] && file=memory.limit_in_bytes
	if [ "$CG_MODE" = v1 ]; then m=$(cg_v1_mount memory); else m=$(cg_v2_mount); fi
	m=${m%% *}
	while :; do
		# The root cgroup has no memory.max; v1's "no limit" is a huge number.
		v=$(cat "$dir/$file" 2>/dev/null) || v=max
		if [ "$v" != max ] && { [ "$best" = max ] || [ "$v" -lt "$best" ]; }; then best=$v; fi
		[ "$dir" = "$m" ] || [ "${#dir}" -le "${#m}" ] && break
		dir=${dir%/*}
	done
	echo "$best"
}

# cg_base CONTROLLER: sets CG_DIR to our base cgroup for CONTROLLER (created
# once, below our own cgroup).
cg_base()
{
	local ctl=$1 dir base parent c
	local key=$ctl
	[ "$CG_MODE" = v2 ] && key=unified
	if [ -n "${CG_BASE[$key]:-}" ]; then
		CG_DIR=${CG_BASE[$key]}
		return 0
	fi
	cg_own "$ctl"
	dir=$CG_DIR
	base=$dir/lxcfs-test.$TEST_MAIN_PID
	mkdir "$base" || fail "mkdir $base"
	state_add cgroups "$base"
	if [ "$CG_MODE" = v1 ] && [ "$ctl" = cpuset ]; then
		cat "$dir/cpuset.cpus" >"$base/cpuset.cpus" && cat "$dir/cpuset.mems" >"$base/cpuset.mems" ||
			fail "cannot set up cpuset $base"
	fi
	if [ "$CG_MODE" = v2 ]; then
		parent=$dir
		# The controllers must be enabled in our own cgroup to reach base; that
		# is only possible if nothing else runs there (or it is the root).
		for c in memory cpuset cpu io; do
			grep -qw "$c" "$parent/cgroup.controllers" || continue
			grep -qw "$c" "$parent/cgroup.subtree_control" ||
				echo "+$c" >"$parent/cgroup.subtree_control" 2>/dev/null
		done
		grep -qw memory "$parent/cgroup.subtree_control" ||
			skip "memory controller not delegated to $parent (own cgroup holds processes)"
		for c in memory cpuset cpu io; do
			grep -qw "$c" "$base/cgroup.controllers" &&
				echo "+$c" >"$base/cgroup.subtree_control" 2>/dev/null
		done
		grep -qw memory "$base/cgroup.subtree_control" ||
			fail "cannot enable +memory in $base/cgroup.subtree_control"
	fi
	CG_BASE[$key]=$base
	CG_DIR=$base
}

# ---------------------------------------------------------------------------
# Containers: a cgroup with limits, and an init in new pid and mount namespaces
# (started inside the cgroup), with lxcfs files bind-mounted over /proc as
# runtimes do. The init is a tiny agent: in_init runs commands as its children.

declare -A CT_INIT=() CT_UNSHARE=() CT_DIR=() CT_CGS=()
declare -A CT_ARGS=() CT_JOINED=() # what restart_container makes again

# make_container NAME [mem=SIZE] [cpus=LIST] [files=meminfo,...|none]
make_container()
{
	local name=$1 kv mem="" cpus="" files=meminfo base dir ctdir cgs="" init="" f
	shift
	CT_ARGS[$name]="$*"
	CT_JOINED[$name]=
	for kv in "$@"; do
		case $kv in
		mem=*) mem=${kv#mem=} ;;
		cpus=*) cpus=${kv#cpus=} ;;
		files=*)
			files=${kv#files=}
			[ "$files" = none ] && files=
			;;
		*) fail "make_container: unknown argument $kv" ;;
		esac
	done
	[ -n "${MNT:-}" ] || fail "make_container before start_lxcfs"
	cg_detect
	if [ "$CG_MODE" = v1 ]; then
		cg_base memory
		base=$CG_DIR
		dir=$base/$name
		mkdir "$dir" || fail "mkdir $dir"
		state_add cgroups "$dir"
		cgs=$dir
		[ -n "$mem" ] && { echo "$mem" >"$dir/memory.limit_in_bytes" || fail "set $dir/memory.limit_in_bytes=$mem"; }
		if [ -n "$cpus" ]; then
			cg_base cpuset
			base=$CG_DIR
			dir=$base/$name
			mkdir "$dir" || fail "mkdir $dir"
			state_add cgroups "$dir"
			cgs="$cgs $dir"
			echo "$cpus" >"$dir/cpuset.cpus" && cat "$base/cpuset.mems" >"$dir/cpuset.mems" ||
				fail "set $dir/cpuset.cpus=$cpus"
		fi
	else
		cg_base memory
		base=$CG_DIR
		dir=$base/$name
		mkdir "$dir" || fail "mkdir $dir"
		state_add cgroups "$dir"
		cgs=$dir
		[ -n "$mem" ] && { echo "$mem" >"$dir/memory.max" || fail "set $dir/memory.max=$mem"; }
		[ -n "$cpus" ] && { echo "$cpus" >"$dir/cpuset.cpus" || fail "set $dir/cpuset.cpus=$cpus"; }
	fi
	ctdir=$TEST_TMP/ct/$name
	mkdir -p "$ctdir/jobs"
	rm -f "$ctdir/fifo" "$ctdir/ready" # a container of the same name before (restart_container)
	mkfifo "$ctdir/fifo"
	cat >"$ctdir/init.sh" <<'EOF'
# pid 1 of a test container: bind the lxcfs files, then run jobs on request.
ctdir=$1 mnt=$2 files=$3
for f in ${files//,/ }; do
	mount --bind "$mnt/proc/$f" "/proc/$f" || { echo "bind $f failed" >"$ctdir/ready"; exit 1; }
done
exec 3<>"$ctdir/fifo"
echo ok >"$ctdir/ready"
while read -r id <&3; do
	job=$ctdir/jobs/$id
	(
		bash "$job/cmd" >"$job/out" 2>"$job/err" </dev/null 3<&-
		echo $? >"$job/rc.tmp"
		mv "$job/rc.tmp" "$job/rc"
	) &
done
EOF
	(
		for f in $cgs; do echo "$BASHPID" >"$f/cgroup.procs" || exit 97; done
		exec unshare --fork --pid --mount --mount-proc --propagation private \
			bash "$ctdir/init.sh" "$ctdir" "$MNT" "$files"
	) </dev/null >"$ctdir/init.log" 2>&1 &
	CT_UNSHARE[$name]=$!
	record_pid unshare "$!"
	wait_for 10 test -s "$ctdir/ready" || fail "container $name: init not ready: $(cat "$ctdir/init.log")"
	[ "$(cat "$ctdir/ready")" = ok ] || fail "container $name: $(cat "$ctdir/ready")"
	init=$(pgrep -P "${CT_UNSHARE[$name]}" | head -1)
	[ -n "$init" ] || fail "container $name: no init under unshare ${CT_UNSHARE[$name]}"
	record_pid init "$init"
	CT_INIT[$name]=$init
	CT_DIR[$name]=$ctdir
	CT_CGS[$name]=$cgs
	for f in $cgs; do
		grep -qx "$init" "$f/cgroup.procs" || fail "container $name: init $init is not in $f"
	done
	log "container $name: init pid $init, cgroups $cgs${mem:+, mem $mem}${cpus:+, cpus $cpus}"
}

# in_container NAME CMD...: run CMD in the container's pid and mount namespaces,
# as lxc-attach / docker exec enter (the process stays in the caller's cgroup).
in_container()
{
	local name=$1
	shift
	[ -n "${CT_INIT[$name]:-}" ] || fail "in_container: no container $name"
	timeout -k 5 "${IN_CONTAINER_TIMEOUT:-60}" nsenter -t "${CT_INIT[$name]}" -p -m -- "$@"
}

# in_init_bg NAME CMD...: start CMD as a child of the container's init (so in its
# cgroup and namespaces, like the container's own processes); prints a job id.
in_init_bg()
{
	local name=$1 ctdir job fd
	shift
	ctdir=${CT_DIR[$name]:-}
	[ -n "$ctdir" ] || fail "in_init_bg: no container $name"
	job=$(mktemp -d "$ctdir/jobs/XXXXXX")
	{ printf 'exec'; printf ' %q' "$@"; printf '\n'; } >"$job/cmd"
	# Opened read-write: never blocks, even if the init is gone.
	exec {fd}<>"$ctdir/fifo"
	echo "${job##*/}" >&"$fd"
	exec {fd}>&-
	echo "${job##*/}"
}

# init_wait NAME JOB [SECONDS]: wait for a job; its stdout to stdout, its stderr
# to stderr; returns its status (124 on timeout).
init_wait()
{
	local name=$1 id=$2 limit=${3:-60} job
	job=${CT_DIR[$name]}/jobs/$id
	if ! wait_for "$limit" test -f "$job/rc"; then
		log "container $name: job $id ($(cat "$job/cmd")) still running after $limit s"
		return 124
	fi
	cat "$job/out"
	cat "$job/err" >&2
	return "$(cat "$job/rc")"
}

# init_job_out NAME JOB: what a job printed so far.
init_job_out()
{
	cat "${CT_DIR[$1]}/jobs/$2/out" 2>/dev/null
}

# in_init NAME CMD...: run CMD as a child of the container's init and wait.
in_init()
{
	local id
	id=$(in_init_bg "$@") || return 1
	init_wait "$1" "$id" "${IN_CONTAINER_TIMEOUT:-60}"
}

# destroy_container NAME...: kill their pid namespaces (all of them first, so
# that they die together), then remove their cgroups.
destroy_container()
{
	local name init unshare cg p start ustart
	# The shell's "Killed" notices of the unshare jobs are noise: not shown.
	{
		for name in "$@"; do
			init=${CT_INIT[$name]:-}
			unshare=${CT_UNSHARE[$name]:-}
			[ -n "$unshare" ] || continue
			start=$(proc_start "$init")
			ustart=$(proc_start "$unshare")
			[ -n "$init" ] && kill -KILL "$init"
			kill -KILL "$unshare"
			state_del pids "$init $start init"
			state_del pids "$unshare $ustart unshare"
		done
		for name in "$@"; do
			[ -n "${CT_UNSHARE[$name]:-}" ] && wait "${CT_UNSHARE[$name]}"
		done
	} 2>/dev/null
	for name in "$@"; do
		[ -n "${CT_UNSHARE[$name]:-}" ] || continue
		for cg in ${CT_CGS[$name]}; do
			cg_kill_all "$cg"
			wait_for 5 rmdir "$cg" 2>/dev/null || fail "cannot remove cgroup $cg"
			state_del cgroups "$cg"
		done
		unset "CT_INIT[$name]" "CT_UNSHARE[$name]" "CT_CGS[$name]"
		log "container $name destroyed"
	done
}

# ct_join_cgroups [--need] NAME CTRL...: give container NAME a cgroup of its own
# in each v1 hierarchy CTRL too (below our base cgroup, removed with the
# container), as runtimes do: make_container only makes memory and cpuset. A
# hierarchy that is not mounted is skipped with a note, or fails the test with
# --need. On v2 the container's one cgroup already has every controller.
ct_join_cgroups()
{
	local need=0 name ctl dir init
	if [ "$1" = --need ]; then
		need=1
		shift
	fi
	name=$1 init=${CT_INIT[$1]}
	shift
	[ "$CG_MODE" = v1 ] || return 0
	for ctl in "$@"; do
		if [ -z "$(cg_v1_mount "$ctl")" ]; then
			[ "$need" = 1 ] && fail "no v1 hierarchy for $ctl"
			log "no v1 hierarchy for $ctl: not joined"
			continue
		fi
		cg_base "$ctl"
		dir=$CG_DIR/$name
		mkdir "$dir" || fail "mkdir $dir"
		state_add cgroups "$dir"
		CT_CGS[$name]+=" $dir"
		CT_JOINED[$name]+=" $ctl"
		echo "$init" >"$dir/cgroup.procs" || fail "container $name: cannot move init $init to $dir"
	done
}

# restart_container NAME: what lxc-stop -k; lxc-start or docker restart do to
# a container: its pid namespace killed and its cgroups removed, then new
# cgroups made at the same paths (the same limits and bound files, the same
# extra v1 hierarchies of ct_join_cgroups) with a new init in them.
restart_container()
{
	local name=$1 args joined
	args=${CT_ARGS[$name]:-}
	joined=${CT_JOINED[$name]:-}
	[ -n "${CT_UNSHARE[$name]:-}" ] || fail "restart_container: no container $name"
	destroy_container "$name"
	# shellcheck disable=SC2086
	make_container "$name" $args
	# shellcheck disable=SC2086
	[ -z "$joined" ] || ct_join_cgroups --need "$name" $joined
	log "container $name restarted: init pid ${CT_INIT[$name]}"
}

# ct_bind_cpu_online NAME: bind lxcfs' sys/devices/system/cpu/online over the
# container's own (in its mount namespace: gone with the container).
ct_bind_cpu_online()
{
	in_init "$1" mount --bind "$MNT/sys/devices/system/cpu/online" /sys/devices/system/cpu/online ||
		fail "container $1: cannot bind $MNT/sys/devices/system/cpu/online"
}


# Path of the readloop tool: the build's, or compiled here when it has none.
readloop_bin()
{
	local src=$REPO_ROOT/tests/tools/readloop.c
	if [ -x "$LXCFS_BUILD/tools/readloop" ] && [ "$LXCFS_BUILD/tools/readloop" -nt "$src" ]; then
		echo "$LXCFS_BUILD/tools/readloop"
		return
	fi
	if [ ! -x "$TEST_TMP/readloop" ]; then
		gcc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -o "$TEST_TMP/readloop" "$src" >&2 ||
			fail "cannot compile readloop"
	fi
	echo "$TEST_TMP/readloop"
}

# ---------------------------------------------------------------------------
# Test life cycle

# A failed test's folder is removed: keep its logs (daemon, containers' jobs,
# readers) in LXCFS_TEST_KEEPDIR (default /tmp) for a post-mortem.
keep_failure_logs()
{
	local keep f
	keep=$(mktemp -d "${LXCFS_TEST_KEEPDIR:-/tmp}/lxcfs-failed.$TEST_NAME.XXXXXX") || return 0
	(
		cd "$TEST_TMP" || exit 0
		find . -path ./mnt -prune -o -path './mnt[0-9]*' -prune -o -type f \
			\( -name '*.log' -o -name '*.out' -o -name 'fail_reason' -o -path './ct/*/jobs/*' \) -print |
			while read -r f; do
				mkdir -p "$keep/$(dirname "$f")"
				cp "$f" "$keep/$f" 2>/dev/null
			done
	)
	log "logs kept in $keep"
}

# Runs on every exit path: undo everything, then print the verdict.
test_finish()
{
	local rc=$1 reason="" skipped="" p
	trap - EXIT INT TERM
	trap '' USR1
	set +e
	FINISHING=1 # from here fail() records its reason and returns
	if [ "$rc" = 0 ] && [ ! -s "$TEST_TMP/fail_reason" ] && [ ! -s "$TEST_TMP/skip_reason" ] &&
		[ "$LXCFS_STARTED" = 1 ]; then
		# A passing test ends with the daemon stopped; stop it here if it did not.
		destroy_container "${!CT_UNSHARE[@]}" >&2
		stop_lxcfs >&2
	fi
	disown -a 2>/dev/null # no "Killed" job notices for what we end below
	if [ -s "$TEST_TMP/fail_reason" ] || [ "$rc" != 0 ]; then
		if [ -f "${LXCFS_LOG:-}" ]; then
			log "daemon log (last 20 lines):"
			tail -20 "$LXCFS_LOG" | sed 's/^/#   /' >&2
			check_sanitizer_log
		fi
	fi
	if [ -s "$TEST_TMP/fail_reason" ] || [ "$rc" != 0 ]; then
		keep_failure_logs
	fi
	if [ -s "$TEST_TMP/fail_reason" ]; then
		reason=$(head -1 "$TEST_TMP/fail_reason")
	elif [ -s "$TEST_TMP/skip_reason" ]; then
		skipped=$(head -1 "$TEST_TMP/skip_reason")
	elif [ "$rc" != 0 ]; then
		reason="exited with status $rc"
	fi
	# Whatever still runs below us is ours (helpers, nsenter, readers).
	# The daemon and its workers are left to reap_test_dir (SIGTERM first).
	local keep=" $BASHPID "
	if [ -n "$LXCFS_PID" ]; then keep+=" $LXCFS_PID $(pid_descendants "$LXCFS_PID" | tr '\n' ' ') "; fi
	for p in $(pid_descendants "$TEST_MAIN_PID"); do
		case $keep in *" $p "*) continue ;; esac
		kill -KILL "$p" 2>/dev/null
	done
	reap_test_dir "$TEST_TMP" >&2
	for p in $(pid_descendants "$TEST_MAIN_PID"); do
		[ "$p" = "$BASHPID" ] || kill -KILL "$p" 2>/dev/null
	done
	if [ -z "$reason" ] && grep -q " $TEST_TMP/" /proc/mounts; then
		reason="mounts left under $TEST_TMP"
	fi
	if [ -n "$reason" ]; then
		echo "FAIL $TEST_NAME: $reason"
		exit 1
	elif [ -n "$skipped" ]; then
		echo "SKIP $TEST_NAME: $skipped"
		exit 0
	fi
	echo "PASS $TEST_NAME"
	exit 0
}

test_init()
{
	TEST_NAME=$(basename "$0" .sh)
	TEST_MAIN_PID=$$
	[ "$(id -u)" = 0 ] || { echo "SKIP $TEST_NAME: needs root"; exit 0; }
	[ -c /dev/fuse ] || { echo "SKIP $TEST_NAME: no /dev/fuse"; exit 0; }
	TEST_TMP=$(mktemp -d "${LXCFS_TEST_TMPDIR:-/tmp}/lxcfs-test.$TEST_NAME.XXXXXX") || exit 1
	chmod 0755 "$TEST_TMP"
	mkdir "$TEST_TMP/state"
	: >"$TEST_TMP/state/pids"
	trap 'test_finish $?' EXIT
	trap 'exit 1' USR1
	trap 'fail "interrupted by a signal"' INT TERM
	log "impl $LXCFS_IMPL${LXCFS_IMPL:+, build $LXCFS_BUILD}, tmp $TEST_TMP"
}

[ "${LXCFS_LIB_NOINIT:-0}" = 1 ] || test_init
