/*
 * CPU values through the shared snapshot: the cpuset and CFS quota that shape
 * cpuinfo, stat and cpu/online, and the CPU time /proc/stat shows. Like the
 * memory figures, each is read from cgroupfs only when the shared copy is
 * older than the freshness bound.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm/layout.h"
#include "workers/cg_cpu.h"
#include "workers/cg_fs.h"
#include "workers/cg_misc.h"
#include "workers/snapshot.h"
#include "workers/worker.h"

/*
 * SNAP_CPU value of a cpuset: every CPU, or the set's words up to its highest
 * CPU. The table has room for the CPUs the host had at start; a set that
 * names a CPU beyond them is read live.
 */
struct cpuset_value {
	uint32_t all;    /* no level sets one (-ENODATA) */
	uint32_t nwords; /* words of bits that follow */
	uint64_t bits[];
};

_Static_assert(sizeof(struct cpuset_value) + sizeof(uint64_t) <= SNAP_CPU_VALUE(1),
               "a one-CPU cpuset outgrew its table");

/*
 * SNAP_ACCT value of v1 cpuacct: the total, then user and system time of CPUs
 * 0..ncpus-1 in pairs. A host with more CPUs than the table was sized for
 * (its CPUs at start) reads cpuacct live. life: of the cgroup directory the
 * figures were read from (cg_life), so that what /proc/stat keeps per
 * container (its floor) can tell a cgroup made again at the same path.
 */
struct acct_value {
	uint64_t usage_ns;
	uint64_t ncpus;
	uint64_t life;
	uint64_t pad;
	uint64_t ns[]; /* user, system of CPU 0, then of CPU 1, ... */
};

_Static_assert(sizeof(struct acct_value) <= SNAP_ACCT_VALUE(0), "cpuacct header outgrew its table");

/* SNAP_ACCT value of v2 cpu.stat: its totals, and the life of the cgroup read. */
struct cpu_stat_value {
	struct cg_cpu_stat cs;
	uint64_t life;
};

_Static_assert(sizeof(struct cpu_stat_value) <= SNAP_ACCT_VALUE(1), "cpu.stat outgrew its table");

struct cpu_fill {
	struct worker_ctx *w;
	const char *path;
	void *scratch; /* where cg_read_cpuset or cg_read_cpuacct reads to */
};

static int fill_cpuset(void *ctx, void *value, size_t size, size_t *len)
{
	struct cpu_fill *f = ctx;
	struct cpuset *set = f->scratch;
	struct cpuset_value *v = value;
	uint32_t nwords = 0;
	int err;

	err = cg_read_cpuset(f->w->root_fd[CG_CPUSET], f->w->layout.ctrl[CG_CPUSET].version,
	                     f->path, set);
	if (err < 0 && err != -ENODATA)
		return err;
	if (err == 0)
		for (uint32_t i = 0; i < CPUSET_MAX / 64; i++)
			if (set->bits[i])
				nwords = i + 1;
	if (sizeof(*v) + nwords * sizeof(uint64_t) > size)
		return -ENOSPC;
	v->all = err == -ENODATA;
	v->nwords = nwords;
	memcpy(v->bits, set->bits, nwords * sizeof(uint64_t));
	*len = sizeof(*v) + nwords * sizeof(uint64_t);
	return 0;
}

int snap_cpuset(struct worker_ctx *w, const char *path, struct cpuset *out)
{
	size_t room = SNAP_CPU_VALUE(w->shm.hdr->host_cpus);
	struct cpuset_value *v = w->cpuset_value;
	ssize_t n;

	if (!v) {
		v = w->cpuset_value = malloc(room);
		if (!v)
			return -ENOMEM;
	}
	n = snap_cgroup(w, SNAP_CPU, "cpuset", CG_CPUSET, path, fill_cpuset,
	                &(struct cpu_fill){.w = w, .path = path, .scratch = out}, v, room);
	if (n == -ENOSPC) /* a CPU beyond those at start: read it live */
		return cg_read_cpuset(w->root_fd[CG_CPUSET], w->layout.ctrl[CG_CPUSET].version, path,
		                      out);
	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(*v) || v->nwords > CPUSET_MAX / 64 ||
	    (size_t)n != sizeof(*v) + v->nwords * sizeof(uint64_t))
		return -EIO;
	if (v->all)
		return -ENODATA;
	memset(out, 0, sizeof(*out));
	memcpy(out->bits, v->bits, v->nwords * sizeof(uint64_t));
	return 0;
}

static int fill_cfs(void *ctx, void *value, size_t size, size_t *len)
{
	struct cpu_fill *f = ctx;
	unsigned cpus;
	int err;

	if (size < sizeof(cpus))
		return -ENOSPC;
	err = cg_read_cfs(f->w->root_fd[CG_CPU], f->w->layout.ctrl[CG_CPU].version, f->path, &cpus);
	if (err < 0)
		return err;
	memcpy(value, &cpus, sizeof(cpus));
	*len = sizeof(cpus);
	return 0;
}

