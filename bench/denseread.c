/*
 * denseread: readers spread over many cgroups, each reading as itself.
 *
 * A FUSE server knows a reader by the pid in the request, and lxcfs answers
 * for that pid's container (a reader in the host pid namespace: its own
 * cgroup). To load a server the way a dense host does, the reads must come
 * from processes sitting in different cgroups. denseread creates COUNT
 * cgroups DIR/cg0 .. DIR/cg<COUNT-1> under every --cgroup DIR (one DIR per
 * hierarchy: memory, cpu, ...), forks COUNT reader processes, and reader i
 * moves itself into DIR/cg<i> of each hierarchy. The readers then sleep on a
 * futex of their own (no CPU, no thundering herd) until a phase wants them.
 *
 * Commands, one per line on stdin; one answer line each on stdout:
 *   warm N RATE PATH [nocheck] readers 0..N-1 each open+read+close PATH once,
 *                              paced at RATE reads/s in all (untimed: fills
 *                              the server's per-reader caches)
 *   run N SECONDS RATE PATH [nocheck]
 *                              readers 0..N-1 open+read+close PATH for
 *                              SECONDS, RATE reads/s in all: reader i reads
 *                              at start + (i + k*N)/RATE, so the reads are
 *                              spread evenly over readers and time
 *   nocheck: no MemTotal check (a server that does not virtualize, such as
 *   the FUSE floor, serves the host's)
 *   quit (or EOF, SIGTERM)     stop the readers, remove the cgroups created
 *                              here, exit
 * Answer: ops= errors= bad= wrong= late= hung= p50_us= p90_us= p99_us=
 * max_us= ops_per_s=. errors: failed syscalls; bad: empty or (with
 * --expect-prefix) wrong first bytes; wrong: a meminfo whose MemTotal is not
 * the reader's own cgroup limit (with --limit-mb); late: reads started more
 * than 10 ms after their slot (the bench machine, not the server, fell
 * behind); hung: readers not done 10 s after the end (then left alone).
 * Latency is that of one open+read+close, start to end.
 *
 * Options:
 *   --cgroup DIR      a parent directory in one cgroup hierarchy (repeat
 *                     for several); created if missing, removed at exit if
 *                     created here, like the cgN below it
 *   --count N         readers and cgroups per hierarchy (1..50000)
 *   --limit-mb MB     where DIR/cgI has memory.limit_in_bytes, set it to
 *                     (MB + I % 1000) MiB and check each reader sees it
 *   --cpu C           pin denseread and its readers to CPU C
 *   --expect-prefix S a first read must start with S
 * Prints "ready readers=N create_ms=X fork_ms=Y" once every reader is in its
 * cgroups. Readers die with denseread (PR_SET_PDEATHSIG), so a killed
 * denseread leaves only empty cgroups behind for its caller to remove.
 *
 * Each reader touches a few pages (its stack, the part of the read buffer
 * a read fills): 10000 readers cost well under 1 GiB, mostly kernel memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/hist.h"

#define DR_MAX_READERS 50000
#define DR_MAX_HIER    8
#define DR_BUF_SIZE    (64 * 1024)
#define DR_LATE_NS     (10 * 1000000ull)
#define DR_GRACE_S     10
#define DR_LIMIT_SPAN  1000
#define DR_STR_(x)     #x
#define DR_STR(x)      DR_STR_(x)

/*
 * Shared by denseread (the parent) and its readers, MAP_SHARED. The parent
 * writes the phase fields, then bumps the futex word of each reader taking
 * part (release); a reader reads the fields after seeing its word change
 * (acquire). Readers only add to the counters and the histogram. A reader
 * killed mid-phase leaves at most one read uncounted.
 */
struct dr_shared {
	/* the phase, written by the parent while no reader runs */
	uint32_t quit;
	uint32_t active; /* readers 0..active-1 take part */
	uint32_t timed;  /* 0: warm (one untimed read each) */
	uint32_t check;  /* check MemTotal against the reader's limit (--limit-mb) */
	double rate;     /* reads/s, all readers together */
	uint64_t start_ns, end_ns;
	char path[PATH_MAX];

	_Atomic uint32_t entered, enter_failed, done;
	_Atomic uint64_t ops, errors, bad, wrong, late, max_ns, last_end_ns;
	_Atomic uint64_t hist[HIST_BUCKETS];
	_Atomic uint32_t wake[]; /* one futex word per reader */
};

