/*
 * Memory figures of one cgroup, read from cgroupfs below a hierarchy root fd.
 *
 * Every file is opened with openat() relative to a directory fd reached one
 * component at a time from the root, so no absolute path is ever built and a
 * ".." cannot climb out of the hierarchy. cgroupfs files are generated on each
 * read from offset 0, so each is read with a single read() into a buffer large
 * enough for the whole text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "workers/cg_fs.h"
#include "workers/cgroup.h"

/*
 * A v1 page counter's "no limit" is LONG_MAX rounded down to the page size:
 * 9223372036854771712 with 4 KiB pages, lower with 16/64/256 KiB pages. Any
 * limit at or above LONG_MAX rounded down to the largest page size Linux has
 * (256 KiB) is therefore "unlimited"; nobody sets a real limit of 8 EiB.
 */
#define CG_V1_UNLIMITED_MIN 0x7FFFFFFFFFFC0000ULL

/* memory.stat is about 1.5 KiB (v1) to 2.5 KiB (v2 on 6.x); room to grow. */
#define CG_STAT_BUF 32768
/* Single-value files: 20 digits and a newline. A longer file is not a value. */
#define CG_VALUE_BUF 64

/* Files of each version. Ancestors contribute the two limits only. */
struct cg_mem_files {
	const char *limit, *usage, *swap_limit, *swap_usage, *swappiness;
};

static const struct cg_mem_files cg_v1_files = {
    .limit = "memory.limit_in_bytes",
    .usage = "memory.usage_in_bytes",
    .swap_limit = "memory.memsw.limit_in_bytes",
    .swap_usage = "memory.memsw.usage_in_bytes",
    .swappiness = "memory.swappiness",
};

static const struct cg_mem_files cg_v2_files = {
    .limit = "memory.max",
    .usage = "memory.current",
    .swap_limit = "memory.swap.max",
    .swap_usage = "memory.swap.current",
    .swappiness = NULL,
};

/*
 * memory.stat keys per field: the v2 key, and the v1 key whose "total_"
 * (hierarchical) form we prefer. A v1 text without total_* keys falls back to
 * the local key rather than reading as zero.
 */
struct cg_stat_key {
	const char *v2, *v1;
	size_t off;
};

#define CG_OFF(f) offsetof(struct cg_memory, f)

enum {
	CG_STAT_CACHE,
	CG_STAT_ACTIVE_ANON,
	CG_STAT_INACTIVE_ANON,
	CG_STAT_ACTIVE_FILE,
	CG_STAT_INACTIVE_FILE,
	CG_STAT_UNEVICTABLE,
	CG_STAT_SHMEM,
	CG_STAT_MAPPED,
	CG_STAT_DIRTY,
	CG_STAT_WRITEBACK,
	CG_STAT_ANON_THP,
	CG_STAT_SLAB,
	CG_STAT_SLAB_RECL,
	CG_STAT_SLAB_UNRECL,
	CG_STAT_ZSWAP,
	CG_STAT_ZSWAPPED,
	CG_STAT_NKEYS
};

static const struct cg_stat_key cg_stat_keys[CG_STAT_NKEYS] = {
    [CG_STAT_CACHE] = {"file", "cache", CG_OFF(cache)},
    [CG_STAT_ACTIVE_ANON] = {"active_anon", "active_anon", CG_OFF(active_anon)},
    [CG_STAT_INACTIVE_ANON] = {"inactive_anon", "inactive_anon", CG_OFF(inactive_anon)},
    [CG_STAT_ACTIVE_FILE] = {"active_file", "active_file", CG_OFF(active_file)},
    [CG_STAT_INACTIVE_FILE] = {"inactive_file", "inactive_file", CG_OFF(inactive_file)},
    [CG_STAT_UNEVICTABLE] = {"unevictable", "unevictable", CG_OFF(unevictable)},
    [CG_STAT_SHMEM] = {"shmem", "shmem", CG_OFF(shmem)},
    [CG_STAT_MAPPED] = {"file_mapped", "mapped_file", CG_OFF(mapped)},
    [CG_STAT_DIRTY] = {"file_dirty", "dirty", CG_OFF(dirty)},
    [CG_STAT_WRITEBACK] = {"file_writeback", "writeback", CG_OFF(writeback)},
    [CG_STAT_ANON_THP] = {"anon_thp", "rss_huge", CG_OFF(anon_thp)},
    [CG_STAT_SLAB] = {"slab", NULL, CG_OFF(slab)},
    [CG_STAT_SLAB_RECL] = {"slab_reclaimable", NULL, CG_OFF(slab_reclaimable)},
    [CG_STAT_SLAB_UNRECL] = {"slab_unreclaimable", NULL, CG_OFF(slab_unreclaimable)},
    [CG_STAT_ZSWAP] = {"zswap", NULL, CG_OFF(zswap)},
    [CG_STAT_ZSWAPPED] = {"zswapped", NULL, CG_OFF(zswapped)},
};

