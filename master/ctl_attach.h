/*
 * lxcfs-ctl attach: bind the served files into containers that were started
 * before lxcfs (or that lost their binds when an lxcfs was killed whole).
 */
#ifndef LXCFS_CTL_ATTACH_H
#define LXCFS_CTL_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct attach_opts {
	const char *mount;  /* the lxcfs mount point, absolute */
	const char *cgroup; /* --all: only containers whose init has a cgroup at or below it */
	bool dry_run;       /* say what would be done, change nothing */
	bool json;
};

/*
 * Bind every file the mount serves (proc/... and sys/devices/system/cpu/online)
 * over the same path in the mount namespace of process pid, where the
 * container has that file: a target already bound to this mount is left as
 * it is, a stale bind (its FUSE connection gone: ENOTCONN) is detached and
 * bound again. Refuses a process sharing our own mount namespace (that
 * would cover the host's /proc). Prints one line per container; returns the
 * exit code: 0 done, 1 a container or a file failed.
 */
int ctl_attach_pid(pid_t pid, const struct attach_opts *o);

/*
 * The same for every container found: each process that is pid 1 of a pid
 * namespace other than ours, one per mount namespace, not sharing ours.
 */
int ctl_attach_all(const struct attach_opts *o);

/*
 * The mount point the daemon answering on socket_path serves, made absolute
 * from the master's working directory if it was given relative. 0, -ENOENT
 * when no daemon answers, -EPROTO for an answer without one.
 */
int ctl_daemon_mount(const char *socket_path, char *buf, size_t size);

#endif
