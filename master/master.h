/*
 * The master process: holds /dev/fuse, answers the static parts of the FUSE
 * protocol, hands renders to the worker pool, and never touches cgroupfs.
 * Single-threaded: everything below runs from one epoll loop.
 */
#ifndef LXCFS_MASTER_H
#define LXCFS_MASTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "master/cli.h"
#include "master/pagecache.h"
#include "shm/layout.h"

/* What an epoll event is about: kind << 32 | index. */
enum ev_kind {
	EV_FUSE = 1,
	EV_SIGNAL,
	EV_WAKE,  /* a worker became ready or completed while we asked to be told */
	EV_PIDFD, /* index: worker slot */
	EV_CTL_LISTEN,
	EV_CTL_CONN, /* index: connection slot */
	EV_STANDBY,  /* the standby master's pidfd */
	EV_TAKEOVER, /* a takeover session (takeover.h) */
	EV_COUNT,
};

#define EV(kind, idx) (((uint64_t)(kind) << 32) | (uint32_t)(idx))

/* A request the master owns until a worker completes it. */
struct job {
	struct lx_req req;
	uint64_t pushed_ns; /* when it went to its current worker */
	uint8_t attempts;   /* workers that died (or hung) working on it */
	bool used;
};

struct pool;

struct master {
	struct cli *cli;
	struct shm shm;
	void *session; /* struct fuse_session, for unmounting */
	int fuse_fd;
	int epfd;
	int sigfd;
	int wakefd;
	bool stopping;
	bool handed_over; /* stopping after a takeover: the mount, pidfile and socket stay */
	int exit_code;    /* when stopping: 0, or 1 for a failure */
	bool initialized; /* FUSE INIT answered */
	uint32_t proto_minor;
	uint64_t start_ns; /* CLOCK_REALTIME at start, for file times */
	uint64_t start_mono_ns;
	struct pool *pool;
	uint64_t served_by_master;   /* reads answered from published content */
	uint64_t fallbacks;          /* reads answered with host content, no worker */
	int32_t backing_id;          /* passthrough backing file of our opens, 0: none */
	struct pc_node pc[PC_NODES]; /* page-cache state of the static tree's files, by inode */
	char ctl_path[4096];
};

uint64_t now_ns(void);

/* Register fd with epoll for input, tagged with data. Returns 0 or -errno. */
int master_watch(struct master *m, int fd, uint64_t data);
int master_watch_events(struct master *m, int fd, uint64_t data, unsigned events);
void master_unwatch(struct master *m, int fd);

/* fuse_ops.c: one request read from /dev/fuse. */
void fuse_handle(struct master *m, const void *buf, size_t len);

/* Start answering /dev/fuse from the loop. Returns 0 or -errno. */
int fuse_serve(struct master *m);

/*
 * Take over a connection another master answered: its INIT outcome and
 * passthrough id from the region, what is open on each file, and every
 * request it (or a worker) read and did not answer queued again.
 */
void fuse_adopt(struct master *m);

/* Have the kernel queue again every request read from /dev/fuse and not answered. */
void fuse_resend(struct master *m);

/* Measure the host's files once, for st_size (see shm_header.size_hint). */
void fuse_measure_host(struct master *m);

/* Answer a READ job without a worker: host content, logged. */
void fuse_fallback_read(struct master *m, const struct lx_req *req, const char *why);

/* Answer the OPEN a worker resolved the reader of: charged to container key (0: unknown). */
void fuse_open_resolved(struct master *m, const struct lx_req *req, uint64_t key);

/* What the pool hands back to the FUSE layer (pool.h). */
extern const struct pool_hooks fuse_pool_hooks;

/* Serve a READ from the handle's published content. 0 if served, -ENODATA if none. */
int fuse_serve_content(struct master *m, const struct lx_req *req);

#endif
