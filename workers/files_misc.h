/*
 * Gather and render the smaller files for one request: uptime, swaps,
 * vmstat, diskstats, slabinfo, pressure/{cpu,io,memory}, and loadavg without -l.
 *
 * Each leaves the content in w->out (w->host is scratch) and returns 0, or a
 * -errno for the reader when not even the host's file could be read. When the
 * reader's container cannot be resolved or its cgroup files cannot be read,
 * the host's file is served and the reason logged (rate-limited), as
 * render_meminfo_for does; while virtualization is off (SIGUSR2) every one
 * serves the host's file.
 */
#ifndef LXCFS_FILES_MISC_H
#define LXCFS_FILES_MISC_H

#include <sys/types.h>

struct worker_ctx;

/*
 * Age of the reader's pid-namespace init and idle = age - the container's CPU
 * time, floored at 0. A reader in the host's pid namespace gets the host's
 * /proc/uptime. Without a CPU accounting controller idle is the whole age
 * (upstream: busy time 0).
 */
int file_uptime(struct worker_ctx *w, pid_t pid);

/* meminfo's swap figures as one "none" device; the header only with -u or no swap. */
int file_swaps(struct worker_ctx *w, pid_t pid);

/*
 * The host's /proc/vmstat with the lines the reader's memory cgroup counts
 * replaced (proc_render/vmstat.c). A reader in the root cgroup gets the
 * host's file.
 */
int file_vmstat(struct worker_ctx *w, pid_t pid);

/*
 * Host devices with the container's blkio (v1) / io.stat (v2) figures, idle
 * ones left out. A reader in the root cgroup, or in a cgroup without I/O
 * statistics (see cg_read_io), gets the host's file; with
 * --enable-io-accounting every v1 disk counts, and a cgroup that lists none
 * did no I/O: no device at all.
 */
int file_diskstats(struct worker_ctx *w, pid_t pid);

/*
 * v1 memory.kmem.slabinfo of the reader's memory cgroup when it holds a
 * slabinfo text (kernels since 5.9 leave it empty), else the host's
 * /proc/slabinfo, which only root may read: its -errno otherwise.
 */
int file_slabinfo(struct worker_ctx *w, pid_t pid);

/*
 * which: "cpu", "io" or "memory". The reader's cgroup's <which>.pressure in
 * the unified hierarchy (also on a hybrid host, where PSI is tracked there),
 * verbatim; the host's /proc/pressure/<which> where the cgroup has none.
 * -EINVAL for any other which.
 */
int file_pressure(struct worker_ctx *w, pid_t pid, const char *which);

/* The host's /proc/loadavg as it is: loadavg when -l is not given. pid is unused. */
int file_loadavg_host(struct worker_ctx *w, pid_t pid);

/* /proc/loadavg: the container's averages with -l, else the host's. */
int file_loadavg(struct worker_ctx *w, pid_t pid);

/* -l: fold a sample into every container read recently (LX_OP_SAMPLE). */
void loadavg_sample(struct worker_ctx *w);

#endif
