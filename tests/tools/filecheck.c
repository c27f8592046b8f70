/*
 * filecheck: read lxcfs files over and over and check that every read is whole
 * and has its file's shape; count errors, short and wrong reads, and reads
 * slower than a bound.
 *
 *   filecheck [--seconds S] [--count N] [--stop-file PATH] [--slow-ms MS]
 *             [--mem-total KB] [--also-total KB] [--mem-lines N] [--cpus N]
 *             [--chunk BYTES] [--monotonic] [--tag TEXT] FILE...
 *
 * Each operation is open, read(2) until EOF, close, of the next FILE in turn,
 * BYTES at a time (default 65536; 1 or 7 read a text in many small pieces).
 * The text must be non-empty, end with '\n' and hold no NUL; then, by the
 * file's name:
 *   meminfo  starts with "MemTotal:", every line "Label: value[ kB]", MemTotal
 *            is --mem-total (when given), MemFree <= MemTotal, and it has
 *            --mem-lines lines (when given; else as many as its first read).
 *            --also-total KB: a MemTotal of KB (e.g. the host's) is a wrong
 *            read too, but counted apart as "host" so that the cause is plain.
 *   cpuinfo  "processor : 0", "processor : 1", ... numbered in order, --cpus
 *            of them (when given), as many lines as its first read.
 *   stat     starts with "cpu  ", then cpuN lines numbered in increasing order
 *            (the host's CPU numbers, as online lists them; cpu0..cpu(n-1) in
 *            the --enable-cfs view), --cpus of them when given, each field of
 *            "cpu" the sum of the cpuN fields, and
 *            the intr, ctxt, btime, processes, procs_running, procs_blocked
 *            lines.
 *            With --monotonic, every field of every cpu line is at least its
 *            value in the previous read of the same file (counters never go
 *            backwards for a reader); a field lower is counted as "back".
 *   uptime   exactly "<float> <float>\n", two decimals each.
 *   other    the generic checks only.
 * A read that gives fewer bytes than a whole file (empty, no final newline,
 * fewer meminfo lines or cpuinfo blocks than expected) counts as "short";
 * any other mismatch as "wrong"; a failed open/read/close as "errors"; an
 * operation that kept the reader waiting longer than --slow-ms as "slow": its
 * time from open to close less the time the reader itself sat on a run queue
 * (run_delay of /proc/self/schedstat) meanwhile, so that a reader starved of
 * CPU by other load is not taken for a filesystem that hangs. Both figures
 * are reported.
 *
 * The loop ends after S seconds (default 5), N operations, or once PATH
 * exists (checked before each operation), whichever first. Prints on stdout:
 *   [TAG ]ops=N errors=N short=N wrong=N host=N slow=N max_ms=F max_at=HH:MM:SS.mmm
 *         max_wait_ms=F per_file=meminfo:N,cpuinfo:N,...[ back=N backmax=N]
 * max_ms is the longest operation; max_wait_ms the longest wait for the
 * filesystem (the operation less the reader's own run-queue delay). With
 * --monotonic, back is the number of reads in which some counter went
 * backwards and backmax the largest step back seen.
 * The first problems go to stderr with the wall-clock time they happened.
 * Exits 0 only when there was at least one operation and no problem of any
 * kind; 1 otherwise; 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES  16
#define REPORT_MAX 8 /* problems printed in detail */

enum kind { K_OTHER, K_MEMINFO, K_CPUINFO, K_STAT, K_UPTIME };

struct file {
	const char *path;
	enum kind kind;
	long lines; /* line count of its first good read; -1 until then */
	unsigned long ops;
	/* --monotonic: the cpu lines of the last good stat read, STAT_FIELDS each */
	unsigned long long *prev;
	long prev_lines;
};

struct opts {
	double seconds;
	unsigned long count;
	const char *stop_file;
	double slow_ms;
	long long mem_total, also_total, mem_lines, cpus; /* -1: not checked */
	size_t chunk;                                     /* bytes per read(2) */
	bool monotonic;
	const char *tag;
};

static struct {
	unsigned long ops, errors, shorts, wrong, host, slow, reported;
	unsigned long back;         /* --monotonic: reads where a counter went backwards */
	unsigned long long backmax; /* the largest step back */
	double max_ms, max_wait_ms;
	char max_at[32];
} st;

static int schedstat_fd = -1;

