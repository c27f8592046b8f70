/*
 * uptime, swaps, diskstats and loadavg: the renderers fed from fixtures
 * (tests/fixtures/misc, see the README there), the cgroup readers on fixture
 * trees and on a tree whose tasks files name processes this test starts, and
 * the per-file gather functions against this machine's own /proc and cgroups.
 *
 * Runs from the repository root. Every process started here is killed and
 * reaped on every path; the temporary tree is removed. Scenarios that need
 * root (a new pid namespace, /proc/slabinfo) are skipped without it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc_render/misc.h"
#include "proc_render/render.h"
#include "tests/unit/check.h"
#include "tests/unit/fixture.h"
#include "tests/unit/test_worker.h"
#include "workers/cg_misc.h"
#include "workers/files_misc.h"
#include "workers/worker.h"

#define FIXTURES "tests/fixtures/misc/"
#define MiB      (1024ULL * 1024)

static char out[65536];

static int fixture_open(const char *tree)
{
	int fd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "open %s: %s (run from the repository root)\n", tree,
		        strerror(errno));
		exit(2);
	}
	return fd;
}

/* ---- uptime ---- */

static void test_uptime_render(void)
{
	ssize_t n;

	n = render_uptime(12345.678, 2345.674, out, sizeof(out));
	CHECK_STR(out, "12345.68 2345.67\n");
	CHECK_EQ_U64(n, strlen("12345.68 2345.67\n"));

	/* a container keeping several CPUs busy has no idle time, not negative */
	render_uptime(100.0, -250.5, out, sizeof(out));
	CHECK_STR(out, "100.00 0.00\n");
	/* idle never exceeds the age */
	render_uptime(100.0, 150.0, out, sizeof(out));
	CHECK_STR(out, "100.00 100.00\n");
	/* an init that started "after now" (clock skew) is 0 old */
	render_uptime(-0.5, 3.0, out, sizeof(out));
	CHECK_STR(out, "0.00 0.00\n");
	render_uptime(NAN, NAN, out, sizeof(out));
	CHECK_STR(out, "0.00 0.00\n");

	CHECK_EQ_U64(render_uptime(12345.678, 1.0, out, 5), (uint64_t)-ENOSPC);
	/* "1.00 1.00\n" and its NUL */
	CHECK_EQ_U64(render_uptime(1.0, 1.0, out, 11), 10);
	CHECK_EQ_U64(render_uptime(1.0, 1.0, out, 10), (uint64_t)-ENOSPC);
}

/* ---- swaps ---- */

#define SWAPS_HEADER "Filename\t\t\t\tType\t\tSize\tUsed\tPriority\n"
#define PAD36        "                                    "

