#!/usr/bin/env bash
# make install lays out what a distribution package would, and it runs.
#
# make install PREFIX=/usr DESTDIR=D puts exactly: bin/lxcfs, bin/lxcfs-ctl
# (0755), libexec/lxcfs/lxcfs-worker (0755), lib/systemd/system/lxcfs.service,
# share/man/man1/lxcfs.1, share/man/man8/lxcfs-ctl.8,
# share/bash-completion/completions/lxcfs-ctl (0644) and whatever the tree
# holds in share/lxcfs/ and share/lxc/config/common.conf.d/. Then:
#   - the installed lxcfs, with no --worker-binary, finds its installed worker
#     (its workers run D/usr/libexec/lxcfs/lxcfs-worker), serves meminfo on a
#     test folder, tells $NOTIFY_SOCKET READY=1 with its MAINPID; the
#     installed lxcfs-ctl answers, upgrades the workers (the unit's reload),
#     and upgrade --all replaces the master with the lxcfs beside it (the new
#     one announces its own MAINPID); SIGTERM stops it (STOPPING=1), unmounted;
#   - each man page renders with man -l and no warning; every option of
#     lxcfs -h and every command and command option of lxcfs-ctl is in them;
#   - the completion loads in bash and completes commands, options, table
#     names and a container's pid for attach;
#   - the unit (installed into a real prefix, so that its paths exist) passes
#     systemd-analyze verify with nothing said; it has the settings the
#     service needs; its ExecStopPost is quiet with nothing mounted and
#     detaches a mount left by an lxcfs killed whole;
#   - make uninstall leaves DESTDIR empty.
# run_all: once
. "$(dirname "$0")/lib.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "installs this lxcfs"

# What the checks need, installed when missing (TEST_PKGS has them).
need=()
command -v man >/dev/null || need+=(man-db)
command -v systemd-analyze >/dev/null || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"; } >&2 ||
		fail "cannot install ${need[*]}"
fi

DEST=$TEST_TMP/dest
mk()
{
	make -C "$REPO_ROOT" --no-print-directory BUILD="$LXCFS_BUILD" "$@" >"$TEST_TMP/make.log" 2>&1 ||
		fail "make $*: $(tail -5 "$TEST_TMP/make.log" | tr '\n' ' ')"
}
mk install PREFIX=/usr DESTDIR="$DEST"

# Exactly these files, with these modes.
expected=$(
	printf '755 usr/bin/lxcfs\n755 usr/bin/lxcfs-ctl\n755 usr/libexec/lxcfs/lxcfs-worker\n'
	printf '644 usr/lib/systemd/system/lxcfs.service\n644 usr/share/man/man1/lxcfs.1\n'
	printf '644 usr/share/man/man8/lxcfs-ctl.8\n644 usr/share/bash-completion/completions/lxcfs-ctl\n'
	for d in share/lxcfs share/lxc/config/common.conf.d; do
		for f in "$REPO_ROOT/$d"/*; do
			[ -f "$f" ] || continue
			if [ -x "$f" ]; then m=755; else m=644; fi
			echo "$m usr/$d/${f##*/}"
		done
	done
)
got=$(cd "$DEST" && find . -type f -printf '%m %P\n')
[ "$(sort <<<"$got")" = "$(sort <<<"$expected")" ] ||
	fail "installed files differ: $(diff <(sort <<<"$expected") <(sort <<<"$got") | grep '^[<>]' | tr '\n' ' ')"
log "ok: installed $(wc -l <<<"$got") files: $(awk '{ print $2 }' <<<"$got" | tr '\n' ' ')"

BIN=$DEST/usr/bin
WORKER=$DEST/usr/libexec/lxcfs/lxcfs-worker

# --- the installed daemon ---------------------------------------------------------

# A stand-in for systemd's notify socket: every datagram, one per line.
cat >"$TEST_TMP/notify.py" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
EOF
NOTIFY=$TEST_TMP/notify.sock
"$PYTHON" "$TEST_TMP/notify.py" "$NOTIFY" "$TEST_TMP/notify.log" &
record_pid helper $!
wait_for 5 test -S "$NOTIFY" || fail "no notify socket"

MNT=$TEST_TMP/mnt RUNDIR=$TEST_TMP/run LXCFS_LOG=$TEST_TMP/lxcfs.log
mkdir -p "$MNT" "$RUNDIR"
state_add mounts "$MNT"
NOTIFY_SOCKET=$NOTIFY "$BIN/lxcfs" --runtime-dir "$RUNDIR" --workers 2 "$MNT" </dev/null >>"$LXCFS_LOG" 2>&1 &
LXCFS_PID=$! LXCFS_CHILD=$!
record_pid daemon "$LXCFS_PID"
LXCFS_STARTED=1
wait_for 10 lxcfs_ready || fail "the installed lxcfs does not serve: $(tail -3 "$LXCFS_LOG" | tr '\n' ' ')"
head -c 9 "$MNT/proc/meminfo" | expect_eq "MemTotal:" - "meminfo from the installed lxcfs"
workers=$(lxcfs_worker_pids)
[ -n "$workers" ] || fail "no workers"
for w in $workers; do
	expect_eq "$WORKER" "$(readlink "/proc/$w/exe")" "worker $w's binary"