/* v1 memory.stat's minimum limits over the cgroup and its ancestors: memory, memory+swap. */
static const char *const cg_hier_keys[2] = {"hierarchical_memory_limit",
                                            "hierarchical_memsw_limit"};

int cg_parse_limit(const char *text, size_t len, uint64_t *out)
{
	uint64_t v;
	int ret;

	if (!text || !out)
		return -EINVAL;
	len = cg_trim(text, len);
	if (len == 3 && memcmp(text, "max", 3) == 0) {
		*out = CG_UNLIMITED;
		return 0;
	}
	ret = cg_parse_u64(text, len, &v);
	if (ret < 0)
		return ret;
	*out = v >= CG_V1_UNLIMITED_MIN ? CG_UNLIMITED : v;
	return 0;
}

static bool cg_key_is(const char *key, size_t klen, const char *prefix, const char *name)
{
	size_t plen = prefix ? strlen(prefix) : 0, nlen = strlen(name);

	return klen == plen + nlen && (plen == 0 || memcmp(key, prefix, plen) == 0) &&
	       memcmp(key + plen, name, nlen) == 0;
}

/*
 * The next "key value" line of a memory.stat text at *p (the kernel prints
 * each as "%s %llu\n"; empty lines are skipped). Returns 1 with the key and
 * value, 0 at the end, -EINVAL for a line of another form.
 */
static int cg_stat_next(const char **p, const char *end, const char **key, size_t *klen,
                        uint64_t *v)
{
	while (*p < end) {
		const char *nl = memchr(*p, '\n', (size_t)(end - *p));
		const char *le = nl ? nl : end;
		const char *sp = memchr(*p, ' ', (size_t)(le - *p));

		if (le == *p) {
			*p = le + 1;
			continue;
		}
		if (!sp || sp == *p || cg_parse_u64(sp + 1, (size_t)(le - sp - 1), v) < 0)
			return -EINVAL;
		*key = *p;
		*klen = (size_t)(sp - *p);
		*p = le + 1;
		return 1;
	}
	return 0;
}