static void test_swaps_render(void)
{
	ssize_t n;

	n = render_swaps(0, 0, out, sizeof(out));
	CHECK_STR(out, SWAPS_HEADER);
	CHECK_EQ_U64(n, strlen(SWAPS_HEADER));
	CHECK_EQ_U64(strlen(PAD36), 36);

	n = render_swaps(1048576, 20480, out, sizeof(out));
	CHECK_STR(out, SWAPS_HEADER "none" PAD36 "virtual\t\t1048576\t20480\t0\n");
	CHECK_EQ_U64(n, strlen(out));

	/* swapped out more than the (lowered) size: never more used than there is */
	render_swaps(32768, 51200, out, sizeof(out));
	CHECK_STR(out, SWAPS_HEADER "none" PAD36 "virtual\t\t32768\t32768\t0\n");

	/* used without a size (swappiness 0 with nothing out) is still no device */
	render_swaps(0, 10, out, sizeof(out));
	CHECK_STR(out, SWAPS_HEADER);

	CHECK_EQ_U64(render_swaps(1048576, 0, out, strlen(SWAPS_HEADER) + 10), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(render_swaps(0, 0, out, strlen(SWAPS_HEADER)), (uint64_t)-ENOSPC);
}

/* swaps prints meminfo's own figures: the v2 container of test_meminfo. */
static void test_swaps_agree_with_meminfo(void)
{
	static char host[8192];
	size_t len = fixture_load("tests/fixtures/meminfo/host-swap.meminfo", host, sizeof(host));
	struct cg_memory cg = {
	    .version = 2,
	    .limit = 512 * MiB,
	    .usage = 250 * MiB,
	    .swap_accounting = true,
	    .swap_limit = 256 * MiB,
	    .swap_usage = 50 * MiB,
	};
	struct render_opts opts = {0}, off = {.swap_off = true};
	uint64_t total, used;

	meminfo_swap_figures(host, len, &cg, &opts, &total, &used);
	render_swaps(total, used, out, sizeof(out));
	CHECK_STR(out, SWAPS_HEADER "none" PAD36 "virtual\t\t262144\t51200\t0\n");

	/* -u: meminfo shows SwapTotal 0, swaps the header only */
	meminfo_swap_figures(host, len, &cg, &off, &total, &used);
	render_swaps(total, used, out, sizeof(out));
	CHECK_STR(out, SWAPS_HEADER);
}

/* ---- diskstats ---- */

static char ds_host[8192], ds_host44[4096];
static size_t ds_host_len, ds_host44_len;

/* Read the fixture cgroup's devices; returns what cg_read_io returned. */
static int read_io(const char *tree, int version, const char *path, struct io_dev_stats *devs,
                   size_t max, size_t *n)
{
	int root = fixture_open(tree);
	int ret = cg_read_io(root, version, path, devs, max, n);

	close(root);
	return ret;
}

/* render_diskstats into out[], NUL-terminated; returns what it returned. */
static ssize_t ds(const char *host, size_t len, const struct io_dev_stats *devs, size_t n)
{
	ssize_t r = render_diskstats(host, len, devs, n, out, sizeof(out) - 1);

	out[r >= 0 ? r : 0] = '\0';
	return r;
}

static const struct io_dev_stats *find_dev(const struct io_dev_stats *d, size_t n,
                                           unsigned int major, unsigned int minor)
{
	for (size_t i = 0; i < n; i++)
		if (d[i].major == major && d[i].minor == minor)
			return &d[i];
	return NULL;
}

static void test_io_v1_cfq(void)
{
	struct io_dev_stats devs[16];
	const struct io_dev_stats *sda;
	size_t n = 0;
	ssize_t len;

	CHECK_EQ_U64(read_io(FIXTURES "blkio-cfq", 1, "/lxc/c1", devs, 16, &n), 0);
	CHECK_EQ_U64(n, 3);
	sda = find_dev(devs, n, 8, 0);
	CHECK(sda != NULL);
	if (sda) {
		CHECK_EQ_U64(sda->rios, 1520);
		CHECK_EQ_U64(sda->wios, 880);
		CHECK_EQ_U64(sda->dios, 40);
		CHECK_EQ_U64(sda->rbytes, 62259200);
		CHECK_EQ_U64(sda->wbytes, 36044800);
		CHECK_EQ_U64(sda->dbytes, 4194304);
		CHECK_EQ_U64(sda->rmerged, 310);
		CHECK_EQ_U64(sda->wmerged, 1200);
		CHECK_EQ_U64(sda->rticks_ms, 4250 + 1750); /* service + wait, each floored */
		CHECK_EQ_U64(sda->wticks_ms, 3100 + 900);
		CHECK_EQ_U64(sda->dticks_ms, 20);
		CHECK_EQ_U64(sda->io_ticks_ms, 7370);
	}

	len = ds(ds_host, ds_host_len, devs, n);
	/* loop0 did nothing: left out; partitions are not in CFQ's files */
	CHECK_STR(out, "   8       0 sda 1520 310 121600 6000 880 1200 70400 4000 0 7370 0 40 0 "
	               "8192 20 0 0\n"
	               "   8      16 sdb 12 3 96 100 0 0 0 0 0 96 0 0 0 0 0 0 0\n");
	CHECK_EQ_U64(len, strlen(out));

	/* a 4.4 host has 11 figures per line: so do we */
	ds(ds_host44, ds_host44_len, devs, n);
	CHECK_STR(out, "   8       0 sda 1520 310 121600 6000 880 1200 70400 4000 0 7370 0\n"
	               "   8      16 sdb 12 3 96 100 0 0 0 0 0 96 0\n");
}

static void test_io_v1_throttle(void)
{
	struct io_dev_stats devs[16];
	size_t n = 0;

	CHECK_EQ_U64(read_io(FIXTURES "blkio-throttle", 1, "/web", devs, 16, &n), 0);
	CHECK_EQ_U64(n, 2);
	ds(ds_host, ds_host_len, devs, n);
	/* counts and bytes only: no merges or times in the throttle statistics */
	CHECK_STR(out, "   8       0 sda 100 0 800 0 50 0 400 0 0 0 0 0 0 0 0 0 0\n"
	               " 253       0 dm-0 100 0 800 0 50 0 400 0 0 0 0 0 0 0 0 0 0\n");

	/*
	 * No device listed: blk-throttle counts on none (nothing was counted, not
	 * "no I/O"), or, with --enable-io-accounting, the cgroup did no I/O.
	 * -ENODATA lets the caller tell which.
	 */
	n = 7;
	CHECK_EQ_U64(read_io(FIXTURES "blkio-inactive", 1, "/web", devs, 16, &n),
	             (uint64_t)-ENODATA);
	CHECK_EQ_U64(n, 7);

	/* neither set of files: the caller shows the host's diskstats */
	n = 7;
	CHECK_EQ_U64(read_io(FIXTURES "blkio-none", 1, "/web", devs, 16, &n),
	             (uint64_t)-EOPNOTSUPP);
	CHECK_EQ_U64(n, 7);
}

static void test_io_v2(void)
{
	struct io_dev_stats devs[16];
	const struct io_dev_stats *nvme;
	size_t n = 0;

	CHECK_EQ_U64(read_io(FIXTURES "cgroup2", 2, "/lxc.payload.web", devs, 16, &n), 0);
	CHECK_EQ_U64(n, 4);
	nvme = find_dev(devs, n, 259, 0);
	CHECK(nvme != NULL);
	if (nvme) {
		CHECK_EQ_U64(nvme->rbytes, 8192);
		CHECK_EQ_U64(nvme->rios, 2);
		CHECK_EQ_U64(nvme->dbytes, 1048576);
		CHECK_EQ_U64(nvme->dios, 1);
		CHECK_EQ_U64(nvme->rmerged + nvme->rticks_ms + nvme->io_ticks_ms, 0);
	}
	ds(ds_host, ds_host_len, devs, n);
	/* loop3 all zero: left out; 9:127 unknown to the host: ignored */
	CHECK_STR(out, "   8       0 sda 256 0 2048 0 64 0 1024 0 0 0 0 0 0 0 0 0 0\n"
	               " 259       0 nvme0n1 2 0 16 0 0 0 0 0 0 0 0 1 0 2048 0 0 0\n");

	n = 7;
	CHECK_EQ_U64(read_io(FIXTURES "cgroup2", 2, "/lxc.payload.noio", devs, 16, &n),
	             (uint64_t)-EOPNOTSUPP);
	CHECK_EQ_U64(n, 7);
}

static void test_io_errors(void)
{
	static const char *const bad_v1[] = {"/value", "/dev", "/shape", "/half"};
	static const char *const bad_v2[] = {"/lxc.payload.bad-value", "/lxc.payload.bad-key",
	                                     "/lxc.payload.bad-dev"};
	struct io_dev_stats devs[4], canary;
	size_t n;

	memset(&canary, 0xa5, sizeof(canary));
	for (size_t i = 0; i < sizeof(bad_v1) / sizeof(bad_v1[0]); i++) {
		devs[0] = canary;
		n = 7;
		CHECK_EQ_U64(read_io(FIXTURES "blkio-bad", 1, bad_v1[i], devs, 4, &n),
		             (uint64_t)-EINVAL);
		CHECK_EQ_U64(n, 7);
		CHECK(memcmp(&devs[0], &canary, sizeof(canary)) == 0);
	}
	for (size_t i = 0; i < sizeof(bad_v2) / sizeof(bad_v2[0]); i++) {
		devs[0] = canary;
		n = 7;
		CHECK_EQ_U64(read_io(FIXTURES "cgroup2", 2, bad_v2[i], devs, 4, &n),
		             (uint64_t)-EINVAL);
		CHECK_EQ_U64(n, 7);
		CHECK(memcmp(&devs[0], &canary, sizeof(canary)) == 0);
	}

	/* more devices than room: the caller retries with more, nothing written */
	devs[0] = canary;
	n = 7;
	CHECK_EQ_U64(read_io(FIXTURES "cgroup2", 2, "/lxc.payload.web", devs, 3, &n),
	             (uint64_t)-ENOSPC);
	CHECK_EQ_U64(n, 7);
	CHECK(memcmp(&devs[0], &canary, sizeof(canary)) == 0);

	/* no such cgroup; paths that would leave the hierarchy */
	CHECK_EQ_U64(read_io(FIXTURES "cgroup2", 2, "/lxc.payload.gone", devs, 4, &n),
	             (uint64_t)-ENOENT);
	CHECK_EQ_U64(read_io(FIXTURES "cgroup2", 2, "/lxc.payload.web/io.stat", devs, 4, &n),
	             (uint64_t)-ENOENT);
	CHECK_EQ_U64(read_io(FIXTURES "cgroup2", 2, "/../misc/cgroup2", devs, 4, &n),
	             (uint64_t)-EINVAL);
	CHECK_EQ_U64(read_io(FIXTURES "cgroup2", 2, "lxc.payload.web", devs, 4, &n),
	             (uint64_t)-EINVAL);
	CHECK_EQ_U64(read_io(FIXTURES "cgroup2", 3, "/lxc.payload.web", devs, 4, &n),
	             (uint64_t)-EINVAL);
}

static void test_diskstats_render_edges(void)
{
	struct io_dev_stats d[2] = {
	    {.major = 8, .minor = 1, .wios = 1, .wbytes = 4096},
	    {.major = 8, .minor = 16}, /* all zero */
	};
	const char *host = "   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"
	                   "garbage line\n"
	                   "\n"
	                   "   8      16 sdb 1 2 3 4 5 6 7 8 9 10 11\n"
	                   "   8      17 sdb1 1 2 3"; /* no newline at the end */
	struct io_dev_stats d17 = {.major = 8, .minor = 17, .rios = 3};
	char small[16];

	ds(host, strlen(host), d, 2);
	CHECK_STR(out, "   8       1 sda1 0 0 0 0 1 0 8 0 0 0 0 0 0 0 0 0 0\n");

	/* a line with fewer than the classic 11 figures still gets 11 */
	ds(host, strlen(host), &d17, 1);
	CHECK_STR(out, "   8      17 sdb1 3 0 0 0 0 0 0 0 0 0 0\n");

	/* a future kernel's extra figures are printed as 0 */
	host = "   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n";
	ds(host, strlen(host), d, 1);
	CHECK_STR(out, "   8       1 sda1 0 0 0 0 1 0 8 0 0 0 0 0 0 0 0 0 0 0 0\n");

	/* no devices: an empty file, as upstream shows a container that did no I/O */
	CHECK_EQ_U64(render_diskstats(ds_host, ds_host_len, NULL, 0, out, sizeof(out)), 0);
	CHECK_EQ_U64(render_diskstats(ds_host, ds_host_len, d, 1, small, sizeof(small)),
	             (uint64_t)-ENOSPC);
	CHECK_EQ_U64(render_diskstats(NULL, 0, d, 1, out, sizeof(out)), (uint64_t)-EINVAL);
}

/* ---- loadavg ---- */

/* The kernel's calc_load(), written out again from include/linux/sched/loadavg.h. */
static unsigned long kernel_calc_load(unsigned long load, unsigned long exp, unsigned long active)
{
	unsigned long newload = load * exp + active * (2048 - exp);

	if (active >= load)
		newload += 2048 - 1;
	return newload / 2048;
}

static void test_loadavg_kernel_sequence(void)
{
	static const unsigned long exps[3] = {1884, 2014, 2037};
	uint64_t avenrun[3] = {0, 0, 0};
	unsigned long k[3] = {0, 0, 0};
	bool same = true;

	/* a load that rises, holds, bursts and falls idle */
	for (int step = 0; step < 720; step++) {
		unsigned long active = step < 100 ? 1 : step < 200 ? 3 : step < 210 ? 40 : 0;

		loadavg_update(avenrun, active);
		for (int i = 0; i < 3; i++) {
			k[i] = kernel_calc_load(k[i], exps[i], active * 2048);
			if (avenrun[i] != k[i])
				same = false;
		}
	}
	CHECK(same);

	/* an idle container decays to exactly 0, not to a residue */
	for (int step = 0; step < 5000; step++)
		loadavg_update(avenrun, 0);
	CHECK_EQ_U64(avenrun[0] + avenrun[1] + avenrun[2], 0);
}

static void test_loadavg_convergence(void)
{
	uint64_t a[3] = {0, 0, 0};
	int step;

	/*
	 * One always-runnable thread, 5 s apart: after one time constant each
	 * figure is 1 - 1/e = 0.632. The kernel's rounding up while the load
	 * rises runs a little ahead of the exact curve (0.634, 0.643, 0.648).
	 */
	for (step = 1; step <= 12; step++)
		loadavg_update(a, 1);
	CHECK(fabs((double)a[0] / 2048 - (1 - exp(-1))) < 0.02); /* 1 min: the 1-min figure */
	for (; step <= 60; step++)
		loadavg_update(a, 1);
	CHECK(fabs((double)a[1] / 2048 - (1 - exp(-1))) < 0.02); /* 5 min: the 5-min one */
	for (; step <= 180; step++)
		loadavg_update(a, 1);
	CHECK(fabs((double)a[2] / 2048 - (1 - exp(-1))) < 0.02); /* 15 min: the 15-min one */
	for (; step <= 2000; step++)
		loadavg_update(a, 1);
	/* rounding up while rising lands exactly on 1.0 */
	CHECK_EQ_U64(a[0], 2048);
	CHECK_EQ_U64(a[1], 2048);
	CHECK_EQ_U64(a[2], 2048);

	render_loadavg(a, 1, 12, 4242, out, sizeof(out));
	CHECK_STR(out, "1.00 1.00 1.00 1/12 4242\n");
}

static void test_loadavg_render(void)
{
	uint64_t a[3] = {0, 0, 0};
	ssize_t n;

	n = render_loadavg(a, 0, 1, 1, out, sizeof(out));
	CHECK_STR(out, "0.00 0.00 0.00 0/1 1\n");
	CHECK_EQ_U64(n, strlen(out));

	/* first update with one runnable thread: 164/2048 = 0.080, shown as 0.08 */
	loadavg_update(a, 1);
	CHECK_EQ_U64(a[0], 164);
	CHECK_EQ_U64(a[1], 34);
	CHECK_EQ_U64(a[2], 11);
	render_loadavg(a, 1, 3, 77, out, sizeof(out));
	CHECK_STR(out, "0.08 0.02 0.01 1/3 77\n");

	/* +0.005 before truncating: 1.4995 shows as 1.50, 10.504 as 10.50 */
	a[0] = 3071; /* 1.49951 */
	a[1] = 0;
	a[2] = 20480 + 1033; /* 10.5044 */
	render_loadavg(a, 12, 345, 32768, out, sizeof(out));
	CHECK_STR(out, "1.50 0.00 10.50 12/345 32768\n");

	CHECK_EQ_U64(render_loadavg(a, 0, 1, 1, out, 10), (uint64_t)-ENOSPC);
}

/* ---- cg_count_tasks on a tree naming our own children ---- */

static char tmp_root[64];

static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(path);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "create %s: %s\n", path, strerror(errno));
		return;
	}
	fputs(text, f);
	fclose(f);
}

