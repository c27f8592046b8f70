/*
 * Cgroup values through the shared snapshot (shm/snap.h): one function per
 * kind of value, each keyed by the cgroup path in its hierarchy.
 */
#ifndef LXCFS_WORKER_SNAPSHOT_H
#define LXCFS_WORKER_SNAPSHOT_H

#include <sys/types.h>

#include "proc_render/cpu.h"
#include "proc_render/misc.h"
#include "proc_render/render.h"
#include "shm/snap.h"
#include "workers/cgroup.h"

struct worker_ctx;

/* The snapshot key of value kind of the cgroup at path in controller c's hierarchy. */
void snap_cgroup_key(const struct worker_ctx *w, const char *kind, enum cg_ctrl c,
                     const char *path, struct snap_key *key);

/*
 * Value kind of the cgroup at path in controller c's hierarchy, kept in table
 * t: copied to out (size bytes) when younger than the TTL, else read by fill
 * (once, whoever else asks at the same time). Returns its length or -errno.
 */
ssize_t snap_cgroup(struct worker_ctx *w, enum snap_table_id t, const char *kind, enum cg_ctrl c,
                    const char *path, snap_fill_fn fill, void *ctx, void *out, size_t size);

/* snap_cgroup for a value of exactly size bytes: 0, or -errno (-EIO for another size). */
int snap_cgroup_exact(struct worker_ctx *w, enum snap_table_id t, const char *kind, enum cg_ctrl c,
                      const char *path, snap_fill_fn fill, void *ctx, void *out, size_t size);

/* Memory figures of the cgroup at path in the memory hierarchy. Returns 0 or -errno. */
int snap_memory(struct worker_ctx *w, const char *path, struct cg_memory *out);

/* The memory.stat figures vmstat shows of the cgroup at path. Returns 0 or -errno. */
int snap_vmstat(struct worker_ctx *w, const char *path, struct cg_vmstat *out);

/*
 * The effective cpuset of the cgroup at path (the nearest level that sets
 * one). 0, -ENODATA when no level does (every CPU), or -errno.
 */
int snap_cpuset(struct worker_ctx *w, const char *path, struct cpuset *out);

/* The CFS quota of the cgroup at path and its ancestors in CPUs (0: none). 0 or -errno. */
int snap_cfs(struct worker_ctx *w, const char *path, unsigned *cpus);

/*
 * v1 cpuacct figures of the cgroup at path (per CPU), and the life of the
 * cgroup they were read from (cg_life). 0 or -errno.
 */
int snap_cpuacct(struct worker_ctx *w, const char *path, struct cg_cpuacct *out, uint64_t *life);

/* v2 cpu.stat totals of the cgroup at path, and its life as snap_cpuacct's. 0 or -errno. */
int snap_cpu_stat(struct worker_ctx *w, const char *path, struct cg_cpu_stat *out, uint64_t *life);

/*
 * Pressure file name (cpu.pressure, io.pressure, memory.pressure) of the
 * cgroup at path in the unified hierarchy, into w->host. Its length, -ENOENT
 * or -EOPNOTSUPP where the cgroup has none, or -errno.
 */
ssize_t snap_pressure(struct worker_ctx *w, const char *path, const char *name);

/*
 * I/O figures of the cgroup at path in the blkio hierarchy, per device, into
 * devs (room for max). 0, -ENOSPC when they do not fit here or in the
 * snapshot (the caller reads them live with room for more), or -errno.
 */
int snap_io(struct worker_ctx *w, const char *path, struct io_dev_stats *devs, size_t max,
            size_t *ndevs);

struct cg_task_states;

/*
 * The threads of the cgroup at path in the cpu hierarchy (and below) by
 * state, for /proc/stat; reader counted running (cg_count_states). Kept for
 * the freshness bound like any value. 0 or -errno.
 */
int snap_procs(struct worker_ctx *w, const char *path, pid_t reader, struct cg_task_states *out);

/* CPU time of the cgroup at path in the cpuacct hierarchy (v1 cpuacct.usage, v2 cpu.stat). */
int snap_cpu_usage(struct worker_ctx *w, const char *path, uint64_t *usage_ns);

#endif
