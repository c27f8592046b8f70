#!/usr/bin/env bash
# The CPU count and CPU ids that glibc, coreutils, Python, a JVM and Go read
# are the container's, and /proc/stat's lines pair with them.
#
# A container with cpuset 1 (the host has 2 CPUs or more), lxcfs's stat and
# cpuinfo bound over /proc and its sys/devices/system/cpu over the
# container's, as runtimes bind it:
#  1. online, possible and present list "1", offline is empty; each is in
#     the kernel's list format, as the host's file is, within the host's
#     own list; offline = possible - online.
#  2. The cpuN directories are the container's: cpu1 (its files the host's),
#     no cpu0 (ls, stat, open all say ENOENT); the rest of the tree passes.
#  3. /proc/stat: "cpu " and "cpu1", numbered as online numbers the CPU
#     (as the kernel and upstream since 5.0.3 do), its line with as many
#     fields as the host's; its other lines in the host's order. A client
#     pairing sched_getaffinity() and the online list with the stat lines
#     (as mpstat -P and per-CPU monitors do) finds each CPU's line.
#  4. Clients: getconf _NPROCESSORS_CONF and _NPROCESSORS_ONLN and python3
#     os.cpu_count() say 1 from a process entered with setns and from one of
#     the container's own; nproc, nproc --all (which reads possible, but
#     trusts the affinity mask over a count of 1 or 2), a JVM's
#     Runtime.availableProcessors() and Go's runtime.NumCPU(), which count
#     the affinity mask (and the JVM its cgroup), say 1 from the container's
#     own process (one entered with setns keeps its caller's cgroup). The
#     same in a container without the binds say the host's count (logged).
#  5. --enable-cfs: a container with cpuset 0-1 and a CFS quota of half a
#     CPU sees a host of one CPU: online, possible and present "0", offline
#     empty, cpu0 alone, stat's cpu0; _NPROCESSORS_CONF, _NPROCESSORS_ONLN,
#     os.cpu_count() and the JVM (its own quota reading) say 1. nproc, nproc
#     --all (a count of 1 or 2 loses to the mask) and Go's NumCPU count the
#     affinity mask, which a quota does not narrow: 2 (logged).
#
# A JDK (javac) and Go are installed when missing (apt-get, at most 5
# minutes each); a client that cannot be had is skipped with a note.
. "$(dirname "$0")/lib.sh"

host_ncpu=$(getconf _NPROCESSORS_ONLN)
[ "$host_ncpu" -ge 2 ] || skip "needs a host with 2 CPUs (the container gets CPU 1)"
cg_detect
[ "$CG_MODE" = v1 ] || [ -n "$(cg_v2_mount)" ] || skip "no cgroup hierarchy"
SYSCPU=/sys/devices/system/cpu

# ---------------------------------------------------------------------------
# The clients that need a toolchain: built once, run in the containers.

# need_pkg CMD PACKAGE: CMD on PATH, installing PACKAGE when it is not.
need_pkg()
{
	command -v "$1" >/dev/null && return 0
	log "installing $2 for $1"
	{ timeout 300 apt-get install -y -q "$2" || { apt-get update -q &&
		timeout 300 apt-get install -y -q "$2"; }; } >"$TEST_TMP/apt.$2.log" 2>&1
	command -v "$1" >/dev/null
}

JAVA_CP= GO_BIN=
if need_pkg javac default-jdk-headless && command -v java >/dev/null; then
	mkdir -p "$TEST_TMP/java"
	cat >"$TEST_TMP/java/Cpus.java" <<'EOF'
public class Cpus {
    public static void main(String[] args) {
        System.out.println(Runtime.getRuntime().availableProcessors());
    }
}
EOF
	javac -d "$TEST_TMP/java" "$TEST_TMP/java/Cpus.java" >&2 && JAVA_CP=$TEST_TMP/java
else
	log "note: no JDK (default-jdk-headless did not install): the JVM is not checked"
fi
if need_pkg go golang-go; then
	mkdir -p "$TEST_TMP/go"
	cat >"$TEST_TMP/go/cpus.go" <<'EOF'
package main

import (
	"fmt"
	"runtime"
)

func main() { fmt.Println(runtime.NumCPU()) }
EOF
	(cd "$TEST_TMP/go" && HOME=$TEST_TMP GOCACHE=$TEST_TMP/go/cache GOPATH=$TEST_TMP/go/path \
		GO111MODULE=off go build -o cpus cpus.go) >&2 && GO_BIN=$TEST_TMP/go/cpus
	[ -n "$GO_BIN" ] || log "note: go build failed: Go is not checked"
else
	log "note: no Go (golang-go did not install): runtime.NumCPU is not checked"