static char state_of(pid_t tid)
{
	char path[64], buf[512];
	const char *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Wait up to 5 s for tid to reach state. */
static bool wait_state(pid_t tid, char state)
{
	for (int i = 0; i < 500; i++) {
		if (state_of(tid) == state)
			return true;
		usleep(10000);
	}
	return false;
}

static void *thread_pause(void *arg)
{
	int fd = *(int *)arg;
	pid_t tid = (pid_t)syscall(SYS_gettid);

	if (write(fd, &tid, sizeof(tid)) != sizeof(tid))
		_exit(1);
	for (;;)
		pause();
	return NULL;
}

enum child_kind { CHILD_SLEEP, CHILD_SPIN, CHILD_THREADS };

/* Start a child that sleeps, spins, or sleeps with a second thread (*tid). */
static pid_t start_child(enum child_kind kind, pid_t *tid)
{
	int p[2];
	pid_t c;

	if (pipe(p) < 0)
		return -1;
	c = fork();
	if (c == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		if (kind == CHILD_SPIN)
			for (;;)
				;
		if (kind == CHILD_THREADS) {
			pthread_t t;

			if (pthread_create(&t, NULL, thread_pause, &p[1]) != 0)
				_exit(1);
		}
		for (;;)
			pause();
	}
	close(p[1]);
	if (c > 0 && kind == CHILD_THREADS) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};

		if (poll(&pfd, 1, 5000) <= 0 || read(p[0], tid, sizeof(*tid)) != sizeof(*tid))
			*tid = -1;
	}
	close(p[0]);
	return c;
}