static const char *dr_dirs[DR_MAX_HIER];
static int dr_dir_made[DR_MAX_HIER];
static unsigned int dr_ndirs;
static unsigned int dr_count;
static long dr_limit_mb = -1;
static int dr_cpu = -1;
static const char *dr_prefix;
static size_t dr_prefix_len;
static unsigned long long dr_host_memtotal_kb;

static struct dr_shared *dr_sh;
static pid_t *dr_pids;
static unsigned int dr_made; /* cgN created here, per hierarchy: 0..dr_made-1 */

static char dr_buf[DR_BUF_SIZE]; /* a reader's; zero-fill pages, touched on use */

static volatile sig_atomic_t dr_stop;

static void dr_on_signal(int sig)
{
	(void)sig;
	dr_stop = 1;
}

static long dr_futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}

static void dr_sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000u, .tv_nsec = t % 1000000000u};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void dr_atomic_max(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);

	while (v > cur && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_relaxed,
	                                                         memory_order_relaxed))
		;
}

/* The MemTotal reader ID must see: its limit, or the host's if lower. */
static unsigned long long dr_expected_kb(unsigned int id)
{
	unsigned long long kb = (unsigned long long)(dr_limit_mb + id % DR_LIMIT_SPAN) * 1024;

	return dr_host_memtotal_kb && dr_host_memtotal_kb < kb ? dr_host_memtotal_kb : kb;
}

/*
 * Check a first read. 0 good, -2 bad (empty or wrong prefix), -3 wrong
 * (meminfo of another cgroup).
 */
static int dr_check(unsigned int id, const char *buf, ssize_t n)
{
	unsigned long long kb;

	if (n <= 0)
		return -2;
	if (dr_prefix_len &&
	    ((size_t)n < dr_prefix_len || memcmp(buf, dr_prefix, dr_prefix_len) != 0))
		return -2;
	if (dr_limit_mb >= 0 && dr_sh->check && n > 9 && memcmp(buf, "MemTotal:", 9) == 0) {
		if (sscanf(buf + 9, "%llu", &kb) != 1 || kb != dr_expected_kb(id))
			return -3;
	}
	return 0;
}

/*
 * One open + read until EOF + close. The first read() is checked (like
 * readlat: a 64 KiB buffer takes all of meminfo in one); later ones only
 * drain the file. 0, -1 on a failed call, -2 bad, -3 wrong.
 */
static int dr_read_once(unsigned int id, const char *path)
{
	ssize_t n, first = -1;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		n = read(fd, dr_buf, DR_BUF_SIZE - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -1;
			break;
		}
		if (first < 0) {
			first = n;
			dr_buf[n] = '\0';
			ret = dr_check(id, dr_buf, n);
			if (ret)
				break;
		}
		if (n == 0)
			break;
	}
	close(fd);
	return ret;
}

static void dr_count_result(int ret)
{
	struct dr_shared *sh = dr_sh;

	if (ret == -1)
		atomic_fetch_add_explicit(&sh->errors, 1, memory_order_relaxed);
	else if (ret == -2)
		atomic_fetch_add_explicit(&sh->bad, 1, memory_order_relaxed);
	else if (ret == -3)
		atomic_fetch_add_explicit(&sh->wrong, 1, memory_order_relaxed);
}

static void dr_phase(unsigned int id)
{
	struct dr_shared *sh = dr_sh;
	uint64_t slot, interval, t0, t1, d;
	int ret;

	interval = (uint64_t)(sh->active * 1e9 / sh->rate);
	slot = sh->start_ns + (uint64_t)(id * 1e9 / sh->rate);
	if (!sh->timed) {
		dr_sleep_until(slot);
		ret = dr_read_once(id, sh->path);
		dr_count_result(ret);
		if (ret == 0)
			atomic_fetch_add_explicit(&sh->ops, 1, memory_order_relaxed);
		return;
	}
	while (slot < sh->end_ns) {
		dr_sleep_until(slot);
		t0 = hist_now_ns();
		if (t0 > slot + DR_LATE_NS)
			atomic_fetch_add_explicit(&sh->late, 1, memory_order_relaxed);
		ret = dr_read_once(id, sh->path);
		t1 = hist_now_ns();
		dr_count_result(ret);
		if (ret == 0) {
			d = t1 - t0;
			atomic_fetch_add_explicit(&sh->hist[hist_bucket(d)], 1,
			                          memory_order_relaxed);
			atomic_fetch_add_explicit(&sh->ops, 1, memory_order_relaxed);
			dr_atomic_max(&sh->max_ns, d);
		}
		dr_atomic_max(&sh->last_end_ns, t1);
		/* Behind (a slow read or a busy machine): skip slots, never burst. */
		do
			slot += interval;
		while (slot < t1);
	}
}