int cg_parse_memory_stat(const char *text, size_t len, int version, struct cg_memory *out)
{
	/* 0: not seen, 1: v1 local key, 2: v1 total_* key or v2 key. */
	unsigned char prio[CG_STAT_NKEYS] = {0};
	uint64_t val[CG_STAT_NKEYS] = {0};
	const char *p = text, *end = text + len;
	/* v1's hierarchical_memory_limit and hierarchical_memsw_limit, if printed. */
	bool hier_seen[2] = {false, false};
	uint64_t hier[2] = {0, 0};
	const char *key;
	size_t klen;
	uint64_t v;
	struct cg_memory m;
	int ret;

	if (!text || !out || (version != 1 && version != 2))
		return -EINVAL;

	while ((ret = cg_stat_next(&p, end, &key, &klen, &v)) > 0) {
		for (int h = 0; version == 1 && h < 2; h++) {
			if (cg_key_is(key, klen, NULL, cg_hier_keys[h])) {
				hier[h] = v >= CG_V1_UNLIMITED_MIN ? CG_UNLIMITED : v;
				hier_seen[h] = true;
			}
		}

		for (int i = 0; i < CG_STAT_NKEYS; i++) {
			const struct cg_stat_key *k = &cg_stat_keys[i];

			if (version == 2) {
				if (cg_key_is(key, klen, NULL, k->v2)) {
					val[i] = v;
					prio[i] = 2;
				}
			} else if (k->v1) {
				if (cg_key_is(key, klen, "total_", k->v1)) {
					val[i] = v;
					prio[i] = 2;
				} else if (prio[i] < 2 && cg_key_is(key, klen, NULL, k->v1)) {
					val[i] = v;
					prio[i] = 1;
				}
			}
		}
	}
	if (ret < 0)
		return ret;

	m = *out;
	/* Absent before swap accounting or on old kernels: then read per level. */
	if (hier_seen[0]) {
		m.limit = hier[0];
		m.hier_limit = true;
	}
	if (hier_seen[1]) {
		m.swap_limit = hier[1];
		m.hier_swap_limit = true;
	}
	for (int i = 0; i < CG_STAT_NKEYS; i++)
		*(uint64_t *)((char *)&m + cg_stat_keys[i].off) = val[i];
	m.has_slab = prio[CG_STAT_SLAB] || prio[CG_STAT_SLAB_RECL] || prio[CG_STAT_SLAB_UNRECL];
	/* "slab" is printed as the sum of the two; older kernels lack the line. */
	if (!prio[CG_STAT_SLAB])
		m.slab = m.slab_reclaimable + m.slab_unreclaimable;
	m.has_zswap = prio[CG_STAT_ZSWAP] || prio[CG_STAT_ZSWAPPED];
	*out = m;
	return 0;
}

/* Read a single-value file into *v with parse. A value that long is malformed. */
static int cg_read_value(int dirfd, const char *name, bool limit, uint64_t *v)
{
	char buf[CG_VALUE_BUF];
	ssize_t n;

	n = cg_read_small(dirfd, name, buf, sizeof(buf));
	if (n == -EFBIG)
		return -EINVAL;
	if (n < 0)
		return (int)n;
	if (limit)
		return cg_parse_limit(buf, (size_t)n, v);
	return cg_parse_u64(buf, cg_trim(buf, (size_t)n), v);
}

/*
 * Lower *min to the limit in dirfd's file name. A missing file means no limit
 * at this level: the v2 root has no memory.max, and without swap accounting
 * there are no swap files at all.
 */
static int cg_min_limit(int dirfd, const char *name, uint64_t *min)
{
	uint64_t v;
	int ret;

	ret = cg_read_value(dirfd, name, true, &v);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	if (v < *min)
		*min = v;
	return 0;
}

struct limits_walk {
	const struct cg_mem_files *f;
	struct cg_memory *m;
};

/* At each level of the walk: lower the limits to this level's. */
static int cg_level_limits(int dirfd, int version, void *arg)
{
	struct limits_walk *l = arg;
	int ret;

	(void)version;
	ret = cg_min_limit(dirfd, l->f->limit, &l->m->limit);
	if (ret < 0)
		return ret;
	return cg_min_limit(dirfd, l->f->swap_limit, &l->m->swap_limit);
}

