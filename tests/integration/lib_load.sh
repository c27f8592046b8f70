# shellcheck shell=bash
#
# Load and operations helpers for the tests that drive lxcfs as an operator
# would while containers keep reading (t_snapshot, t_upgrade, t_chaos,
# t_incompatible, soak_chaos). Sourced after lib.sh.
#
#   tool_bin NAME               path of tests/tools/NAME (filecheck, workerkill)
#   ctl ARGS...                 lxcfs-ctl --runtime-dir $RUNDIR ARGS (10 s at most)
#   ctl_json CMD PYEXPR         evaluate PYEXPR over `lxcfs-ctl --json CMD` (as d)
#   pool_is N                   N workers, all ready (lxcfs-ctl and ps agree)
#   two_containers              ct1 (256 MiB, cpu 0) and ct2 (384 MiB, every CPU), each
#                               with a cpuacct cgroup of its own, with meminfo, cpuinfo,
#                               stat and uptime bound; sets CT_MEM_KB[ct], CT_NCPU[ct]
#   readers_start CT N [FILE...] [-- ARGS]  N filecheck readers in CT until
#                               readers_stop, half of them the container's own
#                               processes, half entered
#   readers_stop                tell every reader to finish its current read and stop
#   readers_collect PHASE       wait for them; log the figures; fail on any problem
#   kill_workers SECS MIN MAX   SIGKILL a random worker every MIN..MAX ms for SECS
#   build_worker DIR MAKEVARS   an lxcfs-worker of this tree built into DIR
#   build_daemon DIR MAKEVARS   lxcfs and lxcfs-worker of this tree built into DIR
#
# Readers check each read with filecheck: whole, the file's shape, the
# container's own figures, and none that keeps the reader waiting longer than
# SLOW_MS (the request deadline + 100 ms: a hang as far as a reader can tell).
# A reader's wait is its read less its own time on a run queue meanwhile: on a
# machine that other load keeps busy, a reader that is not given a CPU is not
# a filesystem that hangs; the daemon's own processes get no such allowance.

REQUEST_TIMEOUT_MS=${REQUEST_TIMEOUT_MS:-500}
SLOW_MS=$((REQUEST_TIMEOUT_MS + 100))
HOST_MEM_KB=$(meminfo_kb MemTotal </proc/meminfo)
HOST_MEM_LINES=$(wc -l </proc/meminfo)
LOAD_FILES=(meminfo cpuinfo stat uptime)

# tool_bin NAME: path of tests/tools/NAME for this build (compiled here if the
# build has none, or an older one).
tool_bin()
{
	local src=$REPO_ROOT/tests/tools/$1.c
	if [ -x "$LXCFS_BUILD/tools/$1" ] && [ "$LXCFS_BUILD/tools/$1" -nt "$src" ]; then
		echo "$LXCFS_BUILD/tools/$1"
		return
	fi
	if [ ! -x "$TEST_TMP/$1" ]; then
		gcc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -o "$TEST_TMP/$1" "$src" >&2 ||
			fail "cannot compile $src"
	fi
	echo "$TEST_TMP/$1"
}

ctl()
{
	timeout 10 "$LXCFS_BUILD/lxcfs-ctl" --runtime-dir "$RUNDIR" "$@"
}

# ctl_json CMD PYEXPR: PYEXPR evaluated with d = the JSON of `lxcfs-ctl --json CMD`,
# printed (lists one item a line).
ctl_json()
{
	local out
	out=$(ctl --json "$1") || fail "lxcfs-ctl --json $1 failed (status $?): $out"
	"$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[2])
ws = d.get("worker", [])
r = eval(sys.argv[1])
if isinstance(r, (list, tuple)):
    for x in r:
        print(x)
else:
    print(r)' "$2" "$out" || fail "cannot read lxcfs-ctl --json $1: $out"
}

# pool_is N: exactly N workers, all ready, as lxcfs-ctl says and as ps says.
pool_is()
{
	[ "$(ctl_json workers 'sum(w["state"] == "ready" for w in ws)')" = "$1" ] &&
		[ "$(ctl_json workers 'len(ws)')" = "$1" ] &&
		[ "$(lxcfs_worker_pids | wc -l)" = "$1" ]
}

declare -A CT_MEM_KB=() CT_NCPU=()

two_containers()
{
	local all=0
	[ "$(nproc)" -ge 2 ] && all=0-$(($(nproc) - 1))
	make_container ct1 mem=256M cpus=0 files=meminfo,cpuinfo,stat,uptime
	CT_MEM_KB[ct1]=262144 CT_NCPU[ct1]=1
	make_container ct2 mem=384M cpus=$all files=meminfo,cpuinfo,stat,uptime
	CT_MEM_KB[ct2]=393216 CT_NCPU[ct2]=$(nproc)
	own_cpuacct ct1
	own_cpuacct ct2
}

