#!/usr/bin/env bash
# A reader in a very deep cgroup gets its own figures, or a clear error: never the host's.
#
# /proc/<pid>/cgroup shows at most 4,095 bytes of a path and cuts the rest
# without a sign, so a longer one cannot tell which cgroup the reader is in
# (the cut path may even name another cgroup). Scenario, with a 200 MiB limit
# on the top of a chain of 250-byte names:
#   3,800 bytes deep  meminfo shows the 200 MiB limit (the path is longer than
#                     the identity cache keeps, and is resolved live);
#   4,300 bytes deep  the read fails with ENAMETOOLONG, and the daemon's log
#                     line says why (the path shortened, the reason kept);
#   a cgroup at the cut path, with a 100 MiB limit, is not taken for the deep
#   reader's.
. "$(dirname "$0")/lib.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs serves the host's figures here"

start_lxcfs
cg_detect
cg_base memory
TOP=$CG_DIR/deep
mkdir "$TOP" || fail "mkdir $TOP"
state_add cgroups "$TOP"
if [ "$CG_MODE" = v1 ]; then
	echo 200M >"$TOP/memory.limit_in_bytes" || fail "cannot limit $TOP"
else
	echo 200M >"$TOP/memory.max" || fail "cannot limit $TOP"
fi
NAME=x$(printf 'a%.0s' $(seq 249))

# deep_read LEVELS: make TOP/NAME/NAME/... LEVELS deep (relative paths: the
# absolute one passes PATH_MAX), and read meminfo's MemTotal there from a new
# pid namespace whose init is the reader. Prints the MemTotal line or the
# errno name.
deep_read()
{
	(
		cd "$TOP" || exit 1
		for ((i = 0; i < $1; i++)); do
			[ -d "$NAME" ] || mkdir "$NAME" || exit 1
			cd "$NAME" || exit 1
		done
		echo "$BASHPID" >cgroup.procs || exit 1
		exec unshare --pid --fork --mount --mount-proc "$PYTHON" -c '
import errno, sys
try:
    print([l for l in open(sys.argv[1]) if l.startswith("MemTotal:")][0].strip())
except OSError as e:
    print(errno.errorcode[e.errno])' "$MNT/proc/meminfo"
	)
}

out=$(deep_read 15) || fail "cannot read from a cgroup 15 levels deep: $out"
log "15 levels: $out"
[ "$(tr -s ' ' <<<"$out")" = "MemTotal: 204800 kB" ] ||
	fail "a reader 15 levels deep saw '$out', not its 200 MiB"

# The path the kernel shows for 17 levels, cut at 4,095 bytes, made a cgroup
# of its own with another limit: a reader taking the cut path would see it.
own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ || ($1 == 0 && !v1) {print $3; exit}' /proc/self/cgroup)
full=$own${TOP#"$CG_DIR"}$(printf "/$NAME%.0s" $(seq 17))
cut=${full:0:4095}
decoy=${cut##*/}
log "the kernel shows ${#full} bytes as 4095: the last name cut to ${#decoy} bytes"
(
	cd "$TOP" || exit 1
	for ((i = 0; i < 16; i++)); do
		[ -d "$NAME" ] || mkdir "$NAME" || exit 1
		cd "$NAME" || exit 1
	done
	mkdir "$decoy" || exit 1
	if [ "$CG_MODE" = v1 ]; then echo 100M >"$decoy/memory.limit_in_bytes"; else echo 100M >"$decoy/memory.max"; fi
) || fail "cannot make the decoy cgroup"
out=$(deep_read 17) || fail "cannot read from a cgroup 17 levels deep: $out"
log "17 levels: $out"
[ "$out" = ENAMETOOLONG ] || fail "a reader 17 levels deep saw '$out', not ENAMETOOLONG"
line=$(grep -m1 'File name too long: refused' "$LXCFS_LOG") ||
	fail "no log line says why the deep reader was refused: $(tail -2 "$LXCFS_LOG" | cut -c1-300)"
log "daemon: $line"
[ ${#line} -lt 400 ] || fail "the refusal's log line is ${#line} bytes long"
pid_alive "$LXCFS_PID" || fail "the daemon died"
pass
