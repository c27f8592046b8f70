/*
 * CPU figures of one cgroup: the CPUs it may run on, its CFS quota as a CPU
 * count, and the CPU time it used. Readers take the hierarchy root as a
 * directory fd and a path starting with '/', like cg_read_memory(); parsers
 * take text and do no I/O so fixtures can drive them.
 *
 * Errors, for every reader: -ENOENT when the cgroup does not exist (vanished),
 * -EINVAL on a malformed file, -EOPNOTSUPP when the figures do not exist in
 * that cgroup version, or the -errno of the failing read. After an error the
 * contents of out mean nothing.
 */
#ifndef LXCFS_CG_CPU_H
#define LXCFS_CG_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "proc_render/cpu.h"

/*
 * The CPUs of the cgroup at path: its cpuset.cpus if not empty, else its
 * effective CPUs (v1 cpuset.effective_cpus, v2 cpuset.cpus.effective), else
 * the same of the nearest ancestor that has a non-empty value (a v2 cgroup
 * without the cpuset controller enabled has neither file; the v2 root has
 * only the effective one). -ENODATA when no level has a value: no cpuset
 * controller at all, the CPUs are not narrowed. -ERANGE for a CPU at or above
 * CPUSET_MAX.
 */
int cg_read_cpuset(int root_fd, int version, const char *path, struct cpuset *out);

/*
 * The CFS bandwidth limit as a CPU count: the minimum over the cgroup and its
 * ancestors of quota / period rounded up (v1 cpu.cfs_quota_us, -1 = none,
 * and cpu.cfs_period_us; v2 cpu.max, "max 100000" = none). *cpus = 0 when no
 * level has a quota.
 */
int cg_read_cfs(int root_fd, int version, const char *path, unsigned *cpus);

/*
 * v1 cpuacct figures of the cgroup (version must be 1): per CPU from
 * cpuacct.usage_all, or on kernels before 4.7 (which lack it) from
 * cpuacct.usage_percpu split by the user:system ratio of cpuacct.stat; and
 * cpuacct.usage. out is large (see struct cg_cpuacct); only entries below
 * out->ncpus are written.
 */
int cg_read_cpuacct(int root_fd, int version, const char *path, struct cg_cpuacct *out);

/* cg_read_cpuacct of the v1 cgroup directory open at dirfd (O_PATH will do). */
int cg_read_cpuacct_at(int dirfd, struct cg_cpuacct *out);

/* v2 cpu.stat usage_usec, user_usec, system_usec of the cgroup (version must be 2). */
int cg_read_cpu_stat_v2(int root_fd, int version, const char *path, struct cg_cpu_stat *out);

/* cg_read_cpu_stat_v2 of the v2 cgroup directory open at dirfd. */
int cg_read_cpu_stat_at(int dirfd, struct cg_cpu_stat *out);

/* Parse a cpuacct.usage_all text ("cpu user system" then "N user system" lines). */
int cg_parse_cpuacct_all(const char *text, size_t len, struct cg_cpuacct *out);

/* Parse a v2 cpu.max text. *quota = UINT64_MAX for "max". */
int cg_parse_cpu_max(const char *text, size_t len, uint64_t *quota, uint64_t *period);

/* Parse a v2 cpu.stat text; the three keys must be there, others are ignored. */
int cg_parse_cpu_stat(const char *text, size_t len, struct cg_cpu_stat *out);

#endif
