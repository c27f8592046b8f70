/*
 * The worker pool. Workers are fork+exec'd so that an upgrade can swap the
 * binary; each inherits the /dev/fuse file (fd 3), the shared memory (fd 4)
 * and the master's wake eventfd (fd 5). A request goes to the idlest worker,
 * and among equals to one that last ran on the master's CPU: a wake-up there
 * is far cheaper than one across CPUs. Workers are not pinned: a pinned worker
 * on a CPU that container load saturates was seen to sit runnable for over
 * 500 ms with requests queued, while the other CPU had room.
 *
 * The master keeps every request it pushed until the worker's completion says
 * it was answered. When a worker dies, whatever it had not completed goes to
 * another worker: renders are idempotent, and a second reply to a request the
 * kernel already completed is refused by the kernel harmlessly.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master/child.h"
#include "master/loop.h"
#include "master/pool.h"
#include "master/stats.h"
#include "master/tenant.h"
#include "master/tree.h"
#include "shm/content.h"
#include "shm/log.h"

#define START_DEADLINE_NS (5ULL * 1000000000ULL)
/*
 * Workers that may die working on one request before its reader gets the
 * host's file instead: a request that kills every worker must not take the
 * pool down with it. Deaths of a worker that had not taken it yet do not count.
 */
#define MAX_ATTEMPTS      4
/*
 * How long a request may wait for any worker to be ready before the host's
 * file is served: long enough for a pool killed at once to come back (a
 * container must not see host figures for a hiccup), short enough that a pool
 * that cannot start does not hang readers.
 */
