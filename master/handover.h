/*
 * What a master hands to the one that takes its place (lxcfs --takeover),
 * which may be another build with another shared memory layout: a stream of
 * its own versioned format, not a copy of the region.
 *
 *   header   magic "LXCFSHO", format version, the writer's layout version
 *            and host CPUs, the FUSE connection's state (INIT done, its
 *            protocol minor, the passthrough backing id), record count
 *   records  a type, a length, then that many bytes (padded to 8):
 *     HANDLE  an open file: its id (generation and index, as the kernel
 *             holds it), its inode, its container's key and name, and the
 *             text kept for it, so that reads at later offsets continue the
 *             text the reader started
 *     SYSFS   a node of the passed-through cpu tree the kernel may still
 *             name by inode: its type and path
 *     STATE   a /proc/stat floor or a container's load averages, as the
 *             writer's region holds them: taken only by a reader of the same
 *             layout and CPU count (otherwise the floors and averages start
 *             afresh, which the reader logs)
 *
 * Format changelog:
 *   1: the above.
 *
 * The reader trusts nothing of it: every length is checked against the
 * stream, every id against its own table.
 */
#ifndef LXCFS_HANDOVER_H
#define LXCFS_HANDOVER_H

#include <stddef.h>

#include "master/master.h"

#define HANDOVER_VERSION 1

/* Write this master's state to fd (a memfd). Returns 0 or -errno. */
int handover_write(struct master *m, int fd);

/*
 * Take the state in fd into this master's fresh region: open files with
 * their texts, the cpu tree's nodes, the floors and averages where the
 * layouts agree, and the connection's state in the region's header (for
 * fuse_adopt). Returns 0, or -errno with msg saying why.
 */
int handover_read(struct master *m, int fd, char *msg, size_t size);

#endif
