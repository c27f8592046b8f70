/*
 * cgroupfs as a worker sees it: layout detection from mountinfo, a process's
 * cgroup from /proc/<pid>/cgroup, memory figures from fixture cgroup trees
 * written as the kernel writes them, and reader identity for processes in the
 * host's pid namespace, in a new pid namespace, and attached to one with setns.
 *
 * Runs from the repository root (fixtures under tests/fixtures). The reader
 * scenarios need root for unshare(CLONE_NEWPID); every process they start is
 * killed and reaped on every path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "workers/cg_fs.h"
#include "workers/cgroup.h"
#include "workers/reader.h"

#define FIXTURES     "tests/fixtures"
#define V1_DOCKER_ID "4f1e9c2d7a3b8e6f0c5d1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"

/* Whole file into a NUL-terminated malloc'd buffer, or NULL. */
static char *slurp(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static int layout_of(const char *fixture, struct cg_layout *l)
{
	char path[256];
	size_t len;
	char *text;
	int ret;

	snprintf(path, sizeof(path), FIXTURES "/mountinfo/%s", fixture);
	text = slurp(path, &len);
	if (!text) {
		fprintf(stderr, "cannot read %s (run from the repository root)\n", path);
		return -ENOENT;
	}
	ret = cg_layout_parse(text, len, l);
	free(text);
	return ret;
}

static int mi_of(const char *text, struct cg_layout *l)
{
	return cg_layout_parse(text, strlen(text), l);
}

static void test_layout(void)
{
	static struct cg_layout l;
	static const char *const dup =
	    "30 1 8:2 / / rw - ext4 /dev/sda2 rw\n"
	    "40 30 0:33 /lxc/c1 /srv/c1\\040mem rw - cgroup cgroup rw,memory\n"
	    "41 30 0:33 / /sys/fs/cgroup/my\\040memory rw shared:5 - cgroup cgroup rw,memory\n"
	    "42 30 0:34 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n";

	CHECK_STR(cg_ctrl_name(CG_MEMORY), "memory");
	CHECK_STR(cg_ctrl_name(CG_BLKIO), "blkio");
	CHECK(cg_ctrl_name(CG_NCTRL) == NULL);

	/* Pure v1, seen from a Docker container: every hierarchy rooted at its cgroup. */
	CHECK(layout_of("v1.txt", &l) == 0);
	CHECK(l.kind == CG_LAYOUT_V1);
	CHECK(!l.unified.present);
	for (int c = 0; c < CG_NCTRL; c++) {
		CHECK(l.ctrl[c].present);
		CHECK(l.ctrl[c].version == 1);
		CHECK_STR(l.ctrl[c].root, "/docker/" V1_DOCKER_ID);
	}
	CHECK_STR(l.ctrl[CG_MEMORY].mount, "/sys/fs/cgroup/memory");
	CHECK_STR(l.ctrl[CG_CPU].mount, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_STR(l.ctrl[CG_CPUACCT].mount, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_STR(l.ctrl[CG_CPUSET].mount, "/sys/fs/cgroup/cpuset");
	CHECK_STR(l.ctrl[CG_BLKIO].mount, "/sys/fs/cgroup/blkio");

	/* Pure v2, a systemd host: every controller on the one cgroup2 mount. */
	CHECK(layout_of("v2.txt", &l) == 0);
	CHECK(l.kind == CG_LAYOUT_V2);
	CHECK(l.unified.present);
	CHECK_STR(l.unified.mount, "/sys/fs/cgroup");
	for (int c = 0; c < CG_NCTRL; c++) {
		CHECK(l.ctrl[c].present);
		CHECK(l.ctrl[c].version == 2);
		CHECK_STR(l.ctrl[c].mount, "/sys/fs/cgroup");
		CHECK_STR(l.ctrl[c].root, "/");
	}

	/* Hybrid: v1 controllers plus the controller-less unified tree. */
	CHECK(layout_of("hybrid.txt", &l) == 0);
	CHECK(l.kind == CG_LAYOUT_HYBRID);
	CHECK(l.unified.present);
	CHECK(l.unified.version == 2);
	CHECK_STR(l.unified.mount, "/sys/fs/cgroup/unified");
	for (int c = 0; c < CG_NCTRL; c++) {
		CHECK(l.ctrl[c].present);
		CHECK(l.ctrl[c].version == 1);
		CHECK_STR(l.ctrl[c].root, "/");
	}
	CHECK_STR(l.ctrl[CG_MEMORY].mount, "/sys/fs/cgroup/memory");
	CHECK_STR(l.ctrl[CG_CPU].mount, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_STR(l.ctrl[CG_CPUACCT].mount, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_STR(l.ctrl[CG_CPUSET].mount, "/sys/fs/cgroup/cpuset");
	CHECK_STR(l.ctrl[CG_BLKIO].mount, "/sys/fs/cgroup/blkio");

	/* A whole-hierarchy mount wins over an earlier subtree bind; escapes undone. */
	CHECK(cg_layout_parse(dup, strlen(dup), &l) == 0);
	CHECK(l.kind == CG_LAYOUT_V1);
	CHECK_STR(l.ctrl[CG_MEMORY].mount, "/sys/fs/cgroup/my memory");
	CHECK_STR(l.ctrl[CG_MEMORY].root, "/");
	CHECK(l.ctrl[CG_CPUACCT].present);
	CHECK(!l.ctrl[CG_CPU].present); /* "cpuacct" is not "cpu" */
	CHECK(!l.ctrl[CG_CPUSET].present);

	/* No cgroup mount at all; text that is not mountinfo. */
	CHECK(mi_of("30 1 8:2 / / rw - ext4 /dev/sda2 rw\n", &l) == 0);
	CHECK(l.kind == CG_LAYOUT_NONE);
	CHECK(!l.ctrl[CG_MEMORY].present);
	CHECK(mi_of("", &l) == -EINVAL);
	CHECK(mi_of("MemTotal: 1 kB\n", &l) == -EINVAL);
	CHECK(mi_of("30 1 8:2 / / rw ext4 /dev/sda2 rw\n", &l) == -EINVAL);

	/* This machine: whatever it is, memory must be found. */
	CHECK(cg_layout_detect(&l) == 0);
	CHECK(l.kind != CG_LAYOUT_NONE);
	CHECK(l.ctrl[CG_MEMORY].present);
}

static int path_of(const char *text, const struct cg_hier *h, enum cg_ctrl c, char *out,
                   size_t size)
{
	return cg_path_parse(text, strlen(text), h, c, out, size);
}

static void test_path(void)
{
	static struct cg_layout hy, v2, v1;
	static const char *const hybrid_text =
	    "13:rdma:/\n12:cpuset:/lxc.payload.web\n11:memory:/lxc.payload.web\n"
	    "10:blkio:/lxc.payload.web\n9:cpuacct,cpu:/lxc.payload.web/sub\n"
	    "8:name=systemd:/lxc.payload.web/init.scope\n0::/lxc.payload.web/init.scope\n";
	struct cg_hier absent = {0};
	char out[PATH_MAX];

	CHECK(layout_of("hybrid.txt", &hy) == 0);
	CHECK(layout_of("v2.txt", &v2) == 0);
	CHECK(layout_of("v1.txt", &v1) == 0);

	/* v1: the line whose controller list holds the controller, in any order. */
	CHECK(path_of(hybrid_text, &hy.ctrl[CG_MEMORY], CG_MEMORY, out, sizeof(out)) == 0);
	CHECK_STR(out, "/lxc.payload.web");
	CHECK(path_of(hybrid_text, &hy.ctrl[CG_CPU], CG_CPU, out, sizeof(out)) == 0);
	CHECK_STR(out, "/lxc.payload.web/sub");
	CHECK(path_of(hybrid_text, &hy.ctrl[CG_CPUACCT], CG_CPUACCT, out, sizeof(out)) == 0);
	CHECK_STR(out, "/lxc.payload.web/sub");

	/* v2: the "0::" line, with the init's own init.scope dropped. */
	CHECK(path_of(hybrid_text, &hy.unified, CG_MEMORY, out, sizeof(out)) == 0);
	CHECK_STR(out, "/lxc.payload.web");
	CHECK(path_of("0::/system.slice/lxc@web.service/init.scope\n", &v2.ctrl[CG_MEMORY],
	              CG_MEMORY, out, sizeof(out)) == 0);
	CHECK_STR(out, "/system.slice/lxc@web.service");
	CHECK(path_of("0::/init.scope\n", &v2.ctrl[CG_CPU], CG_CPU, out, sizeof(out)) == 0);
	CHECK_STR(out, "/");
	CHECK(path_of("0::/\n", &v2.ctrl[CG_CPU], CG_CPU, out, sizeof(out)) == 0);
	CHECK_STR(out, "/");
	/* Only a whole trailing component is dropped; a colon in the path is kept. */
	CHECK(path_of("0::/a:b/xinit.scope", &v2.ctrl[CG_MEMORY], CG_MEMORY, out, sizeof(out)) ==
	      0);
	CHECK_STR(out, "/a:b/xinit.scope");

	/* Named hierarchies and prefixes are not the controller. */
	CHECK(path_of("1:name=systemd:/x\n2:cpuacct:/a\n3:cpuset:/s\n", &hy.ctrl[CG_CPU], CG_CPU,
	              out, sizeof(out)) == -ENOENT);
	CHECK(path_of("1:name=memory:/x\n2:memoryx:/y\n", &hy.ctrl[CG_MEMORY], CG_MEMORY, out,
	              sizeof(out)) == -ENOENT);
	CHECK(path_of("2:cpuacct:/a\n1:cpu:/b\n", &hy.ctrl[CG_CPU], CG_CPU, out, sizeof(out)) == 0);
	CHECK_STR(out, "/b");

	/* The mount's root is stripped: in the Docker container the cgroup is "/". */
	CHECK(path_of("4:memory:/docker/" V1_DOCKER_ID "\n", &v1.ctrl[CG_MEMORY], CG_MEMORY, out,
	              sizeof(out)) == 0);
	CHECK_STR(out, "/");
	CHECK(path_of("4:memory:/docker/" V1_DOCKER_ID "/sub/init.scope\n", &v1.ctrl[CG_MEMORY],
	              CG_MEMORY, out, sizeof(out)) == 0);
	CHECK_STR(out, "/sub");
	CHECK(path_of("4:memory:/docker/other\n", &v1.ctrl[CG_MEMORY], CG_MEMORY, out,
	              sizeof(out)) == -ENOENT);
	CHECK(path_of("4:memory:/docker/" V1_DOCKER_ID "x\n", &v1.ctrl[CG_MEMORY], CG_MEMORY, out,
	              sizeof(out)) == -ENOENT);

	/* No line; outside our cgroup namespace; not present; bad text; small buffer. */
	CHECK(path_of("4:memory:/a\n", &v2.ctrl[CG_MEMORY], CG_MEMORY, out, sizeof(out)) ==
	      -ENOENT);
	CHECK(path_of("0::/a\n", &hy.ctrl[CG_MEMORY], CG_MEMORY, out, sizeof(out)) == -ENOENT);
	CHECK(path_of("", &hy.ctrl[CG_MEMORY], CG_MEMORY, out, sizeof(out)) == -ENOENT);
	CHECK(path_of("0::/../../other\n", &v2.ctrl[CG_MEMORY], CG_MEMORY, out, sizeof(out)) ==
	      -ENOENT);
	CHECK(path_of("0::/a\n", &absent, CG_MEMORY, out, sizeof(out)) == -ENOENT);
	CHECK(path_of("garbage\n", &v2.ctrl[CG_MEMORY], CG_MEMORY, out, sizeof(out)) == -EINVAL);
	CHECK(path_of("4:memory\n", &hy.ctrl[CG_MEMORY], CG_MEMORY, out, sizeof(out)) == -EINVAL);
	CHECK(path_of("x:memory:/a\n", &hy.ctrl[CG_MEMORY], CG_MEMORY, out, sizeof(out)) ==
	      -EINVAL);
	CHECK(path_of("4:memory:relative\n", &hy.ctrl[CG_MEMORY], CG_MEMORY, out, sizeof(out)) ==
	      -EINVAL);
	CHECK(path_of("0::/lxc.payload.web\n", &v2.ctrl[CG_MEMORY], CG_MEMORY, out, 8) ==
	      -ENAMETOOLONG);
	CHECK(path_of("0::/lxc.payload.web\n", &v2.ctrl[CG_MEMORY], CG_NCTRL, out, sizeof(out)) ==
	      -EINVAL);
}

static int stat_of(const char *text, int version, struct cg_memory *m)
{
	return cg_parse_memory_stat(text, strlen(text), version, m);
}

static int limit_of(const char *text, uint64_t *v)
{
	return cg_parse_limit(text, strlen(text), v);
}

static void test_parsers(void)
{
	struct cg_memory m, before;
	uint64_t v = 7;

	CHECK(limit_of("max\n", &v) == 0);
	CHECK_EQ_U64(v, CG_UNLIMITED);
	CHECK(limit_of("314572800\n", &v) == 0);
	CHECK_EQ_U64(v, 314572800);
	CHECK(limit_of("0", &v) == 0);
	CHECK_EQ_U64(v, 0);
	/* v1's "unlimited" with 4 KiB and 64 KiB pages. */
	CHECK(limit_of("9223372036854771712\n", &v) == 0);
	CHECK_EQ_U64(v, CG_UNLIMITED);
	CHECK(limit_of("9223372036854710272\n", &v) == 0);
	CHECK_EQ_U64(v, CG_UNLIMITED);
	v = 7;
	CHECK(limit_of("abc\n", &v) == -EINVAL);
	CHECK(limit_of("", &v) == -EINVAL);
	CHECK(limit_of("\n", &v) == -EINVAL);
	CHECK(limit_of("-1\n", &v) == -EINVAL);
	CHECK(limit_of("12 34\n", &v) == -EINVAL);
	CHECK(limit_of("maxi", &v) == -EINVAL);
	CHECK(limit_of("18446744073709551616", &v) == -EINVAL);
	CHECK_EQ_U64(v, 7); /* untouched on error */

	/* Malformed lines: -EINVAL and nothing written. */
	memset(&m, 0xab, sizeof(m));
	before = m;
	CHECK(stat_of("anon 1\nfile\n", 2, &m) == -EINVAL);
	CHECK(stat_of("file x\n", 2, &m) == -EINVAL);
	CHECK(stat_of(" 12\n", 2, &m) == -EINVAL);
	CHECK(stat_of("file 1 2\n", 2, &m) == -EINVAL);
	CHECK(stat_of("file 1\n", 3, &m) == -EINVAL);
	CHECK(memcmp(&m, &before, sizeof(m)) == 0);

	/* v1 prefers the hierarchical total_* keys, falls back to the local ones. */
	memset(&m, 0, sizeof(m));
	CHECK(stat_of("cache 5\ntotal_cache 50\ndirty 3\nshmem 4\ntotal_shmem 40\n", 1, &m) == 0);
	CHECK_EQ_U64(m.cache, 50);
	CHECK_EQ_U64(m.dirty, 3);
	CHECK_EQ_U64(m.shmem, 40);
	CHECK(!m.has_slab);
	/* v2 keys are not v1 keys; slab is the sum when the line is missing. */
	CHECK(stat_of("file 9\nslab_reclaimable 2\nslab_unreclaimable 3", 2, &m) == 0);
	CHECK_EQ_U64(m.cache, 9);
	CHECK_EQ_U64(m.dirty, 0); /* absent keys read 0 */
	CHECK_EQ_U64(m.slab, 5);
	CHECK(m.has_slab);
	CHECK(!m.has_zswap);
}

static int open_fixture(const char *tree)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), FIXTURES "/%s", tree);
	/* As the worker opens the hierarchy roots. */
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
	return fd;
}

static void test_memory_v2(void)
{
	struct cg_memory m, before;
	int root = open_fixture("cgroup2");

	CHECK(root >= 0);
	if (root < 0)
		return;

	memset(&m, 0, sizeof(m));
	CHECK(cg_read_memory(root, 2, "/lxc.payload.web", &m) == 0);
	CHECK(m.version == 2);
	CHECK_EQ_U64(m.limit, 314572800);
	CHECK_EQ_U64(m.usage, 121638912);
	CHECK_EQ_U64(m.cache, 67108864);
	CHECK_EQ_U64(m.active_anon, 37748736);
	CHECK_EQ_U64(m.inactive_anon, 8388608);
	CHECK_EQ_U64(m.active_file, 41943040);
	CHECK_EQ_U64(m.inactive_file, 20971520);
	CHECK_EQ_U64(m.unevictable, 0);
	CHECK_EQ_U64(m.shmem, 4194304);
	CHECK_EQ_U64(m.mapped, 25165824);
	CHECK_EQ_U64(m.dirty, 135168);
	CHECK_EQ_U64(m.writeback, 0);
	CHECK_EQ_U64(m.anon_thp, 20971520);
	CHECK(m.has_slab);
	CHECK_EQ_U64(m.slab, 9347072);
	CHECK_EQ_U64(m.slab_reclaimable, 6815744);
	CHECK_EQ_U64(m.slab_unreclaimable, 2531328);
	CHECK(m.has_zswap);
	CHECK_EQ_U64(m.zswap, 1048576);
	CHECK_EQ_U64(m.zswapped, 4194304);
	CHECK(m.swap_accounting);
	CHECK_EQ_U64(m.swap_limit, 209715200);
	CHECK_EQ_U64(m.swap_usage, 2097152);
	CHECK(!m.has_swappiness);

	/* "max" of its own, but the parent's 300 MiB (and swap 200 MiB) bind it. */
	CHECK(cg_read_memory(root, 2, "/lxc.payload.web/app", &m) == 0);
	CHECK_EQ_U64(m.limit, 314572800);
	CHECK_EQ_U64(m.usage, 52428800);
	CHECK_EQ_U64(m.swap_limit, 209715200);
	CHECK_EQ_U64(m.swap_usage, 1048576);
	CHECK_EQ_U64(m.cache, 25165824);
	CHECK_EQ_U64(m.inactive_anon, 5242880);
	CHECK_EQ_U64(m.inactive_file, 11534336);
	CHECK_EQ_U64(m.writeback, 4096);
	CHECK_EQ_U64(m.slab, 3145728);
	/* Doubled slashes and a trailing one name the same cgroup. */
	CHECK(cg_read_memory(root, 2, "//lxc.payload.web//app/", &m) == 0);
	CHECK_EQ_U64(m.usage, 52428800);

	/* Empty memory.stat: figures 0; no swap files: no accounting, no limit. */
	memset(&m, 0xab, sizeof(m));
	CHECK(cg_read_memory(root, 2, "/lxc.payload.empty", &m) == 0);
	CHECK_EQ_U64(m.limit, 1073741824);
	CHECK_EQ_U64(m.usage, 0);
	CHECK_EQ_U64(m.cache, 0);
	CHECK_EQ_U64(m.active_file, 0);
	CHECK(!m.has_slab);
	CHECK(!m.has_zswap);
	CHECK(!m.swap_accounting);
	CHECK_EQ_U64(m.swap_limit, CG_UNLIMITED);
	CHECK_EQ_U64(m.swap_usage, 0);

	/* Errors leave out untouched. */
	before = m;
	CHECK(cg_read_memory(root, 2, "/lxc.payload.bad", &m) == -EINVAL);
	CHECK(cg_read_memory(root, 2, "/lxc.payload.gone", &m) == -ENOENT);
	CHECK(cg_read_memory(root, 2, "/lxc.payload.web/gone", &m) == -ENOENT);
	CHECK(cg_read_memory(root, 2, "/lxc.payload.web/memory.max", &m) == -ENOENT);
	/* The v2 root has no memory.current: it is the host, not a container. */
	CHECK(cg_read_memory(root, 2, "/", &m) == -ENOENT);
	CHECK(cg_read_memory(root, 2, "/lxc.payload.web/../lxc.payload.empty", &m) == -EINVAL);
	CHECK(cg_read_memory(root, 2, "lxc.payload.web", &m) == -EINVAL);
	CHECK(cg_read_memory(root, 3, "/lxc.payload.web", &m) == -EINVAL);
	CHECK(cg_read_memory(-1, 2, "/lxc.payload.web", &m) == -EINVAL);
	CHECK(memcmp(&m, &before, sizeof(m)) == 0);
	close(root);
}

static void test_memory_v1(void)
{
	unsigned long files;
	struct cg_memory m;
	int root = open_fixture("cgroup1-memory");

	CHECK(root >= 0);
	if (root < 0)
		return;

	memset(&m, 0, sizeof(m));
	CHECK(cg_read_memory(root, 1, "/", &m) == 0);
	CHECK(m.version == 1);
	CHECK_EQ_U64(m.limit, CG_UNLIMITED);
	CHECK_EQ_U64(m.usage, 6409981952);
	CHECK_EQ_U64(m.cache, 4529631232);
	CHECK_EQ_U64(m.anon_thp, 629145600);
	CHECK(m.swap_accounting);
	CHECK_EQ_U64(m.swap_limit, CG_UNLIMITED);
	CHECK_EQ_U64(m.swap_usage, 6543638528);
	CHECK(m.has_swappiness);
	CHECK_EQ_U64(m.swappiness, 60);
	CHECK(!m.has_slab);
	CHECK(!m.has_zswap);

	/* Unlimited itself; /lxc's 512 MiB and 1 GiB memsw bind it. */
	CHECK(cg_read_memory(root, 1, "/lxc/c1", &m) == 0);
	CHECK_EQ_U64(m.limit, 536870912);
	CHECK_EQ_U64(m.usage, 209715200);
	CHECK_EQ_U64(m.swap_limit, 1073741824);
	CHECK_EQ_U64(m.swap_usage, 218103808);
	CHECK_EQ_U64(m.cache, 125829120);
	CHECK_EQ_U64(m.active_anon, 50331648);
	CHECK_EQ_U64(m.inactive_anon, 29360128);
	CHECK_EQ_U64(m.active_file, 62914560);
	CHECK_EQ_U64(m.inactive_file, 58720256);
	CHECK_EQ_U64(m.shmem, 4194304);
	CHECK_EQ_U64(m.mapped, 33554432);
	CHECK_EQ_U64(m.dirty, 61440);
	CHECK_EQ_U64(m.writeback, 8192); /* total_writeback; the local key says 0 */
	CHECK_EQ_U64(m.anon_thp, 8388608);
	CHECK_EQ_U64(m.swappiness, 60);

	/* Its own limits are lower than the parent's. */
	CHECK(cg_read_memory(root, 1, "/lxc/c2", &m) == 0);
	CHECK_EQ_U64(m.limit, 268435456);
	CHECK_EQ_U64(m.swap_limit, 402653184);
	CHECK_EQ_U64(m.swap_usage, 122683392);
	CHECK(m.has_swappiness);
	CHECK_EQ_U64(m.swappiness, 0);

	CHECK(cg_read_memory(root, 1, "/lxc", &m) == 0);
	CHECK_EQ_U64(m.limit, 536870912);
	CHECK_EQ_U64(m.usage, 331350016);

	CHECK(cg_read_memory(root, 1, "/lxc/c3", &m) == -ENOENT);

	/*
	 * A snapshot refresh: memory.stat's hierarchical lines are the minimum
	 * over the ancestors, so no limit file and nothing above is read.
	 */
	files = cg_files_read;
	memset(&m, 0, sizeof(m));
	CHECK(cg_read_memory_here(root, 1, "/lxc/c1", &m) == 0);
	CHECK(cg_memory_limits_final(&m));
	CHECK_EQ_U64(m.limit, 536870912);
	CHECK_EQ_U64(m.swap_limit, 1073741824);
	CHECK_EQ_U64(m.usage, 209715200);
	CHECK_EQ_U64(cg_files_read - files, 4); /* usage, stat, memsw usage, swappiness */

	/* Older kernels print no hierarchical lines: this level's files, ancestors left to the caller. */
	files = cg_files_read;
	CHECK(cg_read_memory_here(root, 1, "/lxc/c4", &m) == 0);
	CHECK(!cg_memory_limits_final(&m));
	CHECK_EQ_U64(m.limit, 134217728);
	CHECK_EQ_U64(m.swap_limit, CG_UNLIMITED);
	CHECK_EQ_U64(cg_files_read - files, 6);
	CHECK(cg_read_memory(root, 1, "/lxc/c4", &m) == 0);
	CHECK_EQ_U64(m.limit, 134217728);
	CHECK_EQ_U64(m.swap_limit, 1073741824); /* /lxc's */
	close(root);
}

/* cg_open stays below the root: no "..", no links, no files for cgroups. */
static void test_open_confined(void)
{
	char tmp[] = "/tmp/lxcfs-cgopen.XXXXXX", path[PATH_MAX], longname[NAME_MAX + 3];
	int root, fd;

	if (!mkdtemp(tmp)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/a/b", tmp);
	CHECK(mkdir(path, 0700) < 0 && errno == ENOENT);
	snprintf(path, sizeof(path), "%s/a", tmp);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/a/b", tmp);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/a/file", tmp);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/link", tmp);
	CHECK(symlink("a", path) == 0);
	snprintf(path, sizeof(path), "%s/a/up", tmp);
	CHECK(symlink("/", path) == 0);

	root = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(root >= 0);
	fd = cg_open(root, "/a/b");
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	fd = cg_open(root, "//a//b/");
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	fd = cg_open(root, "/");
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK(cg_open(root, "/a/../a/b") == -EINVAL);
	CHECK(cg_open(root, "/a/./b") == -EINVAL);
	CHECK(cg_open(root, "/..") == -EINVAL);
	CHECK(cg_open(root, "a/b") == -EINVAL);
	CHECK(cg_open(root, "/link/b") == -ENOENT);
	CHECK(cg_open(root, "/a/up") == -ENOENT);
	CHECK(cg_open(root, "/a/up/tmp") == -ENOENT);
	CHECK(cg_open(root, "/a/file") == -ENOENT);
	CHECK(cg_open(root, "/a/missing") == -ENOENT);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	CHECK(cg_open(root, longname) == -ENAMETOOLONG);
	CHECK(cg_open(-1, "/a") == -EINVAL);
	if (root >= 0)
		close(root);

	snprintf(path, sizeof(path), "%s/a/up", tmp);
	unlink(path);
	snprintf(path, sizeof(path), "%s/link", tmp);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a/file", tmp);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a/b", tmp);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a", tmp);
	rmdir(path);
	CHECK(rmdir(tmp) == 0);
}

/* The memory cgroup of pid (0: ourselves) straight from its /proc/<pid>/cgroup. */
static int cgroup_of(pid_t pid, const struct cg_hier *h, char *out, size_t size)
{
	char path[64], *text;
	size_t len;
	int ret;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	text = slurp(path, &len);
	if (!text)
		return -EIO;
	ret = cg_path_parse(text, len, h, CG_MEMORY, out, size);
	free(text);
	return ret;
}

/* Wait up to 10 s for "tag pid\n" lines on fd until every wanted tag is seen. */
static int collect_pids(int fd, const char *tags, pid_t *pids)
{
	char buf[256];
	size_t len = 0, want = strlen(tags), got = 0;

	while (got < want) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char *nl;
		ssize_t n;

		if (poll(&pfd, 1, 10000) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -EPIPE;
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			const char *t = strchr(tags, buf[0]);
			int pid = atoi(buf + 2);

			if (buf[0] == 'E' || !t || pid <= 0)
				return -EIO;
			pids[t - tags] = pid;
			got++;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
	}
	return 0;
}

static void say(int fd, char tag, pid_t pid)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%c %d\n", tag, (int)pid);

	if (write(fd, line, (size_t)n) != n)
		_exit(1);
}

