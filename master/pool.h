/*
 * The worker pool: starting workers (fork+exec of lxcfs-worker), handing them
 * requests through their rings, noticing their deaths (pidfd) and deadlines,
 * and re-dispatching what they had in flight so no reader sees a failure.
 */
#ifndef LXCFS_POOL_H
#define LXCFS_POOL_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "master/master.h"

enum worker_st {
	W_DEAD = 0,
	W_STARTING, /* forked, waiting for READY */
	W_READY,    /* taking requests */
	W_DRAINING, /* replaced: no new requests, stopped once its in-flight is done */
};

struct worker {
	int id; /* slot in shm */
	enum worker_st st;
	pid_t pid;
	int pidfd;
	uint32_t gen;
	uint32_t next_seq;
	uint32_t ninflight;
	struct job inflight[SHM_RING_SLOTS];
	uint64_t started_ns;
	uint64_t respawn_at_ns; /* when dead: earliest restart */
	unsigned fail_streak;   /* deaths before READY in a row */
	uint64_t restarts;
	bool in_target;         /* counts toward the configured pool size */
	bool killed;            /* SIGKILL sent: waiting for its pidfd */
};

struct pool {
	struct master *m;
	int target; /* workers wanted */
	struct worker w[SHM_MAX_WORKERS];
	/* Requests no worker could take yet, oldest first (master-private ring). */
	struct job *pending;
	uint32_t pending_head, pending_tail, pending_cap;
	uint64_t redispatched;
	uint64_t deaths;
};

int pool_init(struct pool *p, struct master *m, int nworkers);

/* Hand a new request to a worker, or queue it. */
void pool_dispatch(struct pool *p, const struct lx_req *req);

/* Retire completed requests of every worker. */
void pool_harvest(struct pool *p);

/* A worker's pidfd became readable: it died. */
void pool_on_exit(struct pool *p, int id);

/* A worker may have become ready (wake eventfd). */
void pool_on_wake(struct pool *p);

/* Periodic: deadlines, restarts, pending queue. Returns true while it needs ticks. */
bool pool_tick(struct pool *p);

/* Stop every worker and reap them (at exit). */
void pool_stop(struct pool *p);

#endif
