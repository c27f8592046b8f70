#!/usr/bin/env bash
# Bad input is refused and never hurts the daemon.
#
# Opening proc/meminfo for writing fails (EACCES for an unprivileged user;
# EACCES, EPERM or EROFS for root), as do creating, removing, renaming and
# changing files; a missing path gives ENOENT. Reads at odd offsets and sizes
# return exactly the right bytes: a read at or past the end returns nothing,
# a first read at a nonzero offset returns the bytes at that offset, 1-byte
# reads reassemble the whole file. A second instance on the same pidfile fails
# at once, clearly, while the first keeps serving; SIGTERM then leaves no mount
# and no process behind. No worker dies along the way. access(2), fsync(2),
# fdatasync(2) and F_SETLEASE give what they give on the kernel's own
# /proc/meminfo, /proc, /proc/vmstat and /sys/devices/system/cpu/{online,
# possible,present,offline}, as root and as uid
# 65534 (leases aside, which the kernel grants on FUSE files by itself), and
# mmap is refused.
. "$(dirname "$0")/lib.sh"

start_lxcfs
make_container ct1 mem=200M

# The checks, in python: errnos and offsets are easier to state there. Prints
# "ok ...", "note ..." (upstream is known to differ) or "BAD ..." lines.
cat >"$TEST_TMP/checks.py" <<'EOF'
import errno, os, re, sys

impl = os.environ.get("LXCFS_IMPL", "ours")
mode, mnt = sys.argv[1], sys.argv[2]
expect_total = int(sys.argv[3]) if len(sys.argv) > 3 else None
F = mnt + "/proc/meminfo"
WRITE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)
LINE = re.compile(rb"^[A-Za-z0-9_()]+:[ \t]+[0-9]+( kB)?$")
bad = 0


def ename(e):
    return errno.errorcode.get(e, str(e))


def ok(what):
    print("ok", what)


def problem(what, upstream_known=False):
    global bad
    if upstream_known and impl == "upstream":
        print("note (upstream differs):", what)
        return
    print("BAD", what)
    bad += 1


def whole(text, what, ref_labels=None):
    """True if text is a complete meminfo with well-formed lines."""
    if not text.startswith(b"MemTotal:") or not text.endswith(b"\n"):
        problem("%s: not a whole meminfo (%d bytes, starts %r, ends %r)"
                % (what, len(text), text[:20], text[-20:]))
        return False
    lines = text[:-1].split(b"\n")
    for l in lines:
        if not LINE.match(l):
            problem("%s: malformed line %r" % (what, l))
            return False
    vals = {l.split(b":")[0]: int(l.split()[1]) for l in lines}
    if len(vals) != len(lines):
        problem("%s: repeated labels" % what)
        return False
    if expect_total is not None and vals[b"MemTotal"] != expect_total:
        problem("%s: MemTotal %d kB, expected %d" % (what, vals[b"MemTotal"], expect_total))
        return False
    if b"MemFree" not in vals or vals[b"MemFree"] > vals[b"MemTotal"]:
        problem("%s: MemFree missing or above MemTotal" % what)
        return False
    labels = [l.split(b":")[0] for l in lines]
    if ref_labels is not None and labels != ref_labels:
        problem("%s: lines differ from a plain read (%d vs %d lines)"
                % (what, len(labels), len(ref_labels)))
        return False
    return True


def labels_of(text):
    return [l.split(b":")[0] for l in text[:-1].split(b"\n")]


def must_fail(what, fn, errnos=None, upstream_known=False):
    try:
        r = fn()
    except OSError as e:
        if errnos and e.errno not in errnos:
            problem("%s: %s, expected %s" % (what, ename(e.errno),
                    "/".join(ename(x) for x in errnos)), upstream_known)
        else:
            ok("%s: %s" % (what, ename(e.errno)))
        return
    if isinstance(r, int) and r >= 0:
        os.close(r)
    problem("%s: succeeded" % what, upstream_known)


def read_all(fd, chunk=65536, start=None):
    """Reads to EOF with read(2) (or pread from start)."""
    out = b""
    while True:
        b = os.read(fd, chunk) if start is None else os.pread(fd, chunk, start + len(out))
        if not b:
            return out
        out += b


def mask(b):
    """Values change between renderings and are right-aligned: digits and
    spaces may stand for each other, labels may not."""
    return re.sub(rb"[0-9 ]", b"0", b)


def plain_read():
    fd = os.open(F, os.O_RDONLY)
    try:
        return read_all(fd)
    finally:
        os.close(fd)