static void stop_child(pid_t c)
{
	if (c <= 0)
		return;
	kill(c, SIGKILL);
	while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
		;
}

static void test_count_tasks(void)
{
	pid_t sleep1, sleep3, spin, multi, thread = -1, gone, last, want_last;
	char dir[PATH_MAX], list[256];
	unsigned running = 99, total = 99;
	int root;

	snprintf(tmp_root, sizeof(tmp_root), "/tmp/lxcfs-test-misc.XXXXXX");
	if (!mkdtemp(tmp_root)) {
		CHECK(!"mkdtemp");
		return;
	}
	sleep1 = start_child(CHILD_SLEEP, NULL);
	sleep3 = start_child(CHILD_SLEEP, NULL);
	spin = start_child(CHILD_SPIN, NULL);
	multi = start_child(CHILD_THREADS, &thread);
	gone = fork();
	if (gone == 0)
		_exit(0);
	while (gone > 0 && waitpid(gone, NULL, 0) < 0 && errno == EINTR)
		;
	CHECK(sleep1 > 0 && sleep3 > 0 && spin > 0 && multi > 0 && thread > 0 && gone > 0);
	CHECK(wait_state(sleep1, 'S') && wait_state(sleep3, 'S') && wait_state(multi, 'S') &&
	      wait_state(thread, 'S'));

	/* v1: every level lists its own threads in "tasks" */
	snprintf(list, sizeof(list), "%d\n", (int)sleep1);
	write_file(tmp_root, "tasks", list);
	snprintf(dir, sizeof(dir), "%s/a", tmp_root);
	mkdir(dir, 0755);
	snprintf(list, sizeof(list), "%d\n%d\n%d\n", (int)spin, (int)multi, (int)thread);
	write_file(dir, "tasks", list);
	write_file(dir, "cpu.shares", "1024\n"); /* files are not cgroups */
	snprintf(dir, sizeof(dir), "%s/a/b", tmp_root);
	mkdir(dir, 0755);
	snprintf(list, sizeof(list), "%d\n%d\n", (int)gone, (int)sleep3);
	write_file(dir, "tasks", list);
	snprintf(dir, sizeof(dir), "%s/c", tmp_root);
	mkdir(dir, 0755);
	write_file(dir, "tasks", "");

	/* the highest id listed that is still alive (the exited child's may be higher) */
	want_last = sleep1;
	if (sleep3 > want_last)
		want_last = sleep3;
	if (spin > want_last)
		want_last = spin;
	if (multi > want_last)
		want_last = multi;
	if (thread > want_last)
		want_last = thread;

	root = fixture_open(tmp_root);
	last = 0;
	CHECK_EQ_U64(cg_count_tasks(root, 1, "/", &running, &total, &last), 0);
	CHECK_EQ_U64(running, 1); /* the spinner: R */
	CHECK_EQ_U64(total, 5);   /* the exited child is not counted */
	CHECK_EQ_U64(last, want_last);

	/* a subtree counts itself and below only */
	CHECK_EQ_U64(cg_count_tasks(root, 1, "/a/b", &running, &total, &last), 0);
	CHECK_EQ_U64(running, 0);
	CHECK_EQ_U64(total, 1);
	CHECK_EQ_U64(last, sleep3);
	CHECK_EQ_U64(cg_count_tasks(root, 1, "/c", &running, &total, &last), 0);
	CHECK_EQ_U64(total, 0);
	CHECK_EQ_U64(last, 0);

	/* v2 reads cgroup.threads instead; there is none here yet */
	CHECK_EQ_U64(cg_count_tasks(root, 2, "/", &running, &total, &last), (uint64_t)-ENOENT);
	snprintf(list, sizeof(list), "%d\n%d\n", (int)spin, (int)sleep1);
	write_file(tmp_root, "cgroup.threads", list);
	CHECK_EQ_U64(cg_count_tasks(root, 2, "/", &running, &total, &last), 0);
	CHECK_EQ_U64(running, 1);
	CHECK_EQ_U64(total, 2); /* a/ has no cgroup.threads: not a v2 cgroup */

	/* malformed lists leave the outputs untouched */
	snprintf(dir, sizeof(dir), "%s/c", tmp_root);
	write_file(dir, "tasks", "12x\n");
	running = total = 99;
	last = 99;
	CHECK_EQ_U64(cg_count_tasks(root, 1, "/", &running, &total, &last), (uint64_t)-EINVAL);
	CHECK_EQ_U64(running, 99);
	CHECK_EQ_U64(total, 99);
	CHECK_EQ_U64(last, 99);
	write_file(dir, "tasks", "0\n");
	CHECK_EQ_U64(cg_count_tasks(root, 1, "/c", &running, &total, &last), (uint64_t)-EINVAL);
	write_file(dir, "tasks", "-5\n");
	CHECK_EQ_U64(cg_count_tasks(root, 1, "/c", &running, &total, &last), (uint64_t)-EINVAL);
	write_file(dir, "tasks", "");

	CHECK_EQ_U64(cg_count_tasks(root, 1, "/nope", &running, &total, &last), (uint64_t)-ENOENT);
	CHECK_EQ_U64(cg_count_tasks(root, 1, "/a/..", &running, &total, &last), (uint64_t)-EINVAL);
	close(root);

	stop_child(sleep1);
	stop_child(sleep3);
	stop_child(spin);
	stop_child(multi);
	rm_tree(tmp_root);
}

