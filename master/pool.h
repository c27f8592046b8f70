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

/*
 * How a worker's process ended, as counted for the operator: only what we
 * did not ask for is a death worth an alert.
 */
enum worker_end {
	END_NONE = 0,
	END_PLANNED,      /* stopped by our SIGTERM: drained (upgrade, restart, scale down) */
	END_CRASH,        /* a signal we did not send, or an exit we did not ask for */
	END_HANG,         /* our SIGKILL: a missed request deadline, silence, no progress */
	END_START_FAILED, /* never READY: another layout, a binary that does not run, too slow */
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
	uint64_t ready_ns;      /* when it said READY (0: not yet) */
	uint64_t drain_ns;      /* when it was set DRAINING */
	uint64_t exited_ns;     /* when its pidfd said it ended */
	uint64_t respawn_at_ns; /* when dead: earliest restart */
	unsigned fail_streak;   /* deaths before READY in a row */
	uint64_t restarts;
	bool in_target;     /* counts toward the configured pool size */
	bool killed;        /* our SIGKILL sent (deadline): waiting for its pidfd */
	uint64_t slow_since; /* past a deadline while running: out of dispatch since */
	bool stop_sent;     /* our SIGTERM sent (drained, or scaled away): its end is planned */
	int last_status;    /* wait status of its last exit, -1 if none */
	enum worker_end last_end;
	char last_exit[64]; /* why the last one in this slot ended */
	char binary[4096];  /* what this slot's worker was started from */
};

/*
 * An operator's operation on the pool, one at a time: a rolling replacement
 * of workers (upgrade, SIGUSR1, restart-worker) or a change of size (scale).
 * Progress goes to the control connection that asked, if any.
 */
enum pool_op_kind { OP_NONE, OP_ROLL, OP_SCALE };

/*
 * Where an operation's progress goes (besides the log): a line per step, then
 * the outcome (final). Given by whoever started it; NULL: the log only.
 */
typedef void (*pool_report_fn)(struct master *m, void *ctx, bool final, bool ok, const char *line);

struct pool_op {
	enum pool_op_kind kind;
	pool_report_fn report;
	void *report_ctx;
	int queue[SHM_MAX_WORKERS]; /* OP_ROLL: slots still to replace */
	int nqueue;
	int old_slot, new_slot; /* the replacement under way, -1 none */
	bool draining;          /* new one ready: waiting for the old one to finish */
	uint64_t since_ns;
	char binary[4096];
	unsigned done;
	unsigned total; /* OP_ROLL: workers to replace */
	int from;       /* OP_SCALE: workers before */
	/* OP_SCALE: slots started (reported once ready) and slots leaving (once gone). */
	uint64_t grow_mask, shrink_mask;
	/* At the start, for the summary: what readers may have noticed. */
	uint64_t redispatched0, fallbacks0;
};

/*
 * What the pool cannot finish itself, handed back to the FUSE layer above it:
 * a request no worker could answer (its reader gets the host's file), and
 * the container of a reader whose OPEN waited for a worker to resolve it.
 */
struct pool_hooks {
	void (*fallback)(struct master *m, const struct lx_req *req, const char *why);
	void (*resolved)(struct master *m, const struct lx_req *req, uint64_t key);
};

struct pool {
	struct master *m;
	struct pool_hooks hooks;
	uint64_t next_sample_ns; /* -l: when the next load sample is due */
	int target; /* workers wanted */
	struct worker w[SHM_MAX_WORKERS];
	/* Requests no worker could take yet, oldest first (master-private ring). */
	struct job *pending;
	uint32_t pending_head, pending_tail, pending_cap;
	uint64_t redispatched;
	/* Ends of workers by kind (enum worker_end); deaths are all but the planned ones. */
	uint64_t crashes, hangs, start_failures, planned_exits;
	char binary[4096]; /* the worker binary new workers start from */
	bool ever_ready;   /* some worker has been ready since start */
	bool gc_wanted;    /* a worker died: recover its chunks once all are idle */
	struct pool_op op;
};

/* Start nworkers workers, and take the pool's events and ticks from the loop. */
int pool_init(struct pool *p, struct master *m, int nworkers, const struct pool_hooks *hooks);

/*
 * For a master taking over from one that died or handed over: the workers
 * still serving become ours (nworkers of them; more are drained), slots
 * without one are filled as after a death. Returns 0 or -errno.
 */
int pool_adopt(struct pool *p, struct master *m, int nworkers, const struct pool_hooks *hooks);

/* Hand a new request to a worker, or queue it. */
void pool_dispatch(struct pool *p, const struct lx_req *req);

/* Retire completed requests of every worker. */
void pool_harvest(struct pool *p);

/* Nothing in flight or queued, and no worker that lost its requests still working. */
bool pool_idle(const struct pool *p);

/* A slot whose workers keep dying before they are READY (three in a row). */
bool pool_failing(const struct pool *p);

/* Workers counted toward the pool's size that are READY. */
int pool_ready(const struct pool *p);

/* Periodic: deadlines, restarts, pending queue. Returns true while it needs ticks. */
bool pool_tick(struct pool *p);

/* Stop every worker and reap them (at exit). */
void pool_stop(struct pool *p);

/* Start a worker in slot w from binary. Returns 0 or -errno. */
int pool_spawn(struct pool *p, struct worker *w, const char *binary);

/* A free slot for a new worker, or NULL. */
struct worker *pool_free_slot(struct pool *p);

/*
 * Why a worker ended, for the counters an operator alerts on: a planned stop
 * (our SIGTERM after a drain) is no death. A SIGKILL is ours only if we sent
 * one (w->killed): the OOM killer's or an operator's is a crash like any
 * signal we did not send. status: its wait status, < 0 when unknown.
 */
enum worker_end pool_end_of(const struct worker *w, bool was_ready, int status);

/* The counter kind e goes to; "crash", "hang", ... for records and logs. */
const char *pool_end_name(enum worker_end e);
/* Unplanned ends of workers since start: crashes, hangs and failed starts. */
uint64_t pool_deaths(const struct pool *p);

/* Workers counted toward the pool's size and alive. */
int pool_live(const struct pool *p);

/*
 * Operations (rollout.c). Each returns 0 when started, or -errno with msg
 * set; progress and the outcome go to report (NULL: the log only).
 */
int pool_roll(struct pool *p, const char *binary, int only_slot, pool_report_fn report, void *ctx,
              char *msg, size_t size);
int pool_scale(struct pool *p, int n, pool_report_fn report, void *ctx, char *msg, size_t size);
/* Advance the operation under way (rollout's own tick). True while one runs. */
bool pool_op_step(struct pool *p);

#endif