static void die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/*
 * Start a new pid namespace: a child C unshares and forks G (pid 1 there),
 * which forks GG (pid 2) that sleeps. Writes G's and GG's host pids to pids[0]
 * and pids[1]. Returns C's pid, which exits once G is killed, or -errno.
 */
static pid_t start_pidns(pid_t *pids)
{
	int p[2];
	pid_t c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	c = fork();
	if (c < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (c == 0) {
		pid_t g;

		die_with_parent();
		close(p[0]);
		if (unshare(CLONE_NEWPID) < 0) {
			say(p[1], 'E', errno);
			_exit(1);
		}
		g = fork();
		if (g < 0)
			_exit(1);
		if (g == 0) {
			pid_t gg;

			die_with_parent();
			gg = fork();
			if (gg == 0) {
				char self[32] = "";

				/* Our /proc is the host's: /proc/self names our host pid. */
				if (readlink("/proc/self", self, sizeof(self) - 1) < 0)
					_exit(1);
				say(p[1], 'h', atoi(self));
				close(p[1]);
				for (;;)
					pause();
			}
			close(p[1]);
			for (;;)
				pause();
		}
		say(p[1], 'g', g);
		close(p[1]);
		while (waitpid(g, NULL, 0) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[1]);
	if (collect_pids(p[0], "gh", pids) < 0) {
		close(p[0]);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		return -EIO;
	}
	close(p[0]);
	return c;
}

/* Kill a namespace by its init and reap the child that started it. */
static void stop_pidns(pid_t c, pid_t g)
{
	kill(g, SIGKILL);
	while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
		;
}

/*
 * Join pid namespace of init g the way nsenter does: helper H does setns and
 * forks J, whose parent is outside the namespace. pids[0] = J. Returns H.
 */
static pid_t attach_pidns(pid_t g, pid_t *pids)
{
	char path[64];
	int p[2];
	pid_t h;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	h = fork();
	if (h < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (h == 0) {
		pid_t j;
		int fd;

		die_with_parent();
		close(p[0]);
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)g);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWPID) < 0) {
			say(p[1], 'E', errno);
			_exit(1);
		}
		j = fork();
		if (j == 0) {
			die_with_parent();
			for (;;)
				pause();
		}
		say(p[1], 'j', j);
		close(p[1]);
		while (waitpid(j, NULL, 0) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[1]);
	if (collect_pids(p[0], "j", pids) < 0) {
		close(p[0]);
		kill(h, SIGKILL);
		waitpid(h, NULL, 0);
		return -EIO;
	}
	close(p[0]);
	return h;
}