#define PENDING_FALLBACK_NS (5ULL * 1000000000ULL)
/* A ready worker wakes at least once a second; silent this long, it is hung. */
#define HEARTBEAT_LIMIT_NS (5ULL * 1000000000ULL)
/* A worker past the deadline but running (starved, not stuck) gets this long to recover. */
#define SLOW_LIMIT_NS (5ULL * 1000000000ULL)
#define PENDING_MAX       65536
#define LOADAVG_PERIOD_NS (5ULL * 1000000000ULL) /* the kernel's LOAD_FREQ */

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static struct shm_worker *slot_of(struct pool *p, struct worker *w)
{
	return &p->m->shm.workers[w->id];
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void worker_exec(struct pool *p, struct worker *w, uint32_t gen, pid_t parent,
                        const char *binary)
{
	char slot[16], gens[16];
	char *argv[12];
	int argc = 0;

	/*
	 * No parent-death signal: a worker outlives a master that dies, holding
	 * the connection open for the standby that takes its place (and exits on
	 * its own if no master comes back, worker_main.c).
	 */
	child_fds(p->m, parent, -1);

	snprintf(slot, sizeof(slot), "%d", w->id);
	snprintf(gens, sizeof(gens), "%u", gen);
	argv[argc++] = "lxcfs-worker";
	argv[argc++] = "--slot";
	argv[argc++] = slot;
	argv[argc++] = "--gen";
	argv[argc++] = gens;
	if (log_debug_on)
		argv[argc++] = "--debug";
	/* The target the master resolved, so that every process logs to the same place. */
	argv[argc++] = "--log";
	argv[argc++] = (char *)log_target_name(log_target_now());
	argv[argc] = NULL;
	execv(binary, argv);
	_exit(127);
}

int pool_spawn(struct pool *p, struct worker *w, const char *binary)
{
	struct shm_worker *sw = slot_of(p, w);
	pid_t parent = getpid(), pid;
	uint32_t gen;
	int pidfd;

	ring_reset(&sw->req);
	ring_reset(&sw->cmp);
	gen = atomic_load(&sw->gen) + 1;
	atomic_store(&sw->gen, gen);
	atomic_store(&sw->state, WS_STARTING);
	atomic_store(&sw->want_wake, 0);
	memset(sw->version, 0, sizeof(sw->version));
	memset(w->inflight, 0, sizeof(w->inflight));
	w->ninflight = 0;
	w->next_seq = 0;

	pid = fork();
	if (pid < 0) {
		log_err("fork of worker %d: %s", w->id, strerror(errno));
		return -errno;
	}
	if (pid == 0)
		worker_exec(p, w, gen, parent, binary);

	pidfd = pidfd_open(pid);
	if (pidfd < 0) {
		/* Without a pidfd we could not see it die: do not use it. */
		log_err("pidfd_open of worker %d (pid %d): %s", w->id, pid, strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -errno;
	}
	atomic_store(&sw->pid, pid);
	w->pid = pid;
	w->pidfd = pidfd;
	w->gen = gen;
	w->st = W_STARTING;
	w->killed = false;
	w->slow_since = 0;
	w->stop_sent = false;
	w->ready_ns = w->drain_ns = 0;
	if (binary != w->binary)
		snprintf(w->binary, sizeof(w->binary), "%s", binary);
	w->started_ns = now_ns();
	master_watch(p->m, pidfd, EV(EV_PIDFD, w->id));
	log_debug("worker %d: started pid %d", w->id, pid);
	return 0;
}

static void on_exit_event(struct master *m, int idx, unsigned events);
static void on_wake_event(struct master *m, int idx, unsigned events);
static uint64_t pool_clock(struct master *m);

/*
 * A worker a previous master started, still serving: watched through a
 * pidfd (it is not our child, so its exit status is not ours to read), its
 * ring continued where that master left it. Requests it had been given are
 * answered by it or queued again by the kernel (FUSE_NOTIFY_RESEND);
 * completions of them find no job here and only settle content charges.
 */
static bool adopt(struct pool *p, struct worker *w)
{
	struct shm_worker *sw = slot_of(p, w);
	uint32_t state = atomic_load(&sw->state);
	pid_t pid = atomic_load(&sw->pid);
	int pidfd;

	if (pid <= 0 || (state != WS_READY && state != WS_STARTING))
		return false;
	pidfd = pidfd_open(pid);
	if (pidfd < 0) {
		log_info("worker %d (pid %d) is gone: its slot starts afresh", w->id, pid);
		return false;
	}
	w->pid = pid;
	w->pidfd = pidfd;
	w->gen = atomic_load(&sw->gen);
	w->st = state == WS_READY ? W_READY : W_STARTING;
	w->next_seq = atomic_load(&sw->req.head);
	w->started_ns = w->ready_ns = now_ns();
	snprintf(w->binary, sizeof(w->binary), "%s", "(started by a previous master)");
	master_watch(p->m, pidfd, EV(EV_PIDFD, w->id));
	return true;
}

int pool_adopt(struct pool *p, struct master *m, int nworkers, const struct pool_hooks *hooks)
{
	int adopted = 0;

	if (pool_init(p, m, 0, hooks) < 0)
		return -ENOMEM;
	p->target = nworkers;
	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct worker *w = &p->w[i];

		if (!adopt(p, w))
			continue;
		adopted++;
		if (adopted <= nworkers) {
			w->in_target = true;
			continue;
		}
		/* More than this master wants: drained and stopped as a scale-down would. */
		w->st = W_DRAINING;
		w->drain_ns = now_ns();
	}
	/* Slots that lost their worker come back through pool_tick, as after a death. */
	for (int i = 0; i < SHM_MAX_WORKERS && adopted < nworkers; i++) {
		struct worker *w = &p->w[i];

		if (w->st == W_DEAD && !w->in_target) {
			w->in_target = true;
			adopted++;
		}
	}
	p->ever_ready = true;
	p->gc_wanted = true; /* what the dead master was between taking and publishing */
	return 0;
}

int pool_init(struct pool *p, struct master *m, int nworkers, const struct pool_hooks *hooks)
{
	memset(p, 0, sizeof(*p));
	p->m = m;
	p->hooks = *hooks;
	p->target = nworkers;
	p->op.old_slot = p->op.new_slot = -1;
	p->next_sample_ns = now_ns() + LOADAVG_PERIOD_NS;
	snprintf(p->binary, sizeof(p->binary), "%s", m->cli->worker_binary);
	loop_on(m, EV_PIDFD, on_exit_event);
	loop_on(m, EV_WAKE, on_wake_event);
	loop_add_tick(m, pool_clock);
	if (master_watch(m, m->wakefd, EV(EV_WAKE, 0)) < 0)
		return -EIO;
	p->pending_cap = 256;
	p->pending = calloc(p->pending_cap, sizeof(*p->pending));
	if (!p->pending)
		return -ENOMEM;
	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		p->w[i].id = i;
		p->w[i].pidfd = -1;
		p->w[i].last_status = -1;
	}
	for (int i = 0; i < nworkers; i++) {
		p->w[i].in_target = true;
		pool_spawn(p, &p->w[i], p->binary);
	}
	return 0;
}