done
wait_for 5 grep -q "READY=1 MAINPID=$LXCFS_PID " "$TEST_TMP/notify.log" ||
	fail "no READY=1 MAINPID=$LXCFS_PID on the notify socket: $(cat "$TEST_TMP/notify.log")"
log "ok: notify: $(head -1 "$TEST_TMP/notify.log")"

CTL=$BIN/lxcfs-ctl
timeout 10 "$CTL" --runtime-dir "$RUNDIR" status >/dev/null || fail "the installed lxcfs-ctl status"
out=$(timeout 60 "$CTL" --runtime-dir "$RUNDIR" upgrade 2>&1) || fail "lxcfs-ctl upgrade (the unit's reload): $out"
log "ok: lxcfs-ctl upgrade: $(tail -1 <<<"$out")"
old=$LXCFS_PID
out=$(NOTIFY_SOCKET=$NOTIFY timeout 60 "$CTL" --runtime-dir "$RUNDIR" upgrade --all 2>&1) ||
	fail "lxcfs-ctl upgrade --all: $out"
wait_for 10 eval '! pid_alive '"$old" || fail "the old master $old still runs after upgrade --all"
lxcfs_adopt_master || fail "no master in the pidfile after upgrade --all"
[ "$LXCFS_PID" != "$old" ] || fail "upgrade --all left the same master"
expect_eq "$BIN/lxcfs" "$(readlink "/proc/$LXCFS_PID/exe")" "the new master's binary"
wait_for 5 grep -q "READY=1 MAINPID=$LXCFS_PID " "$TEST_TMP/notify.log" ||
	fail "the new master did not announce MAINPID=$LXCFS_PID: $(cat "$TEST_TMP/notify.log")"
log "ok: lxcfs-ctl upgrade --all: master $old -> $LXCFS_PID, announced to the notify socket"
stop_lxcfs
wait_for 5 grep -q "STOPPING=1" "$TEST_TMP/notify.log" || fail "no STOPPING=1: $(cat "$TEST_TMP/notify.log")"

# --- man pages ----------------------------------------------------------------------

for page in "$DEST/usr/share/man/man1/lxcfs.1" "$DEST/usr/share/man/man8/lxcfs-ctl.8"; do
	MANWIDTH=80 man --warnings -l "$page" >/dev/null 2>"$TEST_TMP/man.err"
	rc=$?
	[ $rc = 0 ] && [ ! -s "$TEST_TMP/man.err" ] ||
		fail "man --warnings -l ${page##*/}: exit $rc: $(head -5 "$TEST_TMP/man.err" | tr '\n' ' ')"
	log "ok: ${page##*/} renders without a warning"
done
render()
{
	MANWIDTH=1000 LC_ALL=C man -l "$1" 2>/dev/null
}
text=$(render "$DEST/usr/share/man/man1/lxcfs.1")
for o in $("$BIN/lxcfs" -h | grep -oE -- '(^|[ ,])--?[a-z][a-z-]*' | sed 's/^[ ,]*//' | sort -u); do
	grep -qF -- "$o" <<<"$text" || fail "lxcfs.1 does not describe $o"
done
for w in SIGNALS "EXIT STATUS" FILES SIGTERM SIGUSR1 SIGUSR2 allow_other nonempty direct_io entry_timeout attr_timeout; do
	grep -qF -- "$w" <<<"$text" || fail "lxcfs.1 does not mention $w"