fi
chmod -R a+rX "$TEST_TMP/java" "$TEST_TMP/go" 2>/dev/null

# counts CT HOW: "name=value" for every client, one per line.
counts()
{
	local ct=$1 how=$2 run
	if [ "$how" = setns ]; then run=(in_container "$ct"); else run=(in_init "$ct"); fi
	"${run[@]}" sh -c 'echo nproc=$(nproc)
		echo nproc_all=$(nproc --all)
		echo conf=$(getconf _NPROCESSORS_CONF)
		echo onln=$(getconf _NPROCESSORS_ONLN)
		echo python=$("$1" -c "import os; print(os.cpu_count())")
		[ -z "$2" ] || echo java=$(java -Xshare:off -cp "$2" Cpus)
		[ -z "$3" ] || echo go=$("$3")' sh "$PYTHON" "$JAVA_CP" "$GO_BIN"
}

# count_of NAME: the value of NAME= in the counts on stdin.
count_of()
{
	awk -F= -v k="$1" '$1 == k { print $2 }'
}

# bind_cpu_tree CT: lxcfs's sys/devices/system/cpu over the container's.
bind_cpu_tree()
{
	in_init "$1" mount --bind "$MNT$SYSCPU" "$SYSCPU" || fail "$1: cannot bind $MNT$SYSCPU"
}

# check_lists CT ONLINE POSSIBLE PRESENT OFFLINE: the four lists as the container reads them.
check_lists()
{
	local ct=$1 f want host got
	shift
	for f in online possible present offline; do
		want=$1
		shift
		got=$(in_container "$ct" cat "$SYSCPU/$f") || fail "$ct: cannot read $SYSCPU/$f"
		expect_eq "$want" "$got" "$ct: $SYSCPU/$f"
		host=$(cat "$SYSCPU/$f")
		"$PYTHON" - "$f" "$got" "$host" <<'EOF' || fail "$ct: $f '$got' breaks the kernel's list format or lies outside the host's '$host'"
import re, sys
name, got, host = sys.argv[1:4]
fmt = re.compile(r"^(\d+(-\d+)?(,\d+(-\d+)?)*)?$")
def cpus(text):
    out = set()
    for item in filter(None, text.split(",")):
        a, _, b = item.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out
ok = fmt.match(got) and fmt.match(host)
sys.exit(0 if ok and cpus(got) <= cpus(host) else 1)
EOF
	done
}

# stat_ids CT: the numbers of the container's cpuN lines, space-separated.
stat_ids()
{
	in_container "$1" cat /proc/stat | awk '$1 ~ /^cpu[0-9]+$/ { printf "%s%s", n++ ? " " : "", substr($1, 4) } END { print "" }'
}

# check_stat_shape CT: cpuN lines with the host's number of fields; the other lines in the host's order.
check_stat_shape()
{
	local out
	out=$(in_container "$1" cat /proc/stat) || fail "$1: cannot read /proc/stat"
	"$PYTHON" - <<EOF || fail "$1: /proc/stat is not shaped as the host's"
import sys
mine = """$out""".splitlines()
host = open("/proc/stat").read().splitlines()
hf = len(host[1].split())
bad = [l for l in mine if l.startswith("cpu") and len(l.split()) != hf]
if not mine[0].startswith("cpu  "):
    bad.append("first line %r" % mine[0])
order = lambda ls: [l.split()[0] for l in ls if not l.startswith("cpu")]
if order(mine) != order(host):
    bad.append("other lines %s, host %s" % (order(mine), order(host)))
if bad:
    print(bad, file=sys.stderr)
    sys.exit(1)
EOF
}

# ---------------------------------------------------------------------------
# 1-4: cpuset 1, without --enable-cfs.

start_lxcfs
make_container ct0 cpus=1 files=meminfo
before=$(counts ct0 init)
log "a container of cpuset 1 without lxcfs's cpu tree: $(echo $before)"
destroy_container ct0

make_container ct1 mem=300M cpus=1 files=meminfo,stat,cpuinfo
ct_join_cgroups ct1 cpu cpuacct
bind_cpu_tree ct1

check_lists ct1 1 1 1 ""
in_container ct1 ls "$SYSCPU" | grep -E '^cpu[0-9]+$' | tr '\n' ' ' | expect_eq "cpu1 " - "ct1: cpuN directories"
in_container ct1 stat "$SYSCPU/cpu0" >/dev/null 2>&1 && fail "ct1: $SYSCPU/cpu0 is visible"
in_container ct1 cat "$SYSCPU/cpu0/topology/core_id" >/dev/null 2>&1 && fail "ct1: cpu0's files are readable"
expect_eq "$(cat $SYSCPU/cpu1/topology/core_id)" "$(in_container ct1 cat $SYSCPU/cpu1/topology/core_id)" \
	"ct1: cpu1/topology/core_id, the host's"