static int dr_write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

static void dr_reader(unsigned int id, pid_t parent)
{
	struct dr_shared *sh = dr_sh;
	char path[PATH_MAX];
	uint32_t seen = 0, now;
	unsigned int h;
	int err;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	/*
	 * "0" into tasks moves this thread (the whole process: it has one)
	 * without the global threadgroup lock that a write to cgroup.procs
	 * takes, whose RCU grace period costs ~2 ms per move.
	 */
	for (h = 0; h < dr_ndirs; h++) {
		snprintf(path, sizeof(path), "%s/cg%u/tasks", dr_dirs[h], id);
		if (access(path, F_OK))
			snprintf(path, sizeof(path), "%s/cg%u/cgroup.procs", dr_dirs[h], id);
		err = dr_write_file(path, "0");
		if (err) {
			fprintf(stderr, "denseread: reader %u: write %s: %s\n", id, path,
			        strerror(-err));
			atomic_fetch_add(&sh->enter_failed, 1);
			_exit(1);
		}
	}
	atomic_fetch_add(&sh->entered, 1);

	for (;;) {
		while ((now = atomic_load_explicit(&sh->wake[id], memory_order_acquire)) == seen)
			dr_futex(&sh->wake[id], FUTEX_WAIT, seen, NULL);
		seen = now;
		if (sh->quit)
			_exit(0);
		dr_phase(id);
		atomic_fetch_add_explicit(&sh->done, 1, memory_order_release);
	}
}

static void dr_wake(unsigned int first, unsigned int n)
{
	unsigned int i;

	for (i = first; i < first + n && i < dr_count; i++) {
		atomic_fetch_add_explicit(&dr_sh->wake[i], 1, memory_order_release);
		dr_futex(&dr_sh->wake[i], FUTEX_WAKE, 1, NULL);
	}
}

/* Run one phase over readers 0..n-1 and print its answer line. */
static void dr_run(unsigned int n, double seconds, double rate, const char *path, int timed,
                   int check)
{
	struct dr_shared *sh = dr_sh;
	uint64_t hist[HIST_BUCKETS], ops, deadline, last;
	unsigned int i, hung = 0;
	double elapsed;

	if (n > dr_count)
		n = dr_count;
	sh->active = n;
	sh->timed = timed;
	sh->check = (uint32_t)check;
	sh->rate = rate;
	snprintf(sh->path, sizeof(sh->path), "%s", path);
	atomic_store(&sh->done, 0);
	atomic_store(&sh->ops, 0);
	atomic_store(&sh->errors, 0);
	atomic_store(&sh->bad, 0);
	atomic_store(&sh->wrong, 0);
	atomic_store(&sh->late, 0);
	atomic_store(&sh->max_ns, 0);
	atomic_store(&sh->last_end_ns, 0);
	for (i = 0; i < HIST_BUCKETS; i++)
		atomic_store_explicit(&sh->hist[i], 0, memory_order_relaxed);
	/* Time for the wake-ups (a few µs each) before the first slot. */
	sh->start_ns = hist_now_ns() + 100000000ull + n * 20000ull;
	sh->end_ns = timed ? sh->start_ns + (uint64_t)(seconds * 1e9)
	                   : sh->start_ns + (uint64_t)(n * 1e9 / rate);
	dr_wake(0, n);

	dr_sleep_until(sh->end_ns);
	deadline = sh->end_ns + DR_GRACE_S * 1000000000ull;
	while (atomic_load_explicit(&sh->done, memory_order_acquire) < n && !dr_stop) {
		if (hist_now_ns() > deadline) {
			hung = n - atomic_load(&sh->done);
			break;
		}
		usleep(5000);
	}

	for (i = 0; i < HIST_BUCKETS; i++)
		hist[i] = atomic_load_explicit(&sh->hist[i], memory_order_relaxed);
	ops = atomic_load(&sh->ops);
	last = atomic_load(&sh->last_end_ns);
	if (!timed || last < sh->end_ns)
		last = sh->end_ns;
	elapsed = (last - sh->start_ns) / 1e9;
	printf("ops=%llu errors=%llu bad=%llu wrong=%llu late=%llu hung=%u p50_us=%.1f "
	       "p90_us=%.1f p99_us=%.1f max_us=%.1f ops_per_s=%.0f\n",
	       (unsigned long long)ops, (unsigned long long)atomic_load(&sh->errors),
	       (unsigned long long)atomic_load(&sh->bad),
	       (unsigned long long)atomic_load(&sh->wrong),
	       (unsigned long long)atomic_load(&sh->late), hung, hist_quantile_us(hist, ops, 0.50),
	       hist_quantile_us(hist, ops, 0.90), hist_quantile_us(hist, ops, 0.99),
	       atomic_load(&sh->max_ns) / 1000.0, timed && elapsed > 0 ? ops / elapsed : 0.0);
	fflush(stdout);
}

