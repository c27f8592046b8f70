#!/usr/bin/env bash
# A 256-CPU host's cpuinfo and stat are served whole, at any read size and offset.
#
# Upstream LXCFS has truncated large files: its #694 (cpuinfo cut on hosts with
# many CPUs) and #448 (/proc/stat likewise). Here a 256-CPU /proc/cpuinfo
# (~340 KiB, this machine's processor block with processor, core id and apicid
# renumbered) and a 256-CPU /proc/stat are generated, bind-mounted over
# /proc/cpuinfo and /proc/stat in a private mount namespace, and the daemon is
# started in that namespace, so they are the host's files as it sees them. All
# reads go through the mount from inside the same namespace.
#
#  1. Virtualization off (SIGUSR2): the host's files as they are. Reading
#     each with read sizes 1, 7, 4096, 64 KiB, 128 KiB and 1 MiB gives exactly
#     the fixture's bytes (also with dd and cmp), and so do preads at offsets
#     scattered through the file, the last byte and past the end included, on
#     an open whose first read was at offset 0 and on fresh opens whose first
#     read is elsewhere.
#     Before anything reads them through the mount, a reader that trusts
#     st_size (one read of st_size bytes) gets them whole: SPEC asks for an
#     st_size that lets naive readers read everything (upstream reports the
#     host file's size). Judged last, after everything else was checked.
#  2. Virtualization on (SIGUSR2 again): the reader (this test, in the host's
#     pid namespace, so its own cgroup) sees the blocks (renumbered) and cpuN
#     lines (with the host's numbers) of the CPUs in its cpuset only, and one
#     open read with a mix of read
#     sizes and then preads at many offsets returns one consistent text.
#
# LXCFS_IMPL=upstream runs the same against /usr/bin/lxcfs: its known
# differences (EINVAL for a read past the end, nothing for a first read at a
# nonzero offset) are noted, not failed.
#
# The namespace dies with the daemon: nothing is mounted outside it, and
# stopping the daemon (on every path, lib.sh's traps) removes it.
. "$(dirname "$0")/lib.sh"

NCPUS=256
FIX=$TEST_TMP/fix
NAIVE_BAD=
mkdir -p "$FIX"

# ---------------------------------------------------------------------------
# Fixtures: a 256-CPU host's cpuinfo and stat.

"$PYTHON" - "$FIX" "$NCPUS" <<'EOF' || fail "cannot generate the fixtures"
import random, re, sys

fix, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(256)

# this machine's first processor block, renumbered per CPU
block = open("/proc/cpuinfo").read().split("\n\n")[0].rstrip("\n")
if not re.search(r"^processor\s*: 0$", block, re.M):
    sys.exit("unexpected /proc/cpuinfo layout")