static int write_pid(const char *dir, pid_t pid)
{
	char path[PATH_MAX + 32], line[32];
	int fd, n, ret = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "%d\n", (int)pid);
	if (write(fd, line, (size_t)n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

static void rmdir_retry(const char *dir)
{
	/* The last task leaves its cgroup only after it is reaped: retry briefly. */
	for (int i = 0; i < 50; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		usleep(20000);
	}
	fprintf(stderr, "test_cgroup: could not remove %s: %s\n", dir, strerror(errno));
}

static void test_reader(void)
{
	static struct cg_layout l;
	char own[PATH_MAX], got[PATH_MAX], want[PATH_MAX + 64];
	char base[PATH_MAX * 2 + 64], scope[sizeof(base) + 16], app[sizeof(base) + 16];
	pid_t pids[2], init = 0, c, h, gone;
	bool moved = false;
	int ret;

	CHECK(cg_layout_detect(&l) == 0);
	CHECK(l.ctrl[CG_MEMORY].present);
	if (!l.ctrl[CG_MEMORY].present)
		return;
	CHECK(cgroup_of(0, &l.ctrl[CG_MEMORY], own, sizeof(own)) == 0);

	/* In the host's namespace a reader is its own init and has its own cgroup. */
	CHECK(reader_ns_init(getpid(), &init) == 0);
	CHECK(init == getpid());
	CHECK(reader_cgroup(getpid(), &l, CG_MEMORY, got, sizeof(got)) == 0);
	CHECK_STR(got, own);

	/* This process's real cgroup reads through the fd API too. */
	if (strcmp(own, "/") != 0 || l.ctrl[CG_MEMORY].version == 1) {
		struct cg_memory m;
		int root = open(l.ctrl[CG_MEMORY].mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		CHECK(root >= 0);
		if (root >= 0) {
			CHECK(cg_read_memory(root, l.ctrl[CG_MEMORY].version, own, &m) == 0);
			CHECK(m.usage > 0);
			close(root);
		}
	}

	/* A pid that exited and was reaped, and one beyond any pid_max. */
	gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	CHECK(reader_ns_init(gone, &init) == -ESRCH);
	CHECK(reader_cgroup(gone, &l, CG_MEMORY, got, sizeof(got)) == -ESRCH);
	CHECK(reader_ns_init(4194304 + 1, &init) == -ESRCH);
	CHECK(reader_ns_init(0, &init) == -ESRCH);

	/* A container: readers inside see the cgroup of pid 1, minus init.scope. */
	c = start_pidns(pids);
	CHECK(c > 0);
	if (c <= 0) {
		fprintf(stderr, "test_cgroup: cannot start a pid namespace (root?)\n");
		return;
	}
	snprintf(base, sizeof(base), "%s%s/lxcfs-test-%d", l.ctrl[CG_MEMORY].mount,
	         strcmp(own, "/") ? own : "", (int)getpid());
	snprintf(scope, sizeof(scope), "%s/init.scope", base);
	snprintf(app, sizeof(app), "%s/app", base);
	if (mkdir(base, 0755) == 0) {
		moved = mkdir(scope, 0755) == 0 && mkdir(app, 0755) == 0 &&
		        write_pid(scope, pids[0]) == 0 && write_pid(app, pids[1]) == 0;
	}
	if (!moved)
		fprintf(stderr,
		        "test_cgroup: cgroupfs not writable (%s), reader checks "
		        "without moving the container\n",
		        strerror(errno));

	CHECK(reader_ns_init(pids[1], &init) == 0); /* walk up */
	CHECK(init == pids[0]);
	CHECK(reader_ns_init(pids[0], &init) == 0); /* the init itself */
	CHECK(init == pids[0]);
	CHECK(reader_ns_init(pids[1], &init) == 0); /* cached */
	CHECK(init == pids[0]);
	ret = reader_cgroup(pids[1], &l, CG_MEMORY, got, sizeof(got));
	CHECK(ret == 0);
	if (moved) {
		snprintf(want, sizeof(want), "%s/lxcfs-test-%d", strcmp(own, "/") ? own : "",
		         (int)getpid());
		CHECK_STR(got, want);
		/* ...while the reader itself sits in app/. */
		CHECK(cgroup_of(pids[1], &l.ctrl[CG_MEMORY], got, sizeof(got)) == 0);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "/app");
		CHECK_STR(got, want);
	} else {
		CHECK_STR(got, own);
	}

	stop_pidns(c, pids[0]);
	CHECK(reader_ns_init(pids[1], &init) == -ESRCH);
	CHECK(reader_ns_init(pids[0], &init) == -ESRCH);
	CHECK(reader_cgroup(pids[1], &l, CG_MEMORY, got, sizeof(got)) == -ESRCH);

	/* Attached with setns: the walk leaves the namespace, the scan finds pid 1. */
	c = start_pidns(pids);
	CHECK(c > 0);
	if (c > 0) {
		pid_t j[1];

		h = attach_pidns(pids[0], j);
		CHECK(h > 0);
		if (h > 0) {
			CHECK(reader_ns_init(j[0], &init) == 0);
			CHECK(init == pids[0]);
			CHECK(reader_ns_init(pids[1], &init) == 0); /* the same ns, now cached */
			CHECK(init == pids[0]);
			CHECK(reader_cgroup(j[0], &l, CG_MEMORY, got, sizeof(got)) == 0);
			CHECK_STR(got, own);
		}
		stop_pidns(c, pids[0]);
		if (h > 0) {
			/* J died with its namespace; H then exits. */
			while (waitpid(h, NULL, 0) < 0 && errno == EINTR)
				;
			CHECK(reader_ns_init(j[0], &init) == -ESRCH);
		}
	}

	if (moved || access(base, F_OK) == 0) {
		rmdir_retry(scope);
		rmdir_retry(app);
		rmdir_retry(base);
	}
}

/* Open descriptors of this process: every path above must close what it opened. */
static int count_fds(void)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int main(void)
{
	int fds;

	/* A hung namespace scenario must not outlive the run: children die with us. */
	alarm(120);
	fds = count_fds();
	test_layout();
	test_path();
	test_parsers();
	test_memory_v2();
	test_memory_v1();
	test_open_confined();
	test_reader();
	CHECK(count_fds() == fds);
	return check_report("cgroup");
}