static void harvest(struct pool *p, struct worker *w)
{
	struct shm_worker *sw = slot_of(p, w);
	struct lx_cmp c;

	/* Bounded: a corrupt ring must not keep the master here. */
	for (int i = 0; i < SHM_RING_SLOTS; i++) {
		struct job *j;

		if (!ring_pop(&sw->cmp, sw->cmp_slot, SHM_RING_SLOTS, sizeof(c), &c))
			break;
		j = &w->inflight[c.seq % SHM_RING_SLOTS];
		if (j->used && j->req.seq == c.seq) {
			if (j->req.op == LX_OP_READ)
				stats_note(j->req.file, c.done_ns - j->req.t_dispatch_ns, c.error,
				           0);
			else if (j->req.op == LX_OP_RESOLVE)
				p->hooks.resolved(p->m, &j->req, c.error ? 0 : c.tenant);
			j->used = false;
			w->ninflight--;
		}
		/* What the worker kept for the open, and what that replaced, are its container's. */
		if (c.new_chunks)
			tenant_charge(p->m, c.fh, (int32_t)c.new_chunks);
		if (c.old_content)
			tenant_charge(p->m, c.fh, -(int32_t)content_free(&p->m->shm, c.old_content));
	}
}

void pool_harvest(struct pool *p)
{
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		if (p->w[i].st != W_DEAD)
			harvest(p, &p->w[i]);
}

static struct worker *pick(struct pool *p)
{
	struct worker *best = NULL;
	unsigned best_score = ~0u;
	int cpu = sched_getcpu();

	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct worker *w = &p->w[i];
		unsigned score;

		if (w->st != W_READY || w->killed || w->slow_since ||
		    w->ninflight >= SHM_RING_SLOTS - 1)
			continue;
		/* An idle worker elsewhere beats a busy one here; ours wins a tie. */
		score = w->ninflight * 2 + ((int)atomic_load_explicit(&p->m->shm.workers[i].cpu,
		                                                      memory_order_relaxed) != cpu);
		if (score < best_score) {
			best = w;
			best_score = score;
		}
	}
	return best;
}

static bool push(struct pool *p, struct worker *w, struct job *j)
{
	struct shm_worker *sw = slot_of(p, w);
	struct job *slot = &w->inflight[w->next_seq % SHM_RING_SLOTS];

	if (slot->used)
		return false;
	j->req.seq = w->next_seq;
	if (!ring_push(&sw->req, sw->req_slot, SHM_RING_SLOTS, sizeof(j->req), &j->req))
		return false;
	w->next_seq++;
	*slot = *j;
	slot->used = true;
	slot->pushed_ns = now_ns();
	w->ninflight++;
	return true;
}

