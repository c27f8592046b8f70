/*
 * Reader identity through the shared identity cache: the reader's pid to the
 * init of its pid namespace (cached for as long as that very process lives),
 * and that init to its cgroup paths (cached for the freshness bound, since a
 * container's init can be moved).
 *
 * A pid is identified with the inode number and ctime of its /proc/<pid>
 * directory, which procfs creates anew for each process: a reused pid never
 * matches an entry of the process that had it before. One stat() checks it.
 */
#ifndef LXCFS_IDENT_H
#define LXCFS_IDENT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "workers/cgroup.h"

#define IDENT_PATH_MAX 255
#define IDENT_UNIFIED  CG_NCTRL /* index of the unified (0::) path */
/* A path longer than the cache holds: the caller resolves it live (reader_cgroup). */
#define IDENT_TOO_LONG '\1'

/*
 * A container's cgroup per controller, and in the unified hierarchy.
 * seen_ns: CLOCK_MONOTONIC when its init was first seen in these cgroups (0:
 * unknown). A container restarted under the same name has a new init in
 * cgroups made again at the same paths: whatever was read from those paths
 * before seen_ns may be its predecessor's (worker_value_ttl_ns).
 */
struct cont_paths {
	char path[CG_NCTRL + 1][IDENT_PATH_MAX + 1]; /* "" where absent */
	uint64_t seen_ns;
};

struct worker_ctx;

/* The container paths of reader pid. Returns 0, -ESRCH (gone), or -errno. */
int ident_resolve(struct worker_ctx *w, pid_t pid, struct cont_paths *out);

/* The init of a reader's pid namespace, as its container's uptime needs it. */
struct ident_init {
	pid_t pid;            /* its pid here */
	bool host;            /* the reader is in our own pid namespace: it is the host */
	uint64_t start_ticks; /* its start, in clock ticks after boot */
};

/*
 * The init of reader pid's pid namespace, kept as long as it lives (its start
 * and namespace never change). Returns 0, -ESRCH (gone), or -errno.
 */
int ident_init(struct worker_ctx *w, pid_t pid, struct ident_init *out);

#endif
