/*
 * CPU figures of one cgroup, read from cgroupfs below a hierarchy root fd.
 *
 * As in cg_memory.c, directories are reached one component at a time with
 * openat() from the root, so no absolute path is built and ".." in a path
 * cannot climb out of the hierarchy; only our own walk back up from a leaf
 * we reached this way uses "..". Texts that can be long (a cpuset list or
 * cpuacct.usage_all on a large host) are read into a growing buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workers/cg_cpu.h"
#include "workers/cg_fs.h"
#include "workers/procfs.h"

/* Single-value files: a signed 64-bit number or "max N" and a newline. */
#define CGC_VALUE_BUF 64

/* A single-value file: one that fills the buffer is not one (-EINVAL). */
static ssize_t cgc_read_value(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n = cg_read_small(dirfd, name, buf, size);

	return n == -EFBIG ? -EINVAL : n;
}

/* The next whitespace-separated token of [*p, end); false at the end. */
static bool cgc_token(const char **p, const char *end, const char **tok, size_t *tlen)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n'))
		s++;
	if (s == end)
		return false;
	*tok = s;
	while (s < end && *s != ' ' && *s != '\t' && *s != '\n')
		s++;
	*tlen = (size_t)(s - *tok);
	*p = s;
	return true;
}

static int cgc_cpuset_level(int dirfd, int version, struct fbuf *b, struct cpuset *out)
{
	static const char *const v1_names[] = {"cpuset.cpus", "cpuset.effective_cpus"};
	static const char *const v2_names[] = {"cpuset.cpus", "cpuset.cpus.effective"};
	const char *const *names = version == 1 ? v1_names : v2_names;

	for (int i = 0; i < 2; i++) {
		struct cpuset set;
		ssize_t n;
		int ret;

		n = cg_read_text(dirfd, names[i], b);
		if (n == -ENOENT)
			continue;
		if (n < 0)
			return (int)n;
		ret = cpuset_parse(b->data, (size_t)n, &set);
		if (ret < 0)
			return ret;
		if (cpuset_count(&set) > 0) {
			*out = set;
			return 1;
		}
	}
	return 0;
}

int cg_read_cpuset(int root_fd, int version, const char *path, struct cpuset *out)
{
	struct fbuf b = {0};
	unsigned depth;
	int fd, ret;

	if (!out || (version != 1 && version != 2))
		return -EINVAL;
	fd = cg_walk(root_fd, path, version, NULL, NULL, &depth);
	if (fd < 0)
		return fd;

	/* From the leaf up: the nearest level with a value is the one that applies. */
	for (;;) {
		int up;

		ret = cgc_cpuset_level(fd, version, &b, out);
		if (ret != 0)
			break;
		if (depth == 0) {
			ret = -ENODATA;
			break;
		}
		up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0) {
			ret = -errno;
			break;
		}
		close(fd);
		fd = up;
		depth--;
	}
	close(fd);
	free(b.data);
	return ret < 0 ? ret : 0;
}

int cg_parse_cpu_max(const char *text, size_t len, uint64_t *quota, uint64_t *period)
{
	const char *p = text, *end, *tok;
	size_t tlen;
	uint64_t q, per;

	if (!text || !quota || !period)
		return -EINVAL;
	end = text + cg_trim(text, len);
	if (!cgc_token(&p, end, &tok, &tlen))
		return -EINVAL;
	if (tlen == 3 && memcmp(tok, "max", 3) == 0)
		q = UINT64_MAX;
	else if (cg_parse_u64(tok, tlen, &q) < 0)
		return -EINVAL;
	if (!cgc_token(&p, end, &tok, &tlen) || cg_parse_u64(tok, tlen, &per) < 0 || per == 0)
		return -EINVAL;
	if (p != end)
		return -EINVAL;
	*quota = q;
	*period = per;
	return 0;
}