expect_eq "$(cat $SYSCPU/kernel_max)" "$(in_container ct1 cat $SYSCPU/kernel_max)" "ct1: kernel_max, passed through"
# A host reader (this script) right after still sees cpu0 through the mount: no dentry leaks.
[ -d "$MNT$SYSCPU/cpu0" ] || [ "$(cat "$(cg_own cpuset; echo "$CG_DIR")/cpuset.cpus" 2>/dev/null)" = 1 ] ||
	fail "host reader: $MNT$SYSCPU/cpu0 missing after ct1 looked it up"
in_container ct1 stat "$SYSCPU/cpu0" >/dev/null 2>&1 && fail "ct1: $SYSCPU/cpu0 visible after the host looked it up"

stat_ids ct1 | expect_eq 1 - "ct1: /proc/stat cpuN line numbers"
check_stat_shape ct1
log "ok: ct1: /proc/stat: $(in_container ct1 head -2 /proc/stat | tr '\n' '|'), online $(in_container ct1 cat $SYSCPU/online)"
in_init ct1 "$PYTHON" -c '
import os, sys
aff = sorted(os.sched_getaffinity(0))
lines = {int(l.split()[0][3:]): l for l in open("/proc/stat") if l[:3] == "cpu" and l[3].isdigit()}
online = set()
for item in open("/sys/devices/system/cpu/online").read().strip().split(","):
    a, _, b = item.partition("-")
    online.update(range(int(a), int(b or a) + 1))
missing = [c for c in aff if c not in lines]
if missing or set(lines) != online:
    sys.exit("affinity %s, online %s, stat lines %s" % (aff, sorted(online), sorted(lines)))
print("affinity %s: each CPU has its stat line" % aff)' >&2 || fail "ct1: stat lines do not pair with the affinity mask and online"

# A process entered with setns stays in the caller's cgroup, so its affinity
# mask (nproc, Go) and the JVM's own cgroup reading are the caller's: only the
# counts read from files are the container's there. nproc --all reads
# possible, but takes a count of 1 or 2 for a sysfs that is not mounted and
# then counts the affinity mask if it has more (gnulib's nproc.c).
for how in setns init; do
	c=$(counts ct1 $how)
	log "ct1 ($how): $(echo $c)"
	keys="conf onln python"
	[ $how = init ] && keys+=" nproc_all nproc java go"
	for k in $keys; do
		v=$(count_of $k <<<"$c")
		[ -n "$v" ] || continue
		expect_eq 1 "$v" "ct1 ($how): $k"
	done
done
destroy_container ct1
stop_lxcfs

# ---------------------------------------------------------------------------
# 5: --enable-cfs, cpuset 0-1 and half a CPU of quota.

start_lxcfs --enable-cfs
make_container ct2 mem=300M cpus=0-1 files=meminfo,stat,cpuinfo
ct_join_cgroups --need ct2 cpu
ct_join_cgroups ct2 cpuacct
quota_dir=
for d in ${CT_CGS[ct2]}; do
	[ -f "$d/cpu.cfs_quota_us" ] && quota_dir=$d
	[ -f "$d/cpu.max" ] && quota_dir=$d
done
[ -n "$quota_dir" ] || fail "ct2: no cpu cgroup for its quota"
if [ -f "$quota_dir/cpu.max" ]; then
	echo "50000 100000" >"$quota_dir/cpu.max"
else
	echo 100000 >"$quota_dir/cpu.cfs_period_us" && echo 50000 >"$quota_dir/cpu.cfs_quota_us"
fi || fail "ct2: cannot set a quota in $quota_dir"
sleep 0.3 # the daemon's cached quota (100 ms) goes stale
bind_cpu_tree ct2

check_lists ct2 0 0 0 ""
in_container ct2 ls "$SYSCPU" | grep -E '^cpu[0-9]+$' | tr '\n' ' ' | expect_eq "cpu0 " - "ct2: cpuN directories"
stat_ids ct2 | expect_eq 0 - "ct2 (--enable-cfs): /proc/stat cpuN line numbers"
check_stat_shape ct2
c=$(counts ct2 init)
log "ct2 (--enable-cfs, cpuset 0-1, quota 0.5 CPU): $(echo $c)"
for k in conf onln python java; do
	v=$(count_of $k <<<"$c")
	[ -n "$v" ] || continue
	expect_eq 1 "$v" "ct2 (--enable-cfs): $k"
done
for k in nproc nproc_all go; do
	v=$(count_of $k <<<"$c")
	[ -z "$v" ] || log "note: ct2: $k says $v: it counts the affinity mask (cpuset 0-1), which a quota does not narrow"
done

destroy_container ct2
stop_lxcfs
pass
