/*
 * A cgroup removed and made again at the same path, as a container restarted
 * under the same name (lxc-stop -k; lxc-start, docker restart) has it: what
 * lxcfs keeps per cgroup in shared memory must start afresh for the new one.
 *
 * The v2 fixture tree (tests/fixtures/v2host) is copied to a tmpfs folder,
 * whose inode numbers only grow, as cgroupfs's do; "making again" is renaming
 * the container's directory away (it keeps its inode) and copying it back
 * under its name (a new inode), then changing its figures. A worker context
 * from test_worker_init() is pointed at the copy, as in test_v2_files.
 *
 *   floors     /proc/stat's never-backwards floor of the old cgroup does not
 *              clamp the new one's figures, and still clamps within a life;
 *   loadavg    the averages restart at 0, at the first read of a new
 *              container and at the next sample;
 *   values     within the freshness bound an old reader reads nothing, but a
 *              reader whose container was first seen after the values were
 *              read gets the new cgroup's at once;
 *   identity   when a container was first seen in its cgroups is kept across
 *              refreshes of the same paths and starts again for other paths.
 *
 * "A new container's reader" is a reader whose cont_paths.seen_ns is now, as
 * ident_resolve() gives the first reader of a new init. Runs from the
 * repository root.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "tests/unit/test_worker.h"
#include "workers/files.h"
#include "workers/files_misc.h"
#include "workers/ident.h"
#include "workers/snapshot.h"
#include "workers/worker.h"

#define FIXTURE "tests/fixtures/v2host"
#define C1      "/lxc.payload.c1"

static struct worker_ctx wctx;
static pid_t self;
static char root[256]; /* the fixture's copy */
static char cgdir[300];
static unsigned generation;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void run(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "%s: failed\n", cmd);
		exit(2);
	}
}

