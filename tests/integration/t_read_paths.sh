#!/usr/bin/env bash
# Every served file reads whole, current and the reader's own through every
# read path, and two containers never see each other's text.
#
# In a container with 200 MiB and CPU 0, every lxcfs file bound over its
# /proc (and sys/devices/system/cpu/online; possible, present and offline read
# through the mount), each file is read through:
#   read(2) of 1 byte and of 64 KiB, pread(2), readv(2), sendfile(2) into a
#   pipe and into a file, splice(2), copy_file_range(2), mmap(2) MAP_PRIVATE;
#   busybox cat (sendfile), cat, dd bs=1, head -c, tail -n 3
# and compared with plain read(2)s just before and after: whole (a final
# newline, no NUL, the same lines and labels, numbers aside), exactly equal
# when the file did not change meanwhile, the container's MemTotal, an uptime
# between the two. copy_file_range must fail with EXDEV and mmap must be
# refused, as for the kernel's own /proc files (a kernel without passthrough,
# before 6.9, maps: then the mapping must hold the whole text). Then the text grows (the
# cpuset becomes 0-1: cpuinfo, stat and online get longer) and shrinks back,
# and every path reads the new text whole: a read of the shorter text must
# not cut the longer one (the kernel lowers i_size on a short page-cache
# read; upstream lxcfs#450).
#
# Then two containers (200 MiB and 300 MiB) read meminfo at the same time for
# a few seconds, both through sendfile, both through splice, both through
# mmap, and one through sendfile while the other uses read(2): every text
# either side gets is whole and has its own MemTotal. A path may be refused
# while the other container has the file open (sendfile and splice fail with
# EINVAL, on which busybox cat and Python's shutil fall back to read(2); mmap
# is refused outright); alone, sendfile and splice must always succeed.
. "$(dirname "$0")/lib.sh"

[ "$(grep -c ^processor /proc/cpuinfo)" -ge 2 ] || skip "needs a host with 2 CPUs (the container grows from 1 to 2)"

# busybox's cat uses sendfile(2): the reader of the report.
if ! command -v busybox >/dev/null; then
	log "installing busybox-static"
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static; } >&2 ||
		fail "cannot install busybox-static"
fi
BUSYBOX=$(command -v busybox) || fail "no busybox"

# The readpaths tool: the build's, or compiled here when it has none.
readpaths_bin()
{
	local src=$REPO_ROOT/tests/tools/readpaths.c
	if [ -x "$LXCFS_BUILD/tools/readpaths" ] && [ "$LXCFS_BUILD/tools/readpaths" -nt "$src" ]; then
		echo "$LXCFS_BUILD/tools/readpaths"
		return
	fi
	if [ ! -x "$TEST_TMP/readpaths" ]; then
		gcc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -o "$TEST_TMP/readpaths" "$src" >&2 ||
			fail "cannot compile readpaths"
	fi
	echo "$TEST_TMP/readpaths"
}
READPATHS=$(readpaths_bin)

# The checks, in python: one line per file and path, "ok ...", "note ..." or
# "BAD ...". Arguments: MemTotal kB, CPUs, busybox, then the files.
cat >"$TEST_TMP/paths.py" <<'EOF'
import ctypes, errno, fcntl, mmap, os, re, subprocess, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

total, cpus, busybox = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
files = sys.argv[4:]
tmp = os.environ["TEST_TMP"]
KERNEL_OWN = "/proc/vmstat"  # a /proc file of the kernel's, not bound over
bad = 0


def ok(what):
    print("ok", what)


def problem(what):
    global bad
    bad += 1
    print("BAD", what)


def with_fd(path, fn):
    fd = os.open(path, os.O_RDONLY)
    try:
        return fn(fd)
    finally:
        os.close(fd)


def r_read(chunk):
    def rd(fd):
        out = b""
        while True:
            b = os.read(fd, chunk)
            if not b:
                return out
            out += b
    return rd


def r_pread(fd):
    out = b""
    while True:
        b = os.pread(fd, 1000, len(out))
        if not b:
            return out
        out += b


def r_readv(fd):
    out = b""
    while True:
        bufs = [bytearray(7), bytearray(4089), bytearray(65536)]
        n = os.readv(fd, bufs)
        if n == 0:
            return out
        out += b"".join(bytes(b) for b in bufs)[:n]