int snap_cfs(struct worker_ctx *w, const char *path, unsigned *cpus)
{
	return snap_cgroup_exact(w, SNAP_CPU, "cfs", CG_CPU, path, fill_cfs,
	                         &(struct cpu_fill){.w = w, .path = path}, cpus, sizeof(*cpus));
}

static int fill_acct(void *ctx, void *value, size_t size, size_t *len)
{
	struct cpu_fill *f = ctx;
	struct cg_cpuacct *a = f->scratch;
	struct acct_value *v = value;
	uint64_t life = 0;
	size_t need;
	int fd, err;

	fd = cg_open(f->w->root_fd[CG_CPUACCT], f->path);
	if (fd < 0)
		return fd;
	err = cg_life(fd, &life);
	if (err == 0)
		err = cg_read_cpuacct_at(fd, a);
	close(fd);
	if (err < 0)
		return err;
	need = sizeof(*v) + (size_t)a->ncpus * 2 * sizeof(uint64_t);
	if (need > size)
		return -ENOSPC;
	v->usage_ns = a->usage_ns;
	v->ncpus = a->ncpus;
	v->life = life;
	v->pad = 0;
	for (unsigned i = 0; i < a->ncpus; i++) {
		v->ns[2 * i] = a->user_ns[i];
		v->ns[2 * i + 1] = a->system_ns[i];
	}
	*len = need;
	return 0;
}

int snap_cpuacct(struct worker_ctx *w, const char *path, struct cg_cpuacct *out, uint64_t *life)
{
	size_t room = SNAP_ACCT_VALUE(w->shm.hdr->host_cpus);
	struct acct_value *v = w->acct_value;
	ssize_t n;
	int fd, err;

	/* The same layout the table has: room for the CPUs the host had at start. */
	if (!v) {
		v = w->acct_value = malloc(room);
		if (!v)
			return -ENOMEM;
	}
	n = snap_cgroup(w, SNAP_ACCT, "cpuacct", CG_CPUACCT, path, fill_acct,
	                &(struct cpu_fill){.w = w, .path = path, .scratch = out}, v, room);
	if (n == -ENOSPC) { /* more CPUs than at start: read it live */
		fd = cg_open(w->root_fd[CG_CPUACCT], path);
		if (fd < 0)
			return fd;
		err = cg_life(fd, life);
		if (err == 0)
			err = cg_read_cpuacct_at(fd, out);
		close(fd);
		return err;
	}
	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(*v) || v->ncpus > CPUSET_MAX ||
	    (size_t)n != sizeof(*v) + v->ncpus * 2 * sizeof(uint64_t))
		return -EIO;
	out->usage_ns = v->usage_ns;
	out->ncpus = (unsigned)v->ncpus;
	for (unsigned i = 0; i < out->ncpus; i++) {
		out->user_ns[i] = v->ns[2 * i];
		out->system_ns[i] = v->ns[2 * i + 1];
	}
	*life = v->life;
	return 0;
}

static int fill_cpu_stat(void *ctx, void *value, size_t size, size_t *len)
{
	struct cpu_fill *f = ctx;
	struct cpu_stat_value v = {0};
	int fd, err;

	if (size < sizeof(v))
		return -ENOSPC;
	fd = cg_open(f->w->root_fd[CG_CPU], f->path);
	if (fd < 0)
		return fd;
	err = cg_life(fd, &v.life);
	if (err == 0)
		err = cg_read_cpu_stat_at(fd, &v.cs);
	close(fd);
	if (err < 0)
		return err;
	memcpy(value, &v, sizeof(v));
	*len = sizeof(v);
	return 0;
}

int snap_cpu_stat(struct worker_ctx *w, const char *path, struct cg_cpu_stat *out, uint64_t *life)
{
	struct cpu_stat_value v;
	int err;

	err = snap_cgroup_exact(w, SNAP_ACCT, "cpu.stat", CG_CPU, path, fill_cpu_stat,
	                        &(struct cpu_fill){.w = w, .path = path}, &v, sizeof(v));
	if (err < 0)
		return err;
	*out = v.cs;
	*life = v.life;
	return 0;
}

static int fill_usage(void *ctx, void *value, size_t size, size_t *len)
{
	struct cpu_fill *f = ctx;
	uint64_t ns;
	int err;

	if (size < sizeof(ns))
		return -ENOSPC;
	err = cg_read_cpu_usage(f->w->root_fd[CG_CPUACCT], f->w->layout.ctrl[CG_CPUACCT].version,
	                        f->path, &ns);
	if (err < 0)
		return err;
	memcpy(value, &ns, sizeof(ns));
	*len = sizeof(ns);
	return 0;
}

int snap_cpu_usage(struct worker_ctx *w, const char *path, uint64_t *usage_ns)
{
	return snap_cgroup_exact(w, SNAP_ACCT, "usage", CG_CPUACCT, path, fill_usage,
	                         &(struct cpu_fill){.w = w, .path = path}, usage_ns,
	                         sizeof(*usage_ns));
}
