/*
 * A worker's state: its slot in shared memory, the cgroup layout it found at
 * start, and the buffers it renders into. One per process, one request at a time.
 */
#ifndef LXCFS_WORKER_H
#define LXCFS_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "proc_render/render.h"
#include "shm/layout.h"
#include "workers/cgroup.h"
#include "workers/ident.h"
#include "workers/procfs.h"

#define WORKER_FUSE_FD 3
#define WORKER_SHM_FD  4
#define WORKER_WAKE_FD 5

struct worker_ctx {
	int slot;
	struct shm shm;
	struct shm_worker *sw;
	struct cg_layout layout;
	int root_fd[CG_NCTRL]; /* each controller's hierarchy root, -1 if absent */
	int unified_fd;        /* the cgroup2 mount's root (pressure files), -1 if absent */
	struct render_opts opts;
	struct fbuf host;    /* host file text */
	struct fbuf out;     /* rendered content */
	struct snap_who who; /* our name on snapshot leases, our counters */
	void *acct_value;    /* a SNAP_ACCT value's room, allocated on first use */
	void *cpuset_value;  /* a SNAP_CPU cpuset's room, likewise */

	/*
	 * Where host files are read: "" on a host, a fixture folder in tests
	 * (host paths are appended to it). The cgroup hierarchies likewise come
	 * from the layout, so the same code renders a fixture tree.
	 */
	const char *host_root;

	/* The reader of the request at hand, resolved once for all its lookups. */
	pid_t reader_pid;
	bool reader_valid;
	struct cont_paths reader;
	/* Set when the host's text must not stand in for the reader's: its -errno. */
	int refuse;
};

/* The freshness bound of cached cgroup values; 0: always read live. */
static inline uint64_t worker_ttl_ns(const struct worker_ctx *w)
{
	return (uint64_t)w->shm.hdr->config.cache_ttl_ms * 1000000ULL;
}

/*
 * The freshness bound of the reader's cgroup values: worker_ttl_ns, but never
 * reaching back to before the reader's container was first seen in its
 * cgroups (cont_paths.seen_ns). A container restarted under the same name is
 * a new init in cgroups made again at the same paths; values read there
 * before it was seen may be its predecessor's, so its first reads refresh
 * them, once. Costs a clock read (vDSO), no system call.
 */
static inline uint64_t worker_value_ttl_ns(const struct worker_ctx *w)
{
	uint64_t ttl = worker_ttl_ns(w), now;
	struct timespec ts;

	if (!ttl || !w->reader_valid || !w->reader.seen_ns)
		return ttl;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if (now <= w->reader.seen_ns)
		return 1; /* seen this very moment: anything read before is refreshed */
	return now - w->reader.seen_ns < ttl ? now - w->reader.seen_ns : ttl;
}

/* A renderer over the worker's inputs; returns bytes written or -ENOSPC. */
typedef ssize_t (*worker_render_fn)(const struct worker_ctx *w, const void *arg, char *buf,
                                    size_t size);

/*
 * Render into w->out, starting with room for first bytes and doubling on
 * -ENOSPC up to a bound no real file reaches. Returns 0 or -errno.
 */
int worker_render(struct worker_ctx *w, worker_render_fn fn, const void *arg, size_t first);

/* The host's text (w->host) as the content, as served when there is no container view. */
int worker_copy_host(struct worker_ctx *w);

/*
 * The host's file at path (e.g. "/proc/meminfo") into w->host, through the
 * snapshot's host table. Returns its length or -errno.
 */
ssize_t worker_host_file(struct worker_ctx *w, const char *path);

/*
 * The reader's cgroup for controller c (IDENT_UNIFIED for the unified tree)
 * into out, through the identity cache. Returns 0 or -errno.
 */
int worker_reader_cgroup(struct worker_ctx *w, pid_t pid, int c, char *out, size_t size);

/*
 * A file served with the host's text because the reader's values could not be
 * had (what failed, for pid, in cgroup path if any, with -errno err): logged,
 * the first few then one in a thousand. Where the reader's container cannot
 * be told at all (a cgroup path longer than the kernel shows), the host's
 * text would pass for the container's: the request fails with err instead.
 */
void worker_fallback(struct worker_ctx *w, const char *file, const char *what, pid_t pid,
                     const char *path, int err);

/* Answer one request: render, publish, reply; fills the completion. */
void serve_request(struct worker_ctx *w, const struct lx_req *req, struct lx_cmp *cmp);

#endif