static void pending_push(struct pool *p, const struct job *j)
{
	uint32_t n = p->pending_tail - p->pending_head;

	if (n == p->pending_cap) {
		struct job *bigger;

		if (p->pending_cap >= PENDING_MAX) {
			p->hooks.fallback(p->m, &j->req, "request queue full");
			return;
		}
		bigger = calloc(p->pending_cap * 2, sizeof(*bigger));
		if (!bigger) {
			p->hooks.fallback(p->m, &j->req, "request queue cannot grow");
			return;
		}
		for (uint32_t i = 0; i < n; i++)
			bigger[i] = p->pending[(p->pending_head + i) % p->pending_cap];
		free(p->pending);
		p->pending = bigger;
		p->pending_cap *= 2;
		p->pending_head = 0;
		p->pending_tail = n;
	}
	p->pending[p->pending_tail++ % p->pending_cap] = *j;
}

static void give(struct pool *p, struct job *j)
{
	struct worker *w;

	if (j->attempts >= MAX_ATTEMPTS) {
		if (j->req.op == LX_OP_SAMPLE)
			log_warn("load sample dropped: workers died on it");
		else
			p->hooks.fallback(p->m, &j->req, "workers died on it");
		return;
	}
	w = pick(p);
	if (w && push(p, w, j))
		return;
	pending_push(p, j);
}

void pool_dispatch(struct pool *p, const struct lx_req *req)
{
	struct job j = {.req = *req};

	give(p, &j);
}

static void flush_pending(struct pool *p)
{
	while (p->pending_head != p->pending_tail) {
		struct job *j = &p->pending[p->pending_head % p->pending_cap];
		struct worker *w = pick(p);

		if (!w || !push(p, w, j))
			return;
		p->pending_head++;
	}
}

static int cmp_seq(const void *a, const void *b)
{
	const struct job *x = a, *y = b;

	return x->req.seq < y->req.seq ? -1 : x->req.seq > y->req.seq;
}

/*
 * Give every request a worker still holds to the others, oldest first, and
 * forget them: a late answer from it finds nothing to retire, and a second
 * reply to the kernel is refused harmlessly.
 */
static void take_back(struct pool *p, struct worker *w)
{
	/* Requests it had taken from its ring, as opposed to ones still waiting there. */
	uint32_t taken = atomic_load(&slot_of(p, w)->req.tail);
	struct job orphans[SHM_RING_SLOTS];
	int n = 0;

	for (int i = 0; i < SHM_RING_SLOTS; i++) {
		if (!w->inflight[i].used)
			continue;
		orphans[n] = w->inflight[i];
		/* Only a request it was working on counts against the request (poison). */
		if ((int32_t)(orphans[n].req.seq - taken) < 0)
			orphans[n].attempts++;
		n++;
	}
	memset(w->inflight, 0, sizeof(w->inflight));
	w->ninflight = 0;
	qsort(orphans, (size_t)n, sizeof(orphans[0]), cmp_seq);
	for (int i = 0; i < n; i++) {
		p->redispatched++;
		give(p, &orphans[i]);
	}
	if (n)
		log_debug("worker %d: re-dispatched %d requests", w->id, n);
}

static uint64_t backoff_ns(unsigned streak)
{
	uint64_t ms = 50ULL << (streak < 7 ? streak : 7);

	return (ms > 5000 ? 5000 : ms) * 1000000ULL;
}

const char *pool_end_name(enum worker_end e)
{
	switch (e) {
	case END_PLANNED:
		return "planned";
	case END_CRASH:
		return "crash";
	case END_HANG:
		return "hang";
	case END_START_FAILED:
		return "start failure";
	default:
		return "-";
	}
}

uint64_t pool_deaths(const struct pool *p)
{
	return p->crashes + p->hangs + p->start_failures;
}