/* v1 cpu.cfs_quota_us and cpu.cfs_period_us of one level; *quota = UINT64_MAX for none. */
static int cgc_cfs_v1(int dirfd, uint64_t *quota, uint64_t *period)
{
	char buf[CGC_VALUE_BUF];
	size_t len;
	ssize_t n;

	n = cgc_read_value(dirfd, "cpu.cfs_quota_us", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	len = cg_trim(buf, (size_t)n);
	if (len > 0 && buf[0] == '-') {
		/* -1 is "no quota"; the kernel prints no other negative value. */
		if (cg_parse_u64(buf + 1, len - 1, quota) < 0)
			return -EINVAL;
		*quota = UINT64_MAX;
	} else if (cg_parse_u64(buf, len, quota) < 0) {
		return -EINVAL;
	}

	n = cgc_read_value(dirfd, "cpu.cfs_period_us", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (cg_parse_u64(buf, cg_trim(buf, (size_t)n), period) < 0 || *period == 0)
		return -EINVAL;
	return 0;
}

/* Lower *(unsigned *)arg to this level's quota in CPUs. No files: no quota here. */
static int cgc_cfs_level(int dirfd, int version, void *arg)
{
	unsigned *cpus = arg;
	uint64_t quota, period, n;
	int ret;

	if (version == 1) {
		ret = cgc_cfs_v1(dirfd, &quota, &period);
	} else {
		char buf[CGC_VALUE_BUF];
		ssize_t len = cgc_read_value(dirfd, "cpu.max", buf, sizeof(buf));

		ret = len < 0 ? (int)len : cg_parse_cpu_max(buf, (size_t)len, &quota, &period);
	}
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	if (quota == UINT64_MAX)
		return 0;

	/* A quota of 1.5 periods lets the cgroup run on two CPUs at once. */
	n = quota / period + (quota % period ? 1 : 0);
	if (n == 0)
		n = 1;
	if (n > UINT_MAX)
		n = UINT_MAX;
	if (*cpus == 0 || n < *cpus)
		*cpus = (unsigned)n;
	return 0;
}

int cg_read_cfs(int root_fd, int version, const char *path, unsigned *cpus)
{
	unsigned n = 0;
	int fd;

	if (!cpus || (version != 1 && version != 2))
		return -EINVAL;
	fd = cg_walk(root_fd, path, version, cgc_cfs_level, &n, NULL);
	if (fd < 0)
		return fd;
	close(fd);
	*cpus = n;
	return 0;
}

int cg_parse_cpuacct_all(const char *text, size_t len, struct cg_cpuacct *out)
{
	static const char header[] = "cpu user system";
	const char *p = text, *end = text + len;
	unsigned ncpus = 0;

	if (!text || !out)
		return -EINVAL;
	if (len < sizeof(header) - 1 || memcmp(text, header, sizeof(header) - 1) != 0)
		return -EINVAL;
	p += sizeof(header) - 1;
	if (p < end && *p != '\n')
		return -EINVAL;

	while (p < end) {
		const char *tok;
		size_t tlen;
		uint64_t cpu, user, system;

		if (!cgc_token(&p, end, &tok, &tlen))
			break;
		if (cg_parse_u64(tok, tlen, &cpu) < 0 || cpu >= CPUSET_MAX)
			return -EINVAL;
		if (!cgc_token(&p, end, &tok, &tlen) || cg_parse_u64(tok, tlen, &user) < 0)
			return -EINVAL;
		if (!cgc_token(&p, end, &tok, &tlen) || cg_parse_u64(tok, tlen, &system) < 0)
			return -EINVAL;
		if (p < end && *p != '\n')
			return -EINVAL;
		/* The kernel lists every possible CPU in order; zero any gap all the same. */
		for (; ncpus < cpu + 1; ncpus++)
			out->user_ns[ncpus] = out->system_ns[ncpus] = 0;
		out->user_ns[cpu] = user;
		out->system_ns[cpu] = system;
	}
	out->ncpus = ncpus;
	return 0;
}

/* The next "key value" pair of a keyed file: 1, 0 at its end, -EINVAL for a key without a number. */
static int cgc_next_pair(const char **p, const char *end, const char **key, size_t *klen,
                         uint64_t *v)
{
	const char *val;
	size_t vlen;

	if (!cgc_token(p, end, key, klen))
		return 0;
	if (!cgc_token(p, end, &val, &vlen) || cg_parse_u64(val, vlen, v) < 0)
		return -EINVAL;
	return 1;
}

/* The user and system ticks of a cpuacct.stat text. */
static int cgc_parse_cpuacct_stat(const char *text, size_t len, uint64_t *user, uint64_t *system)
{
	const char *p = text, *end = text + len, *key;
	bool have_user = false, have_system = false;
	size_t klen;
	uint64_t v;
	int r;

	while ((r = cgc_next_pair(&p, end, &key, &klen, &v)) > 0) {
		if (klen == 4 && memcmp(key, "user", 4) == 0) {
			*user = v;
			have_user = true;
		} else if (klen == 6 && memcmp(key, "system", 6) == 0) {
			*system = v;
			have_system = true;
		}
	}
	if (r < 0)
		return r;
	return have_user && have_system ? 0 : -EINVAL;
}

/*
 * Kernels before 4.7: per-CPU totals only. Split each by the cgroup's overall
 * user:system ratio, the best the kernel tells us.
 */
static int cgc_cpuacct_percpu(int dirfd, struct fbuf *b, struct cg_cpuacct *out)
{
	uint64_t user = 0, system = 0;
	const char *p, *end, *tok;
	unsigned ncpus = 0;
	size_t tlen;
	ssize_t n;
	int ret;

	n = cg_read_text(dirfd, "cpuacct.stat", b);
	if (n < 0)
		return (int)n;
	ret = cgc_parse_cpuacct_stat(b->data, (size_t)n, &user, &system);
	if (ret < 0)
		return ret;

	n = cg_read_text(dirfd, "cpuacct.usage_percpu", b);
	if (n < 0)
		return (int)n;
	for (p = b->data, end = b->data + n; cgc_token(&p, end, &tok, &tlen); ncpus++) {
		uint64_t ns, user_ns;

		if (ncpus >= CPUSET_MAX || cg_parse_u64(tok, tlen, &ns) < 0)
			return -EINVAL;
		user_ns =
		    user + system ? (uint64_t)((unsigned __int128)ns * user / (user + system)) : ns;
		out->user_ns[ncpus] = user_ns;
		out->system_ns[ncpus] = ns - user_ns;
	}
	out->ncpus = ncpus;
	return 0;
}

/* The cgroup at path for a reader of hierarchy version want only: its fd, or -errno. */
static int cgc_open_version(int root_fd, const char *path, int version, int want,
                            const void *out)
{
	if (!out)
		return -EINVAL;
	if (version != want)
		return -EOPNOTSUPP;
	return cg_open(root_fd, path);
}

int cg_read_cpuacct_at(int fd, struct cg_cpuacct *out)
{
	char buf[CGC_VALUE_BUF];
	struct fbuf b = {0};
	ssize_t n;
	int ret;

	n = cgc_read_value(fd, "cpuacct.usage", buf, sizeof(buf));
	ret = n < 0 ? (int)n : cg_parse_u64(buf, cg_trim(buf, (size_t)n), &out->usage_ns);
	if (ret < 0)
		goto out;

	n = cg_read_text(fd, "cpuacct.usage_all", &b);
	if (n == -ENOENT)
		ret = cgc_cpuacct_percpu(fd, &b, out);
	else if (n < 0)
		ret = (int)n;
	else
		ret = cg_parse_cpuacct_all(b.data, (size_t)n, out);
out:
	free(b.data);
	return ret;
}

int cg_read_cpuacct(int root_fd, int version, const char *path, struct cg_cpuacct *out)
{
	int fd, ret;

	fd = cgc_open_version(root_fd, path, version, 1, out);
	if (fd < 0)
		return fd;
	ret = cg_read_cpuacct_at(fd, out);
	close(fd);
	return ret;
}

int cg_parse_cpu_stat(const char *text, size_t len, struct cg_cpu_stat *out)
{
	const char *p = text, *end = text + len, *key;
	struct cg_cpu_stat s = {0};
	unsigned seen = 0;
	size_t klen;
	uint64_t v;
	int r;

	if (!text || !out)
		return -EINVAL;
	/* "key value" per line, as the kernel prints every cpu.stat line. */
	while ((r = cgc_next_pair(&p, end, &key, &klen, &v)) > 0) {
		if (klen == 10 && memcmp(key, "usage_usec", 10) == 0) {
			s.usage_usec = v;
			seen |= 1;
		} else if (klen == 9 && memcmp(key, "user_usec", 9) == 0) {
			s.user_usec = v;
			seen |= 2;
		} else if (klen == 11 && memcmp(key, "system_usec", 11) == 0) {
			s.system_usec = v;
			seen |= 4;
		}
	}
	if (r < 0 || seen != 7)
		return -EINVAL;
	*out = s;
	return 0;
}

int cg_read_cpu_stat_at(int fd, struct cg_cpu_stat *out)
{
	struct fbuf b = {0};
	ssize_t n;
	int ret;

	n = cg_read_text(fd, "cpu.stat", &b);
	ret = n < 0 ? (int)n : cg_parse_cpu_stat(b.data, (size_t)n, out);
	free(b.data);
	return ret;
}

int cg_read_cpu_stat_v2(int root_fd, int version, const char *path, struct cg_cpu_stat *out)
{
	int fd, ret;

	fd = cgc_open_version(root_fd, path, version, 2, out);
	if (fd < 0)
		return fd;
	ret = cg_read_cpu_stat_at(fd, out);
	close(fd);
	return ret;
}