/* This process's time spent runnable but not running, in ms (0 if unknown). */
static double run_delay_ms(void)
{
	char buf[128];
	ssize_t n;

	if (schedstat_fd < 0)
		return 0;
	n = pread(schedstat_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "sum_exec_runtime run_delay pcount", in ns */
	return (double)strtoull(strchr(buf, ' ') ? strchr(buf, ' ') + 1 : "0", NULL, 10) / 1e6;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void wall_clock(char *out, size_t size)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	snprintf(out, size, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (long)(tv.tv_usec / 1000));
}

static void report(const struct opts *o, const struct file *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(const struct opts *o, const struct file *f, const char *fmt, ...)
{
	char when[32];
	va_list ap;

	if (st.reported++ >= REPORT_MAX)
		return;
	wall_clock(when, sizeof(when));
	fprintf(stderr, "filecheck%s%s: %s op %lu %s: ", o->tag ? " " : "", o->tag ? o->tag : "",
	        when, st.ops, f->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Outcome of a check. */
enum verdict { OK, SHORT, WRONG, HOST };

static long count_lines(const char *t, size_t len)
{
	long n = 0;

	for (size_t i = 0; i < len; i++)
		n += t[i] == '\n';
	return n;
}

/* Value of the meminfo line starting with label ("MemFree:"), or -1. */
static long long meminfo_value(const char *t, const char *label)
{
	size_t ll = strlen(label);

	for (const char *p = t; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, label, ll) == 0) {
			char *e;
			long long v = strtoll(p + ll, &e, 10);

			return e == p + ll ? -1 : v;
		}
	return -1;
}

/* "Label:   123 kB" or "Label:   123": label chars, ':', spaces, digits, optional " kB". */
static bool meminfo_line_ok(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q != ':' && *q != ' ')
		q++;
	if (q == p || q == end || *q != ':')
		return false;
	q++;
	if (q == end || *q != ' ')
		return false;
	while (q < end && *q == ' ')
		q++;
	if (q == end || *q < '0' || *q > '9')
		return false;
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	return q == end || (end - q == 3 && memcmp(q, " kB", 3) == 0);
}

static enum verdict check_meminfo(const struct opts *o, struct file *f, const char *t, size_t len)
{
	long long total, mfree;
	long lines = count_lines(t, len), want;

	if (strncmp(t, "MemTotal:", 9) != 0) {
		report(o, f, "does not start with MemTotal: (%zu bytes: \"%.30s\")", len, t);
		return len < 9 ? SHORT : WRONG;
	}
	for (const char *p = t; p < t + len;) {
		const char *nl = memchr(p, '\n', (size_t)(t + len - p));

		if (!meminfo_line_ok(p, nl)) {
			report(o, f, "malformed line \"%.*s\"", (int)(nl - p > 60 ? 60 : nl - p),
			       p);
			return WRONG;
		}
		p = nl + 1;
	}
	total = meminfo_value(t, "MemTotal:");
	mfree = meminfo_value(t, "MemFree:");
	if (o->also_total >= 0 && total == o->also_total && total != o->mem_total) {
		report(o, f, "MemTotal %lld kB: the host's, not the container's %lld kB", total,
		       o->mem_total);
		return HOST;
	}
	if (o->mem_total >= 0 && total != o->mem_total) {
		report(o, f, "MemTotal %lld kB, expected %lld kB", total, o->mem_total);
		return WRONG;
	}
	if (mfree < 0 || mfree > total) {
		report(o, f, "MemFree %lld kB missing or above MemTotal %lld kB", mfree, total);
		return mfree < 0 ? SHORT : WRONG;
	}
	want = o->mem_lines >= 0 ? o->mem_lines : f->lines;
	if (want >= 0 && lines != want) {
		report(o, f, "%ld lines, expected %ld (%zu bytes)", lines, want, len);
		return lines < want ? SHORT : WRONG;
	}
	f->lines = lines;
	return OK;
}

static enum verdict check_cpuinfo(const struct opts *o, struct file *f, const char *t, size_t len)
{
	long n = 0, lines = count_lines(t, len);

	if (strncmp(t, "processor", 9) != 0) {
		report(o, f, "does not start with processor (\"%.30s\")", t);
		return WRONG;
	}
	for (const char *p = t; p && p < t + len; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *c;

		if (strncmp(p, "processor", 9) != 0 || (p[9] != '\t' && p[9] != ' '))
			continue;
		c = strchr(p, ':');
		if (!c || strtol(c + 1, NULL, 10) != n) {
			report(o, f, "processor block %ld numbered \"%.20s\"", n, p);
			return WRONG;
		}
		n++;
	}
	if (o->cpus >= 0 && n != o->cpus) {
		report(o, f, "%ld processor blocks, expected %lld", n, o->cpus);
		return n < o->cpus ? SHORT : WRONG;
	}
	if (f->lines >= 0 && lines != f->lines) {
		report(o, f, "%ld lines, the first read had %ld", lines, f->lines);
		return lines < f->lines ? SHORT : WRONG;
	}
	f->lines = lines;
	return OK;
}

#define STAT_FIELDS 10

/* Parse up to STAT_FIELDS numbers after the label of a cpu line; returns how many. */
static int stat_fields(const char *p, unsigned long long *v)
{
	int n = 0;

	p = strchr(p, ' ');
	while (p && *p == ' ' && n < STAT_FIELDS) {
		char *e;

		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			break;
		v[n++] = strtoull(p, &e, 10);
		p = e;
	}
	return n;
}

/*
 * --monotonic: compare the cpu lines of t (a whole stat, already checked)
 * with the previous read of f, then keep them for the next. A read whose
 * cpu lines are not the previous read's (another count) is only kept.
 */
static void check_stat_monotonic(const struct opts *o, struct file *f, const char *t, size_t len)
{
	unsigned long long *cur;
	long n = 0, lines = 0;
	bool back = false;

	for (const char *p = t; p && p < t + len; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		lines += strncmp(p, "cpu", 3) == 0;
	cur = calloc((size_t)lines * STAT_FIELDS + 1, sizeof(*cur));
	if (!cur) {
		fprintf(stderr, "filecheck: out of memory\n");
		exit(3);
	}
	for (const char *p = t; p && p < t + len && n < lines;
	     p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, "cpu", 3) == 0)
			stat_fields(p, cur + (size_t)n++ * STAT_FIELDS);
	if (f->prev && f->prev_lines == lines) {
		for (long l = 0; l < lines; l++)
			for (int i = 0; i < STAT_FIELDS; i++) {
				unsigned long long a = f->prev[l * STAT_FIELDS + i];
				unsigned long long b = cur[l * STAT_FIELDS + i];

				if (b >= a)
					continue;
				if (!back && l == 0)
					report(o, f, "cpu field %d went back from %llu to %llu",
					       i + 1, a, b);
				else if (!back)
					report(o, f,
					       "cpuN line %ld field %d went back from %llu to %llu",
					       l, i + 1, a, b);
				back = true;
				if (a - b > st.backmax)
					st.backmax = a - b;
			}
	}
	st.back += back;
	free(f->prev);
	f->prev = cur;
	f->prev_lines = lines;
}

static enum verdict check_stat(const struct opts *o, struct file *f, const char *t, size_t len)
{
	static const char *const need[] = {"intr ",      "ctxt ",          "btime ",
	                                   "processes ", "procs_running ", "procs_blocked "};
	unsigned long long total[STAT_FIELDS] = {0}, sum[STAT_FIELDS] = {0}, v[STAT_FIELDS];
	int nfields, seen = 0;
	long ncpu = 0, last = -1;

	if (strncmp(t, "cpu  ", 5) != 0) {
		report(o, f, "does not start with \"cpu  \" (\"%.30s\")", t);
		return len < 5 ? SHORT : WRONG;
	}
	nfields = stat_fields(t, total);
	if (nfields < 4) {
		report(o, f, "first line has %d fields", nfields);
		return WRONG;
	}
	for (const char *p = t; p && p < t + len; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "cpu", 3) == 0 && p[3] >= '0' && p[3] <= '9') {
			long num = strtol(p + 3, NULL, 10);

			if (num <= last) {
				report(o, f, "cpu line %ld is \"%.20s\" after cpu%ld", ncpu, p,
				       last);
				return WRONG;
			}
			last = num;
			if (stat_fields(p, v) != nfields) {
				report(o, f, "\"%.20s\" has not %d fields", p, nfields);
				return WRONG;
			}
			for (int i = 0; i < nfields; i++)
				sum[i] += v[i];
			ncpu++;
		}
		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
			if (strncmp(p, need[i], strlen(need[i])) == 0)
				seen |= 1 << i;
	}
	if (o->cpus >= 0 && ncpu != o->cpus) {
		report(o, f, "%ld cpuN lines, expected %lld", ncpu, o->cpus);
		return ncpu < o->cpus ? SHORT : WRONG;
	}
	for (int i = 0; i < nfields; i++)
		if (sum[i] != total[i]) {
			report(o, f, "field %d of \"cpu\" is %llu, the cpuN lines sum to %llu",
			       i + 1, total[i], sum[i]);
			return WRONG;
		}
	if (seen != (1 << (sizeof(need) / sizeof(need[0]))) - 1) {
		report(o, f, "lacks one of intr, ctxt, btime, processes, procs_* (mask %#x)", seen);
		return SHORT;
	}
	if (o->monotonic)
		check_stat_monotonic(o, f, t, len);
	return OK;
}

