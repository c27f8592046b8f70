/*
 * Operations on the pool that an operator starts: a rolling replacement of
 * the workers (lxcfs-ctl upgrade, SIGUSR1, restart-worker) and scaling.
 *
 * A replacement never lowers the number of serving workers: for each old
 * worker in turn a new one is started in a free slot; only once it is READY
 * does the old one stop taking requests (DRAINING), and it is stopped once
 * its last request is answered. A new worker that fails to start (a binary
 * for another shared memory layout exits 3 at attach) ends the operation
 * with the old workers still serving.
 *
 * Progress is one line per worker, when its part is over ("worker 0 -> 4:
 * pid 100 -> 200, ready in 12 ms, drained in 3 ms"), then one summary line;
 * a failure names the worker and why. The same lines go to the log at info
 * (errors for a failure), so that SIGUSR1, which has no client, is followed
 * there.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master/loop.h"
#include "master/pool.h"
#include "shm/log.h"

#define OP_START_NS (10ULL * 1000000000ULL) /* a new worker not READY by then failed */

_Static_assert(SHM_MAX_WORKERS <= 64, "scaling keeps its slots in a 64-bit mask");

static void op_say(struct pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void op_say(struct pool *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("%s", line);
	if (p->op.report)
		p->op.report(p->m, p->op.report_ctx, false, true, line);
}

static void op_end(struct pool *p, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void op_end(struct pool *p, bool ok, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (ok)
		log_info("%s", line);
	else
		log_err("%s", line);
	if (p->op.report)
		p->op.report(p->m, p->op.report_ctx, true, ok, line);
	memset(&p->op, 0, sizeof(p->op));
	p->op.old_slot = p->op.new_slot = -1;
}

static unsigned long long ms_between(uint64_t from, uint64_t to)
{
	return to > from ? (to - from) / 1000000ULL : 0;
}

/* What readers may have noticed during the operation, for its summary. */
static void op_effects(const struct pool *p, char *buf, size_t size)
{
	snprintf(buf, size, "%llu requests re-dispatched, %llu reads answered from the host",
	         (unsigned long long)(p->redispatched - p->op.redispatched0),
	         (unsigned long long)(p->m->fallbacks - p->op.fallbacks0));
}

/* An operation advances on the loop's deadline tick while it runs. */
static uint64_t rollout_clock(struct master *m)
{
	return pool_op_step(m->pool) ? now_ns() + LOOP_TICK_NS : 0;
}

static void op_begin(struct pool *p, enum pool_op_kind kind, pool_report_fn report, void *ctx)
{
	loop_add_tick(p->m, rollout_clock);
	memset(&p->op, 0, sizeof(p->op));
	p->op.kind = kind;
	p->op.report = report;
	p->op.report_ctx = ctx;
	p->op.old_slot = p->op.new_slot = -1;
	p->op.since_ns = now_ns();
	p->op.redispatched0 = p->redispatched;
	p->op.fallbacks0 = p->m->fallbacks;
}

static int op_busy(struct pool *p, char *msg, size_t size)
{
	if (p->op.kind == OP_NONE)
		return 0;
	snprintf(msg, size, "another operation (%s) is under way",
	         p->op.kind == OP_ROLL ? "a rolling replacement" : "scaling");
	return -EBUSY;
}

int pool_roll(struct pool *p, const char *binary, int only_slot, pool_report_fn report, void *ctx,
              char *msg, size_t size)
{
	struct pool_op *op = &p->op;
	int err = op_busy(p, msg, size);

	if (err)
		return err;
	if (!binary)
		binary = p->binary;
	if (access(binary, X_OK) < 0) {
		snprintf(msg, size, "worker binary %s: %s", binary, strerror(errno));
		return -errno;
	}
	if (only_slot >= 0 && (only_slot >= SHM_MAX_WORKERS || !p->w[only_slot].in_target ||
	                       p->w[only_slot].st == W_DEAD)) {
		snprintf(msg, size, "no worker %d", only_slot);
		return -ENOENT;
	}
	op_begin(p, OP_ROLL, report, ctx);
	snprintf(op->binary, sizeof(op->binary), "%s", binary);
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		if (p->w[i].in_target && (only_slot < 0 || i == only_slot))
			op->queue[op->nqueue++] = i;
	op->total = (unsigned)op->nqueue;
	if (only_slot >= 0)
		op_say(p, "replacing worker %d (pid %d) with %s", only_slot, p->w[only_slot].pid,
		       op->binary);
	else
		op_say(p, "replacing %d worker%s one at a time with %s", op->nqueue,
		       op->nqueue == 1 ? "" : "s", op->binary);
	return 0;
}

int pool_scale(struct pool *p, int n, pool_report_fn report, void *ctx, char *msg, size_t size)
{
	int err = op_busy(p, msg, size), live = 0;
	uint64_t now = now_ns();

	if (err)
		return err;
	if (n < 1 || n > SHM_MAX_WORKERS) {
		snprintf(msg, size, "scale takes 1 to %d workers", SHM_MAX_WORKERS);
		return -EINVAL;
	}
	op_begin(p, OP_SCALE, report, ctx);
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		live += p->w[i].in_target;
	p->op.from = live;
	op_say(p, "scaling from %d to %d worker%s", live, n, n == 1 ? "" : "s");
	/* Grow: new slots join the target at once, so a failed start is retried. */
	for (int i = 0; live < n && i < SHM_MAX_WORKERS; i++) {
		struct worker *w = pool_free_slot(p);

		if (!w)
			break;
		w->in_target = true;
		p->op.grow_mask |= 1ULL << w->id;
		if (pool_spawn(p, w, p->binary) < 0)
			/* Retried by the pool after its back-off; reported if it never comes. */
			w->respawn_at_ns = now;
		live++;
	}
	/* Shrink: the newest slots drain and stop; the others keep serving meanwhile. */
	for (int i = SHM_MAX_WORKERS - 1; live > n && i >= 0; i--) {
		struct worker *w = &p->w[i];

		if (!w->in_target)
			continue;
		w->in_target = false;
		if (w->st != W_DEAD)
			p->op.shrink_mask |= 1ULL << i;
		if (w->st == W_READY) {
			w->st = W_DRAINING;
			w->drain_ns = now;
		} else if (w->st == W_STARTING) {
			/* Nothing to drain: its end is as planned as a drained one's. */
			w->stop_sent = true;
			w->drain_ns = now;
			kill(w->pid, SIGTERM);
		}
		live--;
	}
	p->target = n;
	return 0;
}

/* One progress line for each slot of a scaling whose part is over. */
static void scale_report(struct pool *p)
{
	struct pool_op *op = &p->op;

	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct worker *w = &p->w[i];
		uint64_t bit = 1ULL << i;

		if ((op->grow_mask & bit) && w->st == W_READY) {
			op->grow_mask &= ~bit;
			op_say(p, "worker %d: started, pid %d, ready in %llu ms", i, w->pid,
			       ms_between(w->started_ns, w->ready_ns));
		}
		if ((op->shrink_mask & bit) && w->st == W_DEAD) {
			op->shrink_mask &= ~bit;
			if (w->last_end == END_PLANNED)
				op_say(p, "worker %d: pid %d drained in %llu ms, stopped", i,
				       w->pid, ms_between(w->drain_ns, w->exited_ns));
			else
				op_say(p, "worker %d: pid %d ended while draining: %s (%s)", i,
				       w->pid, w->last_exit, pool_end_name(w->last_end));
		}
	}
}

/* Scaling is done when every target worker is ready and every other one gone. */
static void scale_step(struct pool *p)
{
	struct pool_op *op = &p->op;
	char effects[128];
	int ready = 0, wanted = 0, late = -1;

	scale_report(p);
	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct worker *w = &p->w[i];

		wanted += w->in_target;
		ready += w->in_target && w->st == W_READY;
		if ((w->in_target && w->st != W_READY) || (!w->in_target && w->st != W_DEAD))
			late = late < 0 ? i : late;
	}
	if (late < 0) {
		op_effects(p, effects, sizeof(effects));
		op_end(p, true, "scaled from %d to %d worker%s in %llu ms (%s)", op->from, ready,
		       ready == 1 ? "" : "s", ms_between(op->since_ns, now_ns()), effects);
		return;
	}
	if (now_ns() - op->since_ns > OP_START_NS) {
		struct worker *w = &p->w[late];

		op_end(p, false,
		       "worker %d: %s after %llu s (last exit: %s): scaling stopped with %d of %d "
		       "workers ready; the pool keeps trying",
		       late, w->in_target ? "not ready" : "still running",
		       (unsigned long long)(OP_START_NS / 1000000000ULL),
		       w->last_exit[0] ? w->last_exit : "none", ready, wanted);
	}
}

