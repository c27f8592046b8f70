/*
 * Which cgroup hierarchy holds each controller, from mountinfo.
 *
 * mountinfo(5): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE
 * SOURCE SUPEROPTS", fields separated by single spaces, with space, tab,
 * newline and backslash in paths written as octal escapes (\040 ...).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workers/cgroup.h"
#include "workers/procfs.h"

/* Fields before "-" are at least 6 plus optional ones; more than this is not mountinfo. */
#define MI_MAX_FIELDS 64

struct mi_field {
	const char *s;
	size_t len;
};

/* As the kernel names them in /proc/<pid>/cgroup and v1 super options. */
static const char *const cg_ctrl_names[CG_NCTRL] = {
    [CG_MEMORY] = "memory",   /* v2: memory */
    [CG_CPU] = "cpu",         /* v2: cpu */
    [CG_CPUACCT] = "cpuacct", /* v2: folded into cpu (cpu.stat) */
    [CG_CPUSET] = "cpuset",   /* v2: cpuset */
    [CG_BLKIO] = "blkio",     /* v2: io */
};

const char *cg_ctrl_name(enum cg_ctrl c)
{
	if ((unsigned int)c >= CG_NCTRL)
		return NULL;
	return cg_ctrl_names[c];
}

static bool mi_field_is(const struct mi_field *f, const char *s)
{
	return f->len == strlen(s) && memcmp(f->s, s, f->len) == 0;
}

static bool mi_field_is_number(const struct mi_field *f)
{
	if (f->len == 0)
		return false;
	for (size_t i = 0; i < f->len; i++)
		if (!isdigit((unsigned char)f->s[i]))
			return false;
	return true;
}

/* Copy a path field, undoing the kernel's octal escapes. -ENAMETOOLONG if it does not fit. */
static int mi_unescape(const struct mi_field *f, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < f->len; i++) {
		char ch = f->s[i];

		if (ch == '\\' && i + 3 < f->len && f->s[i + 1] >= '0' && f->s[i + 1] <= '3' &&
		    f->s[i + 2] >= '0' && f->s[i + 2] <= '7' && f->s[i + 3] >= '0' &&
		    f->s[i + 3] <= '7') {
			ch = (char)(((f->s[i + 1] - '0') << 6) | ((f->s[i + 2] - '0') << 3) |
			            (f->s[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= size)
			return -ENAMETOOLONG;
		out[o++] = ch;
	}
	out[o] = '\0';
	return 0;
}

/* Does the comma-separated option list hold exactly the token name? */
static bool mi_opts_have(const struct mi_field *opts, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = opts->s, *end = opts->s + opts->len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t tlen = comma ? (size_t)(comma - p) : (size_t)(end - p);

		if (tlen == nlen && memcmp(p, name, nlen) == 0)
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

/*
 * Record a mount for a hierarchy. The first mount seen wins, except that a
 * mount of the whole hierarchy (root "/") replaces an earlier bind mount of a
 * subtree: paths in /proc/<pid>/cgroup are only all reachable through the former.
 */
static void mi_set_hier(struct cg_hier *h, int version, const struct mi_field *root,
                        const struct mi_field *mnt)
{
	struct cg_hier tmp = {.present = true, .version = version};

	if (h->present && (strcmp(h->root, "/") == 0 || !mi_field_is(root, "/")))
		return;
	if (mi_unescape(root, tmp.root, sizeof(tmp.root)) < 0 ||
	    mi_unescape(mnt, tmp.mount, sizeof(tmp.mount)) < 0)
		return; /* a path we could not open anyway: skip this mount */
	*h = tmp;
}

/* Split one line into space-separated fields. Returns the count or -EINVAL. */
static int mi_split(const char *s, const char *end, struct mi_field *f, int max)
{
	int n = 0;

	while (s < end) {
		const char *sp = memchr(s, ' ', (size_t)(end - s));
		const char *fe = sp ? sp : end;

		if (n == max)
			return -EINVAL;
		f[n].s = s;
		f[n].len = (size_t)(fe - s);
		n++;
		if (!sp)
			break;
		s = sp + 1;
	}
	return n;
}

static int mi_parse_line(const char *s, const char *end, struct cg_layout *out)
{
	struct mi_field f[MI_MAX_FIELDS];
	const struct mi_field *fstype, *superopts;
	int n, sep = -1;

	n = mi_split(s, end, f, MI_MAX_FIELDS);
	if (n < 0)
		return n;
	for (int i = 6; i < n; i++) {
		if (mi_field_is(&f[i], "-")) {
			sep = i;
			break;
		}
	}
	if (sep < 0 || n - sep < 4)
		return -EINVAL;
	if (!mi_field_is_number(&f[0]) || !mi_field_is_number(&f[1]) ||
	    !memchr(f[2].s, ':', f[2].len))
		return -EINVAL;

	fstype = &f[sep + 1];
	superopts = &f[sep + 3];
	if (mi_field_is(fstype, "cgroup")) {
		for (int c = 0; c < CG_NCTRL; c++)
			if (mi_opts_have(superopts, cg_ctrl_names[c]))
				mi_set_hier(&out->ctrl[c], 1, &f[3], &f[4]);
	} else if (mi_field_is(fstype, "cgroup2")) {
		mi_set_hier(&out->unified, 2, &f[3], &f[4]);
	}
	return 0;
}

int cg_layout_parse(const char *text, size_t len, struct cg_layout *out)
{
	struct cg_layout *l;
	const char *p = text, *end = text + len;
	bool any_v1 = false;
	int lines = 0, ret = 0;

	if (!text || !out)
		return -EINVAL;
	/* ~50 KiB: too big for a worker thread's stack frame to be polite. */
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (le > p) {
			ret = mi_parse_line(p, le, l);
			if (ret < 0)
				goto out;
			lines++;
		}
		p = le + 1;
	}
	/* Every process sees at least its root mount: an empty text is not mountinfo. */
	if (lines == 0) {
		ret = -EINVAL;
		goto out;
	}

	for (int c = 0; c < CG_NCTRL; c++) {
		if (l->ctrl[c].present)
			any_v1 = true;
		else if (l->unified.present)
			l->ctrl[c] = l->unified;
	}
	if (any_v1)
		l->kind = l->unified.present ? CG_LAYOUT_HYBRID : CG_LAYOUT_V1;
	else
		l->kind = l->unified.present ? CG_LAYOUT_V2 : CG_LAYOUT_NONE;

	*out = *l;
out:
	free(l);
	return ret;
}

int cg_layout_detect(struct cg_layout *out)
{
	struct fbuf b = {0};
	ssize_t n;
	int ret;

	/* A seq_file, read to its end: hosts with many mounts have a long one. */
	n = procfs_read(AT_FDCWD, "/proc/self/mountinfo", &b);
	ret = n < 0 ? (int)n : cg_layout_parse(b.data, (size_t)n, out);
	free(b.data);
	return ret;
}
