/*
 * /proc/diskstats for one container: the host's devices, with the figures the
 * container's blkio / io cgroup accounted for each.
 *
 * Compared with upstream LXCFS (src/proc_fuse.c, proc_diskstats_read, read in
 * a 6.x tree): upstream fills the same fields from the same v1 files (see
 * struct io_dev_stats) and prints in-flight and weighted time as 0. It then
 * prints 14 figures, the last three being discards merged, sectors and time,
 * so a tool reading field 12 as "discards completed" gets the merge count; we
 * print the fields where the kernel does, as many as the host's own line has.
 * Upstream pads "%u       %u"; we use the kernel's "%4u %7u" so lines look
 * like the host's. Like upstream, a device with nothing to show is left out.
 * Upstream has no v2 source (its blkio files do not exist there) and shows
 * the host's file; we read io.stat (SPEC: beyond).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proc_render/misc.h"

/* Fields after the name: 11 classic, 15 with discards (4.18), 17 with flushes (5.5). */
#define DISKSTATS_MIN_FIELDS 11
#define DISKSTATS_OUR_FIELDS 17
/* A line with more figures than this is not one the kernel wrote. */
#define DISKSTATS_MAX_FIELDS 64

struct ds_out {
	char *buf;
	size_t size;
	size_t len;
	bool full;
};

static void out_put(struct ds_out *out, const char *s, size_t n)
{
	if (out->full || n > out->size - out->len) {
		out->full = true;
		return;
	}
	memcpy(out->buf + out->len, s, n);
	out->len += n;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Parse an unsigned decimal at *p (no sign); advances *p. */
static bool parse_uint(const char **p, const char *end, unsigned int *v)
{
	unsigned long long x = 0;
	const char *s = *p;

	if (s == end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		x = x * 10 + (unsigned)(*s - '0');
		if (x > 0xFFFFFFFFULL)
			return false;
	}
	*p = s;
	*v = (unsigned int)x;
	return true;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p;
}

/*
 * Split a host line into major, minor, name and the number of figures after
 * the name. False for a line that does not have the kernel's shape.
 */
static bool host_line(const char *p, const char *end, unsigned int *major, unsigned int *minor,
                      const char **name, size_t *name_len, unsigned int *nfields)
{
	unsigned int n = 0;

	p = skip_blanks(p, end);
	if (!parse_uint(&p, end, major) || p == end || !is_blank(*p))
		return false;
	p = skip_blanks(p, end);
	if (!parse_uint(&p, end, minor) || p == end || !is_blank(*p))
		return false;
	p = skip_blanks(p, end);
	*name = p;
	while (p < end && !is_blank(*p))
		p++;
	*name_len = (size_t)(p - *name);
	if (*name_len == 0)
		return false;
	for (;;) {
		p = skip_blanks(p, end);
		if (p == end)
			break;
		while (p < end && !is_blank(*p))
			p++;
		n++;
	}
	*nfields = n;
	return true;
}

static const struct io_dev_stats *dev_find(const struct io_dev_stats *devs, size_t ndevs,
                                           unsigned int major, unsigned int minor)
{
	for (size_t i = 0; i < ndevs; i++)
		if (devs[i].major == major && devs[i].minor == minor)
			return &devs[i];
	return NULL;
}

static bool dev_is_idle(const struct io_dev_stats *d)
{
	return !(d->rios | d->wios | d->dios | d->rbytes | d->wbytes | d->dbytes | d->rmerged |
	         d->wmerged | d->dmerged | d->rticks_ms | d->wticks_ms | d->dticks_ms |
	         d->io_ticks_ms);
}

static void out_dev(struct ds_out *out, const struct io_dev_stats *d, const char *name,
                    size_t name_len, unsigned int nfields)
{
	/* In the kernel's order (Documentation/admin-guide/iostats.rst). */
	const uint64_t f[DISKSTATS_OUR_FIELDS] = {
	    d->rios,
	    d->rmerged,
	    d->rbytes / 512,
	    d->rticks_ms,
	    d->wios,
	    d->wmerged,
	    d->wbytes / 512,
	    d->wticks_ms,
	    0 /* in flight */,
	    d->io_ticks_ms,
	    0 /* weighted time */,
	    d->dios,
	    d->dmerged,
	    d->dbytes / 512,
	    d->dticks_ms,
	    0 /* flushes */,
	    0 /* time flushing */,
	};
	char num[32];
	int n;

	n = snprintf(num, sizeof(num), "%4u %7u ", d->major, d->minor);
	out_put(out, num, (size_t)n);
	out_put(out, name, name_len);
	for (unsigned int i = 0; i < nfields; i++) {
		n = snprintf(num, sizeof(num), " %" PRIu64, i < DISKSTATS_OUR_FIELDS ? f[i] : 0);
		out_put(out, num, (size_t)n);
	}
	out_put(out, "\n", 1);
}

ssize_t render_diskstats(const char *host, size_t len, const struct io_dev_stats *devs,
                         size_t ndevs, char *buf, size_t size)
{
	struct ds_out out = {.buf = buf, .size = size};
	const char *p = host, *end = host ? host + len : NULL;

	if (!host || (!devs && ndevs))
		return -EINVAL;

	while (p < end && !out.full) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const struct io_dev_stats *d;
		unsigned int major, minor, nfields;
		const char *name;
		size_t name_len;

		if (host_line(p, le, &major, &minor, &name, &name_len, &nfields) &&
		    nfields <= DISKSTATS_MAX_FIELDS) {
			d = dev_find(devs, ndevs, major, minor);
			if (d && !dev_is_idle(d))
				out_dev(&out, d, name, name_len,
				        nfields < DISKSTATS_MIN_FIELDS ? DISKSTATS_MIN_FIELDS
				                                       : nfields);
		}
		p = le + 1;
	}
	return out.full ? -ENOSPC : (ssize_t)out.len;
}