def through_pipe(move):
    def rd(fd):
        r, w = os.pipe()
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)
        out = b""
        try:
            while True:
                n = move(fd, w)
                if n == 0:
                    return out
                while n > 0:
                    b = os.read(r, n)
                    out += b
                    n -= len(b)
        finally:
            os.close(r)
            os.close(w)
    return rd


def into_file(move):
    def rd(fd):
        name = "%s/into.%d" % (tmp, os.getpid())
        out = os.open(name, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.unlink(name)
        try:
            while move(fd, out) > 0:
                pass
            return os.pread(out, 1 << 22, 0)
        finally:
            os.close(out)
    return rd


def r_mmap(fd):
    # Through libc: Python's mmap refuses a length past st_size by itself.
    size = os.fstat(fd).st_size or 4096
    p = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_PRIVATE, fd, 0)
    if p is None or p == ctypes.c_void_p(-1).value:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    try:
        return ctypes.string_at(p)  # up to the first NUL: the page past the text is zeros
    finally:
        libc.munmap(ctypes.c_void_p(p), ctypes.c_size_t(size))


def tool(argv):
    def rd(path):
        return subprocess.run(argv(path), stdout=subprocess.PIPE, check=True).stdout
    return rd


PATHS = [
    ("read 1 byte", r_read(1)),
    ("read 64 KiB", r_read(65536)),
    ("pread", r_pread),
    ("readv", r_readv),
    ("sendfile to a pipe", through_pipe(lambda fd, w: os.sendfile(w, fd, None, 1 << 20))),
    ("sendfile to a file", into_file(lambda fd, o: os.sendfile(o, fd, None, 1 << 20))),
    ("splice", through_pipe(lambda fd, w: os.splice(fd, w, 1 << 20))),
    ("copy_file_range", into_file(lambda fd, o: os.copy_file_range(fd, o, 1 << 20))),
    ("mmap MAP_PRIVATE", r_mmap),
]
TOOLS = [
    ("busybox cat", tool(lambda p: [busybox, "cat", p])),
    ("cat", tool(lambda p: ["cat", p])),
    ("dd bs=1", tool(lambda p: ["dd", "bs=1", "status=none", "if=" + p])),
    ("head -c", tool(lambda p: ["head", "-c", "10000000", p])),
]


def kernel_errno(fn):
    """The errno the kernel's own /proc file gives for a path, or None."""
    try:
        with_fd(KERNEL_OWN, fn)
    except OSError as e:
        return e.errno
    return None


def mask(b):
    """Numbers change between reads: the lines, labels and layout may not."""
    return re.sub(rb" +", b" ", re.sub(rb"[0-9]+", b"0", b))


def plain(path):
    return with_fd(path, r_read(65536))


def shape(path, what, text):
    """The checks one text must pass by itself; a reason, or None."""
    if not text.endswith(b"\n"):
        return "no final newline (%d bytes, ends %r)" % (len(text), text[-20:])
    if b"\0" in text:
        return "a NUL at %d of %d bytes" % (text.index(b"\0"), len(text))
    name = path.rsplit("/", 1)[-1]
    if name == "meminfo":
        m = re.match(rb"MemTotal: +([0-9]+) kB\n", text)
        if not m or int(m.group(1)) != total:
            return "MemTotal %s, expected %d kB" % (m.group(1) if m else text[:30], total)
    if name == "cpuinfo" and len(re.findall(rb"^processor", text, re.M)) != cpus:
        return "%d processors, expected %d" % (len(re.findall(rb"^processor", text, re.M)), cpus)
    if name == "stat" and len(re.findall(rb"^cpu[0-9]+ ", text, re.M)) != cpus:
        return "%d cpuN lines, expected %d" % (len(re.findall(rb"^cpu[0-9]+ ", text, re.M)), cpus)
    if name in ("online", "possible", "present") and \
            text != (b"0\n" if cpus == 1 else b"0-%d\n" % (cpus - 1)):
        return "%r for %d CPUs" % (text, cpus)
    if name == "offline" and text != b"\n":
        return "%r: no CPU of the container is offline" % text
    return None