enum worker_end pool_end_of(const struct worker *w, bool was_ready, int status)
{
	if (status < 0) {
		/* Not ours to reap (adopted from a master that died): judge by what we did. */
		if (w->stop_sent)
			return END_PLANNED;
		if (w->killed)
			return was_ready ? END_HANG : END_START_FAILED;
		return was_ready ? END_CRASH : END_START_FAILED;
	}
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);

		if (sig == SIGKILL && w->killed)
			return was_ready ? END_HANG : END_START_FAILED;
		if (sig == SIGTERM && w->stop_sent)
			return END_PLANNED;
		return END_CRASH;
	}
	if (WEXITSTATUS(status) == 0 && w->stop_sent)
		return END_PLANNED;
	return was_ready ? END_CRASH : END_START_FAILED;
}

/* The last_exit text of a worker that ended with status as e. */
static void describe_end(struct worker *w, enum worker_end e, int status, bool draining)
{
	char *out = w->last_exit;
	size_t size = sizeof(w->last_exit);

	if (status < 0)
		snprintf(out, size, "exit status unknown");
	else if (WIFSIGNALED(status) && (e == END_HANG || e == END_START_FAILED))
		/* Tests and operators grep for the word: keep it. */
		snprintf(out, size, "deadline: signal %d", WTERMSIG(status));
	else if (WIFSIGNALED(status) && e == END_PLANNED)
		snprintf(out, size, "stopped: signal %d", WTERMSIG(status));
	else if (WIFSIGNALED(status))
		snprintf(out, size, "killed by signal %d (SIG%s)", WTERMSIG(status),
		         sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	else if (WEXITSTATUS(status) == 3)
		snprintf(out, size, "incompatible shared memory layout");
	else if (WEXITSTATUS(status) == 127)
		snprintf(out, size, "cannot execute binary");
	else
		snprintf(out, size, "%sexit status %d", draining ? "drained, " : "",
		         WEXITSTATUS(status));
}

static void pool_on_exit(struct pool *p, int id)
{
	struct worker *w = &p->w[id];
	struct shm_worker *sw = slot_of(p, w);
	bool was_ready = w->st == W_READY || w->st == W_DRAINING;
	bool draining = w->st == W_DRAINING;
	int status = -1;
	enum worker_end e;

	if (w->st == W_DEAD)
		return;
	if (waitpid(w->pid, &status, WNOHANG) != w->pid)
		status = -1;
	w->exited_ns = now_ns();
	w->last_status = status;
	e = pool_end_of(w, was_ready, status);
	w->last_end = e;
	describe_end(w, e, status, draining);
	switch (e) {
	case END_PLANNED:
		p->planned_exits++;
		log_debug("worker %d (pid %d): %s", id, w->pid, w->last_exit);
		break;
	case END_HANG:
		p->hangs++;
		log_warn("worker %d (pid %d): %s", id, w->pid, w->last_exit);
		break;
	case END_START_FAILED:
		p->start_failures++;
		/*
		 * Before any worker was ever ready, the pool's one summary says it
		 * (no worker could start; a takeover that stops): these are detail.
		 */
		if (!p->ever_ready)
			log_debug("worker %d (pid %d): %s", id, w->pid, w->last_exit);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
			log_err("worker %d (pid %d) refused to attach: incompatible shared "
			        "memory layout (%s)",
			        id, w->pid, w->binary);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			log_err("worker %d (pid %d): cannot execute %s", id, w->pid, w->binary);
		else /* the line before says why, if it was us ("not ready after 5 s") */
			log_err("worker %d (pid %d): %s", id, w->pid, w->last_exit);
		break;
	default:
		p->crashes++;
		log_err("worker %d (pid %d): %s", id, w->pid, w->last_exit);
		break;
	}
	master_unwatch(p->m, w->pidfd);
	close(w->pidfd);
	w->pidfd = -1;

	harvest(p, w);
	w->st = W_DEAD;
	atomic_store(&sw->state, WS_EMPTY);
	atomic_store(&sw->pid, 0);
	/* It may have died holding chunks it had not published yet. */
	p->gc_wanted = true;

	/* In the order the kernel sent them, to the others (before the ring is reset:
	 * its tail tells which ones it had taken). */
	take_back(p, w);
	ring_reset(&sw->req);
	ring_reset(&sw->cmp);

	if (was_ready)
		w->fail_streak = 0;
	else
		w->fail_streak++;
	w->restarts++;
	w->respawn_at_ns = now_ns() + (was_ready ? 0 : backoff_ns(w->fail_streak));
	if (w->in_target && was_ready && !p->m->stopping)
		pool_spawn(p, w, p->binary);
}

/*
 * No worker can be touching content chunks: none holds a request, and none
 * that lost its requests (killed, starved) may still be working on one.
 */
bool pool_idle(const struct pool *p)
{
	if (p->pending_head != p->pending_tail)
		return false;
	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		const struct worker *w = &p->w[i];

		if (w->st == W_DEAD)
			continue;
		if (w->ninflight || w->killed || w->slow_since)
			return false;
	}
	return true;
}

