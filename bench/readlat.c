/*
 * readlat: read-latency client for /proc-like files.
 *
 * Forks N reader processes that read FILE in a loop for S seconds and times
 * every operation with CLOCK_MONOTONIC:
 *   --mode open   open + read until EOF (64 KiB buffer) + close, as cat(1)
 *                 or a container's free(1) does: on a FUSE mount that is
 *                 OPEN, READ, READ (EOF), RELEASE
 *   --mode pread  one open, then pread(fd, buf, 64 KiB, 0) repeatedly: one
 *                 READ round trip per operation, the server's pure cost
 * Processes, not threads, so that each reader is a separate pid as seen by
 * the FUSE server, like separate container processes are.
 *
 * Latencies go into a log-linear histogram per reader (hist.h: under 0.8 %
 * error, fixed size, no allocation on the read path) in a shared anonymous
 * mapping; the parent merges them when the
 * readers are done. A read that fails is an error; a first read that returns
 * nothing or does not start with --expect-prefix is "bad". Neither is timed.
 *
 * A reader still stuck after S + 5 seconds (a hung server) is killed and
 * counted as hung; what it measured until then is kept.
 *
 * Output, one line:
 *   ops=N errors=N bad=N hung=N p50_us=X p90_us=X p99_us=X max_us=X ops_per_s=X
 * Exit status 0 when at least one operation succeeded, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/hist.h"

#define RL_BUF_SIZE    (64 * 1024)
#define RL_GRACE_S     5
#define RL_MAX_READERS 1024

enum rl_mode { RL_OPEN, RL_PREAD };

/*
 * One per reader, in the shared mapping. Written only by that reader, read
 * by the parent after the reader exited (or was killed: then a counter may
 * be one op behind, which does not matter for a statistic).
 */
struct rl_slot {
	uint64_t ops;
	uint64_t errors;
	uint64_t bad;
	uint64_t max_ns;
	uint64_t end_ns; /* when this reader stopped */
	uint64_t hist[HIST_BUCKETS];
};

struct rl_shared {
	uint64_t start_ns; /* written by the parent before it releases readers */
	struct rl_slot slot[];
};

static enum rl_mode rl_mode = RL_OPEN;
static unsigned int rl_readers = 1;
static double rl_seconds = 3.0;
static int rl_cpu = -1;
static const char *rl_prefix;
static size_t rl_prefix_len;
static const char *rl_file;

static volatile sig_atomic_t rl_alarm;

static bool rl_check(const char *buf, ssize_t n)
{
	if (n <= 0)
		return false;
	if (rl_prefix_len &&
	    ((size_t)n < rl_prefix_len || memcmp(buf, rl_prefix, rl_prefix_len) != 0))
		return false;
	return true;
}

/* One open+read-to-EOF+close. Returns 0, -1 on a syscall error, -2 if bad. */
static int rl_op_open(char *buf)
{
	ssize_t n, first = -1;
	int fd, ret = 0;

	fd = open(rl_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		n = read(fd, buf, RL_BUF_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -1;
			break;
		}
		if (first < 0) {
			first = n;
			if (!rl_check(buf, n)) {
				ret = -2;
				break;
			}
		}
		if (n == 0)
			break;
	}
	close(fd);
	return ret;
}

static int rl_op_pread(int *fd, char *buf)
{
	ssize_t n;

	if (*fd < 0) {
		*fd = open(rl_file, O_RDONLY | O_CLOEXEC);
		if (*fd < 0)
			return -1;
	}
	n = pread(*fd, buf, RL_BUF_SIZE, 0);
	if (n < 0) {
		/* Reopen next time: the handle may be what broke. */
		close(*fd);
		*fd = -1;
		return -1;
	}
	return rl_check(buf, n) ? 0 : -2;
}