def compare(path, what, read):
    """read(path) between two plain reads, up to 5 tries for an exact match."""
    for attempt in range(5):
        before = plain(path)
        try:
            got = read(path)
        except (OSError, subprocess.CalledProcessError) as e:
            return "failed: %s" % e
        after = plain(path)
        why = shape(path, what, got)
        if why:
            return why
        if mask(got) not in (mask(before), mask(after)):
            return "not the file's lines: %d bytes %r..., a plain read has %d bytes %r..." % (
                len(got), got[:60], len(before), before[:60])
        if path.endswith("uptime"):
            u = [float(t.split()[0]) for t in (before, got, after)]
            if not u[0] <= u[1] <= u[2]:
                return "uptime %.2f, read between %.2f and %.2f: not current" % tuple(u[1:2] + u[0:1] + u[2:3])
        if got == before or got == after:
            return None
        if before != after:
            return None  # the file changed meanwhile: the lines agree, enough
    return "never equal to a plain read of an unchanged file: %r vs %r" % (got[:80], before[:80])


SENDFILE = PATHS[4][1]

# First, each file through sendfile before anything else reads it: the last
# read of the previous round was one too, so the kernel's i_size is the
# length of the text before the change (it lowers i_size on a short
# page-cache read; only an attribute update raises it again).
for path in files:
    why = compare(path, "sendfile", lambda p: with_fd(p, SENDFILE))
    if why:
        problem("%s: sendfile, first read after the change: %s" % (path, why))
    else:
        ok("%s: sendfile, first read after the change" % path)

for path in files:
    ref = plain(path)
    why = shape(path, "plain read", ref)
    if why:
        problem("%s: plain read: %s" % (path, why))
        continue
    for what, fn in PATHS:
        if what == "copy_file_range" or what.startswith("mmap"):
            # Refused for the kernel's own files too: the same refusal, or
            # else the whole text.
            own = kernel_errno(fn)
            try:
                text = with_fd(path, fn)
            except OSError as e:
                if own is not None:
                    ok("%s: %s: %s (the kernel's %s: %s)" % (path, what, errno.errorcode[e.errno],
                                                           KERNEL_OWN, errno.errorcode[own]))
                else:
                    problem("%s: %s: %s" % (path, what, e))
                continue
            why = shape(path, what, text)
            if why:
                problem("%s: %s: %s" % (path, what, why))
            elif what.startswith("mmap") and not os.environ.get("LXCFS_NO_PASSTHROUGH"):
                problem("%s: %s: mapped (the kernel's %s refuses it)" % (path, what, KERNEL_OWN))
            else:
                print("note %s: %s: served (%d bytes)" % (path, what, len(text)))
            continue
        why = compare(path, what, lambda p, fn=fn: with_fd(p, fn))
        if why:
            problem("%s: %s: %s" % (path, what, why))
        else:
            ok("%s: %s" % (path, what))
    for what, fn in TOOLS:
        why = compare(path, what, fn)
        if why:
            problem("%s: %s: %s" % (path, what, why))
        else:
            ok("%s: %s" % (path, what))
    # tail -n 3: the last lines of the file (GNU tail seeks from st_size).
    got = subprocess.run(["tail", "-n", "3", path], stdout=subprocess.PIPE).stdout
    last = b"".join(plain(path).splitlines(True)[-3:])
    if mask(got) != mask(last):
        problem("%s: tail -n 3: %r, a plain read ends %r" % (path, got, last))
    else:
        ok("%s: tail -n 3" % path)

# Last, sendfile again: the next round starts where it leaves i_size.
for path in files:
    why = shape(path, "sendfile", with_fd(path, SENDFILE))
    if why:
        problem("%s: sendfile, last read: %s" % (path, why))
sys.exit(1 if bad else 0)
EOF
chmod 0644 "$TEST_TMP/paths.py"