/* How long ago t was; a t after our clock reading (set since by us) is 0 ago. */
static inline uint64_t age(uint64_t now, uint64_t t)
{
	return now > t ? now - t : 0;
}

/* The worker's last sign of life: its heartbeat, or its start if it has none yet. */
static uint64_t last_beat(struct pool *p, struct worker *w)
{
	uint64_t beat = atomic_load_explicit(&slot_of(p, w)->heartbeat_ns, memory_order_relaxed);

	return beat > w->started_ns ? beat : w->started_ns;
}

/*
 * At start, before any worker was ever ready: did every one fail in a way a
 * retry cannot fix (another shared memory layout, a binary that does not run)?
 */
static bool pool_cannot_start(const struct pool *p)
{
	int failed = 0;

	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		const struct worker *w = &p->w[i];
		int st = w->last_status;

		if (!w->in_target)
			continue;
		if (w->st != W_DEAD || st < 0 || !WIFEXITED(st) ||
		    (WEXITSTATUS(st) != 3 && WEXITSTATUS(st) != 127))
			return false;
		failed++;
	}
	return failed > 0;
}

static void check_ready(struct pool *p, struct worker *w)
{
	struct shm_worker *sw = slot_of(p, w);

	if (w->st != W_STARTING || atomic_load(&sw->state) != WS_READY ||
	    atomic_load(&sw->gen) != w->gen)
		return;
	w->st = W_READY;
	w->ready_ns = now_ns();
	w->fail_streak = 0;
	p->ever_ready = true;
	log_debug("worker %d (pid %d) ready: %.63s", w->id, w->pid, sw->version);
}

static void pool_on_wake(struct pool *p)
{
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		check_ready(p, &p->w[i]);
	pool_harvest(p);
	flush_pending(p);
}

/* /proc/<pid>/<name> of one of our workers into buf (empty if unreadable). */
static void worker_proc_text(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
}

/* What a stuck worker is doing, for the log line: its state and kernel wait channel. */
static const char *worker_where(pid_t pid, char *buf, size_t size, char *state_out)
{
	char wchan[64], stat[512];
	char state = '?', *rp;

	worker_proc_text(pid, "wchan", wchan, sizeof(wchan));
	worker_proc_text(pid, "stat", stat, sizeof(stat));
	rp = strrchr(stat, ')');
	if (rp && rp[1] == ' ')
		state = rp[2];
	snprintf(buf, size, "state %c, waiting in %s", state, wchan[0] ? wchan : "-");
	*state_out = state;
	return buf;
}