static void write_file(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", cgdir, rel);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "write %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static uint64_t inode_of(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", cgdir, rel);
	if (stat(path, &st) < 0) {
		fprintf(stderr, "stat %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return (uint64_t)st.st_ino;
}

/* C1 removed and made again: the old directory kept aside (its inode stays taken). */
static void recreate_c1(void)
{
	char cmd[2048];
	uint64_t before = inode_of(C1);

	generation++;
	snprintf(cmd, sizeof(cmd), "mv %s%s %s%s.old%u && cp -a %s%s.old%u %s%s", cgdir, C1, cgdir,
	         C1, generation, cgdir, C1, generation, cgdir, C1);
	run(cmd);
	/* cgroupfs gives a later cgroup a larger inode; so does tmpfs */
	CHECK(inode_of(C1) > before);
}

/* Every controller and the unified tree: version 2 at the copy's cgroup dir. */
static void point_at_copy(struct worker_ctx *w)
{
	for (int c = 0; c < CG_NCTRL; c++)
		if (w->root_fd[c] >= 0)
			close(w->root_fd[c]);
	if (w->unified_fd >= 0)
		close(w->unified_fd);
	memset(&w->layout, 0, sizeof(w->layout));
	w->layout.kind = CG_LAYOUT_V2;
	for (int c = 0; c <= CG_NCTRL; c++) {
		struct cg_hier *h = c == CG_NCTRL ? &w->layout.unified : &w->layout.ctrl[c];

		h->present = true;
		h->version = 2;
		snprintf(h->mount, sizeof(h->mount), "%s", cgdir);
		snprintf(h->root, sizeof(h->root), "/");
	}
	for (int c = 0; c < CG_NCTRL; c++)
		w->root_fd[c] = open(cgdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	w->unified_fd = open(cgdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->unified_fd < 0) {
		perror(cgdir);
		exit(2);
	}
	w->host_root = root;
}

/* The request switch's resolution of the reader, done: every hierarchy at path. */
static void as_reader(struct worker_ctx *w, const char *path, uint64_t seen_ns)
{
	w->reader_pid = self;
	w->reader_valid = true;
	for (int c = 0; c <= CG_NCTRL; c++)
		snprintf(w->reader.path[c], sizeof(w->reader.path[c]), "%s", path);
	w->reader.seen_ns = seen_ns;
}

/* user and system of the "cpu" line of the last render. */
static void cpu_line(struct worker_ctx *w, uint64_t *user, uint64_t *system)
{
	char text[256];
	unsigned long long u = 0, n = 0, s = 0;
	size_t len = w->out.len < sizeof(text) - 1 ? w->out.len : sizeof(text) - 1;

	memcpy(text, w->out.data, len);
	text[len] = '\0';
	if (sscanf(text, "cpu  %llu %llu %llu", &u, &n, &s) != 3) {
		fprintf(stderr, "no cpu line in \"%.60s\"\n", text);
		check_failed++;
	}
	*user = u;
	*system = s;
}

static void cpu_stat(unsigned long long user_usec, unsigned long long system_usec)
{
	char text[256];

	snprintf(text, sizeof(text), "usage_usec %llu\nuser_usec %llu\nsystem_usec %llu\n",
	         user_usec + system_usec, user_usec, system_usec);
	write_file(C1 "/cpu.stat", text);
}

static void test_floors(struct worker_ctx *w)
{
	uint64_t user, system;
	unsigned long files;

	/* c1's cpu.stat: 6 s user, 3 s system: 600 and 300 ticks */
	as_reader(w, C1, 0);
	CHECK(file_stat(w, self) == 0);
	cpu_line(w, &user, &system);
	CHECK_EQ_U64(user, 600);
	CHECK_EQ_U64(system, 300);

	/* a new c1 that ran 0.3 s user, 0.15 s system */
	recreate_c1();
	cpu_stat(300000, 150000);

	/* a reader of the old container, within the freshness bound: cached, no cgroupfs read */
	files = cg_files_read;
	CHECK(file_stat(w, self) == 0);
	cpu_line(w, &user, &system);
	CHECK_EQ_U64(user, 600);
	CHECK_EQ_U64(cg_files_read - files, 0);

	/* the new container's first reader: its own figures, not the old floor */
	as_reader(w, C1, now_ns());
	CHECK(file_stat(w, self) == 0);
	cpu_line(w, &user, &system);
	CHECK_EQ_U64(user, 30);
	CHECK_EQ_U64(system, 15);

	/* within that life the floor holds: figures read lower are shown as before */
	cpu_stat(200000, 100000);
	as_reader(w, C1, now_ns());
	CHECK(file_stat(w, self) == 0);
	cpu_line(w, &user, &system);
	CHECK_EQ_U64(user, 30);
	CHECK_EQ_U64(system, 15);

	/*
	 * A reader whose container stayed (a host process moved between
	 * cgroups): the next refresh of the figures shows the new cgroup, and
	 * the floor starts again with it. With --cache-ttl-ms 0 that is now.
	 */
	recreate_c1();
	cpu_stat(100000, 50000);
	w->shm.hdr->config.cache_ttl_ms = 0;
	as_reader(w, C1, 0);
	CHECK(file_stat(w, self) == 0);
	cpu_line(w, &user, &system);
	CHECK_EQ_U64(user, 10);
	CHECK_EQ_U64(system, 5);
	w->shm.hdr->config.cache_ttl_ms = 3600 * 1000;
}

/* The start of loadavg.c's struct load_state: the averages and when they were sampled. */
struct test_load_prefix {
	uint64_t avenrun[3];
	uint64_t sampled_ns;
};

struct load_poke {
	uint64_t avenrun;
	uint64_t sampled_ns;
};

static int poke_load(void *ctx, void *value, size_t len, uint64_t used_ns)
{
	const struct load_poke *p = ctx;
	struct test_load_prefix *st = value;

	(void)used_ns;
	if (len < sizeof(*st))
		return SNAP_KEEP;
	for (int i = 0; i < 3; i++)
		st->avenrun[i] = p->avenrun;
	st->sampled_ns = p->sampled_ns;
	return SNAP_WRITE;
}

static void expect_loadavg(struct worker_ctx *w, const char *averages)
{
	char want[128];

	CHECK(file_loadavg(w, self) == 0);
	snprintf(want, sizeof(want), "%s 1/1 %d\n", averages, (int)self);
	CHECK(w->out.len < sizeof(want));
	if (w->out.len < sizeof(want)) {
		char got[128];

		memcpy(got, w->out.data, w->out.len);
		got[w->out.len] = '\0';
		CHECK_STR(got, want);
	}
}

/* The averages of every container set to 1.00, sampled at sampled_ns. */
static void set_loads(struct worker_ctx *w, uint64_t sampled_ns)
{
	snap_update_each(&w->shm, SNAP_LOAD, &w->who, poke_load,
	                 &(struct load_poke){.avenrun = 2048, .sampled_ns = sampled_ns});
}

static void threads_of_c1_are_us(void)
{
	char text[32];

	snprintf(text, sizeof(text), "%d\n", (int)self);
	write_file(C1 "/cgroup.threads", text);
	write_file(C1 "/app/cgroup.threads", "");
}

static void test_loadavg(struct worker_ctx *w)
{
	w->shm.hdr->config.opts |= LX_OPT_LOADAVG;
	threads_of_c1_are_us();
	as_reader(w, C1, 0);
	expect_loadavg(w, "0.00 0.00 0.00"); /* a container seen for the first time */
	set_loads(w, now_ns());
	expect_loadavg(w, "1.00 1.00 1.00");

	/* made again: an old reader still sees the averages until the next sample... */
	recreate_c1();
	expect_loadavg(w, "1.00 1.00 1.00");
	/* ...the new container's first reader starts them afresh */
	as_reader(w, C1, now_ns());
	expect_loadavg(w, "0.00 0.00 0.00");

	/* the sampler: the same cgroup carries on (one runnable thread keeps 1.00)... */
	as_reader(w, C1, 0);
	set_loads(w, 0);
	loadavg_sample(w);
	expect_loadavg(w, "1.00 1.00 1.00");
	/* ...a cgroup made again starts at 0 */
	set_loads(w, 0);
	recreate_c1();
	loadavg_sample(w);
	expect_loadavg(w, "0.00 0.00 0.00");
	w->shm.hdr->config.opts &= ~LX_OPT_LOADAVG;
}

static void test_values(struct worker_ctx *w)
{
	struct cg_memory mem;
	unsigned long files;

	as_reader(w, C1, 0);
	CHECK(snap_memory(w, C1, &mem) == 0);
	CHECK_EQ_U64(mem.limit, 536870912);

	recreate_c1();
	write_file(C1 "/memory.max", "268435456\n");
	files = cg_files_read;
	CHECK(snap_memory(w, C1, &mem) == 0);
	CHECK_EQ_U64(mem.limit, 536870912); /* the freshness bound, for an old reader */
	CHECK_EQ_U64(cg_files_read - files, 0);

	as_reader(w, C1, now_ns());
	CHECK(snap_memory(w, C1, &mem) == 0);
	CHECK_EQ_U64(mem.limit, 268435456); /* the new container's reader: at once */
	files = cg_files_read;
	CHECK(snap_memory(w, C1, &mem) == 0); /* and then from the snapshot again */
	CHECK_EQ_U64(cg_files_read - files, 0);
}

/* ident.c's identity of a process (struct proc_key): pid, /proc/<pid> inode and ctime. */
struct test_proc_key {
	int32_t pid;
	uint32_t pad;
	uint64_t ino;
	int64_t ctime_ns;
};

struct seed {
	const struct cont_paths *paths;
};

static int put_paths(void *ctx, void *value, size_t size, size_t *len)
{
	const struct cont_paths *p = ctx;

	if (size < sizeof(*p))
		return -ENOSPC;
	memcpy(value, p, sizeof(*p));
	*len = sizeof(*p);
	return SNAP_WRITE;
}

/* Our SNAP_CONT entry (we are our own "init": the host's pid namespace) set to paths. */
static void seed_paths(struct worker_ctx *w, int proc_fd, const struct cont_paths *paths)
{
	struct test_proc_key k;
	struct snap_key sk;
	struct stat st;

	if (fstat(proc_fd, &st) < 0) {
		perror("fstat /proc/self");
		exit(2);
	}
	memset(&k, 0, sizeof(k));
	k.pid = self;
	k.ino = st.st_ino;
	k.ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
	snap_hash(&k, sizeof(k), &sk);
	CHECK(snap_modify(&w->shm, SNAP_CONT, &sk, "init (test)", &w->who, put_paths,
	                  (void *)paths) == 0);
}

static void test_identity(struct worker_ctx *w, int proc_fd)
{
	static struct cont_paths first, again, moved;
	uint64_t t0 = now_ns();

	/* a 1 ms bound: each resolution after a pause refreshes the entry */
	w->shm.hdr->config.cache_ttl_ms = 1;
	CHECK(ident_resolve(w, self, &first) == 0);
	CHECK(first.seen_ns >= t0 && first.seen_ns <= now_ns());
	usleep(5000);
	CHECK(ident_resolve(w, self, &again) == 0);
	CHECK_STR(again.path[CG_MEMORY], first.path[CG_MEMORY]);
	CHECK_EQ_U64(again.seen_ns, first.seen_ns); /* the same cgroups: seen when first seen */

	/* the entry said other paths (the init was elsewhere): seen anew */
	moved = first;
	for (int c = 0; c <= CG_NCTRL; c++)
		snprintf(moved.path[c], sizeof(moved.path[c]), "/elsewhere");
	moved.seen_ns = 1;
	seed_paths(w, proc_fd, &moved);
	usleep(5000);
	t0 = now_ns();
	CHECK(ident_resolve(w, self, &again) == 0);
	CHECK_STR(again.path[CG_MEMORY], first.path[CG_MEMORY]);
	CHECK(again.seen_ns >= t0);
	w->shm.hdr->config.cache_ttl_ms = 3600 * 1000;
}

int main(void)
{
	struct worker_ctx *w = &wctx;
	char cmd[2048], path[64];
	int proc_fd;

	self = getpid();
	snprintf(path, sizeof(path), "/proc/%d", (int)self);
	proc_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC); /* keeps our identity key */
	snprintf(root, sizeof(root), "/dev/shm/lxcfs-test-recreate.XXXXXX");
	if (proc_fd < 0 || !mkdtemp(root)) {
		perror("setup");
		return 2;
	}
	snprintf(cgdir, sizeof(cgdir), "%s/cgroup", root);
	snprintf(cmd, sizeof(cmd), "cp -a %s/. %s", FIXTURE, root);
	run(cmd);
	if (test_worker_init(w, 3600 * 1000) < 0) {
		fprintf(stderr, "test_worker_init failed\n");
		return 2;
	}
	point_at_copy(w);

	test_floors(w);
	test_loadavg(w);
	test_values(w);
	test_identity(w, proc_fd);

	test_worker_fini(w);
	close(proc_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	run(cmd);
	return check_report("test_recreate");
}
