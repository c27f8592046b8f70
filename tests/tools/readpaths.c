/*
 * readpaths: read a file over and over through one read path and check that
 * every text that comes back is whole and the reader's own.
 *
 *   readpaths --method read|sendfile|splice|mmap [--seconds S] [--count N]
 *             [--expect-total KB] [--verbose] FILE
 *
 * Each operation is open, the whole file through the method, close:
 *   read      read(2) of 64 KiB until EOF
 *   sendfile  sendfile(2) into a pipe until it returns 0
 *   splice    splice(2) into a pipe until it returns 0
 *   mmap      mmap(2) MAP_PRIVATE of st_size bytes, the text up to the first NUL
 * The text must end with '\n', hold no NUL and have as many lines as the
 * first whole one (else "short"). A meminfo (the name ends in "meminfo") must
 * start with "MemTotal:", and with --expect-total its MemTotal must be KB
 * (else "wrong": another reader's text). A path the filesystem refuses is
 * counted as "refused", not as a failure: sendfile or splice failing with
 * EINVAL, mmap failing (the errno is reported), a fault of the mapping
 * (SIGBUS). Any other failure is an "error".
 *
 * The loop ends after S seconds (default 5) or N operations, whichever first.
 * Prints on stdout:
 *   method=M ops=N ok=N refused=N wrong=N short=N errors=N refused_errno=E
 * The first few problems go to stderr. Exits 0 only when there was at least
 * one operation and none was wrong, short or an error; 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF_MAX    (4 << 20)
#define REPORT_MAX 5

enum method { M_READ, M_SENDFILE, M_SPLICE, M_MMAP };

struct stats {
	unsigned long ops, ok, refused, wrong, shorts, errors, reported;
	int refused_errno;
	long lines; /* line count of the first whole text, -1 until then */
};

static char buf[BUF_MAX];
static sigjmp_buf fault_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(fault_jmp, 1);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(struct stats *st, const char *what, const char *text, size_t len)
{
	if (st->reported++ >= REPORT_MAX)
		return;
	fprintf(stderr, "readpaths: op %lu: %s (%zu bytes", st->ops, what, len);
	if (text && len) {
		size_t show = len < 60 ? len : 60;

		fprintf(stderr, ", starts \"");
		for (size_t i = 0; i < show; i++)
			fputc(text[i] == '\n' ? '|' : text[i] ? text[i] : '@', stderr);
		fprintf(stderr, "\"");
	}
	fprintf(stderr, ")\n");
}

/* Drain a pipe into buf at *len. */
static int drain(int rfd, size_t want, size_t *len)
{
	while (want > 0) {
		ssize_t r = read(rfd, buf + *len, want < BUF_MAX - *len ? want : BUF_MAX - *len);

		if (r <= 0)
			return -1;
		*len += (size_t)r;
		want -= (size_t)r;
	}
	return 0;
}

/* The text of a private mapping of fd: 0, 1 refused (*err, 0 for SIGBUS), -1 error. */
static int map_copy(int fd, size_t *len, int *err)
{
	volatile size_t n = 0;
	volatile int ret = 0;
	struct stat sb;
	char *map;

	if (fstat(fd, &sb) < 0)
		return -1;
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		*err = errno;
		return 1;
	}
	if (sigsetjmp(fault_jmp, 1) == 0) {
		while (n < (size_t)sb.st_size && n < BUF_MAX && map[n]) {
			buf[n] = map[n];
			n++;
		}
		*len = n;
	} else {
		*err = 0;
		ret = 1;
	}
	munmap(map, (size_t)sb.st_size);
	return ret;
}

/*
 * One operation. Returns 0 with the text in buf[0..*len), 1 when the path was
 * refused (*err: its errno, or 0 for SIGBUS), -1 on another error (errno).
 */