bool pool_tick(struct pool *p)
{
	char where[128], state;
	uint64_t beat, unique;
	uint64_t now = now_ns();
	uint64_t timeout = (uint64_t)p->m->cli->request_timeout_ms * 1000000ULL;
	bool busy = false, any_ready = false;

	pool_harvest(p);
	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct worker *w = &p->w[i];

		check_ready(p, w);
		switch (w->st) {
		case W_READY:
		case W_DRAINING:
			any_ready |= w->st == W_READY;
			for (int s = 0; s < SHM_RING_SLOTS && w->ninflight; s++) {
				struct job *j = &w->inflight[s];

				/* A load sample visits many cgroups: it gets a longer bound. */
				if (!j->used || w->killed || w->slow_since ||
				    age(now, j->pushed_ns) <
				        (j->req.op == LX_OP_READ ? timeout : 10 * timeout))
					continue;
				unique = j->req.unique; /* j is gone after take_back */
				worker_where(w->pid, where, sizeof(where), &state);
				/* Its readers need not wait for it, stuck or starved: the others answer. */
				take_back(p, w);
				if (state == 'R') {
					/* Running but starved of CPU: killing it would not help. */
					w->slow_since = now;
					log_warn(
					    "worker %d (pid %d, %s) did not answer request %llu in "
					    "%u ms: its requests go to the others",
					    w->id, w->pid, where, (unsigned long long)unique,
					    p->m->cli->request_timeout_ms);
					break;
				}
				w->killed = true;
				log_warn(
				    "worker %d (pid %d, %s) did not answer request %llu in %u ms: "
				    "replacing it",
				    w->id, w->pid, where, (unsigned long long)unique,
				    p->m->cli->request_timeout_ms);
				kill(w->pid, SIGKILL);
				break;
			}
			if (w->slow_since && !w->killed) {
				beat = last_beat(p, w);

				if (beat > w->slow_since) {
					w->slow_since = 0; /* it got the CPU back: it may serve again */
				} else if (age(now, w->slow_since) > SLOW_LIMIT_NS) {
					w->killed = true;
					log_warn("worker %d (pid %d) made no progress in %llu ms: "
					         "replacing it",
					         w->id, w->pid,
					         (unsigned long long)(SLOW_LIMIT_NS / 1000000ULL));
					kill(w->pid, SIGKILL);
				}
			}
			/* Idle and silent (stopped, or stuck outside a request): replace it too. */
			beat = last_beat(p, w);
			if (!w->killed && w->ninflight == 0 && age(now, beat) > HEARTBEAT_LIMIT_NS) {
				w->killed = true;
				log_warn("worker %d (pid %d, %s) silent for 5 s: replacing it",
				         w->id, w->pid,
				         worker_where(w->pid, where, sizeof(where), &state));
				kill(w->pid, SIGKILL);
			}
			if (w->st == W_DRAINING && w->ninflight == 0 && !w->stop_sent) {
				/* Nothing left in its ring or in flight: it may go. */
				w->stop_sent = true;
				kill(w->pid, SIGTERM);
			}
			busy |= w->ninflight > 0 || w->st == W_DRAINING;
			break;
		case W_STARTING:
			busy = true;
			if (age(now, w->started_ns) > START_DEADLINE_NS && !w->killed) {
				w->killed = true;
				log_warn("worker %d (pid %d) not ready after 5 s: killing it",
				         w->id, w->pid);
				kill(w->pid, SIGKILL);
			}
			break;
		case W_DEAD:
			if (w->in_target && !p->m->stopping) {
				busy = true;
				if (now >= w->respawn_at_ns)
					pool_spawn(p, w, p->binary);
			}
			break;
		}
	}
	if (!p->ever_ready && !any_ready && pool_cannot_start(p)) {
		log_err("no worker could start from %s (%s): exiting", p->binary,
		        p->w[0].last_exit);
		p->m->stopping = true;
		p->m->exit_code = 1;
	}
	if (p->gc_wanted && pool_idle(p)) {
		unsigned n = content_collect(&p->m->shm);

		/* The dead worker's completions may be lost: charges follow what is published. */
		tenant_recount(p->m);
		p->gc_wanted = false;
		if (n)
			log_info("recovered %u content chunks left by dead workers", n);
	}
	flush_pending(p);
	/* Nobody to serve them: answer with host content rather than leave readers hanging. */
	while (!any_ready && p->pending_head != p->pending_tail) {
		struct job *j = &p->pending[p->pending_head % p->pending_cap];

		if (age(now, j->req.t_dispatch_ns) < PENDING_FALLBACK_NS)
			break;
		p->hooks.fallback(p->m, &j->req, "no worker is ready");
		p->pending_head++;
	}
	return busy || p->pending_head != p->pending_tail;
}