/*
 * A child in D: it vforks, and its vfork child pauses, so it waits for the
 * exec or exit that never comes in an uninterruptible (but killable) sleep.
 */
static pid_t start_blocked_child(void)
{
	pid_t c = fork();

	if (c == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (vfork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL); /* gone with its parent */
			for (;;)
				pause();
		}
		_exit(0);
	}
	return c;
}

/*
 * cg_count_states: /proc/stat's procs_running (R) and procs_blocked (D) of a
 * subtree, the reader counted running whatever its state (it waits for the
 * answer in D).
 */
static void test_count_states(void)
{
	pid_t sleeper, spin, blocked;
	struct cg_task_states st = {99, 99, 99}, keep;
	char list[256];
	int root;

	snprintf(tmp_root, sizeof(tmp_root), "/tmp/lxcfs-test-misc.XXXXXX");
	if (!mkdtemp(tmp_root)) {
		CHECK(!"mkdtemp");
		return;
	}
	sleeper = start_child(CHILD_SLEEP, NULL);
	spin = start_child(CHILD_SPIN, NULL);
	blocked = start_blocked_child();
	CHECK(sleeper > 0 && spin > 0 && blocked > 0);
	CHECK(wait_state(sleeper, 'S') && wait_state(spin, 'R') && wait_state(blocked, 'D'));
	snprintf(list, sizeof(list), "%d\n%d\n%d\n", (int)sleeper, (int)spin, (int)blocked);
	write_file(tmp_root, "tasks", list);
	write_file(tmp_root, "cgroup.threads", list);

	root = fixture_open(tmp_root);
	CHECK_EQ_U64(cg_count_states(root, 1, "/", 0, &st), 0);
	CHECK_EQ_U64(st.running, 1);
	CHECK_EQ_U64(st.blocked, 1);
	CHECK_EQ_U64(st.total, 3);
	/* the reader in D (as a FUSE reader waits): running, not blocked */
	CHECK_EQ_U64(cg_count_states(root, 2, "/", blocked, &st), 0);
	CHECK_EQ_U64(st.running, 2);
	CHECK_EQ_U64(st.blocked, 0);
	/* a reader that is not listed changes nothing */
	CHECK_EQ_U64(cg_count_states(root, 1, "/", getpid(), &st), 0);
	CHECK_EQ_U64(st.running, 1);
	CHECK_EQ_U64(st.blocked, 1);

	keep = st;
	write_file(tmp_root, "tasks", "x\n");
	CHECK_EQ_U64(cg_count_states(root, 1, "/", 0, &st), (uint64_t)-EINVAL);
	CHECK(memcmp(&st, &keep, sizeof(st)) == 0);
	CHECK_EQ_U64(cg_count_states(root, 1, "/nope", 0, &st), (uint64_t)-ENOENT);
	CHECK_EQ_U64(cg_count_states(root, 3, "/", 0, &st), (uint64_t)-EINVAL);
	close(root);

	stop_child(sleeper);
	stop_child(spin);
	stop_child(blocked);
	rm_tree(tmp_root);
}