# paths_check WHAT CPUS: run the checks in ct1 (a child of its init).
paths_check()
{
	local what=$1 cpus=$2 out rc
	out=$(in_init ct1 env TEST_TMP="$TEST_TMP" LXCFS_NO_PASSTHROUGH="${LXCFS_NO_PASSTHROUGH:-}" \
		"$PYTHON" "$TEST_TMP/paths.py" 204800 "$cpus" "$BUSYBOX" \
		$CT_FILES 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed "s/^/#   $what: /" >&2
	if [ $rc != 0 ]; then
		differs_upstream "$what: $(printf '%s\n' "$out" | grep -v '^ok\|^note' | head -3 | tr '\n' ' ')"
	fi
	log "ok: $what: $(grep -c '^ok' <<<"$out") checks"
}

start_lxcfs
# Without passthrough (kernels before 6.9, no CAP_SYS_ADMIN) private mappings stay possible.
if grep -q 'mmap of our files stays possible' "$LXCFS_LOG"; then export LXCFS_NO_PASSTHROUGH=1; fi
files=meminfo,cpuinfo,stat,uptime,loadavg,swaps,diskstats,slabinfo
# Upstream serves no vmstat.
[ -e "$MNT/proc/vmstat" ] && files+=,vmstat
# Upstream 5.0 serves no proc/pressure.
if [ -e /proc/pressure/cpu ] && [ -e "$MNT/proc/pressure/cpu" ]; then
	files+=,pressure/cpu,pressure/io,pressure/memory
fi
make_container ct1 mem=200M cpus=0 files=$files
ct_join_cgroups ct1 cpu cpuacct blkio
ct_bind_cpu_online ct1
CT_FILES="/proc/${files//,/ \/proc\/} /sys/devices/system/cpu/online"
# The generated lists beside online, read through the mount (not bound: the container's own).
CT_FILES+=" $MNT/sys/devices/system/cpu/possible $MNT/sys/devices/system/cpu/present"
CT_FILES+=" $MNT/sys/devices/system/cpu/offline"

# The container's cpuset folder, to grow and shrink its CPUs.
CT_CPUSET=
for d in ${CT_CGS[ct1]}; do [ -f "$d/cpuset.cpus" ] && CT_CPUSET=$d; done
[ -n "$CT_CPUSET" ] || fail "no cpuset folder for ct1 in ${CT_CGS[ct1]}"

set_cpus()
{
	echo "$1" >"$CT_CPUSET/cpuset.cpus" || fail "set $CT_CPUSET/cpuset.cpus=$1"
	sleep 0.5 # the daemon's cached cpuset (100 ms by default) goes stale
}

paths_check "1 CPU" 1
set_cpus 0-1
paths_check "grown to 2 CPUs" 2
set_cpus 0
paths_check "shrunk to 1 CPU" 1

# ---------------------------------------------------------------------------
# Two containers at once.

make_container ct2 mem=300M files=meminfo

# hammer WHAT METHOD1 METHOD2: ct1 reads with METHOD1 while ct2 reads with
# METHOD2, for 4 s; no text may be short or the other's.
hammer()
{
	local what=$1 m1=$2 m2=$3 j1 j2 o1 o2 rc1 rc2
	j1=$(in_init_bg ct1 "$READPATHS" --method "$m1" --seconds 4 --expect-total 204800 /proc/meminfo)
	j2=$(in_init_bg ct2 "$READPATHS" --method "$m2" --seconds 4 --expect-total 307200 /proc/meminfo)
	o1=$(init_wait ct1 "$j1" 30 2>"$TEST_TMP/h1.err")
	rc1=$?
	o2=$(init_wait ct2 "$j2" 30 2>"$TEST_TMP/h2.err")
	rc2=$?
	log "$what: ct1 $o1"
	log "$what: ct2 $o2"
	[ $rc1 = 0 ] || differs_upstream "$what: ct1 ($m1): $o1 $(head -3 "$TEST_TMP/h1.err" | tr '\n' ' ')"
	[ $rc2 = 0 ] || differs_upstream "$what: ct2 ($m2): $o2 $(head -3 "$TEST_TMP/h2.err" | tr '\n' ' ')"
	log "ok: $what: every text whole and each container's own"
}

# alone CT KB METHOD: one container reading by itself: never refused.
alone()
{
	local ct=$1 kb=$2 m=$3 out
	out=$(in_init "$ct" "$READPATHS" --method "$m" --count 2000 --seconds 10 --expect-total "$kb" /proc/meminfo) ||
		differs_upstream "$ct alone ($m): $out"
	log "$ct alone ($m): $out"
	grep -q ' refused=0 ' <<<"$out" || differs_upstream "$ct alone ($m): refused: $out"
}

alone ct1 204800 sendfile
alone ct2 307200 splice
hammer "sendfile in both" sendfile sendfile
hammer "splice in both" splice splice
hammer "mmap in both" mmap mmap
hammer "sendfile in ct1, read(2) in ct2" sendfile read
alone ct1 204800 sendfile

# Busybox cat in one container while the other holds meminfo open: whole and
# its own (its sendfile is refused, it goes on with read(2)).
j=$(in_init_bg ct2 sh -c 'exec 3</proc/meminfo; sleep 3')
sleep 0.5
in_init ct1 "$BUSYBOX" cat /proc/meminfo | meminfo_kb MemTotal |
	expect_eq 204800 - "ct1 busybox cat while ct2 holds meminfo open"
init_wait ct2 "$j" 10 >/dev/null

destroy_container ct2
destroy_container ct1
stop_lxcfs
pass
