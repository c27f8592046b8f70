/*
 * cgroup readers for the smaller files: block I/O per device (diskstats), the
 * threads of a cgroup subtree and their states (loadavg), CPU time (uptime),
 * and whole files copied as they are (slabinfo, pressure).
 *
 * Like cg_read_memory(), each takes the hierarchy's root directory fd and a
 * cgroup path starting with '/', walks down one component at a time with
 * openat() (no "." or "..", no symlinks), and returns 0 or -errno:
 * -ENOENT when the cgroup does not exist (or vanished while being read),
 * -EINVAL on a malformed file, in which case the outputs are left untouched.
 */
#ifndef LXCFS_CG_MISC_H
#define LXCFS_CG_MISC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc_render/misc.h"
#include "workers/procfs.h"

/* Bounds of cg_count_tasks()'s walk: a cgroup tree built to be slow fails instead. */
#define CG_WALK_MAX_DEPTH 32         /* levels below the cgroup */
#define CG_WALK_MAX_DIRS  16384      /* cgroups visited */
#define CG_WALK_MAX_TASKS (1u << 20) /* threads listed */

/*
 * Per-device I/O of the cgroup at path, summed over its descendants, into
 * out[0..*n). v1 (blkio): the CFQ-era files blkio.io_serviced_recursive,
 * io_service_bytes_recursive, io_merged_recursive, io_service_time_recursive
 * and io_wait_time_recursive when they exist (as upstream LXCFS reads them);
 * kernels since 5.0 have no CFQ, and then blkio.throttle.io_serviced_recursive
 * and blkio.throttle.io_service_bytes_recursive, which since 6.0 count every
 * request completed for the cgroup, throttled or not, but only on devices
 * where blk-throttle is active (some cgroup has set a limit on the device).
 * v2: io.stat (hierarchical). See struct io_dev_stats for which fields each
 * source fills.
 * Returns 0, -EOPNOTSUPP when the cgroup has none of these files (no io
 * controller for it: the caller shows the host's file, as upstream does),
 * -ENODATA when the throttle statistics list no device at all (no disk
 * counts, unless --enable-io-accounting turned them on, when the cgroup did
 * no I/O), -ENOSPC when it lists more than max devices, -ENOENT, -EINVAL, or
 * another -errno.
 */
int cg_read_io(int root_fd, int version, const char *path, struct io_dev_stats *out, size_t max,
               size_t *n);

/*
 * Count the threads of the cgroup at path and of all its descendants: v1 each
 * directory's "tasks", v2 its "cgroup.threads". A thread is running when
 * /proc/<tid>/stat (of this process's pid namespace) shows state R or D,
 * which is what the kernel's load average counts; *total counts every thread
 * still alive, *last is the highest thread id seen (upstream LXCFS prints
 * that as the last pid), 0 if none. Threads that exit during the walk, and
 * child cgroups removed during it, are skipped.
 * Returns 0, -ENOENT, -EINVAL on a tasks file that is not a list of ids,
 * -E2BIG when the tree exceeds the CG_WALK_MAX_* bounds, or another -errno.
 */
int cg_count_tasks(int root_fd, int version, const char *path, unsigned *running, unsigned *total,
                   pid_t *last);

/* Threads of a cgroup subtree by state, as /proc/stat counts them for the host. */
struct cg_task_states {
	unsigned running; /* R: procs_running */
	unsigned blocked; /* D: procs_blocked (the kernel's counts only I/O waits among them) */
	unsigned total;
};

/*
 * The threads of the cgroup at path and its descendants by state (same walk
 * and bounds as cg_count_tasks). Thread reader, when listed, counts as
 * running whatever its state: it is the one waiting for this answer (in D,
 * for FUSE), and the kernel counts the reader of its /proc/stat as running.
 * Returns 0, -ENOENT, -EINVAL, -E2BIG, or another -errno.
 */
int cg_count_states(int root_fd, int version, const char *path, pid_t reader,
                    struct cg_task_states *out);

/* cg_count_tasks of the cgroup directory open at dirfd (its O_PATH fd will do). */
int cg_count_tasks_at(int dirfd, int version, unsigned *running, unsigned *total, pid_t *last);

/*
 * CPU time used by the cgroup at path and its descendants, in nanoseconds:
 * v1 cpuacct.usage, v2 the usage_usec line of cpu.stat. Returns 0, -ENOENT,
 * -EINVAL, or another -errno.
 */
int cg_read_cpu_usage(int root_fd, int version, const char *path, uint64_t *usage_ns);

/*
 * The whole text of the file name in the cgroup at path, into b
 * (NUL-terminated), for files served verbatim. Returns the length, -ENOENT
 * when the cgroup or the file does not exist, or another -errno.
 */
ssize_t cg_read_file(int root_fd, const char *path, const char *name, struct fbuf *b);

#endif
