/*
 * The passed-through sys/devices/system/cpu tree (see sysfs.c).
 */
#ifndef LXCFS_WORKER_SYSFS_H
#define LXCFS_WORKER_SYSFS_H

#include <stdint.h>

#include "shm/proto.h"

struct worker_ctx;

/*
 * Answer a LOOKUP, GETATTR, READDIR or READLINK on the tree. Returns 0 when
 * it replied to the kernel, or a -errno for the caller to reply.
 */
int sysfs_serve(struct worker_ctx *w, const struct lx_req *req, struct lx_cmp *cmp);

/* The host file behind nodeid into w->out. Returns 0 or -errno. */
int file_sysfs(struct worker_ctx *w, uint64_t nodeid);

#endif
