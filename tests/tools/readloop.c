/*
 * readloop: read a meminfo file over and over and check that every read is whole.
 *
 *   readloop [--seconds S] [--count N] [--expect-total KB] [--also-total KB]
 *            [--chunk N] [--pread-offset OFF] [--verbose] FILE
 *
 * Each operation is open, read until EOF, close. The text read must be a
 * complete meminfo: it starts with "MemTotal:", ends with '\n', has the MemTotal
 * given by --expect-total (when given), has a MemFree line with
 * MemFree <= MemTotal, and has as many lines as the first good read.
 *
 * --also-total KB accepts a second MemTotal (e.g. the host's, which the daemon
 * may serve when it has nothing better) and counts those reads apart.
 *
 * --chunk N reads N bytes per read(2) and reassembles (default 64 KiB).
 * --pread-offset OFF makes the first read of every open a pread at OFF; the
 * bytes it returned must match the same range of the whole text read after it
 * through the same open file. That text comes from a new rendering (a read at
 * offset 0 renders afresh), so values may differ: digits and spaces (values
 * are right-aligned) may stand for each other, everything else must be equal
 * (a wrong offset shifts the labels).
 *
 * The loop ends after S seconds (default 5) or N operations, whichever first.
 * Prints "ops=N errors=N bad=N" on stdout (then " also=N" with --also-total); the first few
 * problems, and errors per errno, go to stderr. Exits 0 only when every operation succeeded and
 * every read was whole; 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REPORT_MAX  5 /* problems printed in detail */
#define ERRNO_SLOTS 8 /* distinct errnos counted */

struct errno_count {
	int err;
	unsigned long n;
};

struct loop_stats {
	unsigned long ops, errors, bad, reported;
	unsigned long also; /* reads with the --also-total MemTotal */
	struct errno_count by_errno[ERRNO_SLOTS];
	long first_lines; /* line count of the first good read, -1 until then */
};

