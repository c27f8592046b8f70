/*
 * The processes the master forks and execs (a worker, the standby) get the
 * FUSE connection, the shared memory and the workers' wake eventfd on fixed
 * descriptors, and nothing else of the master's.
 */
#ifndef LXCFS_CHILD_H
#define LXCFS_CHILD_H

#include <sys/types.h>

#include "master/master.h"

#define CHILD_FUSE_FD  3
#define CHILD_SHM_FD   4
#define CHILD_WAKE_FD  5
#define CHILD_EXTRA_FD 6

/*
 * In the child, between fork and exec (only async-signal-safe calls):
 * signals back to their defaults, the three descriptors in place, extra
 * (when >= 0) on CHILD_EXTRA_FD close-on-exec, and every other descriptor
 * closed (the pidfile lock above all stays the master's). Exits 1 if the
 * master that forked it (parent) is already gone, 126 on a failure.
 */
void child_fds(struct master *m, pid_t parent, int extra);

#endif