static bool two_decimals(const char **pp, char stop)
{
	const char *p = *pp;
	int digits = 0;

	while (*p >= '0' && *p <= '9')
		p++, digits++;
	if (!digits || *p++ != '.')
		return false;
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] != stop)
		return false;
	*pp = p + 3;
	return true;
}

static enum verdict check_uptime(const struct opts *o, struct file *f, const char *t, size_t len)
{
	const char *p = t;

	if (!two_decimals(&p, ' ') || !two_decimals(&p, '\n') || (size_t)(p - t) != len) {
		report(o, f, "not \"<float> <float>\\n\": \"%.40s\"", t);
		return WRONG;
	}
	return OK;
}

static enum verdict check_text(const struct opts *o, struct file *f, const char *t, size_t len)
{
	if (len == 0) {
		report(o, f, "empty read");
		return SHORT;
	}
	if (t[len - 1] != '\n') {
		report(o, f, "no final newline (%zu bytes, ends \"%.20s\")", len,
		       len > 20 ? t + len - 20 : t);
		return SHORT;
	}
	if (memchr(t, '\0', len)) {
		report(o, f, "NUL byte in %zu bytes", len);
		return WRONG;
	}
	switch (f->kind) {
	case K_MEMINFO:
		return check_meminfo(o, f, t, len);
	case K_CPUINFO:
		return check_cpuinfo(o, f, t, len);
	case K_STAT:
		return check_stat(o, f, t, len);
	case K_UPTIME:
		return check_uptime(o, f, t, len);
	default:
		return OK;
	}
}