static void roll_step(struct pool *p)
{
	struct pool_op *op = &p->op;
	struct worker *old, *new;
	char effects[128];
	int err;

	if (op->new_slot < 0) {
		/* Next old worker still serving, if any. */
		while (op->nqueue > 0) {
			old = &p->w[op->queue[0]];
			if (old->in_target && old->st != W_DEAD)
				break;
			op_say(
			    p,
			    "worker %d: not running (last exit: %s), skipped: the pool restarts it",
			    old->id, old->last_exit[0] ? old->last_exit : "none");
			memmove(op->queue, op->queue + 1, sizeof(int) * (size_t)--op->nqueue);
		}
		if (op->nqueue == 0) {
			char ids[SHM_MAX_WORKERS * 4] = "";
			size_t n = 0;

			/* From now on every respawn uses the new binary too. */
			snprintf(p->binary, sizeof(p->binary), "%s", op->binary);
			for (int i = 0; i < SHM_MAX_WORKERS && n < sizeof(ids); i++)
				if (p->w[i].in_target)
					n += (size_t)snprintf(ids + n, sizeof(ids) - n, "%s%d",
					                      n ? " " : "", i);
			op_effects(p, effects, sizeof(effects));
			op_end(p, true, "replaced %u worker%s in %llu ms (workers now %s; %s)",
			       op->done, op->done == 1 ? "" : "s",
			       ms_between(op->since_ns, now_ns()), ids, effects);
			return;
		}
		old = &p->w[op->queue[0]];
		new = pool_free_slot(p);
		if (!new) {
			op_end(p, false,
			       "worker %d: no free slot for its replacement (%d slots): stopped "
			       "after %u of %u replaced, the others keep their binary",
			       old->id, SHM_MAX_WORKERS, op->done, op->total);
			return;
		}
		op->old_slot = old->id;
		op->new_slot = new->id;
		op->draining = false;
		err = pool_spawn(p, new, op->binary);
		if (err < 0) {
			op_end(
			    p, false,
			    "worker %d: starting its replacement from %s: %s: stopped after %u of "
			    "%u replaced, the others keep their binary",
			    old->id, op->binary, strerror(-err), op->done, op->total);
			return;
		}
		return;
	}

	old = &p->w[op->old_slot];
	new = &p->w[op->new_slot];
	if (!op->draining) {
		if (new->st == W_READY) {
			new->in_target = true;
			old->in_target = false;
			old->drain_ns = now_ns();
			if (old->st == W_READY) {
				old->st = W_DRAINING;
			} else if (old->st == W_STARTING) {
				/* Restarted meanwhile: nothing to drain, it would only linger. */
				old->stop_sent = true;
				kill(old->pid, SIGTERM);
			}
			op->draining = true;
		} else if (new->st == W_DEAD || now_ns() - new->started_ns > OP_START_NS) {
			if (new->st != W_DEAD) {
				/* Ours: counted as a failed start, not a crash. */
				new->killed = true;
				kill(new->pid, SIGKILL);
			}
			op_end(p, false,
			       "worker %d: its replacement (worker %d, pid %d) from %s failed to "
			       "start: %s; stopped after %u of %u replaced, the old workers keep "
			       "serving",
			       old->id, new->id, new->pid, op->binary,
			       new->st == W_DEAD ? new->last_exit : "not ready in 10 s", op->done,
			       op->total);
		}
		return;
	}
	if (old->st != W_DEAD)
		return;
	if (old->last_end == END_PLANNED) {
		struct shm_worker *sw = &p->m->shm.workers[new->id];
		char ver[sizeof(sw->version)];

		memcpy(ver, sw->version, sizeof(ver));
		ver[sizeof(ver) - 1] = '\0';
		op_say(p,
		       "worker %d -> %d: pid %d -> %d, ready in %llu ms, drained in %llu ms, "
		       "version %s",
		       old->id, new->id, old->pid, new->pid,
		       ms_between(new->started_ns, new->ready_ns),
		       ms_between(old->drain_ns, old->exited_ns), ver[0] ? ver : "?");
	} else {
		op_say(p,
		       "worker %d -> %d: pid %d -> %d, ready in %llu ms; the old one ended while "
		       "draining: %s (%s)",
		       old->id, new->id, old->pid, new->pid,
		       ms_between(new->started_ns, new->ready_ns), old->last_exit,
		       pool_end_name(old->last_end));
	}
	op->done++;
	memmove(op->queue, op->queue + 1, sizeof(int) * (size_t)--op->nqueue);
	op->old_slot = op->new_slot = -1;
	op->draining = false;
}

bool pool_op_step(struct pool *p)
{
	switch (p->op.kind) {
	case OP_ROLL:
		roll_step(p);
		break;
	case OP_SCALE:
		scale_step(p);
		break;
	default:
		break;
	}
	return p->op.kind != OP_NONE;
}