# own_cpuacct CT: on v1, a cpuacct cgroup of CT's own for its init (and so its
# processes), as runtimes give each container. make_container leaves every
# container in the test's cpuacct cgroup: two of them with different CPUs would
# then share one CPU time (and one /proc/stat floor).
own_cpuacct()
{
	local ct=$1 dir
	[ "$CG_MODE" = v1 ] && [ -n "$(cg_v1_mount cpuacct)" ] || return 0
	cg_base cpuacct
	dir=$CG_DIR/$ct
	mkdir "$dir" || fail "mkdir $dir"
	state_add cgroups "$dir"
	CT_CGS[$ct]+=" $dir"
	echo "${CT_INIT[$ct]}" >"$dir/cgroup.procs" || fail "cannot move $ct's init into $dir"
}

READER_INIT=() # "ct job" of readers run by the container's init
READER_NS=()   # "pid out-file" of readers entered with nsenter
READER_STOP=
READER_SEQ=0

# readers_start CT N [FILE...] [-- FILECHECK-ARGS...]: N readers of /proc/FILE
# (default: the four LOAD_FILES, each reader starting at another one) in CT,
# checked against CT_MEM_KB[CT] and CT_NCPU[CT] when set, until readers_stop
# (at most READER_MAX_S, default 120 s).
readers_start()
{
	local ct=$1 n=$2 i k tag fc
	local -a files=() args=() rot=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	[ ${#files[@]} -gt 0 ] || files=("${LOAD_FILES[@]}")
	fc=$(tool_bin filecheck)
	[ -n "$READER_STOP" ] || READER_STOP=$TEST_TMP/readers.stop.$READER_SEQ
	args=(--stop-file "$READER_STOP" --seconds "${READER_MAX_S:-120}" --slow-ms "$SLOW_MS"
		--also-total "$HOST_MEM_KB" --mem-lines "$HOST_MEM_LINES")
	[ -n "${CT_MEM_KB[$ct]:-}" ] && args+=(--mem-total "${CT_MEM_KB[$ct]}")
	[ -n "${CT_NCPU[$ct]:-}" ] && args+=(--cpus "${CT_NCPU[$ct]}")
	args+=("$@")
	for ((i = 0; i < n; i++)); do
		READER_SEQ=$((READER_SEQ + 1))
		rot=()
		for ((k = 0; k < ${#files[@]}; k++)); do
			rot+=("/proc/${files[(i + k) % ${#files[@]}]}")
		done
		if [ $((i % 2)) = 0 ]; then
			tag=$ct/own$i
			READER_INIT+=("$ct $(in_init_bg "$ct" "$fc" --tag "$tag" "${args[@]}" "${rot[@]}")")
		else
			tag=$ct/entered$i
			IN_CONTAINER_TIMEOUT=$((${READER_MAX_S:-120} + 30)) \
				in_container "$ct" "$fc" --tag "$tag" "${args[@]}" "${rot[@]}" \
				>"$TEST_TMP/reader.$READER_SEQ.out" 2>&1 &
			READER_NS+=("$! $TEST_TMP/reader.$READER_SEQ.out")
		fi
	done
}

readers_stop()
{
	[ -n "$READER_STOP" ] && : >"$READER_STOP"
}

# readers_collect PHASE: stop and wait for every reader; log their figures as
# "PHASE: N readers, R reads (per file), E errors, S short, W wrong, H host
# content, L kept waiting over SLOW_MS; longest wait, slowest read". Fails on
# any problem (or a reader that does not finish within 30 s of being told to:
# a hang); with READERS_SOFT=1 returns 1 instead, the problem in READER_PROBLEM.
# Sets READS, MAX_MS (slowest read) and MAX_WAIT_MS (longest wait for the
# filesystem: a read less the reader's own run-queue delay).
readers_collect()
{
	local phase=$1 r ct job pid f out rc sum=$TEST_TMP/readers.sum
	local -a problems=()
	readers_stop
	: >"$sum"
	for r in "${READER_INIT[@]}"; do
		read -r ct job <<<"$r"
		out=$(init_wait "$ct" "$job" 30 2>&1)
		rc=$?
		[ $rc = 124 ] && problems+=("reader $job in $ct did not stop: a read hangs")
		grep 'ops=' <<<"$out" >>"$sum"
		[ $rc = 0 ] || [ $rc = 124 ] || problems+=("$(tr '\n' ' ' <<<"$out")")
	done
	for r in "${READER_NS[@]}"; do
		read -r pid f <<<"$r"
		if ! wait_for 30 eval '! pid_alive '"$pid"; then
			problems+=("entered reader $pid did not stop: a read hangs")
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid"
		rc=$?
		grep 'ops=' "$f" >>"$sum"
		[ $rc = 0 ] || problems+=("$(tr '\n' ' ' <"$f")")
	done
	# Every reader's line, then the sums.
	sed 's/^/#   /' "$sum" >&2
	# shellcheck disable=SC2034 # for the callers
	read -r READS MAX_MS MAX_WAIT_MS < <(awk '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		  ops += v["ops"]; if (v["max_ms"] + 0 > max) max = v["max_ms"] + 0
		  if (v["max_wait_ms"] + 0 > maxw) maxw = v["max_wait_ms"] + 0 }
		END { printf "%d %.1f %.1f\n", ops, max, maxw }' "$sum")
	log "$phase: $(awk -v n="$(wc -l <"$sum")" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		  for (k in v) if (k != "max_at" && k != "per_file" && k !~ /\//) s[k] += v[k]
		  if (v["max_ms"] + 0 > max) { max = v["max_ms"] + 0; at = v["max_at"] }
		  if (v["max_wait_ms"] + 0 > maxw) maxw = v["max_wait_ms"] + 0
		  m = split(v["per_file"], pf, ",")
		  for (j = 1; j <= m; j++) { split(pf[j], fv, ":"); per[fv[1]] += fv[2] } }
		END {
			pfs = ""; for (k in per) pfs = pfs (pfs ? ", " : "") k " " per[k]
			printf "%d readers, %d reads (%s), %d errors, %d short, %d wrong, %d host content, %d kept waiting over %d ms; longest wait %.1f ms, slowest read %.1f ms (at %s)",
				n, s["ops"], pfs, s["errors"], s["short"], s["wrong"], s["host"], s["slow"], '"$SLOW_MS"', maxw, max, at
		}' "$sum")"
	READER_INIT=() READER_NS=() READER_STOP=
	[ "$(wc -l <"$sum")" -gt 0 ] || problems+=("no reader reported")
	READER_PROBLEM=
	[ ${#problems[@]} = 0 ] && return 0
	READER_PROBLEM="$phase: ${problems[0]}${problems[1]:+; ${problems[1]}}"
	[ "${READERS_SOFT:-0}" = 1 ] && return 1
	fail "$READER_PROBLEM"
}

# kill_workers SECS MIN_MS MAX_MS: SIGKILL a random worker of ours every
# MIN..MAX ms for SECS seconds (tests/tools/workerkill: on schedule, whatever
# the load). Sets KILLS. The master must stay alive throughout.
kill_workers()
{
	local out
	out=$("$(tool_bin workerkill)" --master "$LXCFS_PID" --seconds "$1" --every-ms "$2-$3") ||
		fail "the master died while workers were being killed ($out)"
	log "workerkill: $out"
	# shellcheck disable=SC2034 # for the callers
	KILLS=$(sed -n 's/^kills=\([0-9]*\).*/\1/p' <<<"$out")
}

# build_worker DIR [MAKE-VARS...]: build lxcfs-worker of this tree into DIR, with
# the sanitizers when the build under test has them; prints its path.
build_worker()
{
	build_binaries "$1" lxcfs-worker "${@:2}"
	echo "$1/lxcfs-worker"
}

# build_daemon DIR [MAKE-VARS...]: lxcfs and lxcfs-worker of this tree built
# into DIR (sanitizers as the build under test has them).
build_daemon()
{
	build_binaries "$1" "lxcfs lxcfs-worker" "${@:2}"
}

# build_binaries DIR "NAME..." [MAKE-VARS...]
build_binaries()
{
	local dir=$1 names=$2 san=0 t0=$SECONDS n
	local -a targets=()
	shift 2
	ldd "$LXCFS_BUILD/lxcfs-worker" 2>/dev/null | grep -q libasan && san=1
	mkdir -p "$dir"
	for n in $names; do targets+=("$dir/$n"); done
	if ! make -C "$REPO_ROOT" --no-print-directory -j2 BUILD="$dir" SAN=$san "$@" \
		"${targets[@]}" >"$dir/make.log" 2>&1; then
		fail "cannot build $names into $dir ($* SAN=$san): $(grep -m3 -iE 'error' "$dir/make.log" | tr '\n' ' ')"
	fi
	log "built $names into $dir ($* SAN=$san) in $((SECONDS - t0)) s"
}