/* One open, read until EOF, close; the text is NUL-terminated in *bufp. */
static void one_op(const struct opts *o, struct file *f, char **bufp, size_t *capp)
{
	double t0 = mono_ms(), d0 = run_delay_ms(), ms, wait_ms;
	size_t len = 0;
	bool failed = false;
	int fd;

	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		report(o, f, "open: %s", strerror(errno));
		failed = true;
	}
	while (fd >= 0) {
		ssize_t n;

		if (*capp - len < 65536 + 1) {
			size_t ncap = *capp * 2 + 65536 + 1;
			char *nb = realloc(*bufp, ncap);

			if (!nb) {
				fprintf(stderr, "filecheck: out of memory\n");
				exit(3);
			}
			*bufp = nb;
			*capp = ncap;
		}
		n = read(fd, *bufp + len, o->chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			report(o, f, "read at offset %zu: %s", len, strerror(errno));
			failed = true;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (fd >= 0 && close(fd) < 0) {
		report(o, f, "close: %s", strerror(errno));
		failed = true;
	}
	ms = mono_ms() - t0;
	wait_ms = ms - (run_delay_ms() - d0);
	if (ms > st.max_ms) {
		st.max_ms = ms;
		wall_clock(st.max_at, sizeof(st.max_at));
	}
	if (wait_ms > st.max_wait_ms)
		st.max_wait_ms = wait_ms;
	if (o->slow_ms > 0 && wait_ms > o->slow_ms) {
		st.slow++;
		report(o, f, "kept the reader waiting %.1f ms (took %.1f ms; bound %.0f ms)",
		       wait_ms, ms, o->slow_ms);
	}
	f->ops++;
	st.ops++;
	if (failed) {
		st.errors++;
		return;
	}
	(*bufp)[len] = '\0';
	switch (check_text(o, f, *bufp, len)) {
	case SHORT:
		st.shorts++;
		break;
	case WRONG:
		st.wrong++;
		break;
	case HOST:
		st.host++;
		break;
	default:
		break;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: filecheck [--seconds S] [--count N] [--stop-file PATH] "
	                "[--slow-ms MS] [--mem-total KB] [--also-total KB] [--mem-lines N] "
	                "[--cpus N] [--chunk BYTES] [--monotonic] [--tag TEXT] FILE...\n");
	exit(2);
}

static double parse_num(const char *s)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (errno || e == s || *e || v < 0)
		usage();
	return v;
}