/* A tree deeper than the walk's bound fails instead of being walked. */
static void test_count_tasks_bounds(void)
{
	char path[PATH_MAX];
	unsigned running = 99, total = 99;
	pid_t last = 99;
	size_t len;
	int root;

	snprintf(tmp_root, sizeof(tmp_root), "/tmp/lxcfs-test-misc.XXXXXX");
	if (!mkdtemp(tmp_root)) {
		CHECK(!"mkdtemp");
		return;
	}
	len = (size_t)snprintf(path, sizeof(path), "%s", tmp_root);
	write_file(path, "tasks", "");
	for (int depth = 1; depth <= CG_WALK_MAX_DEPTH; depth++) {
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/d");
		mkdir(path, 0755);
		write_file(path, "tasks", "");
	}
	root = fixture_open(tmp_root);
	CHECK_EQ_U64(cg_count_tasks(root, 1, "/", &running, &total, &last), 0);
	CHECK_EQ_U64(total, 0);

	/* one level more */
	len += (size_t)snprintf(path + len, sizeof(path) - len, "/d");
	mkdir(path, 0755);
	write_file(path, "tasks", "");
	running = total = 99;
	last = 99;
	CHECK_EQ_U64(cg_count_tasks(root, 1, "/", &running, &total, &last), (uint64_t)-E2BIG);
	CHECK_EQ_U64(total, 99);
	/* from one level down the same tree is within bounds */
	CHECK_EQ_U64(cg_count_tasks(root, 1, "/d", &running, &total, &last), 0);
	close(root);
	rm_tree(tmp_root);
}