done
text=$(render "$DEST/usr/share/man/man8/lxcfs-ctl.8")
commands=$("$CTL" --help | sed -n '/^Commands/,/^$/p' | awk '/^  [a-z]/ { print $1 }')
[ "$(wc -w <<<"$commands")" -ge 8 ] || fail "lxcfs-ctl --help lists only: $commands"
for c in $commands; do
	grep -qE "^ +$c( |$)" <<<"$text" || fail "lxcfs-ctl.8 has no entry for $c"
	for o in $("$CTL" "$c" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		grep -qF -- "$o" <<<"$text" || fail "lxcfs-ctl.8 does not describe $c $o"
	done
done
for w in "EXIT STATUS" FILES control.sock; do
	grep -qF -- "$w" <<<"$text" || fail "lxcfs-ctl.8 does not mention $w"
done
log "ok: the man pages describe every option and command ($(tr '\n' ' ' <<<"$commands"))"

# --- bash completion ----------------------------------------------------------------

MNT=$TEST_TMP/mnt # make_container wants it; nothing is bound (files=none)
make_container ct1 files=none
complete_words()
{
	bash --norc --noprofile -c '
		. "$1" || exit 1
		complete -p lxcfs-ctl >/dev/null || exit 2
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_lxcfs_ctl
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ \
		"$DEST/usr/share/bash-completion/completions/lxcfs-ctl" "$@"
}
expect_eq "$(sort <<<"$commands" | tr '\n' ' ')" "$(complete_words "$CTL" "")" "commands completed"
expect_eq "stats status " "$(complete_words "$CTL" --runtime-dir /run st)" "completion of 'st' after a global option"
expect_eq "--prometheus " "$(complete_words "$CTL" stats --p)" "completion of stats --p"
expect_eq "--all " "$(complete_words "$CTL" upgrade --a)" "completion of upgrade --a"
expect_eq "memory " "$(complete_words "$CTL" snapshot --table me)" "completion of a table name"
complete_words "$CTL" attach "" | grep -qw "${CT_INIT[ct1]}" ||
	fail "attach does not complete the container's init ${CT_INIT[ct1]}: $(complete_words "$CTL" attach "")"
log "ok: the completion loads and completes commands, options, tables and container pids"
destroy_container ct1

# --- the systemd unit ---------------------------------------------------------------

unit=$DEST/usr/lib/systemd/system/lxcfs.service
for line in "ExecStart=/usr/bin/lxcfs /var/lib/lxcfs" "ExecReload=/usr/bin/lxcfs-ctl upgrade" \
	"KillMode=mixed" "OOMScoreAdjust=-1000" "Type=notify" "NotifyAccess=all" "WantedBy=multi-user.target"; do
	grep -qxF "$line" "$unit" || fail "the unit lacks $line"
done
grep -qE '^Restart=(always|on-failure)$' "$unit" || fail "the unit does not restart on failure"
grep -q '^ExecStopPost=-.*umount' "$unit" || fail "the unit does not detach a stale mount at stop"
# Verified as installed in a real prefix, its mount point a test folder, so
# that the binaries and man pages it names exist.
PREFIX_DIR=$TEST_TMP/prefix
VMNT=$TEST_TMP/vmnt
mk install PREFIX="$PREFIX_DIR" MOUNTPOINT="$VMNT"
vunit=$PREFIX_DIR/lib/systemd/system/lxcfs.service
out=$(MANPATH=$PREFIX_DIR/share/man systemd-analyze verify "$vunit" 2>&1)
rc=$?
[ $rc = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify: exit $rc: $out"
log "ok: systemd-analyze verify $vunit: exit 0, nothing said"

# Its ExecStopPost, run as systemd would: quiet with nothing mounted, and a
# mount left by an lxcfs killed whole detached.
stop_post=$(sed -n 's/^ExecStopPost=-//p' "$vunit")
mkdir -p "$VMNT"
out=$(eval "$stop_post" 2>&1)
rc=$?
[ $rc = 0 ] && [ -z "$out" ] || fail "ExecStopPost with nothing mounted: exit $rc: $out"
MNT=$VMNT
state_add mounts "$VMNT"
"$PREFIX_DIR/bin/lxcfs" --runtime-dir "$RUNDIR" --workers 2 "$VMNT" </dev/null >>"$LXCFS_LOG" 2>&1 &
LXCFS_PID=$! LXCFS_CHILD=$!
record_pid daemon "$LXCFS_PID"
LXCFS_STARTED=1
wait_for 10 lxcfs_ready || fail "lxcfs from $PREFIX_DIR does not serve"
wait_for 5 eval '[ -n "$(lxcfs_standby_pid)" ]'
lxcfs_kill_whole
grep -q " $VMNT " /proc/mounts || fail "no stale mount left at $VMNT"
out=$(eval "$stop_post" 2>&1)
rc=$?
[ $rc = 0 ] || fail "ExecStopPost on a stale mount: exit $rc: $out"
grep -q " $VMNT " /proc/mounts && fail "ExecStopPost left the stale mount at $VMNT"
log "ok: ExecStopPost detached the stale mount at $VMNT"
mk uninstall PREFIX="$PREFIX_DIR"
[ -z "$(find "$PREFIX_DIR" -type f)" ] || fail "uninstall from $PREFIX_DIR left files: $(find "$PREFIX_DIR" -type f)"
rm -rf "$PREFIX_DIR"

# --- uninstall ------------------------------------------------------------------------

mk uninstall PREFIX=/usr DESTDIR="$DEST"
left=$(find "$DEST" -mindepth 1)
[ -z "$left" ] || fail "make uninstall left in DESTDIR: $(tr '\n' ' ' <<<"$left")"
log "ok: make uninstall left $DEST empty"
pass