static enum kind kind_of(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (strcmp(base, "meminfo") == 0)
		return K_MEMINFO;
	if (strcmp(base, "cpuinfo") == 0)
		return K_CPUINFO;
	if (strcmp(base, "stat") == 0)
		return K_STAT;
	if (strcmp(base, "uptime") == 0)
		return K_UPTIME;
	return K_OTHER;
}

int main(int argc, char **argv)
{
	struct opts o = {
	    .seconds = 5, .mem_total = -1, .also_total = -1, .mem_lines = -1, .cpus = -1,
	    .chunk = 65536};
	struct file files[MAX_FILES];
	int nfiles = 0;
	char *buf = NULL;
	size_t cap = 0;
	double deadline;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--monotonic") == 0) {
			o.monotonic = true;
		} else if (a[0] == '-' && a[1] == '-') {
			const char *v;

			if (i + 1 >= argc)
				usage();
			v = argv[++i];
			if (strcmp(a, "--seconds") == 0)
				o.seconds = parse_num(v);
			else if (strcmp(a, "--count") == 0)
				o.count = (unsigned long)parse_num(v);
			else if (strcmp(a, "--stop-file") == 0)
				o.stop_file = v;
			else if (strcmp(a, "--slow-ms") == 0)
				o.slow_ms = parse_num(v);
			else if (strcmp(a, "--mem-total") == 0)
				o.mem_total = (long long)parse_num(v);
			else if (strcmp(a, "--also-total") == 0)
				o.also_total = (long long)parse_num(v);
			else if (strcmp(a, "--mem-lines") == 0)
				o.mem_lines = (long long)parse_num(v);
			else if (strcmp(a, "--cpus") == 0)
				o.cpus = (long long)parse_num(v);
			else if (strcmp(a, "--chunk") == 0)
				o.chunk = (size_t)parse_num(v);
			else if (strcmp(a, "--tag") == 0)
				o.tag = v;
			else
				usage();
		} else if (a[0] == '-' || nfiles == MAX_FILES) {
			usage();
		} else {
			files[nfiles++] = (struct file){.path = a, .kind = kind_of(a), .lines = -1};
		}
	}
	if (nfiles == 0 || o.chunk < 1 || o.chunk > 65536)
		usage();

	schedstat_fd = open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC);
	deadline = mono_ms() + o.seconds * 1e3;
	strcpy(st.max_at, "-");
	for (int i = 0;; i = (i + 1) % nfiles) {
		if (o.count && st.ops >= o.count)
			break;
		if (mono_ms() >= deadline)
			break;
		if (o.stop_file && access(o.stop_file, F_OK) == 0)
			break;
		one_op(&o, &files[i], &buf, &cap);
	}

	if (st.reported > REPORT_MAX)
		fprintf(stderr, "filecheck%s%s: %lu more problems not shown\n", o.tag ? " " : "",
		        o.tag ? o.tag : "", st.reported - REPORT_MAX);
	printf("%s%sops=%lu errors=%lu short=%lu wrong=%lu host=%lu slow=%lu max_ms=%.1f "
	       "max_at=%s max_wait_ms=%.1f per_file=",
	       o.tag ? o.tag : "", o.tag ? " " : "", st.ops, st.errors, st.shorts, st.wrong,
	       st.host, st.slow, st.max_ms, st.max_at, st.max_wait_ms);
	for (int i = 0; i < nfiles; i++) {
		const char *base = strrchr(files[i].path, '/');

		printf("%s%s:%lu", i ? "," : "", base ? base + 1 : files[i].path, files[i].ops);
		free(files[i].prev);
	}
	if (o.monotonic)
		printf(" back=%lu backmax=%llu", st.back, st.backmax);
	printf("\n");
	free(buf);
	return st.ops && !st.errors && !st.shorts && !st.wrong && !st.host && !st.slow && !st.back
	           ? 0
	           : 1;
}
