# shellcheck shell=bash
#
# Helpers for the tests that run a real container runtime (t_lxc, t_docker).
# Sourced after lib.sh.
#
#   need_packages PKG...      install the Debian packages that are missing
#                             (apt-get update first, as `make test-deps`); the
#                             test is skipped when that cannot be done
#   runtime_cgroups           a base cgroup below ours in every hierarchy this
#                             process is in: each v1 hierarchy (named ones
#                             too) and the unified one. Sets RT_CGROUPS, and
#                             RT_UNIFIED_PATH: the unified base's path from
#                             the root of its hierarchy ("" when none)
#   in_runtime_cgroups CMD... run CMD from those cgroups
#   runtime_exec CMD...       this shell joins them and becomes CMD
#   runtime_cgroups_below     the cgroup folders left below them
#   rmdir_runtime_cgroups NAME  remove the empty cgroups named NAME below them
#
# Why run a runtime from cgroups of its own: LXC (lxc.cgroup.relative = 1) and
# runc (a relative cgroup parent) make their cgroups below the cgroup of the
# process that starts them, in each hierarchy; started from ours, whatever they
# make lands below the test's base cgroups, which the test's cleanup kills and
# removes on every path (lib.sh: cg_kill_tree, cg_rmtree), whatever the runtime
# leaves behind (LXC leaves an empty lxc.pivot after a stop).

# need_packages PKG...
need_packages()
{
	local p
	local -a missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return 0
	log "installing ${missing[*]} (apt-get)"
	if ! { apt-get -o DPkg::Lock::Timeout=120 update -q &&
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -q \
			"${missing[@]}"; } >"$TEST_TMP/apt.log" 2>&1; then
		skip "cannot install ${missing[*]}: $(tail -1 "$TEST_TMP/apt.log")"
	fi
}

RT_CGROUPS=()
RT_UNIFIED_PATH=

runtime_cgroups()
{
	local line ctls path base
	local -a lines mnt
	[ ${#RT_CGROUPS[@]} -gt 0 ] && return 0
	cg_detect
	# Read whole before any move: /proc/self/cgroup changes as we join.
	mapfile -t lines </proc/self/cgroup
	for line in "${lines[@]}"; do
		ctls=${line#*:}
		path=${ctls#*:}
		ctls=${ctls%%:*}
		if [ -n "$ctls" ]; then
			[ "$CG_MODE" = v1 ] || continue
			cg_base "${ctls%%,*}"
			RT_CGROUPS+=("$CG_DIR")
			continue
		fi
		# The unified hierarchy: the one of a v2 host, or beside v1 ones.
		read -r -a mnt <<<"$(cg_v2_mount)"
		[ ${#mnt[@]} = 2 ] || continue
		if [ "$CG_MODE" = v2 ]; then
			cg_base memory
			base=$CG_DIR
		else
			base=$(cg_own_dir "${mnt[0]}" "${mnt[1]}" "$path")/lxcfs-test.$TEST_MAIN_PID
			mkdir "$base" || fail "mkdir $base"
			state_add cgroups "$base"
		fi
		RT_CGROUPS+=("$base")
		# shellcheck disable=SC2034 # for the tests
		RT_UNIFIED_PATH=${base#"${mnt[0]}"}
	done
	[ ${#RT_CGROUPS[@]} -gt 0 ] || fail "no cgroup hierarchy to run a runtime in"
	log "runtime cgroups: ${RT_CGROUPS[*]}"
}

# in_runtime_cgroups CMD...: CMD run from the runtime cgroups.
in_runtime_cgroups()
{
	runtime_cgroups
	(runtime_exec "$@")
}

# runtime_exec CMD...: this shell joins the runtime cgroups and becomes CMD.
# For a daemon, after runtime_cgroups: `runtime_exec CMD &` ($! is CMD).
runtime_exec()
{
	local cg
	for cg in "${RT_CGROUPS[@]}"; do
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 97
	done
	exec "$@"
}

runtime_cgroups_below()
{
	local cg
	for cg in "${RT_CGROUPS[@]}"; do
		find "$cg" -mindepth 1 -type d 2>/dev/null
	done
}

# rmdir_runtime_cgroups NAME: the empty cgroups NAME below the runtime cgroups
# removed; 1 when one of them could not be.
rmdir_runtime_cgroups()
{
	local d rc=0
	while read -r d; do
		[ -n "$d" ] || continue
		rmdir "$d" || rc=1
	done < <(runtime_cgroups_below | grep "/$1\$" | sort -r)
	return $rc
}