def write_checks(errnos, who):
    for name, fl in (("O_WRONLY", os.O_WRONLY), ("O_RDWR", os.O_RDWR),
                     ("O_WRONLY|O_TRUNC", os.O_WRONLY | os.O_TRUNC),
                     ("O_WRONLY|O_APPEND", os.O_WRONLY | os.O_APPEND)):
        must_fail("%s: open meminfo %s" % (who, name), lambda: os.open(F, fl), errnos, True)


def offset_checks(ref_labels):
    # Within one open: read everything, then at and past the end.
    fd = os.open(F, os.O_RDONLY)
    full = read_all(fd, start=0)
    whole(full, "pread from 0", ref_labels)
    for off in (len(full), len(full) + 1000, 1 << 40):
        try:
            r = os.pread(fd, 4096, off)
            if r == b"":
                ok("pread at %d (size %d): 0 bytes" % (off, len(full)))
            else:
                problem("pread at %d (size %d): %d bytes" % (off, len(full), len(r)))
        except OSError as e:
            problem("pread at %d (size %d): %s" % (off, len(full), ename(e.errno)), True)
    os.close(fd)

    # A first read at a nonzero offset returns the bytes at that offset, and
    # reading on from there continues the same text. Values may change between
    # two renderings, so compare exactly when possible (a few tries), else with
    # values masked: a wrong offset shifts the labels and still differs.
    size = len(full)
    for off, n in ((1, 20), (100, 64), (size // 2, 4096), (size - 1, 10)):
        exact = False
        for _ in range(5):
            fd = os.open(F, os.O_RDONLY)
            try:
                head = os.pread(fd, n, off)
                rest = read_all(fd, start=off + len(head))
                ref = read_all(fd, start=0)
            except OSError as e:
                problem("first pread at %d: %s" % (off, ename(e.errno)), True)
                os.close(fd)
                break
            os.close(fd)
            if head == ref[off:off + n]:
                exact = True
                break
        else:
            if mask(head) == mask(ref[off:off + n]) and head:
                ok("first pread at %d: %d bytes, same as a full read with values masked" % (off, len(head)))
            else:
                problem("first pread at %d of %d: got %r, a full read has %r there"
                        % (off, len(ref), head[:40], ref[off:off + 40]), True)
            continue
        if exact:
            ok("first pread at %d: %d bytes, same as a full read" % (off, len(head)))
            if mask(head + rest) != mask(ref[off:]):
                problem("reading on from %d after a first pread: %r..., full read has %r..."
                        % (off, (head + rest)[:40], ref[off:off + 40]), True)


def chunk_checks(ref_labels):
    for chunk in (1, 7, 4095):
        fd = os.open(F, os.O_RDONLY)
        text = read_all(fd, chunk)
        os.close(fd)
        if whole(text, "%d-byte reads" % chunk, ref_labels):
            ok("%d-byte reads reassemble %d bytes" % (chunk, len(text)))


def meta_checks():
    d = mnt + "/proc"
    for what, fn in (
        ("create proc/new", lambda: os.open(d + "/new", os.O_WRONLY | os.O_CREAT, 0o644)),
        ("mkdir proc/newdir", lambda: os.mkdir(d + "/newdir")),
        ("unlink meminfo", lambda: os.unlink(F)),
        ("rmdir proc", lambda: os.rmdir(d)),
        ("rename meminfo", lambda: os.rename(F, d + "/meminfo2")),
        ("symlink proc/link", lambda: os.symlink("meminfo", d + "/link")),
        ("link proc/hard", lambda: os.link(F, d + "/hard")),
        ("truncate meminfo", lambda: os.truncate(F, 0)),
        ("chmod meminfo", lambda: os.chmod(F, 0o666)),
        ("chown meminfo", lambda: os.chown(F, 65534, 65534)),
        ("utime meminfo", lambda: os.utime(F, (0, 0))),
        ("setxattr meminfo", lambda: os.setxattr(F, "user.x", b"1")),
        ("mknod proc/fifo", lambda: os.mkfifo(d + "/fifo")),
        ("open proc for writing", lambda: os.open(d, os.O_WRONLY)),
    ):
        must_fail(what, fn)
    for what, path, e in (("missing file", d + "/nope", errno.ENOENT),
                          ("missing top-level entry", mnt + "/nope", errno.ENOENT),
                          ("below a file", F + "/x", errno.ENOTDIR)):
        must_fail("stat " + what, lambda: os.stat(path), (e,))
        must_fail("open " + what, lambda: os.open(path, os.O_RDONLY), (e,))
    st = os.stat(F)
    if st.st_mode & 0o7777 != 0o444 or st.st_uid != 0:
        problem("meminfo mode %o uid %d, expected 0444 root" % (st.st_mode & 0o7777, st.st_uid))
    if st.st_size <= 0:
        problem("meminfo st_size is %d: naive readers would read nothing" % st.st_size)
    else:
        ok("meminfo 0444 root, st_size %d" % st.st_size)


def errno_checks(who):
    """Each call on our meminfo fails (or not) as on the kernel's /proc/meminfo."""
    import fcntl, mmap, signal
    signal.signal(signal.SIGIO, signal.SIG_IGN)  # a lease broken, had one been granted

    def run(path, fn):
        fd = os.open(path, os.O_RDONLY)
        try:
            fn(path, fd)
            return None
        except OSError as e:
            return e.errno
        finally:
            try:
                fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
            except OSError:
                pass
            os.close(fd)

    def acc(mask):
        def fn(path, fd):
            if not os.access(path, mask):
                raise OSError(errno.EACCES, "access")
        return fn

    def lease(path, fd):
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)

    cpu = "/sys/devices/system/cpu/"
    for ours, kernel in ((F, "/proc/meminfo"), (os.path.dirname(F), "/proc"),
                         (mnt + "/proc/vmstat", "/proc/vmstat"),
                         (mnt + cpu + "online", cpu + "online"),
                         (mnt + cpu + "possible", cpu + "possible"),
                         (mnt + cpu + "present", cpu + "present"),
                         (mnt + cpu + "offline", cpu + "offline")):
        for what, fn in (("access F_OK", acc(os.F_OK)), ("access R_OK", acc(os.R_OK)),
                         ("access W_OK", acc(os.W_OK)), ("access X_OK", acc(os.X_OK)),
                         ("fsync", lambda p, fd: os.fsync(fd)),
                         ("fdatasync", lambda p, fd: os.fdatasync(fd)),
                         ("F_SETLEASE F_RDLCK", lease)):
            want, got = run(kernel, fn), run(ours, fn)
            name = "%s: %s of %s" % (who, what, ours[len(mnt) + 1:])
            show = lambda e: ename(e) if e else "ok"
            if got == want:
                ok("%s: %s, as %s" % (name, show(got), kernel))
            elif what.startswith("F_SETLEASE") and got is None:
                # The kernel grants leases on FUSE files itself (generic_setlease,
                # no request reaches the server): nothing to answer.
                print("note %s: granted, %s says %s: decided by the kernel" % (name, kernel, show(want)))
            else:
                problem("%s: %s, %s gives %s" % (name, show(got), kernel, show(want)),
                        upstream_known=True)
    # mmap: refused, as /proc refuses it (EIO there, ENODEV here: passthrough
    # can only send the mapping to a sysfs file).
    for what, flags in (("MAP_PRIVATE", mmap.MAP_PRIVATE), ("MAP_SHARED", mmap.MAP_SHARED)):
        fd = os.open(F, os.O_RDONLY)
        try:
            m = mmap.mmap(fd, 4096, flags=flags, prot=mmap.PROT_READ)
            m.close()
            if os.environ.get("LXCFS_NO_PASSTHROUGH"):
                print("note %s: mmap %s maps: no passthrough on this kernel" % (who, what))
            else:
                problem("%s: mmap %s of meminfo maps its page cache" % (who, what),
                        upstream_known=True)
        except OSError as e:
            ok("%s: mmap %s: %s (refused, as /proc refuses it)" % (who, what, ename(e.errno)))
        finally:
            os.close(fd)


text = plain_read()
if whole(text, "plain read"):
    ok("plain read: %d bytes" % len(text))
ref = labels_of(text)
if mode == "root":
    write_checks(WRITE_ERRNOS, "root")
    errno_checks("root")
    meta_checks()
    offset_checks(ref)
    chunk_checks(ref)
elif mode == "nobody":
    write_checks((errno.EACCES,), "uid 65534")
    errno_checks("uid 65534")
elif mode == "container":
    chunk_checks(ref)
    offset_checks(ref)
# The daemon still answers.
if whole(plain_read(), "plain read after the checks", ref):
    ok("still serving")
sys.exit(1 if bad else 0)
EOF
chmod 0644 "$TEST_TMP/checks.py"

# run_checks WHO CMD...: run the checks, log them, fail on the first BAD line.
run_checks()
{
	local who=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed "s/^/#   $who: /" >&2
	if [ $rc != 0 ]; then
		fail "$who: $(printf '%s\n' "$out" | grep -m3 -v '^ok\|^note' | tr '\n' ' ')"
	fi
}

workers_before=$(lxcfs_worker_pids | sort | tr '\n' ' ')
grep -qx "$LXCFS_PID" "$RUNDIR/lxcfs.pid" || fail "pidfile $RUNDIR/lxcfs.pid does not hold the daemon's pid"

export LXCFS_IMPL
# Without passthrough (kernels before 6.9, no CAP_SYS_ADMIN) private mappings stay possible.
if grep -q 'mmap of our files stays possible' "$LXCFS_LOG"; then export LXCFS_NO_PASSTHROUGH=1; fi
run_checks root "$PYTHON" "$TEST_TMP/checks.py" root "$MNT"
run_checks nobody setpriv --reuid 65534 --regid 65534 --clear-groups \
	"$PYTHON" "$TEST_TMP/checks.py" nobody "$MNT"
# In a container: the same reads, with a MemTotal that must be exact.
run_checks ct1 in_init ct1 "$PYTHON" "$TEST_TMP/checks.py" container / 204800

# No worker died on any of it (a crash would be replaced silently).
workers_after=$(lxcfs_worker_pids | sort | tr '\n' ' ')
expect_eq "$workers_before" "$workers_after" "worker pids before and after the bad input"

# A second instance on the same pidfile fails at once, with a message, and
# mounts nothing; the first keeps serving.
second_instance()
{
	local what=$1 mnt2=$2 t0 rc elapsed
	shift 2
	mkdir -p "$mnt2"
	state_add mounts "$mnt2"
	t0=$(date +%s%N)
	timeout -k 2 10 "$@" "$mnt2" </dev/null >"$TEST_TMP/second.log" 2>&1
	rc=$?
	elapsed=$((($(date +%s%N) - t0) / 1000000))
	log "second instance ($what): status $rc after $elapsed ms: $(tr '\n' ' ' <"$TEST_TMP/second.log" | tail -c 300)"
	[ $rc = 124 ] || [ $rc = 137 ] && fail "second instance ($what) still running after 10 s"
	[ $rc != 0 ] || fail "second instance ($what) exited 0"
	[ $elapsed -lt 5000 ] || fail "second instance ($what) took $elapsed ms to fail"
	grep -qiE 'pid ?file|lxcfs\.pid|lock|already|another' "$TEST_TMP/second.log" ||
		fail "second instance ($what): no clear message: $(tr '\n' ' ' <"$TEST_TMP/second.log" | tail -c 300)"
	if mountpoint -q "$mnt2" || grep -q " $mnt2 " /proc/mounts; then
		fail "second instance ($what) left $mnt2 mounted"
	fi
	lxcfs_ready || fail "first instance stopped serving after a second instance ($what)"
	grep -qx "$LXCFS_PID" "$RUNDIR/lxcfs.pid" 2>/dev/null ||
		differs_upstream "pidfile no longer holds the first instance's pid after a second instance ($what): $(cat "$RUNDIR/lxcfs.pid" 2>&1)"
}

if [ "$LXCFS_IMPL" = upstream ]; then
	second_instance "-p same pidfile" "$TEST_TMP/mnt2" "$UPSTREAM_LXCFS" -f -p "$RUNDIR/lxcfs.pid"
else
	second_instance "same runtime dir" "$TEST_TMP/mnt2" "$LXCFS_BUILD/lxcfs" -f --runtime-dir "$RUNDIR" \
		--worker-binary "$LXCFS_BUILD/lxcfs-worker" --workers 2
	mkdir -p "$TEST_TMP/run2"
	second_instance "-p same pidfile" "$TEST_TMP/mnt3" "$LXCFS_BUILD/lxcfs" -f --runtime-dir "$TEST_TMP/run2" \
		-p "$RUNDIR/lxcfs.pid" --worker-binary "$LXCFS_BUILD/lxcfs-worker" --workers 2
fi
in_container ct1 cat /proc/meminfo | meminfo_kb MemTotal | expect_eq 204800 - "ct1 MemTotal kB after the second instances"
expect_eq "$workers_before" "$(lxcfs_worker_pids | sort | tr '\n' ' ')" "worker pids after the second instances"

# SIGTERM: no mount and no process left (stop_lxcfs checks both).
destroy_container ct1
stop_lxcfs
pass