out = []
for cpu in range(n):
    b = block
    for label, value in (("processor", cpu), ("core id", cpu % (n // 2)),
                         ("physical id", cpu // (n // 2)), ("apicid", cpu),
                         ("initial apicid", cpu), ("siblings", n // 2),
                         ("cpu cores", n // 2)):
        b = re.sub(r"^(%s\s*: )\d+$" % re.escape(label), r"\g<1>%d" % value, b, flags=re.M)
    out.append(b + "\n\n")
open(fix + "/cpuinfo", "w").write("".join(out))

# /proc/stat: a cpu line per CPU with large counters, a long intr line
cpus = []
for cpu in range(n):
    user, system = rnd.randrange(10**6, 10**8), rnd.randrange(10**5, 10**7)
    idle = rnd.randrange(10**8, 10**9)
    cpus.append([user, rnd.randrange(0, 10**4), system, idle, rnd.randrange(0, 10**5),
                 0, rnd.randrange(0, 10**5), rnd.randrange(0, 10**3), 0, 0])
total = [sum(c[i] for c in cpus) for i in range(10)]
lines = ["cpu  " + " ".join(map(str, total))]
lines += ["cpu%d " % i + " ".join(map(str, c)) for i, c in enumerate(cpus)]
irqs = [rnd.randrange(0, 10**9) if rnd.random() < 0.3 else 0 for _ in range(4352)]
lines.append("intr %d " % sum(irqs) + " ".join(map(str, irqs)))
lines += ["ctxt 98765432109", "btime 1732850000", "processes 123456789",
          "procs_running 17", "procs_blocked 2",
          "softirq 9876543210 1 2 3 4 5 6 7 8 9 10"]
open(fix + "/stat", "w").write("\n".join(lines) + "\n")
EOF
log "fixtures: cpuinfo $(stat -c %s "$FIX/cpuinfo") bytes, stat $(stat -c %s "$FIX/stat") bytes"
[ "$(stat -c %s "$FIX/cpuinfo")" -gt 262144 ] || fail "cpuinfo fixture under 256 KiB"

# ---------------------------------------------------------------------------
# The daemon in a private mount namespace where the fixtures are the host's files.

# start_in_ns: like start_lxcfs, with the daemon (ours or upstream) started by
# unshare(1), which execs it: LXCFS_PID is the daemon and names the namespace.
start_in_ns()
{
	local -a cmd
	MNT=$TEST_TMP/mnt
	RUNDIR=$TEST_TMP/run
	LXCFS_LOG=$TEST_TMP/lxcfs.log
	mkdir -p "$MNT" "$RUNDIR"
	if [ "$LXCFS_IMPL" = upstream ]; then
		cmd=("$UPSTREAM_LXCFS" -f -p "$RUNDIR/lxcfs.pid" "$MNT")
	else
		cmd=("$LXCFS_BUILD/lxcfs" -f --runtime-dir "$RUNDIR"
			--worker-binary "$LXCFS_BUILD/lxcfs-worker" --workers "${LXCFS_WORKERS:-2}" "$MNT")
	fi
	log "start in a private mount namespace: ${cmd[*]}"
	unshare --mount --propagation private -- sh -c '
		mount --bind "$1" /proc/cpuinfo || exit 97
		mount --bind "$2" /proc/stat || exit 97
		shift 2
		exec "$@"' sh "$FIX/cpuinfo" "$FIX/stat" "${cmd[@]}" </dev/null >>"$LXCFS_LOG" 2>&1 &
	LXCFS_PID=$!
	LXCFS_CHILD=$LXCFS_PID
	record_pid daemon "$LXCFS_PID"
	LXCFS_STARTED=1
	if ! wait_for 10 ns_ready; then
		pid_alive "$LXCFS_PID" || fail "lxcfs exited at start: $(tail -3 "$LXCFS_LOG" | tr '\n' ' ')"
		fail "lxcfs not serving $MNT in its namespace after 10 s"
	fi
	lxcfs_worker_pids >/dev/null
	log "lxcfs pid $LXCFS_PID serving $MNT in its own mount namespace"
}

# in_ns CMD...: CMD in the daemon's mount namespace (this test's cgroups, pid namespace).
in_ns()
{
	timeout -k 5 "${IN_NS_TIMEOUT:-120}" nsenter -t "$LXCFS_PID" -m -- "$@"
}

ns_ready()
{
	pid_alive "$LXCFS_PID" || return 1
	in_ns sh -c 'mountpoint -q "$1" && timeout 5 head -c 9 "$1/proc/meminfo" | grep -q "^MemTotal:"' \
		sh "$MNT" 2>/dev/null
}

# The CPUs of this test's cpuset (the reader's), as the kernel lists them; "" for no cpuset.
own_cpuset()
{
	local dir top v f
	cg_detect
	if [ "$CG_MODE" = v1 ]; then
		top=$(cg_v1_mount cpuset)
		[ -n "$top" ] || return 0
		cg_own cpuset
	else
		top=$(cg_v2_mount)
		cg_own ""
	fi
	top=${top%% *}
	dir=$CG_DIR
	while :; do
		for f in cpuset.cpus cpuset.effective_cpus cpuset.cpus.effective; do
			v=$(cat "$dir/$f" 2>/dev/null) || continue
			[ -n "$v" ] && { echo "$v"; return 0; }
		done
		[ "${#dir}" -le "${#top}" ] && return 0
		dir=${dir%/*}
	done
}

# ---------------------------------------------------------------------------
# The reader: python, for exact sizes and offsets.

cat >"$TEST_TMP/reader.py" <<'EOF'
import os, sys

SIZES = [1, 7, 4096, 65536, 131072, 1 << 20]


def read_all(fd, sizes):
    """Read fd to EOF from where it is, cycling through sizes."""
    out, i = [], 0
    while True:
        try:
            b = os.read(fd, sizes[i % len(sizes)])
        except OSError as e:
            check(False, "read(%d) at %d: %s" % (sizes[i % len(sizes)], sum(map(len, out)), e))
            b = b""
        if not b:
            return b"".join(out)
        out.append(b)
        i += 1


def pread(fd, size, off):
    """os.pread; an error (upstream: EINVAL past its end) reads as None."""
    try:
        return os.pread(fd, size, off)
    except OSError as e:
        return "error: %s" % e


def desc(got):
    return got if isinstance(got, str) else "%d bytes" % len(got)


def offsets(n):
    offs = {0, 1, 6, 7, 4095, 4096, 4097, 65535, 65536, 65537, 131071, 131072,
            131073, 200000, 262144, n // 3, n // 2, n - 4097, n - 4096, n - 7,
            n - 2, n - 1, n, n + 1, n + 4096, n + (1 << 20)}
    return sorted(o for o in offs if o >= 0)


bad = 0


def check(ok, what):
    global bad
    if not ok:
        bad += 1
        if bad <= 20:
            print("BAD", what)


def first_diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


def same(path, fixture):
    """Virtualization off: every way of reading path gives the fixture's bytes."""
    want = open(fixture, "rb").read()
    n = len(want)
    for size in SIZES:
        fd = os.open(path, os.O_RDONLY)
        got = read_all(fd, [size])
        os.close(fd)
        check(got == want, "%s read(%d): %d bytes, want %d, first difference at %d"
              % (path, size, len(got), n, first_diff(got, want)))
    # preads on an open whose first read was at offset 0
    fd = os.open(path, os.O_RDONLY)
    os.read(fd, 4096)
    for off in offsets(n):
        for size in SIZES:
            got = pread(fd, size, off)
            check(got == want[off:off + size], "%s pread(%d at %d): %s, want %d bytes"
                  % (path, size, off, desc(got), len(want[off:off + size])))
    os.close(fd)
    # fresh opens whose first read is not at offset 0
    for off in offsets(n):
        fd = os.open(path, os.O_RDONLY)
        got = pread(fd, 65536, off)
        os.close(fd)
        check(got == want[off:off + 65536], "%s first pread(65536 at %d): %s, want %d bytes"
              % (path, off, desc(got), len(want[off:off + 65536])))
    print("%s: %d bytes, read sizes %s and preads at %d offsets: %s"
          % (path, n, SIZES, len(offsets(n)), "ok" if not bad else "BAD"))


def view(path, out):
    """One open, read with a mix of sizes, then preads: one consistent text."""
    fd = os.open(path, os.O_RDONLY)
    text = read_all(fd, SIZES)
    n = len(text)
    for off in offsets(n):
        if off == 0:
            continue  # a read at offset 0 renders afresh
        for size in SIZES:
            got = pread(fd, size, off)
            check(got == text[off:off + size], "%s pread(%d at %d) in the same open: %s, want %d bytes"
                  % (path, size, off, desc(got), len(text[off:off + size])))
    os.close(fd)
    open(out, "wb").write(text)
    print("%s: %d bytes in one open, re-read at %d offsets: %s"
          % (path, n, len(offsets(n)), "ok" if not bad else "BAD"))


def naive(path, fixture):
    """A reader that trusts st_size: one read of st_size bytes."""
    want = open(fixture, "rb").read()
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    got = os.read(fd, size) if size > 0 else b""
    os.close(fd)
    check(got == want, "%s: st_size %d, one read of it gives %d bytes of the %d"
          % (path, size, len(got), len(want)))
    print("%s: st_size %d for %d bytes: %s" % (path, size, len(want), "ok" if not bad else "BAD"))


mode = sys.argv[1]
if mode == "naive":
    naive(sys.argv[2], sys.argv[3])
elif mode == "same":
    same(sys.argv[2], sys.argv[3])
elif mode == "view":
    view(sys.argv[2], sys.argv[3])
sys.exit(1 if bad else 0)
EOF

# Expected container views, given the fixture and the reader's CPUs.
cat >"$TEST_TMP/expect.py" <<'EOF'
import re, sys


def cpulist(text, limit):
    if not text.strip():
        return list(range(limit))
    cpus = set()
    for part in text.strip().split(","):
        a, _, b = part.partition("-")
        cpus.update(range(int(a), int(b or a) + 1))
    return sorted(c for c in cpus if c < limit)


kind, got_path, fixture, cpus_text, ncpus = sys.argv[1:6]
cpus = cpulist(cpus_text, int(ncpus))
got = open(got_path).read()
host = open(fixture).read()
bad = []
if kind == "cpuinfo":
    blocks = {}
    for b in host.split("\n\n"):
        m = re.match(r"processor\s*: (\d+)\n", b)
        if m:
            blocks[int(m.group(1))] = b[m.end():]
    want = "".join("processor\t: %d\n%s\n\n" % (k, blocks[c]) for k, c in enumerate(cpus))
    if got != want:
        bad.append("cpuinfo: %d processor blocks, want %d (host CPUs %s renumbered)"
                   % (got.count("processor\t:"), len(cpus), cpus_text or "all"))
else:
    lines = got.split("\n")
    cpu_lines = [l for l in lines if re.match(r"cpu\d+ ", l)]
    names = [l.split()[0] for l in cpu_lines]
    # each line keeps its host CPU's number, as the online list names it
    if names != ["cpu%d" % c for c in cpus]:
        bad.append("stat: cpu lines %s, want the host CPUs %s" % (names[:8], cpus_text or "all"))
    if not lines[0].startswith("cpu  "):
        bad.append("stat: first line %r" % lines[0][:40])
    for l in cpu_lines + lines[:1]:
        f = l.split()[1:]
        if len(f) != 10 or not all(x.isdigit() for x in f):
            bad.append("stat: malformed %r" % l[:80])
    sums = [sum(int(l.split()[1 + i]) for l in cpu_lines) for i in range(10)]
    if [int(x) for x in lines[0].split()[1:]] != sums:
        bad.append("stat: cpu line is not the sum of the cpuN lines")
    rest = [l for l in host.split("\n") if not l.startswith("cpu")]
    if [l for l in lines if not l.startswith("cpu")] != rest:
        bad.append("stat: the other lines are not the host's as they are")
for b in bad:
    print("BAD", b)
print("%s view: %d bytes, CPUs %s: %s" % (kind, len(got), cpus, "ok" if not bad else "BAD"))
sys.exit(1 if bad else 0)
EOF

# processor blocks served (a quick probe, to see a SIGUSR2 take effect)
served_blocks()
{
	in_ns grep -c '^processor' "$MNT/proc/cpuinfo" 2>/dev/null
}

start_in_ns
in_ns cmp -s /proc/cpuinfo "$FIX/cpuinfo" || fail "the namespace's /proc/cpuinfo is not the fixture"
in_ns cmp -s /proc/stat "$FIX/stat" || fail "the namespace's /proc/stat is not the fixture"

cpus=$(own_cpuset)
log "the reader's cpuset: ${cpus:-none (every CPU)}"

# 1. Virtualization off: the host's files as they are.
virt_switches()
{
	grep -c -e 'SIGUSR2: virtualization' -e 'Switched into .*virtualization mode' "$LXCFS_LOG"
}
n=$(virt_switches)
kill -USR2 "$LXCFS_PID"
wait_for 10 eval '[ "$(virt_switches)" -gt "$n" ]' || fail "SIGUSR2: the daemon did not log a switch"
# A reader that trusts st_size (SPEC: st_size lets naive readers read everything),
# before anything has read the host's files through the mount. The attributes
# the kernel cached (0.5 s) must have expired.
sleep 1
for f in cpuinfo stat; do
	out=$(in_ns "$PYTHON" "$TEST_TMP/reader.py" naive "$MNT/proc/$f" "$FIX/$f" 2>&1)
	rc=$?
	log "$out"
	[ $rc = 0 ] || NAIVE_BAD+="$(printf '%s' "$out" | head -1); "
done
[ "$(served_blocks)" = "$NCPUS" ] || fail "SIGUSR2: $(served_blocks) processor blocks, not the host's $NCPUS"
for f in cpuinfo stat; do
	out=$(in_ns "$PYTHON" "$TEST_TMP/reader.py" same "$MNT/proc/$f" "$FIX/$f" 2>&1)
	rc=$?
	printf '%s\n' "$out" | head -20 >&2
	if [ $rc != 0 ]; then
		differs_upstream "virtualization off: proc/$f is not the host's file at every read size and offset: $(printf '%s\n' "$out" | head -3 | tr '\n' ' ')"
	fi
	for bs in 1M 4096 7; do
		in_ns sh -c 'dd if="$1" bs="$2" status=none | cmp -s - "$3"' sh "$MNT/proc/$f" "$bs" "$FIX/$f" ||
			differs_upstream "virtualization off: dd bs=$bs of proc/$f differs from the host's file"
	done
	log "ok: proc/$f, virtualization off, read whole at every size and offset (also dd bs=1M, 4096, 7)"
done

# 2. Virtualization on: the reader's own CPUs only.
kill -USR2 "$LXCFS_PID"
wait_for 10 eval '[ "$(served_blocks)" != "$NCPUS" ]' ||
	fail "second SIGUSR2: still the host's $NCPUS processor blocks"
for f in cpuinfo stat; do
	out=$(in_ns "$PYTHON" "$TEST_TMP/reader.py" view "$MNT/proc/$f" "$TEST_TMP/view.$f" 2>&1)
	rc=$?
	printf '%s\n' "$out" | head -20 >&2
	[ $rc = 0 ] || differs_upstream "virtualization on: proc/$f is not one text within one open: $(printf '%s\n' "$out" | head -3 | tr '\n' ' ')"
	out=$("$PYTHON" "$TEST_TMP/expect.py" "$f" "$TEST_TMP/view.$f" "$FIX/$f" "$cpus" "$NCPUS" 2>&1)
	rc=$?
	log "$out"
	[ $rc = 0 ] || fail "virtualization on: $(printf '%s\n' "$out" | head -2 | tr '\n' ' ')"
done

stop_lxcfs
pid_alive "$LXCFS_PID" && fail "daemon still running"
# Reported last, so that everything else is checked first.
[ -z "${NAIVE_BAD:-}" ] || differs_upstream "a reader trusting st_size does not get the whole file: $NAIVE_BAD"
pass