/* Stop every reader (a quit phase, then SIGKILL for the stuck), reap them. */
static void dr_stop_readers(void)
{
	unsigned int i, left = 0;
	uint64_t deadline;
	pid_t pid;
	int status;

	dr_sh->quit = 1;
	dr_wake(0, dr_count);
	for (i = 0; i < dr_count; i++)
		left += dr_pids[i] > 0;
	deadline = hist_now_ns() + 5 * 1000000000ull;
	while (left) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			left--;
			for (i = 0; i < dr_count; i++)
				if (dr_pids[i] == pid)
					dr_pids[i] = 0;
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			break;
		if (hist_now_ns() > deadline) {
			for (i = 0; i < dr_count; i++)
				if (dr_pids[i] > 0)
					kill(dr_pids[i], SIGKILL);
			deadline = UINT64_MAX;
		}
		usleep(2000);
	}
}

/* Remove what was created here, deepest first. An rmdir of a cgroup that
 * just lost its last task can see EBUSY for a moment: retry briefly. */
static void dr_remove_cgroups(void)
{
	char path[PATH_MAX];
	unsigned int h, i, tries;

	for (h = 0; h < dr_ndirs; h++) {
		for (i = 0; i < dr_made; i++) {
			snprintf(path, sizeof(path), "%s/cg%u", dr_dirs[h], i);
			for (tries = 0; rmdir(path) && errno == EBUSY && tries < 100; tries++)
				usleep(10000);
		}
		if (dr_dir_made[h] && rmdir(dr_dirs[h]))
			fprintf(stderr, "denseread: rmdir %s: %s\n", dr_dirs[h], strerror(errno));
	}
}

static int dr_make_cgroups(void)
{
	char path[PATH_MAX], val[32];
	unsigned int h, i;
	int err;

	for (h = 0; h < dr_ndirs; h++) {
		if (mkdir(dr_dirs[h], 0755) == 0)
			dr_dir_made[h] = 1;
		else if (errno != EEXIST)
			goto fail_dir;
	}
	for (i = 0; i < dr_count; i++) {
		for (h = 0; h < dr_ndirs; h++) {
			snprintf(path, sizeof(path), "%s/cg%u", dr_dirs[h], i);
			if (mkdir(path, 0755) && errno != EEXIST) {
				fprintf(stderr, "denseread: mkdir %s: %s\n", path, strerror(errno));
				return -1;
			}
		}
		dr_made = i + 1;
		if (dr_limit_mb < 0)
			continue;
		snprintf(val, sizeof(val), "%llu",
		         (unsigned long long)(dr_limit_mb + i % DR_LIMIT_SPAN) << 20);
		for (h = 0; h < dr_ndirs; h++) {
			snprintf(path, sizeof(path), "%s/cg%u/memory.limit_in_bytes", dr_dirs[h],
			         i);
			if (access(path, F_OK))
				continue;
			err = dr_write_file(path, val);
			if (err) {
				fprintf(stderr, "denseread: write %s: %s\n", path, strerror(-err));
				return -1;
			}
		}
	}
	return 0;

fail_dir:
	fprintf(stderr, "denseread: mkdir %s: %s\n", dr_dirs[h], strerror(errno));
	return -1;
}

static void dr_read_host_memtotal(void)
{
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return;
	if (fscanf(f, "MemTotal: %llu", &dr_host_memtotal_kb) != 1)
		dr_host_memtotal_kb = 0;
	fclose(f);
}

static void dr_usage(const char *prog)
{
	fprintf(stderr,
	        "usage: %s --cgroup DIR [--cgroup DIR]... --count N [--limit-mb MB] [--cpu C]\n"
	        "          [--expect-prefix STR]\n"
	        "then on stdin: warm N RATE PATH [nocheck] | run N SECONDS RATE PATH [nocheck] | quit\n",
	        prog);
	exit(2);
}