static int read_once(enum method m, const char *path, size_t *len, int *err)
{
	static int p[2] = {-1, -1};
	int fd, ret = 0;

	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if ((m == M_SENDFILE || m == M_SPLICE) && p[0] < 0) {
		if (pipe(p) < 0)
			return -1;
		fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
	}
	if (m == M_READ) {
		ssize_t r;

		while ((r = read(fd, buf + *len, 65536)) > 0 && *len < BUF_MAX - 65536)
			*len += (size_t)r;
		if (r < 0)
			ret = -1;
	} else if (m == M_SENDFILE || m == M_SPLICE) {
		for (;;) {
			ssize_t r = m == M_SENDFILE ? sendfile(p[1], fd, NULL, 1 << 20)
			                            : splice(fd, NULL, p[1], NULL, 1 << 20, 0);

			if (r < 0 && errno == EINVAL && *len == 0) {
				*err = EINVAL;
				ret = 1;
				break;
			}
			if (r < 0) {
				ret = -1;
				break;
			}
			if (r == 0)
				break;
			if (drain(p[0], (size_t)r, len) < 0) {
				ret = -1;
				break;
			}
		}
	} else {
		ret = map_copy(fd, len, err);
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

static long count_lines(const char *t, size_t len)
{
	long n = 0;

	for (size_t i = 0; i < len; i++)
		n += t[i] == '\n';
	return n;
}

static void check(struct stats *st, const char *path, const char *text, size_t len,
                  long long expect_total)
{
	bool meminfo = strlen(path) >= 7 && strcmp(path + strlen(path) - 7, "meminfo") == 0;
	long lines;

	if (len == 0 || text[len - 1] != '\n' || memchr(text, '\0', len)) {
		st->shorts++;
		report(st, "not whole: empty, no final newline, or a NUL", text, len);
		return;
	}
	if (meminfo) {
		long long total;

		if (strncmp(text, "MemTotal:", 9) != 0 || sscanf(text + 9, "%lld", &total) != 1) {
			st->shorts++;
			report(st, "not a meminfo", text, len);
			return;
		}
		if (expect_total >= 0 && total != expect_total) {
			char what[96];

			snprintf(what, sizeof(what), "MemTotal %lld kB, expected %lld", total,
			         expect_total);
			st->wrong++;
			report(st, what, text, len);
			return;
		}
	}
	lines = count_lines(text, len);
	if (st->lines < 0) {
		st->lines = lines;
	} else if (lines != st->lines) {
		char what[96];

		snprintf(what, sizeof(what), "%ld lines, the first text had %ld", lines, st->lines);
		st->shorts++;
		report(st, what, text, len);
		return;
	}
	st->ok++;
}

static void usage(void)
{
	fprintf(stderr, "usage: readpaths --method read|sendfile|splice|mmap [--seconds S] "
	                "[--count N] [--expect-total KB] [--verbose] FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct stats st = {.lines = -1};
	const char *path = NULL, *mname = NULL;
	double seconds = 5, start;
	unsigned long count = 0;
	long long expect_total = -1;
	bool verbose = false;
	enum method m;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--method") == 0 && i + 1 < argc)
			mname = argv[++i];
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--expect-total") == 0 && i + 1 < argc)
			expect_total = atoll(argv[++i]);
		else if (strcmp(argv[i], "--verbose") == 0)
			verbose = true;
		else if (argv[i][0] == '-' || path)
			usage();
		else
			path = argv[i];
	}
	if (!path || !mname)
		usage();
	if (strcmp(mname, "read") == 0)
		m = M_READ;
	else if (strcmp(mname, "sendfile") == 0)
		m = M_SENDFILE;
	else if (strcmp(mname, "splice") == 0)
		m = M_SPLICE;
	else if (strcmp(mname, "mmap") == 0)
		m = M_MMAP;
	else
		usage();
	signal(SIGBUS, on_sigbus);

	start = now_seconds();
	while ((!count || st.ops < count) && now_seconds() - start < seconds) {
		size_t len;
		int err = 0, r;

		st.ops++;
		r = read_once(m, path, &len, &err);
		if (r < 0) {
			char what[96];

			snprintf(what, sizeof(what), "error: %s", strerror(errno));
			st.errors++;
			report(&st, what, NULL, 0);
		} else if (r > 0) {
			st.refused++;
			st.refused_errno = err;
			if (verbose)
				report(&st, err ? strerror(err) : "SIGBUS", NULL, 0);
		} else {
			check(&st, path, buf, len, expect_total);
		}
	}
	printf("method=%s ops=%lu ok=%lu refused=%lu wrong=%lu short=%lu errors=%lu "
	       "refused_errno=%s\n",
	       mname, st.ops, st.ok, st.refused, st.wrong, st.shorts, st.errors,
	       st.refused ? (st.refused_errno ? strerrorname_np(st.refused_errno) : "SIGBUS")
	                  : "-");
	return st.ops > 0 && !st.wrong && !st.shorts && !st.errors ? 0 : 1;
}
