/*
 * cgroup v2 through fixture trees: every file rendered by the real gather
 * functions and checked figure by figure, on a nested cgroup whose ancestor
 * holds the lower limits.
 *
 * The fixture (tests/fixtures/v2host, see its README) is a 4-CPU kernel 6.x
 * host: its /proc files and sys/devices/system/cpu/online, and a cgroup2 tree
 * written as the kernel writes it. The container lxc.payload.c1 holds the
 * limits (memory.max 512 MiB, memory.swap.max 256 MiB, cpu.max 1.5 CPUs,
 * cpuset 1-3); its child app, where the processes are, says "max" for all of
 * them. lxc.payload.bad has malformed files (memory.max "abc", an empty
 * cpu.stat, cpu.max "abc 100000", a bad io.stat value, PSI off); a path that
 * does not exist stands for a cgroup removed under the reader. Both must give
 * the host's file.
 *
 * A worker context from test_worker_init() is pointed at the fixture: host
 * files under host_root, every controller v2 at the fixture's cgroup dir.
 * The reader is set as the request switch leaves it once resolved
 * (reader_valid, reader.path[]), so the gather functions (file_cpuinfo,
 * file_stat, ...) read the fixture's cgroup. meminfo's gather function is
 * static in serve.c: it is driven through serve_request(), which resolves the
 * reader afresh; there the identity cache is seeded with the fixture path (see
 * seed_reader_paths) and the reply written to fd 3 is read from a pipe.
 *
 * Not here: uptime and loadavg, which need real processes (the age of a pid
 * namespace's init, threads in R/D state); test_misc and the integration
 * tests cover them.
 *
 * Runs from the repository root.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc_render/cpu.h"
#include "shm/content.h"
#include "shm/layout.h"
#include "tests/unit/check.h"
#include "tests/unit/test_worker.h"
#include "workers/files.h"
#include "workers/files_misc.h"
#include "workers/ident.h"
#include "workers/snapshot.h"
#include "workers/worker.h"

#define V2HOST "tests/fixtures/v2host"
#define V2CG   V2HOST "/cgroup"

#define C1   "/lxc.payload.c1"
#define APP  "/lxc.payload.c1/app"
#define BAD  "/lxc.payload.bad"
#define GONE "/lxc.payload.gone"

static struct worker_ctx wctx;
static pid_t self;
static int self_proc_fd = -1; /* keeps /proc/<self> (its inode: our identity key) alive */
static int reply_rd = -1;     /* read end of the pipe on fd 3 (WORKER_FUSE_FD) */

/* ---- helpers ---- */

static char *fixture(const char *rel)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", V2HOST, rel);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "open %s: %s (run from the repository root)\n", path,
		        strerror(errno));
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "read %s failed\n", path);
		exit(2);
	}
	fclose(f);
	return buf;
}

/* What the last gather function left in w->out, as a string. */
static const char *out_text(struct worker_ctx *w)
{
	static char *copy;

	free(copy);
	copy = malloc(w->out.len + 1);
	if (!copy)
		exit(2);
	memcpy(copy, w->out.data, w->out.len);
	copy[w->out.len] = '\0';
	return copy;
}

/* The request switch's resolution of the reader, done: every hierarchy at path. */
static void as_reader(struct worker_ctx *w, const char *path)
{
	w->reader_pid = self;
	w->reader_valid = true;
	for (int c = 0; c <= CG_NCTRL; c++)
		snprintf(w->reader.path[c], sizeof(w->reader.path[c]), "%s", path);
}

static void set_cfs(struct worker_ctx *w, bool on)
{
	if (on)
		w->shm.hdr->config.opts |= LX_OPT_CFS;
	else
		w->shm.hdr->config.opts &= ~LX_OPT_CFS;
}

/* Every controller and the unified tree: version 2 at the fixture's cgroup dir. */
static void point_at_fixture(struct worker_ctx *w)
{
	char *abs = realpath(V2CG, NULL);

	if (!abs) {
		fprintf(stderr, "%s: %s (run from the repository root)\n", V2CG, strerror(errno));
		exit(2);
	}
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
		snprintf(h->mount, sizeof(h->mount), "%s", abs);
		snprintf(h->root, sizeof(h->root), "/");
	}
	for (int c = 0; c < CG_NCTRL; c++)
		w->root_fd[c] = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	w->unified_fd = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->unified_fd < 0) {
		perror(abs);
		exit(2);
	}
	w->host_root = V2HOST;
	free(abs);
}

/*
 * host meminfo with the lines of want[] replaced as the kernel prints them
 * ("%-16s%8lu kB"), every other line as it is.
 */
struct mi_want {
	const char *label;
	uint64_t kb;
};