struct loop_opts {
	double seconds;
	unsigned long count;    /* 0: no limit */
	long long expect_total; /* kB, -1: not checked */
	long long also_total;   /* kB also accepted, counted apart; -1: none */
	size_t chunk;
	off_t pread_offset; /* 0: none */
	bool verbose;
	const char *path;
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_errno(struct loop_stats *st, int err)
{
	int i;

	st->errors++;
	for (i = 0; i < ERRNO_SLOTS; i++) {
		if (st->by_errno[i].n == 0)
			st->by_errno[i].err = err;
		if (st->by_errno[i].err == err) {
			st->by_errno[i].n++;
			return;
		}
	}
}

static void report(struct loop_stats *st, const char *fmt, ...)
{
	va_list ap;

	if (st->reported++ >= REPORT_MAX)
		return;
	fprintf(stderr, "readloop: op %lu: ", st->ops);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Value in kB of the line starting with label (e.g. "MemFree:"), or -1. */
static long long field_kb(const char *text, size_t len, const char *label)
{
	size_t ll = strlen(label);
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t linelen = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (linelen > ll && memcmp(p, label, ll) == 0) {
			char tmp[64];
			size_t n = linelen - ll < sizeof(tmp) - 1 ? linelen - ll : sizeof(tmp) - 1;
			char *e;
			long long v;

			memcpy(tmp, p + ll, n);
			tmp[n] = '\0';
			errno = 0;
			v = strtoll(tmp, &e, 10);
			if (errno || e == tmp || v < 0)
				return -1;
			return v;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return -1;
}

static long count_lines(const char *text, size_t len)
{
	long n = 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (text[i] == '\n')
			n++;
	return n;
}

/* Index of the first byte where a and b differ other than by a digit or a space
 * standing for another (values change and are right-aligned in their field),
 * or n when there is none. */
static size_t diff_but_values(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		bool da = (a[i] >= '0' && a[i] <= '9') || a[i] == ' ';
		bool db = (b[i] >= '0' && b[i] <= '9') || b[i] == ' ';

		if (a[i] != b[i] && !(da && db))
			return i;
	}
	return n;
}

/* Copies up to 40 bytes of s into out (size 160+) with \n and \t escaped. */
static const char *escaped(const char *s, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n && i < 40; i++) {
		if (s[i] == '\n' || s[i] == '\t') {
			out[o++] = '\\';
			out[o++] = s[i] == '\n' ? 'n' : 't';
		} else if ((unsigned char)s[i] < 32 || (unsigned char)s[i] > 126) {
			o += (size_t)sprintf(out + o, "\\x%02x", (unsigned char)s[i]);
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

/* Checks one whole text; returns true when it is a complete meminfo. */
static bool check_text(const struct loop_opts *o, struct loop_stats *st, const char *text,
                       size_t len)
{
	long long total, memfree;
	long lines;

	if (len == 0) {
		report(st, "empty read");
		return false;
	}
	if (len < 9 || memcmp(text, "MemTotal:", 9) != 0) {
		report(st, "does not start with MemTotal: (%zu bytes: \"%.40s\")", len, text);
		return false;
	}
	if (text[len - 1] != '\n') {
		report(st, "does not end with a newline (%zu bytes, ends \"%.20s\")", len,
		       len > 20 ? text + len - 20 : text);
		return false;
	}
	if (memchr(text, '\0', len)) {
		report(st, "NUL byte in the text (%zu bytes)", len);
		return false;
	}
	total = field_kb(text, len, "MemTotal:");
	if (total < 0) {
		report(st, "MemTotal unreadable");
		return false;
	}
	if (o->also_total >= 0 && total == o->also_total && total != o->expect_total) {
		st->also++;
	} else if (o->expect_total >= 0 && total != o->expect_total) {
		report(st, "MemTotal %lld kB, expected %lld kB", total, o->expect_total);
		return false;
	}
	memfree = field_kb(text, len, "MemFree:");
	if (memfree < 0) {
		report(st, "no MemFree line (%zu bytes)", len);
		return false;
	}
	if (memfree > total) {
		report(st, "MemFree %lld kB > MemTotal %lld kB", memfree, total);
		return false;
	}
	lines = count_lines(text, len);
	if (st->first_lines < 0) {
		st->first_lines = lines;
	} else if (lines != st->first_lines) {
		report(st, "%ld lines, the first good read had %ld (%zu bytes)", lines,
		       st->first_lines, len);
		return false;
	}
	return true;
}

/* One open/read-until-EOF/close. Returns false on any error or bad text. */
static bool one_op(const struct loop_opts *o, struct loop_stats *st, char **bufp, size_t *capp,
                   char *head)
{
	size_t len = 0;
	ssize_t head_len = -1;
	bool ok = true;
	int fd;

	fd = open(o->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		count_errno(st, err);
		report(st, "open %s: %s", o->path, strerror(err));
		return false;
	}
	if (o->pread_offset > 0) {
		do
			head_len = pread(fd, head, o->chunk, o->pread_offset);
		while (head_len < 0 && errno == EINTR);
		if (head_len < 0) {
			int err = errno;

			count_errno(st, err);
			report(st, "pread at %lld: %s", (long long)o->pread_offset, strerror(err));
			close(fd);
			return false;
		}
	}
	for (;;) {
		size_t want;
		ssize_t n;

		if (*capp - len < o->chunk) {
			size_t ncap = *capp * 2 + o->chunk;
			char *nb = realloc(*bufp, ncap);

			if (!nb) {
				fprintf(stderr, "readloop: out of memory\n");
				exit(3);
			}
			*bufp = nb;
			*capp = ncap;
		}
		want = o->chunk;
		/* Offsets are implicit: read(2) continues where the last one ended. */
		n = read(fd, *bufp + len, want);
		if (n < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			count_errno(st, err);
			report(st, "read at offset %zu: %s", len, strerror(err));
			ok = false;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (close(fd) < 0) {
		int err = errno;

		count_errno(st, err);
		report(st, "close: %s", strerror(err));
		ok = false;
	}
	if (!ok)
		return false;
	if (!check_text(o, st, *bufp, len)) {
		st->bad++;
		return false;
	}
	if (head_len >= 0) {
		size_t off = (size_t)o->pread_offset;
		size_t expect_len = off >= len ? 0 : len - off;
		size_t common, at;

		if (expect_len > o->chunk)
			expect_len = o->chunk;
		common = expect_len < (size_t)head_len ? expect_len : (size_t)head_len;
		at = diff_but_values(head, *bufp + off, common);

		if ((size_t)head_len != expect_len || at < expect_len) {
			char e1[200], e2[200];

			st->bad++;
			if ((size_t)head_len != expect_len)
				at = 0;
			report(st,
			       "pread at %zu returned %zd bytes, the whole text read next has "
			       "%zu there; they differ at +%zu: \"%s\" vs \"%s\"",
			       off, head_len, expect_len, at,
			       escaped(head + at, (size_t)head_len - at, e1),
			       escaped(*bufp + off + at, expect_len - at, e2));
			return false;
		}
	}
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: readloop [--seconds S] [--count N] [--expect-total KB] "
	                "[--also-total KB] [--chunk N] [--pread-offset OFF] [--verbose] FILE\n");
	exit(2);
}

static long long parse_num(const char *s, const char *what)
{
	char *e;
	long long v;

	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno || e == s || *e || v < 0) {
		fprintf(stderr, "readloop: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct loop_opts o = {
	    .seconds = 5,
	    .count = 0,
	    .expect_total = -1,
	    .also_total = -1,
	    .chunk = 65536,
	    .pread_offset = 0,
	};
	struct loop_stats st = {.first_lines = -1};
	char *buf = NULL, *head;
	size_t cap = 0;
	double deadline;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--verbose") == 0) {
			o.verbose = true;
		} else if (a[0] == '-' && a[1] == '-' && i + 1 < argc) {
			const char *v = argv[++i];

			if (strcmp(a, "--seconds") == 0) {
				char *e;

				o.seconds = strtod(v, &e);
				if (e == v || *e || o.seconds < 0)
					usage();
			} else if (strcmp(a, "--count") == 0) {
				o.count = (unsigned long)parse_num(v, a);
			} else if (strcmp(a, "--expect-total") == 0) {
				o.expect_total = parse_num(v, a);
			} else if (strcmp(a, "--also-total") == 0) {
				o.also_total = parse_num(v, a);
			} else if (strcmp(a, "--chunk") == 0) {
				o.chunk = (size_t)parse_num(v, a);
				if (o.chunk == 0)
					usage();
			} else if (strcmp(a, "--pread-offset") == 0) {
				o.pread_offset = (off_t)parse_num(v, a);
			} else {
				usage();
			}
		} else if (a[0] == '-' || o.path) {
			usage();
		} else {
			o.path = a;
		}
	}
	if (!o.path)
		usage();

	head = malloc(o.chunk);
	if (!head) {
		fprintf(stderr, "readloop: out of memory\n");
		return 3;
	}
	deadline = now_seconds() + o.seconds;
	do {
		one_op(&o, &st, &buf, &cap, head);
		st.ops++;
	} while ((o.count == 0 || st.ops < o.count) && now_seconds() < deadline);

	for (i = 0; i < ERRNO_SLOTS && st.by_errno[i].n; i++)
		fprintf(stderr, "readloop: %lu errors %s (errno %d)\n", st.by_errno[i].n,
		        strerror(st.by_errno[i].err), st.by_errno[i].err);
	if (st.reported > REPORT_MAX)
		fprintf(stderr, "readloop: %lu more problems not shown\n",
		        st.reported - REPORT_MAX);
	if (o.verbose)
		fprintf(stderr, "readloop: %s: %ld lines per read\n", o.path, st.first_lines);
	printf("ops=%lu errors=%lu bad=%lu", st.ops, st.errors, st.bad);
	if (o.also_total >= 0)
		printf(" also=%lu", st.also);
	printf("\n");
	free(buf);
	free(head);
	return st.errors || st.bad || st.ops == 0 ? 1 : 0;
}