/* ---- cpu usage, verbatim files ---- */

static void test_cpu_usage_and_files(void)
{
	int v1 = fixture_open(FIXTURES "cpuacct"), v2 = fixture_open(FIXTURES "cgroup2");
	struct fbuf b = {0};
	uint64_t ns = 7;

	CHECK_EQ_U64(cg_read_cpu_usage(v1, 1, "/c1", &ns), 0);
	CHECK_EQ_U64(ns, 123456789012ULL);
	CHECK_EQ_U64(cg_read_cpu_usage(v2, 2, "/lxc.payload.web", &ns), 0);
	CHECK_EQ_U64(ns, 9876543000ULL);

	ns = 7;
	CHECK_EQ_U64(cg_read_cpu_usage(v1, 1, "/bad", &ns), (uint64_t)-EINVAL);
	CHECK_EQ_U64(cg_read_cpu_usage(v2, 2, "/lxc.payload.noio", &ns), (uint64_t)-EINVAL);
	CHECK_EQ_U64(ns, 7);
	CHECK_EQ_U64(cg_read_cpu_usage(v1, 1, "/gone", &ns), (uint64_t)-ENOENT);

	CHECK_EQ_U64(cg_read_file(v2, "/lxc.payload.web", "cpu.pressure", &b),
	             strlen("some avg10=1.52 avg60=0.87 avg300=0.24 total=18463921\n"
	                    "full avg10=0.31 avg60=0.12 avg300=0.03 total=4021187\n"));
	CHECK_STR(b.data, "some avg10=1.52 avg60=0.87 avg300=0.24 total=18463921\n"
	                  "full avg10=0.31 avg60=0.12 avg300=0.03 total=4021187\n");
	CHECK_EQ_U64(cg_read_file(v2, "/lxc.payload.noio", "cpu.pressure", &b), (uint64_t)-ENOENT);
	CHECK_EQ_U64(cg_read_file(v2, "/gone", "cpu.pressure", &b), (uint64_t)-ENOENT);
	CHECK_EQ_U64(cg_read_file(v2, "/", "lxc.payload.web/cpu.pressure", &b), (uint64_t)-EINVAL);
	free(b.data);
	close(v1);
	close(v2);
}

/* ---- the gather functions, on this machine ---- */

static void worker_setup(struct worker_ctx *w)
{
	/* ttl 0: every read live, as the figures checked here move. */
	if (test_worker_init(w, 0) < 0)
		abort();
}

static void worker_teardown(struct worker_ctx *w)
{
	test_worker_fini(w);
}

/* w->out as a string. */
static const char *out_text(struct worker_ctx *w)
{
	if (fbuf_reserve(&w->out, w->out.len + 1) < 0)
		return "";
	w->out.data[w->out.len] = '\0';
	return w->out.data;
}

static bool slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