static char *meminfo_expect(const char *host, const struct mi_want *want, size_t n)
{
	size_t cap = strlen(host) + 4096, len = 0;
	char *out = malloc(cap);
	const char *p = host;

	if (!out)
		exit(2);
	while (*p) {
		const char *nl = strchrnul(p, '\n'), *colon = memchr(p, ':', (size_t)(nl - p));
		size_t i;

		for (i = 0; colon && i < n; i++) {
			if (strlen(want[i].label) == (size_t)(colon - p + 1) &&
			    memcmp(want[i].label, p, (size_t)(colon - p + 1)) == 0)
				break;
		}
		if (colon && i < n)
			len += (size_t)snprintf(out + len, cap - len, "%-16s%8" PRIu64 " kB\n",
			                        want[i].label, want[i].kb);
		else
			len += (size_t)snprintf(out + len, cap - len, "%.*s\n", (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
	return out;
}

/*
 * host stat with its block of cpu lines replaced by cpu_lines, and
 * procs_running and procs_blocked 0: the threads app's cgroup.threads lists
 * have exited (ids past the kernel's largest pid_max), and c1 lists none.
 */
static char *stat_expect(const char *host, const char *cpu_lines)
{
	size_t cap = strlen(host) + strlen(cpu_lines) + 1, len = 0;
	char *out = malloc(cap);
	const char *p = host;
	bool done = false;

	if (!out)
		exit(2);
	while (*p) {
		const char *nl = strchrnul(p, '\n');

		if (strncmp(p, "cpu", 3) == 0) {
			if (!done)
				len += (size_t)snprintf(out + len, cap - len, "%s", cpu_lines);
			done = true;
		} else if (strncmp(p, "procs_running ", 14) == 0 ||
		           strncmp(p, "procs_blocked ", 14) == 0) {
			/* app's threads have all exited: none running or blocked */
			len += (size_t)snprintf(out + len, cap - len, "%.14s0\n", p);
		} else {
			len += (size_t)snprintf(out + len, cap - len, "%.*s\n", (int)(nl - p), p);
		}
		p = *nl ? nl + 1 : nl;
	}
	return out;
}

/*
 * host cpuinfo with only the blocks of host CPUs cpus[0..n-1], in that order,
 * their processor lines renumbered 0, 1, ... Every other line as it is.
 */
static char *cpuinfo_expect(const char *host, const unsigned *cpus, size_t n)
{
	size_t cap = strlen(host) + 1, len = 0;
	char *out = malloc(cap);

	if (!out)
		exit(2);
	out[0] = '\0';
	for (size_t k = 0; k < n; k++) {
		char head[32];
		const char *b, *body, *end;

		snprintf(head, sizeof(head), "processor\t: %u\n", cpus[k]);
		b = strstr(host, head);
		if (!b) {
			fprintf(stderr, "fixture cpuinfo has no processor %u\n", cpus[k]);
			exit(2);
		}
		body = b + strlen(head);
		end = strstr(body, "\n\n");
		end = end ? end + 2 : body + strlen(body);
		len += (size_t)snprintf(out + len, cap - len, "processor\t: %zu\n%.*s", k,
		                        (int)(end - body), body);
	}
	return out;
}

/* The gather function's content is the host's fixture file, as it is. */
static void check_host_copy(struct worker_ctx *w, const char *rel, const char *what)
{
	char *host = fixture(rel);

	if (strcmp(out_text(w), host) != 0) {
		check_failed++;
		fprintf(stderr, "%s: not the host's %s:\n%s\n", what, rel, out_text(w));
	} else {
		check_passed++;
	}
	free(host);
}

/* ---- /proc/cpuinfo ---- */

static void test_cpuinfo(struct worker_ctx *w)
{
	static const unsigned c123[] = {1, 2, 3}, c12[] = {1, 2}, c01[] = {0, 1};
	char *host = fixture("proc/cpuinfo"), *want;

	/* app has cpuset.cpus "" and cpuset.cpus.effective 1-3 (from c1's cpuset.cpus) */
	as_reader(w, APP);
	CHECK(file_cpuinfo(w, self) == 0);
	want = cpuinfo_expect(host, c123, 3);
	CHECK_STR(out_text(w), want);
	free(want);

	as_reader(w, C1);
	CHECK(file_cpuinfo(w, self) == 0);
	want = cpuinfo_expect(host, c123, 3);
	CHECK_STR(out_text(w), want);
	free(want);

	/* --enable-cfs: c1's cpu.max 150000 100000 is 1.5 CPUs, rounded up to 2 */
	set_cfs(w, true);
	as_reader(w, APP);
	CHECK(file_cpuinfo(w, self) == 0);
	want = cpuinfo_expect(host, c12, 2);
	CHECK_STR(out_text(w), want);
	free(want);
	set_cfs(w, false);

	/* bad: its cpuset is well formed (0-1); the malformed files are elsewhere */
	as_reader(w, BAD);
	CHECK(file_cpuinfo(w, self) == 0);
	want = cpuinfo_expect(host, c01, 2);
	CHECK_STR(out_text(w), want);
	free(want);
	/* ...but with --enable-cfs its cpu.max "abc 100000" is read: the host's file */
	set_cfs(w, true);
	CHECK(file_cpuinfo(w, self) == 0);
	check_host_copy(w, "proc/cpuinfo", "cpuinfo of bad with --enable-cfs");
	set_cfs(w, false);

	as_reader(w, GONE);
	CHECK(file_cpuinfo(w, self) == 0);
	check_host_copy(w, "proc/cpuinfo", "cpuinfo of a vanished cgroup");
	free(host);
}

/* ---- /proc/stat ---- */

/*
 * Host CPUs 1-3 (fixture proc/stat), each 10000 ticks in all:
 *   cpu1 user 2000 system 1000 idle 7000                      weight 3000
 *   cpu2 user 1000 system 400 idle 8400 iowait 100 softirq 100 weight 1500
 *   cpu3 user 1200 system 300 idle 8500                        weight 1500
 * (weight = user+nice+system+irq+softirq+steal: the busy time the usage is
 * apportioned by, see proc_render/stat.c).
 *
 * app cpu.stat: user_usec 4000000, system_usec 2000000: C = 600 ticks, 400 user.
 * Cumulative shares of C by weight: 300, 450, 600, user 200, 300, 400, so
 *   cpu1 200 user 100 system, idle 10000 - 300 = 9700
 *   cpu2 100 user  50 system, idle 9850
 *   cpu3 100 user  50 system, idle 9850
 * Each line keeps its host CPU's number, as online lists "1-3".
 */
static const char app_cpus[] = "cpu  400 0 200 29400 0 0 0 0 0 0\n"
                               "cpu1 200 0 100 9700 0 0 0 0 0 0\n"
                               "cpu2 100 0 50 9850 0 0 0 0 0 0\n"
                               "cpu3 100 0 50 9850 0 0 0 0 0 0\n";

/* c1 cpu.stat: 6000000 user, 3000000 system usec: C = 900 ticks, 600 user. Shares 450/675/900. */
static const char c1_cpus[] = "cpu  600 0 300 29100 0 0 0 0 0 0\n"
                              "cpu1 300 0 150 9550 0 0 0 0 0 0\n"
                              "cpu2 150 0 75 9775 0 0 0 0 0 0\n"
                              "cpu3 150 0 75 9775 0 0 0 0 0 0\n";

/*
 * app with --enable-cfs: 2 lines (host CPUs 1 and 2). Host CPU 3's share
 * (100 user + 50 system) is spread over the shown lines by the room each has
 * left (9700 and 9850 of 19550): cumulative 74 then 150, user 49 then 100, so
 *   cpu0: user 200+49, system 100+25, idle 10000-374
 *   cpu1: user 100+51, system 50+25, idle 10000-226
 */
static const char app_cfs_cpus[] = "cpu  400 0 200 19400 0 0 0 0 0 0\n"
                                   "cpu0 249 0 125 9626 0 0 0 0 0 0\n"
                                   "cpu1 151 0 75 9774 0 0 0 0 0 0\n";

/* The ten counters after the label of the line of text that starts with label, or false. */
static bool stat_line_fields(const char *text, const char *label, uint64_t f[10])
{
	size_t n = strlen(label);
	const char *p = text;

	while (p && !(strncmp(p, label, n) == 0 && p[n] == ' '))
		p = (p = strchr(p, '\n')) ? p + 1 : NULL;
	if (!p)
		return false;
	p += n;
	for (int i = 0; i < 10; i++) {
		char *end;

		f[i] = strtoull(p, &end, 10);
		if (end == p)
			return false;
		p = end;
	}
	return true;
}

/* Every counter of every cpu line of a that b still shows is at least as high in b. */
static bool stat_not_backwards(const char *a, const char *b)
{
	static const char *const labels[] = {"cpu", "cpu0", "cpu1", "cpu2", "cpu3"};

	for (size_t l = 0; l < sizeof(labels) / sizeof(labels[0]); l++) {
		uint64_t fa[10], fb[10];

		if (!stat_line_fields(a, labels[l], fa) || !stat_line_fields(b, labels[l], fb))
			continue;
		for (int i = 0; i < 10; i++)
			if (fb[i] < fa[i])
				return false;
	}
	return true;
}

static void test_stat(struct worker_ctx *w)
{
	char *host = fixture("proc/stat"), *want, *first;

	/* file_stat: the request switch's path, with the shared never-backwards floor */
	as_reader(w, APP);
	CHECK(file_stat(w, self) == 0);
	want = stat_expect(host, app_cpus);
	CHECK_STR(out_text(w), want);
	first = strdup(out_text(w));
	/* the same inputs again: the floor changes nothing */
	CHECK(file_stat(w, self) == 0);
	CHECK_STR(out_text(w), want);
	free(want);

	as_reader(w, C1);
	CHECK(file_stat_floor(w, self, NULL, NULL) == 0);
	want = stat_expect(host, c1_cpus);
	CHECK_STR(out_text(w), want);
	free(want);

	set_cfs(w, true);
	as_reader(w, APP);
	CHECK(file_stat_floor(w, self, NULL, NULL) == 0);
	want = stat_expect(host, app_cfs_cpus);
	CHECK_STR(out_text(w), want);
	/* cpu1's user time fell from 200 to 151: without a floor this view goes backwards */
	CHECK(!stat_not_backwards(first, want));
	free(want);
	/* through the floor, after the 3-line view above: no counter went backwards */
	CHECK(file_stat(w, self) == 0);
	CHECK(stat_not_backwards(first, out_text(w)));
	set_cfs(w, false);
	free(first);

	/* bad: its cpu.stat is empty */
	as_reader(w, BAD);
	CHECK(file_stat(w, self) == 0);
	check_host_copy(w, "proc/stat", "stat of bad (empty cpu.stat)");
	CHECK(file_stat_floor(w, self, NULL, NULL) == 0);
	check_host_copy(w, "proc/stat", "stat of bad without floor");

	as_reader(w, GONE);
	CHECK(file_stat(w, self) == 0);
	check_host_copy(w, "proc/stat", "stat of a vanished cgroup");
	free(host);
}

/* ---- sys/devices/system/cpu/online ---- */

static void test_cpu_online(struct worker_ctx *w)
{
	as_reader(w, APP);
	CHECK(file_cpu_online(w, self) == 0);
	CHECK_STR(out_text(w), "1-3\n");
	as_reader(w, C1);
	CHECK(file_cpu_online(w, self) == 0);
	CHECK_STR(out_text(w), "1-3\n");

	set_cfs(w, true);
	as_reader(w, APP);
	CHECK(file_cpu_online(w, self) == 0);
	CHECK_STR(out_text(w), "0-1\n");
	as_reader(w, BAD); /* cpu.max "abc 100000" */
	CHECK(file_cpu_online(w, self) == 0);
	check_host_copy(w, "sys/devices/system/cpu/online", "online of bad with --enable-cfs");
	set_cfs(w, false);

	CHECK(file_cpu_online(w, self) == 0);
	CHECK_STR(out_text(w), "0-1\n");

	as_reader(w, GONE);
	CHECK(file_cpu_online(w, self) == 0);
	check_host_copy(w, "sys/devices/system/cpu/online", "online of a vanished cgroup");
}

/*
 * sys/devices/system/cpu/{possible,present,offline}. The fixture host is a VM
 * with 8 CPUs possible, 4 present and online (0-3), 4-7 offline; each list a
 * container reads holds its own CPUs with the host's numbers, so that glibc
 * (possible, present), nproc --all and the online list agree.
 */
static void test_cpu_lists(struct worker_ctx *w)
{
	static const struct {
		const char *path;
		bool cfs;
		const char *online, *possible, *present, *offline;
	} cases[] = {
	    /* app, cpuset.cpus.effective 1-3 */
	    {APP, false, "1-3\n", "1-3\n", "1-3\n", "\n"},
	    /* hot: a v2 cpuset.cpus of 2-5 names CPUs 4 and 5, possible but not present */
	    {"/lxc.payload.hot", false, "2-3\n", "2-5\n", "2-3\n", "4-5\n"},
	    /* wide: 2,100, and 100 is no CPU of this host */
	    {"/lxc.payload.wide", false, "2\n", "2\n", "2\n", "\n"},
	    /* --enable-cfs: app's quota of 1.5 CPUs is a host of 2, all online */
	    {APP, true, "0-1\n", "0-1\n", "0-1\n", "\n"},
	    {"/lxc.payload.hot", true, "0-1\n", "0-1\n", "0-1\n", "\n"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_cfs(w, cases[i].cfs);
		as_reader(w, cases[i].path);
		CHECK(file_cpu_list(w, self, CPU_LIST_ONLINE) == 0);
		CHECK_STR(out_text(w), cases[i].online);
		CHECK(file_cpu_list(w, self, CPU_LIST_POSSIBLE) == 0);
		CHECK_STR(out_text(w), cases[i].possible);
		CHECK(file_cpu_list(w, self, CPU_LIST_PRESENT) == 0);
		CHECK_STR(out_text(w), cases[i].present);
		CHECK(file_cpu_list(w, self, CPU_LIST_OFFLINE) == 0);
		CHECK_STR(out_text(w), cases[i].offline);
	}
	set_cfs(w, false);

	/* A cgroup that cannot be read: the host's lists, as online falls back. */
	as_reader(w, GONE);
	CHECK(file_cpu_list(w, self, CPU_LIST_POSSIBLE) == 0);
	check_host_copy(w, "sys/devices/system/cpu/possible", "possible of a vanished cgroup");
	CHECK(file_cpu_list(w, self, CPU_LIST_OFFLINE) == 0);
	check_host_copy(w, "sys/devices/system/cpu/offline", "offline of a vanished cgroup");
	as_reader(w, BAD); /* cpu.max "abc 100000": fine until --enable-cfs reads it */
	set_cfs(w, true);
	CHECK(file_cpu_list(w, self, CPU_LIST_PRESENT) == 0);
	check_host_copy(w, "sys/devices/system/cpu/present", "present of bad with --enable-cfs");
	set_cfs(w, false);
}

/* ---- /proc/swaps ---- */

#define SWAPS_HEAD "Filename\t\t\t\tType\t\tSize\tUsed\tPriority\n"
#define SWAPS_NONE "none                                    virtual\t\t"

static void test_swaps(struct worker_ctx *w)
{
	/* SwapTotal = c1's memory.swap.max 256 MiB; used = the reader's memory.swap.current */
	as_reader(w, APP);
	CHECK(file_swaps(w, self) == 0);
	CHECK_STR(out_text(w), SWAPS_HEAD SWAPS_NONE "262144\t51200\t0\n");
	as_reader(w, C1);
	CHECK(file_swaps(w, self) == 0);
	CHECK_STR(out_text(w), SWAPS_HEAD SWAPS_NONE "262144\t52224\t0\n");

	/* -u */
	w->opts.swap_off = true;
	as_reader(w, APP);
	CHECK(file_swaps(w, self) == 0);
	CHECK_STR(out_text(w), SWAPS_HEAD);
	w->opts.swap_off = false;

	as_reader(w, BAD); /* memory.max "abc" */
	CHECK(file_swaps(w, self) == 0);
	check_host_copy(w, "proc/swaps", "swaps of bad (memory.max abc)");
	as_reader(w, GONE);
	CHECK(file_swaps(w, self) == 0);
	check_host_copy(w, "proc/swaps", "swaps of a vanished cgroup");
}

/* ---- /proc/diskstats ---- */

static void test_diskstats(struct worker_ctx *w)
{
	/*
	 * app io.stat: sda (8:0) 256 reads of 1 MiB, 64 writes of 512 KiB;
	 * nvme0n1 (259:0) 2/8 KiB read, 10/40 KiB written, 1/1 MiB discarded;
	 * loop0 all zero (left out); 252:0 is no host device (left out).
	 * Host order, sectors = bytes / 512, 17 fields as the host's lines.
	 */
	as_reader(w, APP);
	CHECK(file_diskstats(w, self) == 0);
	CHECK_STR(out_text(w), "   8       0 sda 256 0 2048 0 64 0 1024 0 0 0 0 0 0 0 0 0 0\n"
	                       " 259       0 nvme0n1 2 0 16 0 10 0 80 0 0 0 0 1 0 2048 0 0 0\n");

	/* c1 (io.stat is hierarchical) adds dm-0 and io.cost keys that are skipped */
	as_reader(w, C1);
	CHECK(file_diskstats(w, self) == 0);
	CHECK_STR(out_text(w), "   8       0 sda 300 0 4096 0 80 0 2048 0 0 0 0 0 0 0 0 0 0\n"
	                       " 259       0 nvme0n1 2 0 16 0 10 0 80 0 0 0 0 1 0 2048 0 0 0\n"
	                       " 253       0 dm-0 300 0 4096 0 80 0 2048 0 0 0 0 0 0 0 0 0 0\n");

	/* twelve devices, more than the snapshot keeps: read live, every one */
	as_reader(w, "/lxc.payload.disks");
	CHECK(file_diskstats(w, self) == 0);
	CHECK_STR(out_text(w), "   8       0 sda 2 0 2048 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	                       " 259       0 nvme0n1 0 0 0 0 2 0 16 0 0 0 0 0 0 0 0 0 0\n");

	as_reader(w, BAD); /* rbytes=12x */
	CHECK(file_diskstats(w, self) == 0);
	check_host_copy(w, "proc/diskstats", "diskstats of bad (malformed io.stat)");
	as_reader(w, GONE);
	CHECK(file_diskstats(w, self) == 0);
	check_host_copy(w, "proc/diskstats", "diskstats of a vanished cgroup");
	as_reader(w, "/");
	CHECK(file_diskstats(w, self) == 0);
	check_host_copy(w, "proc/diskstats", "diskstats of the root cgroup");
}

/*
 * The snapshot keeps a cpuset in words up to the CPUs the host had at start
 * (64 in the test region); a set naming a later CPU is read live, whole.
 */
static void test_cpuset_beyond_start(struct worker_ctx *w)
{
	uint32_t ttl = w->shm.hdr->config.cache_ttl_ms;
	struct cpuset set;

	w->shm.hdr->config.cache_ttl_ms = 3600 * 1000;
	for (int pass = 0; pass < 2; pass++) {
		CHECK(snap_cpuset(w, "/lxc.payload.wide", &set) == 0);
		CHECK_EQ_U64(cpuset_count(&set), 2);
		CHECK(cpuset_has(&set, 2) && cpuset_has(&set, 100));
		CHECK(snap_cpuset(w, APP, &set) == 0);
		CHECK_EQ_U64(cpuset_count(&set), 3);
		CHECK(cpuset_has(&set, 1) && cpuset_has(&set, 3) && !cpuset_has(&set, 0));
	}
	CHECK(snap_cpuset(w, GONE, &set) == -ENOENT);
	w->shm.hdr->config.cache_ttl_ms = ttl;
}

/* ---- /proc/pressure/{cpu,io,memory}, /proc/slabinfo ---- */

static void test_pressure(struct worker_ctx *w)
{
	static const char *const which[] = {"cpu", "io", "memory"};

	for (size_t i = 0; i < 3; i++) {
		char rel[128], host_rel[64];
		char *want;

		snprintf(host_rel, sizeof(host_rel), "proc/pressure/%s", which[i]);

		as_reader(w, APP);
		CHECK(file_pressure(w, self, which[i]) == 0);
		snprintf(rel, sizeof(rel), "cgroup%s/%s.pressure", APP, which[i]);
		want = fixture(rel);
		CHECK_STR(out_text(w), want);
		free(want);

		as_reader(w, C1);
		CHECK(file_pressure(w, self, which[i]) == 0);
		snprintf(rel, sizeof(rel), "cgroup%s/%s.pressure", C1, which[i]);
		want = fixture(rel);
		CHECK_STR(out_text(w), want);
		free(want);

		as_reader(w, BAD); /* cgroup.pressure 0: no pressure files */
		CHECK(file_pressure(w, self, which[i]) == 0);
		check_host_copy(w, host_rel, "pressure of bad (PSI off)");
		as_reader(w, GONE);
		CHECK(file_pressure(w, self, which[i]) == 0);
		check_host_copy(w, host_rel, "pressure of a vanished cgroup");
	}
	CHECK(file_pressure(w, self, "irq") == -EINVAL);
}

static void test_slabinfo(struct worker_ctx *w)
{
	/* v2 has no per-cgroup slabinfo: the host's */
	as_reader(w, APP);
	CHECK(file_slabinfo(w, self) == 0);
	check_host_copy(w, "proc/slabinfo", "slabinfo on v2");
}

/* ---- /proc/meminfo, through serve_request ---- */

static int fill_paths(void *ctx, void *value, size_t size, size_t *len)
{
	struct cont_paths *p = value;

	if (size < sizeof(*p))
		return -ENOSPC;
	memset(p, 0, sizeof(*p));
	for (int c = 0; c <= CG_NCTRL; c++)
		snprintf(p->path[c], sizeof(p->path[c]), "%s", (const char *)ctx);
	*len = sizeof(*p);
	return SNAP_WRITE;
}

/*
 * serve_request resolves its reader through the identity cache: our own pid
 * (a reader in the host's pid namespace is its own "init") to the cgroup
 * paths of that init (SNAP_CONT, kept for the freshness bound). Seed that
 * entry with path, as another worker's resolution would have left it; with a
 * freshness bound of an hour it is used as is.
 */
static void seed_reader_paths(struct worker_ctx *w, const char *path)
{
	struct proc_key k;
	struct snap_key sk;

	if (proc_key_of(self_proc_fd, "", self, &k) < 0) {
		perror("fstat /proc/self");
		exit(2);
	}
	snap_hash(&k, sizeof(k), &sk);
	CHECK(snap_modify(&w->shm, SNAP_CONT, &sk, "init (test)", &w->who, fill_paths,
	                  (void *)path) == 0);
}

/*
 * Read file for our pid through serve_request with a read of size bytes at
 * offset 0. The reply (header and payload) is read back from fd 3's pipe and
 * checked against the content published for the handle; returns the whole
 * published content (malloc'd), NULL on failure.
 */
static char *serve(struct worker_ctx *w, enum lx_file file, uint32_t size)
{
	static unsigned char reply[1 << 16];
	struct lx_req req = {0};
	struct lx_cmp cmp;
	struct fuse_out_header oh;
	struct iovec iov[64];
	uint32_t chain = 0, len = 0;
	size_t bytes = 0, off = 0;
	char *content;
	int64_t fh;
	ssize_t n;
	int niov;

	fh = handle_open(&w->shm, TENANT_UNRESOLVED, 1);
	CHECK(fh >= 0);
	if (fh < 0)
		return NULL;
	req = (struct lx_req){.unique = 4242,
	                      .fh = (uint64_t)fh,
	                      .offset = 0,
	                      .size = size,
	                      .pid = (uint32_t)self,
	                      .op = LX_OP_READ,
	                      .file = (uint16_t)file};
	serve_request(w, &req, &cmp);
	CHECK(cmp.error == 0);
	CHECK_EQ_U64(cmp.unique, 4242);

	n = read(reply_rd, reply, sizeof(reply));
	CHECK(n >= (ssize_t)sizeof(oh));
	if (n < (ssize_t)sizeof(oh)) {
		handle_release(&w->shm, (uint64_t)fh, &(uint32_t){0}, &(int32_t){0});
		return NULL;
	}
	memcpy(&oh, reply, sizeof(oh));
	CHECK_EQ_U64(oh.len, (uint64_t)n);
	CHECK_EQ_U64(oh.unique, 4242);
	CHECK(oh.error == 0);
	CHECK_EQ_U64(cmp.bytes, (uint64_t)n - sizeof(oh));
	CHECK(cmp.bytes <= size);

	/* what later offsets of this open are served from: the whole render */
	CHECK(content_get(&w->shm, (uint64_t)fh, &chain, &len) == 0);
	CHECK_EQ_U64(len, w->out.len); /* the worker's own render, published whole */
	content = calloc(1, (size_t)len + 1);
	if (!content)
		exit(2);
	while (off < len) {
		niov = content_iov(&w->shm, chain, len, off, len - (uint32_t)off, iov, 64, &bytes);
		CHECK(niov > 0);
		if (niov <= 0)
			break;
		for (int i = 0; i < niov; i++) {
			memcpy(content + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
	}
	CHECK(memcmp(content, reply + sizeof(oh), cmp.bytes) == 0);
	if (cmp.old_content)
		content_free(&w->shm, cmp.old_content);
	handle_release(&w->shm, (uint64_t)fh, &(uint32_t){0}, &(int32_t){0});
	return content;
}

static void test_meminfo(struct worker_ctx *w)
{
	/*
	 * app: MemTotal from c1's memory.max (512 MiB); usage is app's own
	 * memory.current 262103040 (255960 kB); memory.stat is the fixture's
	 * tests/fixtures/meminfo/memory.stat.v2. MemAvailable = MemFree +
	 * active_file 57344 + inactive_file 65536 + slab_reclaimable 16384.
	 * Swap: c1's memory.swap.max 256 MiB, app's memory.swap.current 50 MiB.
	 */
	static const struct mi_want app[] = {
	    {"MemTotal:", 524288},     {"MemFree:", 268328},
	    {"MemAvailable:", 407592}, {"Buffers:", 0},
	    {"Cached:", 131072},       {"SwapCached:", 0},
	    {"Active:", 149504},       {"Inactive:", 83968},
	    {"Active(anon):", 92160},  {"Inactive(anon):", 18432},
	    {"Active(file):", 57344},  {"Inactive(file):", 65536},
	    {"Unevictable:", 0},       {"SwapTotal:", 262144},
	    {"SwapFree:", 210944},     {"Zswap:", 1024},
	    {"Zswapped:", 3072},       {"Dirty:", 64},
	    {"Writeback:", 0},         {"AnonPages:", 102400},
	    {"Mapped:", 32768},        {"Shmem:", 8192},
	    {"Slab:", 20480},          {"SReclaimable:", 16384},
	    {"SUnreclaim:", 4096},     {"AnonHugePages:", 4096},
	};
	/* c1: its own usage 262168576 (256024 kB), 32 KiB more active anon, 51 MiB swapped */
	static const struct mi_want c1[] = {
	    {"MemTotal:", 524288},     {"MemFree:", 268264},
	    {"MemAvailable:", 407528}, {"Buffers:", 0},
	    {"Cached:", 131072},       {"SwapCached:", 0},
	    {"Active:", 149536},       {"Inactive:", 83968},
	    {"Active(anon):", 92192},  {"Inactive(anon):", 18432},
	    {"Active(file):", 57344},  {"Inactive(file):", 65536},
	    {"Unevictable:", 0},       {"SwapTotal:", 262144},
	    {"SwapFree:", 209920},     {"Zswap:", 1024},
	    {"Zswapped:", 3072},       {"Dirty:", 64},
	    {"Writeback:", 0},         {"AnonPages:", 102432},
	    {"Mapped:", 32768},        {"Shmem:", 8192},
	    {"Slab:", 20480},          {"SReclaimable:", 16384},
	    {"SUnreclaim:", 4096},     {"AnonHugePages:", 4096},
	};
	struct mi_want app_noswap[sizeof(app) / sizeof(app[0])];
	char *host = fixture("proc/meminfo"), *want, *got;
	struct cont_paths paths;
	uint32_t ttl = w->shm.hdr->config.cache_ttl_ms;

	w->shm.hdr->config.cache_ttl_ms = 3600 * 1000;

	seed_reader_paths(w, APP);
	/* the seed is what the reader resolves to (else every check below sees the host) */
	CHECK(ident_resolve(w, self, &paths) == 0);
	CHECK_STR(paths.path[CG_MEMORY], APP);

	got = serve(w, LX_FILE_MEMINFO, 65536);
	want = meminfo_expect(host, app, sizeof(app) / sizeof(app[0]));
	CHECK_STR(got, want);
	free(got);

	/* a short first read: the reply is cut, the published content is whole */
	got = serve(w, LX_FILE_MEMINFO, 100);
	CHECK_STR(got, want);
	free(got);
	free(want);

	/* -u: SwapTotal and SwapFree 0 */
	memcpy(app_noswap, app, sizeof(app));
	for (size_t i = 0; i < sizeof(app) / sizeof(app[0]); i++)
		if (strcmp(app_noswap[i].label, "SwapTotal:") == 0 ||
		    strcmp(app_noswap[i].label, "SwapFree:") == 0)
			app_noswap[i].kb = 0;
	w->opts.swap_off = true;
	got = serve(w, LX_FILE_MEMINFO, 65536);
	want = meminfo_expect(host, app_noswap, sizeof(app) / sizeof(app[0]));
	CHECK_STR(got, want);
	free(got);
	free(want);
	w->opts.swap_off = false;

	seed_reader_paths(w, C1);
	got = serve(w, LX_FILE_MEMINFO, 65536);
	want = meminfo_expect(host, c1, sizeof(c1) / sizeof(c1[0]));
	CHECK_STR(got, want);
	free(got);
	free(want);

	/* memory.max "abc": the host's file */
	seed_reader_paths(w, BAD);
	got = serve(w, LX_FILE_MEMINFO, 65536);
	CHECK_STR(got, host);
	free(got);

	seed_reader_paths(w, GONE);
	got = serve(w, LX_FILE_MEMINFO, 65536);
	CHECK_STR(got, host);
	free(got);

	/* the other files take the same path through the request switch */
	seed_reader_paths(w, APP);
	got = serve(w, LX_FILE_CPU_ONLINE, 65536);
	CHECK_STR(got, "1-3\n");
	free(got);
	got = serve(w, LX_FILE_SWAPS, 65536);
	CHECK_STR(got, SWAPS_HEAD SWAPS_NONE "262144\t51200\t0\n");
	free(got);

	/* Within the TTL a read of any of these is lookups and a render: no cgroupfs file. */
	{
		static const int hot[] = {LX_FILE_MEMINFO,      LX_FILE_CPUINFO,
		                          LX_FILE_STAT,         LX_FILE_UPTIME,
		                          LX_FILE_CPU_ONLINE,   LX_FILE_SWAPS,
		                          LX_FILE_PRESSURE_CPU, LX_FILE_PRESSURE_IO,
		                          LX_FILE_PRESSURE_MEMORY, LX_FILE_DISKSTATS};
		unsigned long files;

		for (size_t i = 0; i < sizeof(hot) / sizeof(hot[0]); i++)
			free(serve(w, hot[i], 65536));
		files = cg_files_read;
		for (size_t i = 0; i < sizeof(hot) / sizeof(hot[0]); i++) {
			got = serve(w, hot[i], 65536);
			CHECK(got && got[0]);
			free(got);
		}
		CHECK_EQ_U64(cg_files_read - files, 0);

		/* A cgroup without pressure files is remembered as such too. */
		seed_reader_paths(w, BAD);
		free(serve(w, LX_FILE_PRESSURE_CPU, 65536));
		files = cg_files_read;
		got = serve(w, LX_FILE_PRESSURE_CPU, 65536);
		CHECK(got && strncmp(got, "some ", 5) == 0);
		free(got);
		CHECK_EQ_U64(cg_files_read - files, 0);
		seed_reader_paths(w, APP);
	}

	w->shm.hdr->config.cache_ttl_ms = ttl;
	free(host);
}

/* ---- /proc/vmstat ---- */

/* The value of line name in text, or -1. */
static int64_t vm_line(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

/*
 * app's memory.stat is tests/fixtures/meminfo/memory.stat.v2 (see
 * test_vmstat.c for every line): its figures in pages, nr_free_pages its
 * meminfo MemFree (268328 kB), lines it has no figure for the host's.
 */
static void test_vmstat(struct worker_ctx *w)
{
	char *host = fixture("proc/vmstat");
	const char *got;

	as_reader(w, APP);
	CHECK(file_vmstat(w, self) == 0);
	got = out_text(w);
	CHECK_EQ_U64(vm_line(got, "nr_free_pages"), 67082);
	CHECK_EQ_U64(vm_line(got, "nr_file_pages"), 32768);
	CHECK_EQ_U64(vm_line(got, "nr_anon_transparent_hugepages"), 2);
	CHECK_EQ_U64(vm_line(got, "nr_kernel_stack"), 720);
	CHECK_EQ_U64(vm_line(got, "pgfault"), 1820563);
	CHECK_EQ_U64(vm_line(got, "pgalloc_normal"), vm_line(host, "pgalloc_normal"));
	CHECK_EQ_U64(vm_line(got, "pswpin"), vm_line(host, "pswpin"));

	as_reader(w, BAD); /* memory.max "abc" */
	CHECK(file_vmstat(w, self) == 0);
	check_host_copy(w, "proc/vmstat", "vmstat of bad");
	as_reader(w, GONE);
	CHECK(file_vmstat(w, self) == 0);
	check_host_copy(w, "proc/vmstat", "vmstat of a vanished cgroup");
	as_reader(w, "/");
	CHECK(file_vmstat(w, self) == 0);
	check_host_copy(w, "proc/vmstat", "vmstat of the root cgroup");
	free(host);
}

/* ---- sys/devices/system/cpu: the cpuN directories of the reader's CPUs ---- */

/* A LOOKUP or READDIR of the tree's root for our pid through serve_request; the reply into buf. */
static ssize_t cpu_dir_request(struct worker_ctx *w, uint16_t op, const char *name, void *buf,
                               size_t size)
{
	struct lx_req req = {.unique = 77,
	                     .op = op,
	                     .file = LX_FILE_SYSFS,
	                     .nodeid = LX_INO_CPU_DIR,
	                     .pid = (uint32_t)self,
	                     .size = 4096};
	struct lx_cmp cmp;

	if (name)
		snprintf(req.name, sizeof(req.name), "%s", name);
	serve_request(w, &req, &cmp);
	return read(reply_rd, buf, size);
}

/* The error of a LOOKUP of name (0: found), and its entry timeout in ns. */
static int cpu_dir_lookup(struct worker_ctx *w, const char *name, uint64_t *valid_ns)
{
	unsigned char buf[4096];
	struct fuse_out_header oh;
	struct fuse_entry_out e;
	ssize_t n = cpu_dir_request(w, LX_OP_LOOKUP, name, buf, sizeof(buf));

	CHECK(n >= (ssize_t)sizeof(oh));
	if (n < (ssize_t)sizeof(oh))
		return -EIO;
	memcpy(&oh, buf, sizeof(oh));
	if (oh.error)
		return oh.error;
	CHECK_EQ_U64((uint64_t)n, sizeof(oh) + sizeof(e));
	memcpy(&e, buf + sizeof(oh), sizeof(e));
	*valid_ns = e.entry_valid * 1000000000ULL + e.entry_valid_nsec;
	return 0;
}

/* The names READDIR lists in the tree's root, space-separated, "." and ".." left out. */
static const char *cpu_dir_list(struct worker_ctx *w)
{
	static char names[1024];
	unsigned char buf[8192];
	size_t off = sizeof(struct fuse_out_header), len = 0;
	ssize_t n = cpu_dir_request(w, LX_OP_READDIR, NULL, buf, sizeof(buf));

	names[0] = '\0';
	CHECK(n >= (ssize_t)sizeof(struct fuse_out_header));
	while (n > 0 && off + FUSE_NAME_OFFSET <= (size_t)n) {
		struct fuse_dirent d;

		memcpy(&d, buf + off, sizeof(d));
		if (off + FUSE_DIRENT_SIZE(&d) > (size_t)n)
			break;
		if (!(d.namelen == 1 && buf[off + FUSE_NAME_OFFSET] == '.') &&
		    !(d.namelen == 2 && memcmp(buf + off + FUSE_NAME_OFFSET, "..", 2) == 0))
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%.*s",
			                        len ? " " : "", (int)d.namelen,
			                        (const char *)buf + off + FUSE_NAME_OFFSET);
		off += FUSE_DIRENT_SIZE(&d);
	}
	return names;
}

/* Whether word is one of the space-separated words of list. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/*
 * The fixture host has cpu0-cpu3. app (cpuset 1-3) sees cpu1-cpu3 and no
 * cpu0, as on a host of those CPUs; with --enable-cfs (a host of 2 CPUs)
 * cpu0 and cpu1. The lists read as the master's own nodes; the other names
 * pass through. cpuN entries are given no entry timeout, so that the kernel
 * asks again for every reader.
 */
static void test_cpu_dirs(struct worker_ctx *w)
{
	uint32_t ttl = w->shm.hdr->config.cache_ttl_ms;
	uint64_t valid = 1;
	const char *names;

	w->shm.hdr->config.cache_ttl_ms = 3600 * 1000;
	seed_reader_paths(w, APP);
	CHECK(cpu_dir_lookup(w, "cpu0", &valid) == -ENOENT);
	CHECK(cpu_dir_lookup(w, "cpu1", &valid) == 0);
	CHECK_EQ_U64(valid, 0);
	CHECK(cpu_dir_lookup(w, "cpu3", &valid) == 0);
	CHECK(cpu_dir_lookup(w, "cpu4", &valid) == -ENOENT); /* possible, but no directory */
	CHECK(cpu_dir_lookup(w, "kernel_max", &valid) == 0);
	CHECK_EQ_U64(valid, 500000000);
	CHECK(cpu_dir_lookup(w, "cpu01", &valid) == -ENOENT); /* not a CPU's name */
	names = cpu_dir_list(w);
	CHECK(has_word(names, "cpu1") && has_word(names, "cpu2") && has_word(names, "cpu3"));
	CHECK(!has_word(names, "cpu0"));
	CHECK(has_word(names, "online") && has_word(names, "possible") &&
	      has_word(names, "offline") && has_word(names, "kernel_max"));

	set_cfs(w, true);
	CHECK(cpu_dir_lookup(w, "cpu0", &valid) == 0);
	CHECK(cpu_dir_lookup(w, "cpu1", &valid) == 0);
	CHECK(cpu_dir_lookup(w, "cpu2", &valid) == -ENOENT);
	names = cpu_dir_list(w);
	CHECK(has_word(names, "cpu0") && has_word(names, "cpu1") && !has_word(names, "cpu2"));
	set_cfs(w, false);

	/* Virtualization off: the host's tree. */
	atomic_store(&w->shm.hdr->config.virt_off, 1);
	CHECK(cpu_dir_lookup(w, "cpu0", &valid) == 0);
	names = cpu_dir_list(w);
	CHECK(has_word(names, "cpu0") && has_word(names, "cpu3"));
	atomic_store(&w->shm.hdr->config.virt_off, 0);
	w->shm.hdr->config.cache_ttl_ms = ttl;
}

/* ---- SIGUSR2: virtualization off ---- */

static void test_virt_off(struct worker_ctx *w)
{
	atomic_store(&w->shm.hdr->config.virt_off, 1);
	as_reader(w, APP);
	CHECK(file_cpuinfo(w, self) == 0);
	check_host_copy(w, "proc/cpuinfo", "cpuinfo, virtualization off");
	CHECK(file_stat(w, self) == 0);
	check_host_copy(w, "proc/stat", "stat, virtualization off");
	CHECK(file_cpu_online(w, self) == 0);
	check_host_copy(w, "sys/devices/system/cpu/online", "online, virtualization off");
	CHECK(file_cpu_list(w, self, CPU_LIST_POSSIBLE) == 0);
	check_host_copy(w, "sys/devices/system/cpu/possible", "possible, virtualization off");
	CHECK(file_swaps(w, self) == 0);
	check_host_copy(w, "proc/swaps", "swaps, virtualization off");
	CHECK(file_vmstat(w, self) == 0);
	check_host_copy(w, "proc/vmstat", "vmstat, virtualization off");
	CHECK(file_diskstats(w, self) == 0);
	check_host_copy(w, "proc/diskstats", "diskstats, virtualization off");
	CHECK(file_pressure(w, self, "io") == 0);
	check_host_copy(w, "proc/pressure/io", "pressure/io, virtualization off");
	atomic_store(&w->shm.hdr->config.virt_off, 0);
}

/* fd 3 is where a worker writes replies (WORKER_FUSE_FD): a pipe we read back. */
static void reply_pipe_on_fd3(void)
{
	int p[2], wr;

	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("pipe2");
		exit(2);
	}
	reply_rd = fcntl(p[0], F_DUPFD_CLOEXEC, 10);
	wr = fcntl(p[1], F_DUPFD_CLOEXEC, 10);
	close(p[0]);
	close(p[1]);
	if (reply_rd < 0 || wr < 0 || dup2(wr, WORKER_FUSE_FD) < 0) {
		perror("dup2");
		exit(2);
	}
	close(wr);
	fcntl(reply_rd, F_SETFL, O_NONBLOCK);
}

int main(void)
{
	struct worker_ctx *w = &wctx;
	char path[64];

	/* fd 3 first: nothing opened later may land on it */
	reply_pipe_on_fd3();
	self = getpid();
	snprintf(path, sizeof(path), "/proc/%d", (int)self);
	self_proc_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (self_proc_fd < 0) {
		perror(path);
		return 2;
	}
	if (test_worker_init(w, 0) < 0) {
		fprintf(stderr, "test_worker_init failed\n");
		return 2;
	}
	point_at_fixture(w);

	test_cpuinfo(w);
	test_stat(w);
	test_cpu_online(w);
	test_cpu_lists(w);
	test_cpuset_beyond_start(w);
	test_swaps(w);
	test_vmstat(w);
	test_diskstats(w);
	test_pressure(w);
	test_slabinfo(w);
	test_meminfo(w);
	test_cpu_dirs(w);
	test_virt_off(w);

	test_worker_fini(w);
	close(WORKER_FUSE_FD);
	close(reply_rd);
	close(self_proc_fd);
	return check_report("test_v2_files");
}
