/*
 * Cgroup values through the shared snapshot (shm/snap.h): one function per
 * kind of value, each keyed by the cgroup path in its hierarchy.
 */
#ifndef LXCFS_WORKER_SNAPSHOT_H
#define LXCFS_WORKER_SNAPSHOT_H

#include "proc_render/render.h"

struct worker_ctx;

/* Memory figures of the cgroup at path in the memory hierarchy. Returns 0 or -errno. */
int snap_memory(struct worker_ctx *w, const char *path, struct cg_memory *out);

#endif