static void rl_reader(struct rl_shared *sh, unsigned int id, int gate)
{
	struct rl_slot *s = &sh->slot[id];
	uint64_t deadline, t0, t1, d;
	cpu_set_t set;
	char dummy, *buf;
	int fd = -1, ret;

	if (rl_cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(rl_cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror("readlat: sched_setaffinity");
			_exit(1);
		}
	}
	buf = malloc(RL_BUF_SIZE);
	if (!buf) {
		perror("readlat: malloc");
		_exit(1);
	}
	memset(buf, 0, RL_BUF_SIZE); /* fault the pages in before timing */
	if (rl_mode == RL_PREAD) {
		fd = open(rl_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			s->errors++; /* retried inside the loop */
	}

	/* Start together: the parent closes the gate's write end. */
	while (read(gate, &dummy, 1) < 0 && errno == EINTR)
		;
	close(gate);
	deadline = sh->start_ns + (uint64_t)(rl_seconds * 1e9);

	t1 = hist_now_ns();
	while (t1 < deadline) {
		t0 = t1;
		ret = rl_mode == RL_OPEN ? rl_op_open(buf) : rl_op_pread(&fd, buf);
		t1 = hist_now_ns();
		if (ret == -1) {
			s->errors++;
			continue;
		}
		if (ret == -2) {
			s->bad++;
			continue;
		}
		d = t1 - t0;
		s->hist[hist_bucket(d)]++;
		if (d > s->max_ns)
			s->max_ns = d;
		s->ops++;
	}
	s->end_ns = t1;
	_exit(0);
}

static void rl_on_alarm(int sig)
{
	(void)sig;
	rl_alarm = 1;
}

/* Forget a reaped reader; one that could not even start says why on stderr. */
static void rl_reaped(pid_t *pids, pid_t pid, int status)
{
	unsigned int i;

	for (i = 0; i < rl_readers; i++)
		if (pids[i] == pid)
			pids[i] = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		fprintf(stderr, "readlat: reader %d exited with status %d\n", (int)pid,
		        WEXITSTATUS(status));
}

static void rl_usage(const char *prog)
{
	fprintf(stderr,
	        "usage: %s [--mode open|pread] [--readers N] [--seconds S] [--cpu C]\n"
	        "          [--expect-prefix STR] FILE\n",
	        prog);
	exit(2);
}

static void rl_parse(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"mode", required_argument, NULL, 'm'},
	    {"readers", required_argument, NULL, 'n'},
	    {"seconds", required_argument, NULL, 's'},
	    {"cpu", required_argument, NULL, 'c'},
	    {"expect-prefix", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	long v;
	int opt;

	while ((opt = getopt_long(argc, argv, "m:n:s:c:p:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (strcmp(optarg, "open") == 0)
				rl_mode = RL_OPEN;
			else if (strcmp(optarg, "pread") == 0)
				rl_mode = RL_PREAD;
			else
				rl_usage(argv[0]);
			break;
		case 'n':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > RL_MAX_READERS)
				rl_usage(argv[0]);
			rl_readers = v;
			break;
		case 's':
			rl_seconds = strtod(optarg, &end);
			if (*end || !(rl_seconds > 0 && rl_seconds < 86400))
				rl_usage(argv[0]);
			break;
		case 'c':
			v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v >= CPU_SETSIZE)
				rl_usage(argv[0]);
			rl_cpu = v;
			break;
		case 'p':
			rl_prefix = optarg;
			rl_prefix_len = strlen(optarg);
			break;
		default:
			rl_usage(argv[0]);
		}
	}
	if (optind != argc - 1)
		rl_usage(argv[0]);
	rl_file = argv[optind];
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = rl_on_alarm}; /* no SA_RESTART */
	uint64_t ops = 0, errors = 0, bad = 0, max_ns = 0, end_ns = 0;
	unsigned int i, b, running = 0, hung = 0;
	struct rl_shared *sh;
	uint64_t *hist;
	pid_t *pids, pid;
	size_t size;
	int gate[2], status;
	double elapsed;

	rl_parse(argc, argv);

	size = sizeof(*sh) + rl_readers * sizeof(struct rl_slot);
	sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	hist = calloc(HIST_BUCKETS, sizeof(*hist));
	pids = calloc(rl_readers, sizeof(*pids));
	if (sh == MAP_FAILED || !hist || !pids) {
		perror("readlat: allocate");
		return 1;
	}
	if (pipe2(gate, O_CLOEXEC)) {
		perror("readlat: pipe2");
		return 1;
	}

	for (i = 0; i < rl_readers; i++) {
		pid = fork();
		if (pid < 0) {
			perror("readlat: fork");
			/* Readers already forked see EOF on the gate and run; we
			 * wait for them below and report fewer readers. */
			break;
		}
		if (pid == 0) {
			close(gate[1]);
			rl_reader(sh, i, gate[0]);
		}
		pids[i] = pid;
		running++;
	}
	close(gate[0]);
	sh->start_ns = hist_now_ns();
	close(gate[1]);

	/* Block in waitpid (no polling wake-ups to disturb the readers); the
	 * alarm interrupts it if a reader outlives its deadline. */
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned int)rl_seconds + 1 + RL_GRACE_S);
	while (running) {
		pid = waitpid(-1, &status, 0);
		if (pid > 0) {
			rl_reaped(pids, pid, status);
			running--;
			continue;
		}
		if (errno == EINTR && rl_alarm) {
			rl_alarm = 0;
			for (i = 0; i < rl_readers; i++) {
				if (pids[i] <= 0)
					continue;
				pid = pids[i];
				if (waitpid(pid, &status, WNOHANG) == pid) {
					rl_reaped(pids, pid, status);
					running--;
					continue;
				}
				kill(pid, SIGKILL);
				hung++;
			}
			continue;
		}
		if (errno != EINTR)
			break;
	}

	for (i = 0; i < rl_readers; i++) {
		const struct rl_slot *s = &sh->slot[i];

		ops += s->ops;
		errors += s->errors;
		bad += s->bad;
		if (s->max_ns > max_ns)
			max_ns = s->max_ns;
		if (s->end_ns > end_ns)
			end_ns = s->end_ns;
		for (b = 0; b < HIST_BUCKETS; b++)
			hist[b] += s->hist[b];
	}
	if (hung || end_ns < sh->start_ns)
		end_ns = hist_now_ns();
	elapsed = (end_ns - sh->start_ns) / 1e9;

	printf("ops=%llu errors=%llu bad=%llu hung=%u p50_us=%.1f p90_us=%.1f p99_us=%.1f "
	       "max_us=%.1f ops_per_s=%.0f\n",
	       (unsigned long long)ops, (unsigned long long)errors, (unsigned long long)bad, hung,
	       hist_quantile_us(hist, ops, 0.50), hist_quantile_us(hist, ops, 0.90),
	       hist_quantile_us(hist, ops, 0.99), max_ns / 1000.0,
	       elapsed > 0 ? ops / elapsed : 0.0);
	return ops ? 0 : 1;
}
