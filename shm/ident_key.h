/*
 * What names a reader in the identity cache (the snapshot's SNAP_PID and
 * SNAP_CONT tables), shared by the workers that fill those tables and the
 * master, which looks a reader's container up there to charge its opens to
 * it. Both sides must hash the same bytes, hence one definition.
 */
#ifndef LXCFS_IDENT_KEY_H
#define LXCFS_IDENT_KEY_H

#include <stdint.h>
#include <sys/types.h>

#include "shm/layout.h"

/*
 * A process, not just its pid: procfs makes a new /proc/<pid> directory (new
 * inode, new ctime) for each process, so a reused pid never matches the key
 * of the process that had it before.
 */
struct proc_key {
	int32_t pid;
	uint32_t pad;
	uint64_t ino;
	int64_t ctime_ns;
};

/* SNAP_PID value under a reader's key: the init of its pid namespace. */
struct pid_value {
	struct proc_key init;
};

#define IDENT_PATH_MAX 255
#define IDENT_NPATHS   6 /* one per controller the workers know, and the unified tree last */

/*
 * SNAP_CONT value under an init's key: its cgroup per controller, "" where
 * absent. seen_ns: CLOCK_MONOTONIC when its init was first seen in these
 * cgroups (0: unknown). A container restarted under the same name has a new
 * init in cgroups made again at the same paths: whatever was read from those
 * paths before seen_ns may be its predecessor's (worker_value_ttl_ns).
 */
struct cont_paths {
	char path[IDENT_NPATHS][IDENT_PATH_MAX + 1];
	uint64_t seen_ns;
};

_Static_assert(sizeof(struct pid_value) <= SNAP_PID_VALUE, "pid value outgrew its table");
_Static_assert(sizeof(struct cont_paths) <= SNAP_CONT_VALUE, "paths outgrew their table");

/*
 * The key of the process whose /proc directory is path relative to dirfd
 * ("" for dirfd itself). Returns 0, -ESRCH when it is gone, or -errno.
 */
int proc_key_of(int dirfd, const char *path, pid_t pid, struct proc_key *k);

/*
 * The container a set of paths belongs to, as one non-zero number: equal
 * paths give equal numbers on both sides of the region.
 */
uint64_t ident_container_key(const struct cont_paths *p);

/*
 * The container of reader pid as far as the identity cache knows it, without
 * reading anything but the reader's /proc directory entry: 0 with *key (and,
 * if p is not NULL, its paths), -ENOENT when the cache does not hold it yet,
 * -ESRCH when the reader is gone.
 */
int ident_peek_container(const struct shm *s, pid_t pid, uint64_t *key, struct cont_paths *p);

#endif