/* The figures of the cgroup itself, once the walk has reached it. */
static int cg_read_leaf(int dirfd, const struct cg_mem_files *f, struct cg_memory *m)
{
	char buf[CG_STAT_BUF];
	ssize_t n;
	int ret;

	ret = cg_read_value(dirfd, f->usage, false, &m->usage);
	if (ret < 0)
		return ret;

	n = cg_read_small(dirfd, "memory.stat", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	ret = cg_parse_memory_stat(buf, (size_t)n, m->version, m);
	if (ret < 0)
		return ret;

	ret = cg_read_value(dirfd, f->swap_usage, false, &m->swap_usage);
	if (ret == 0)
		m->swap_accounting = true;
	else if (ret != -ENOENT)
		return ret;

	if (f->swappiness) {
		ret = cg_read_value(dirfd, f->swappiness, false, &m->swappiness);
		if (ret == 0)
			m->has_swappiness = true;
		else if (ret != -ENOENT)
			return ret;
	}
	return 0;
}

int cg_read_memory(int root_fd, int version, const char *path, struct cg_memory *out)
{
	const struct cg_mem_files *f;
	struct cg_memory m = {0};
	struct limits_walk lim;
	int dirfd, ret;

	if (root_fd < 0 || !path || path[0] != '/' || !out)
		return -EINVAL;
	if (version == 1)
		f = &cg_v1_files;
	else if (version == 2)
		f = &cg_v2_files;
	else
		return -EINVAL;

	m.version = version;
	m.limit = CG_UNLIMITED;
	m.swap_limit = CG_UNLIMITED;

	/* Down from the root one component at a time, taking each level's limits. */
	lim.f = f;
	lim.m = &m;
	dirfd = cg_walk(root_fd, path, version, cg_level_limits, &lim, NULL);
	if (dirfd < 0)
		return dirfd;

	ret = cg_read_leaf(dirfd, f, &m);
	if (ret == 0)
		*out = m;
	close(dirfd);
	return ret;
}

static const struct cg_mem_files *mem_files(int version)
{
	return version == 1 ? &cg_v1_files : version == 2 ? &cg_v2_files : NULL;
}

int cg_read_memory_here(int root_fd, int version, const char *path, struct cg_memory *out)
{
	const struct cg_mem_files *f = mem_files(version);
	struct cg_memory m = {0};
	struct limits_walk lim = {.f = f, .m = &m};
	int dirfd, ret;

	if (root_fd < 0 || !path || path[0] != '/' || !out || !f)
		return -EINVAL;
	m.version = version;
	m.limit = CG_UNLIMITED;
	m.swap_limit = CG_UNLIMITED;
	dirfd = cg_open(root_fd, path);
	if (dirfd < 0)
		return dirfd;
	ret = cg_read_leaf(dirfd, f, &m);
	/* Without the kernel's hierarchical figures, this level's limit files. */
	if (ret == 0 && !cg_memory_limits_final(&m))
		ret = cg_level_limits(dirfd, version, &lim);
	if (ret == 0)
		*out = m;
	close(dirfd);
	return ret;
}

bool cg_memory_limits_final(const struct cg_memory *m)
{
	return m->hier_limit && (m->hier_swap_limit || !m->swap_accounting);
}

int cg_read_memory_limits(int root_fd, int version, const char *path, uint64_t *limit,
                          uint64_t *swap_limit)
{
	const struct cg_mem_files *f = mem_files(version);
	struct cg_memory m = {.limit = CG_UNLIMITED, .swap_limit = CG_UNLIMITED};
	struct limits_walk lim = {.f = f, .m = &m};
	int dirfd, ret;

	if (root_fd < 0 || !path || path[0] != '/' || !f)
		return -EINVAL;
	dirfd = cg_open(root_fd, path);
	if (dirfd < 0)
		return dirfd;
	ret = cg_level_limits(dirfd, version, &lim);
	close(dirfd);
	if (ret < 0)
		return ret;
	*limit = m.limit;
	*swap_limit = m.swap_limit;
	return 0;
}

int cg_parse_vmstat(const char *text, size_t len, int version, struct cg_vmstat *out)
{
	const char *p = text, *end = text + len, *key;
	struct cg_vmstat v = {0};
	size_t klen;
	uint64_t val;
	int k, ret;

	if (!text || !out || (version != 1 && version != 2))
		return -EINVAL;
	while ((ret = cg_stat_next(&p, end, &key, &klen, &val)) > 0) {
		k = vmstat_key(key, klen, version);
		if (k >= 0) {
			v.value[k] = val;
			v.have |= 1ULL << k;
		}
	}
	if (ret < 0)
		return ret;
	*out = v;
	return 0;
}

int cg_read_vmstat(int root_fd, int version, const char *path, struct cg_vmstat *out)
{
	char buf[CG_STAT_BUF];
	ssize_t n;
	int dirfd, ret;

	if (root_fd < 0 || !path || path[0] != '/' || !out)
		return -EINVAL;
	dirfd = cg_open(root_fd, path);
	if (dirfd < 0)
		return dirfd;
	n = cg_read_small(dirfd, "memory.stat", buf, sizeof(buf));
	close(dirfd);
	if (n < 0)
		return (int)n;
	ret = cg_parse_vmstat(buf, (size_t)n, version, out);
	return ret;
}