static void test_files_host_reader(void)
{
	struct worker_ctx w;
	char host[4096];
	double age = -1, idle = -1, host_age = -1;

	worker_setup(&w);

	/* we are in the host's pid namespace: the host's own uptime */
	CHECK_EQ_U64(file_uptime(&w, getpid()), 0);
	CHECK(sscanf(out_text(&w), "%lf %lf", &age, &idle) == 2);
	if (slurp("/proc/uptime", host, sizeof(host)))
		host_age = atof(host);
	CHECK(age > 0 && fabs(age - host_age) < 2);

	CHECK_EQ_U64(file_loadavg_host(&w, getpid()), 0);
	CHECK(strchr(out_text(&w), '/') != NULL);

	CHECK_EQ_U64(file_swaps(&w, getpid()), 0);
	CHECK(strncmp(out_text(&w), SWAPS_HEADER, strlen(SWAPS_HEADER)) == 0);

	/* in the root cgroup: the host's diskstats as they are (the counters move meanwhile) */
	CHECK_EQ_U64(file_diskstats(&w, getpid()), 0);
	if (slurp("/proc/diskstats", host, sizeof(host)))
		CHECK(strncmp(out_text(&w), host, 12) == 0);

	if (access("/proc/pressure/cpu", R_OK) == 0) {
		CHECK_EQ_U64(file_pressure(&w, getpid(), "cpu"), 0);
		CHECK(strncmp(out_text(&w), "some avg10=", 11) == 0);
		CHECK_EQ_U64(file_pressure(&w, getpid(), "memory"), 0);
		CHECK(strncmp(out_text(&w), "some avg10=", 11) == 0);
	}
	CHECK_EQ_U64(file_pressure(&w, getpid(), "irq/../cpu"), (uint64_t)-EINVAL);
	CHECK_EQ_U64(file_pressure(&w, getpid(), NULL), (uint64_t)-EINVAL);

	if (geteuid() == 0) {
		CHECK_EQ_U64(file_slabinfo(&w, getpid()), 0);
		CHECK(strncmp(out_text(&w), "slabinfo - version:", 19) == 0);
	}

	/* SIGUSR2: the host's file as it is */
	atomic_store(&w.shm.hdr->config.virt_off, 1);
	CHECK_EQ_U64(file_swaps(&w, getpid()), 0);
	if (slurp("/proc/swaps", host, sizeof(host)))
		CHECK_STR(out_text(&w), host);
	atomic_store(&w.shm.hdr->config.virt_off, 0);

	/* a reader that is gone gets the host's file, not an error */
	{
		pid_t gone = fork();

		if (gone == 0)
			_exit(0);
		while (waitpid(gone, NULL, 0) < 0 && errno == EINTR)
			;
		CHECK_EQ_U64(file_swaps(&w, gone), 0);
		if (slurp("/proc/swaps", host, sizeof(host)))
			CHECK_STR(out_text(&w), host);
	}
	worker_teardown(&w);
}

/* A container's init started just now: its uptime is seconds, not the host's. */
static void test_uptime_new_pidns(void)
{
	struct worker_ctx w;
	double age = -1, idle = -1, age2 = -1, idle2 = -1;
	pid_t c, init = -1;
	int p[2];

	if (geteuid() != 0) {
		printf("test_misc: not root: new pid namespace scenario skipped\n");
		return;
	}
	if (pipe(p) < 0)
		return;
	c = fork();
	if (c == 0) {
		pid_t g;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		if (unshare(CLONE_NEWPID) < 0)
			_exit(1);
		g = fork();
		if (g == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(p[1]);
			for (;;)
				pause();
		}
		if (write(p[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		close(p[1]);
		while (waitpid(g, NULL, 0) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[1]);
	if (c < 0 || read(p[0], &init, sizeof(init)) != sizeof(init) || init <= 0) {
		close(p[0]);
		printf("test_misc: no new pid namespace here: scenario skipped\n");
		stop_child(c);
		return;
	}
	close(p[0]);

	worker_setup(&w);
	CHECK_EQ_U64(file_uptime(&w, init), 0);
	CHECK(sscanf(out_text(&w), "%lf %lf", &age, &idle) == 2);
	CHECK(age >= 0 && age < 30);
	CHECK(idle >= 0 && idle <= age);
	worker_teardown(&w);

	/*
	 * With a TTL the init's start is kept: the reader's entry and its init's
	 * start are stored once, and a later read finds them (no new entry).
	 */
	if (test_worker_init(&w, 60000) < 0)
		abort();
	CHECK_EQ_U64(file_uptime(&w, init), 0);
	CHECK_EQ_U64(snap_count(&w.shm, SNAP_PID), 2);
	CHECK_EQ_U64(file_uptime(&w, init), 0);
	CHECK_EQ_U64(snap_count(&w.shm, SNAP_PID), 2);
	CHECK(sscanf(out_text(&w), "%lf %lf", &age2, &idle2) == 2);
	CHECK(age2 >= age && age2 < age + 30);
	/* our own pid namespace: the host's uptime */
	CHECK_EQ_U64(file_uptime(&w, getpid()), 0);
	CHECK(sscanf(out_text(&w), "%lf %lf", &age2, &idle2) == 2);
	{
		char host[128];
		double host_age = -1;

		CHECK(slurp("/proc/uptime", host, sizeof(host)) &&
		      sscanf(host, "%lf", &host_age) == 1);
		CHECK(age2 <= host_age && age2 > host_age - 5);
	}
	worker_teardown(&w);

	kill(init, SIGKILL);
	while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
		;
}

int main(void)
{
	ds_host_len = fixture_load(FIXTURES "diskstats.host", ds_host, sizeof(ds_host));
	ds_host44_len = fixture_load(FIXTURES "diskstats.host-4.4", ds_host44, sizeof(ds_host44));

	test_uptime_render();
	test_swaps_render();
	test_swaps_agree_with_meminfo();
	test_io_v1_cfq();
	test_io_v1_throttle();
	test_io_v2();
	test_io_errors();
	test_diskstats_render_edges();
	test_loadavg_kernel_sequence();
	test_loadavg_convergence();
	test_loadavg_render();
	test_count_tasks();
	test_count_states();
	test_count_tasks_bounds();
	test_cpu_usage_and_files();
	test_files_host_reader();
	test_uptime_new_pidns();
	return check_report("test_misc");
}
