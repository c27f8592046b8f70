/*
 * Reader identity: whose container a FUSE request speaks for.
 *
 * The reader is the pid in the request header (host pid namespace). Values come
 * from the cgroup of the init (pid 1) of the reader's pid namespace, so that a
 * process in a sub-cgroup still sees the whole container's limits; a reader in
 * the host's pid namespace gets its own cgroup. Resolved from /proc alone, with
 * no fork and no setns on the read path.
 */
#ifndef LXCFS_READER_H
#define LXCFS_READER_H

#include <stdint.h>
#include <sys/types.h>

#include "workers/cgroup.h"

/*
 * Host pid of the init of pid's pid namespace, or pid itself when pid lives in
 * our own (the host's) pid namespace. Returns 0 or -errno (-ESRCH: pid gone).
 */
int reader_ns_init(pid_t pid, pid_t *init);

/*
 * As reader_ns_init, and return an open /proc/<init> directory fd: reads
 * through it can never reach a later process that reused the pid. The caller
 * closes it. Returns the fd or -errno.
 */
int reader_init_open(pid_t pid, pid_t *init);

/*
 * Field 22 of a /proc/<pid>/stat text: the start time in clock ticks after
 * boot. Returns 0 or -EINVAL. Pure.
 */
int reader_parse_start_time(const char *text, size_t len, uint64_t *ticks);

/* Is the process whose /proc directory is pfd in our own pid namespace? 1, 0, or -errno. */
int reader_ns_is_own(int pfd);

/* Start time of the process whose /proc directory is pfd, in clock ticks after boot. 0 or -errno. */
int reader_start_time(int pfd, uint64_t *ticks);

/*
 * The container cgroup of reader pid for controller c (see the rules above),
 * written to out. Returns 0 or -errno.
 */
int reader_cgroup(pid_t pid, const struct cg_layout *layout, enum cg_ctrl c, char *out,
                  size_t size);

#endif
