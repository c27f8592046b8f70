/*
 * Nodes of the passed-through sys/devices/system/cpu tree, as kept in the
 * snapshot's SNAP_PATH table: a node's inode names it, the entry gives its
 * path under the tree and its type. Workers add entries when they answer a
 * LOOKUP; the master reads them to route later requests on the inode.
 */
#ifndef LXCFS_SYSFS_NODE_H
#define LXCFS_SYSFS_NODE_H

#include <stdint.h>
#include <sys/types.h>

#include "shm/layout.h"

#define SYSFS_PATH_MAX 400

struct sysfs_node {
	uint32_t mode; /* S_IFDIR, S_IFREG or S_IFLNK and the host's bits */
	uint32_t pad;
	char path[SYSFS_PATH_MAX]; /* under LX_SYSFS_ROOT: "" for the root, "cpu0/topology" */
};

_Static_assert(sizeof(struct sysfs_node) <= SNAP_PATH_VALUE, "sysfs node outgrew its table");

/* Whether nodeid belongs to the passed-through tree (its root included). */
static inline int sysfs_is_node(uint64_t nodeid)
{
	return nodeid == LX_INO_CPU_DIR || (nodeid & LX_INO_DYNAMIC);
}

/* The inode of the node at path (under the tree): LX_INO_DYNAMIC | a hash of it. */
uint64_t sysfs_nodeid(const char *path);

/*
 * The node behind nodeid: the root, or a SNAP_PATH entry. Entries from shared
 * memory are checked (path terminated, type known). Returns 0 or -ENOENT
 * (never looked up, or evicted: the kernel looks it up again).
 */
int sysfs_node_get(const struct shm *s, uint64_t nodeid, struct sysfs_node *out);

#endif
