/*
 * Mounting and unmounting through libfuse3: mount options and fusermount are
 * libfuse's job; the protocol on the fd it gives us is ours.
 */
#ifndef LXCFS_MOUNT_H
#define LXCFS_MOUNT_H

#include "master/master.h"

/* Mount cli->mountpoint; sets m->session and m->fuse_fd. Returns 0 or -errno. */
int mount_fuse(struct master *m);
void mount_unmount(struct master *m);

#endif