static void dr_parse(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"cgroup", required_argument, NULL, 'g'},
	    {"count", required_argument, NULL, 'n'},
	    {"limit-mb", required_argument, NULL, 'l'},
	    {"cpu", required_argument, NULL, 'c'},
	    {"expect-prefix", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	long v;
	int opt;

	while ((opt = getopt_long(argc, argv, "g:n:l:c:p:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g':
			if (dr_ndirs == DR_MAX_HIER || optarg[0] != '/')
				dr_usage(argv[0]);
			dr_dirs[dr_ndirs++] = optarg;
			break;
		case 'n':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > DR_MAX_READERS)
				dr_usage(argv[0]);
			dr_count = v;
			break;
		case 'l':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > (1L << 30))
				dr_usage(argv[0]);
			dr_limit_mb = v;
			break;
		case 'c':
			v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v >= CPU_SETSIZE)
				dr_usage(argv[0]);
			dr_cpu = v;
			break;
		case 'p':
			dr_prefix = optarg;
			dr_prefix_len = strlen(optarg);
			break;
		default:
			dr_usage(argv[0]);
		}
	}
	if (optind != argc || !dr_ndirs || !dr_count)
		dr_usage(argv[0]);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = dr_on_signal}; /* no SA_RESTART */
	char line[PATH_MAX + 128], path[PATH_MAX + 1];
	uint64_t t0, t1, t2;
	unsigned int i, n, forked = 0;
	double seconds, rate;
	cpu_set_t set;
	size_t size;
	pid_t pid, self = getpid();
	int ret = 1;

	dr_parse(argc, argv);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	dr_read_host_memtotal();
	if (dr_cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(dr_cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror("denseread: sched_setaffinity");
			return 1;
		}
	}

	size = sizeof(*dr_sh) + dr_count * sizeof(dr_sh->wake[0]);
	dr_sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	dr_pids = calloc(dr_count, sizeof(*dr_pids));
	if (dr_sh == MAP_FAILED || !dr_pids) {
		perror("denseread: allocate");
		return 1;
	}

	t0 = hist_now_ns();
	if (dr_make_cgroups())
		goto out;
	t1 = hist_now_ns();
	fflush(stdout);
	for (i = 0; i < dr_count && !dr_stop; i++) {
		pid = fork();
		if (pid < 0) {
			perror("denseread: fork");
			goto out_readers;
		}
		if (pid == 0)
			dr_reader(i, self);
		dr_pids[i] = pid;
		forked++;
	}
	while (atomic_load(&dr_sh->entered) + atomic_load(&dr_sh->enter_failed) < forked &&
	       !dr_stop) {
		if (hist_now_ns() > t1 + 120 * 1000000000ull)
			break;
		usleep(10000);
	}
	t2 = hist_now_ns();
	if (dr_stop || atomic_load(&dr_sh->entered) != dr_count) {
		fprintf(stderr, "denseread: %u of %u readers in their cgroups\n",
		        atomic_load(&dr_sh->entered), dr_count);
		goto out_readers;
	}
	printf("ready readers=%u create_ms=%.0f fork_ms=%.0f\n", dr_count, (t1 - t0) / 1e6,
	       (t2 - t1) / 1e6);
	fflush(stdout);

	while (!dr_stop && fgets(line, sizeof(line), stdin)) {
		char flag[16] = "";
		int got;

		if ((got = sscanf(line, "run %u %lf %lf %" DR_STR(PATH_MAX) "s %15s", &n, &seconds,
		                  &rate, path, flag)) >= 4 &&
		    n > 0 && seconds > 0 && rate > 0 && (got == 4 || strcmp(flag, "nocheck") == 0)) {
			dr_run(n, seconds, rate, path, 1, got == 4);
		} else if ((got = sscanf(line, "warm %u %lf %" DR_STR(PATH_MAX) "s %15s", &n, &rate,
		                         path, flag)) >= 3 &&
		           n > 0 && rate > 0 && (got == 3 || strcmp(flag, "nocheck") == 0)) {
			dr_run(n, 0, rate, path, 0, got == 3);
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		} else {
			printf("error: unknown command: %s", line);
			fflush(stdout);
		}
	}
	ret = 0;

out_readers:
	dr_stop_readers();
out:
	dr_remove_cgroups();
	return ret;
}