struct worker *pool_free_slot(struct pool *p)
{
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		if (p->w[i].st == W_DEAD && !p->w[i].in_target)
			return &p->w[i];
	return NULL;
}

bool pool_failing(const struct pool *p)
{
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		if (p->w[i].in_target && p->w[i].fail_streak >= 3)
			return true;
	return false;
}

int pool_ready(const struct pool *p)
{
	int n = 0;

	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		n += p->w[i].in_target && p->w[i].st == W_READY;
	return n;
}

int pool_live(const struct pool *p)
{
	int n = 0;

	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		n += p->w[i].in_target && p->w[i].st != W_DEAD;
	return n;
}

void pool_stop(struct pool *p)
{
	uint64_t deadline = now_ns() + 2000000000ULL;
	bool left;

	p->m->stopping = true;
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		if (p->w[i].st != W_DEAD)
			kill(p->w[i].pid, SIGTERM);
	do {
		left = false;
		for (int i = 0; i < SHM_MAX_WORKERS; i++) {
			struct worker *w = &p->w[i];

			struct pollfd pfd = {.fd = w->pidfd, .events = POLLIN};

			if (w->st == W_DEAD)
				continue;
			/* The pidfd says it ended, ours or adopted; reaping is for ours only. */
			if (poll(&pfd, 1, 0) == 1) {
				waitpid(w->pid, NULL, WNOHANG);
				close(w->pidfd);
				w->st = W_DEAD;
				continue;
			}
			left = true;
		}
		if (left)
			usleep(10000);
	} while (left && now_ns() < deadline);
	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct worker *w = &p->w[i];

		if (w->st == W_DEAD)
			continue;
		log_warn("worker %d (pid %d) ignored SIGTERM: killing it", w->id, w->pid);
		kill(w->pid, SIGKILL);
		waitpid(w->pid, NULL, 0);
		close(w->pidfd);
		w->st = W_DEAD;
	}
}

static void on_exit_event(struct master *m, int idx, unsigned events)
{
	(void)events;
	pool_on_exit(m->pool, idx);
}

static void on_wake_event(struct master *m, int idx, unsigned events)
{
	uint64_t v;

	(void)idx;
	(void)events;
	(void)!read(m->wakefd, &v, sizeof(v));
	pool_on_wake(m->pool);
}

/*
 * -l: every 5 s one worker samples the load of the containers read recently
 * (nobody waits for a sample; the kernel's LOAD_FREQ paces it).
 */
static uint64_t sample_clock(struct pool *p, uint64_t now)
{
	struct lx_req req = {.op = LX_OP_SAMPLE, .file = LX_FILE_LOADAVG};

	if (!p->m->cli->loadavg)
		return 0;
	if (now >= p->next_sample_ns) {
		req.t_dispatch_ns = now;
		pool_dispatch(p, &req);
		p->next_sample_ns = now + LOADAVG_PERIOD_NS;
	}
	return p->next_sample_ns;
}

/*
 * The pool's clock: the deadline tick while requests are in flight, else
 * once a second (heartbeats, restarts), and the load samples.
 */
static uint64_t pool_clock(struct master *m)
{
	struct pool *p = m->pool;
	uint64_t now = now_ns(), sample = sample_clock(p, now);
	uint64_t due = now + (pool_tick(p) ? LOOP_TICK_NS : 1000000000ULL);

	return sample && sample < due ? sample : due;
}
