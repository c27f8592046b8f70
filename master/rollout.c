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
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master/control.h"
#include "master/pool.h"
#include "shm/log.h"

#define OP_START_NS (10ULL * 1000000000ULL) /* a new worker not READY by then failed */

static void op_say(struct pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void op_say(struct pool *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("%s", line);
	if (p->op.conn >= 0)
		control_progress(p->m, p->op.conn, line);
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
	if (p->op.conn >= 0)
		control_finish(p->m, p->op.conn, ok, line);
	memset(&p->op, 0, sizeof(p->op));
	p->op.conn = -1;
	p->op.old_slot = p->op.new_slot = -1;
}

static int op_busy(struct pool *p, char *msg, size_t size)
{
	if (p->op.kind == OP_NONE)
		return 0;
	snprintf(msg, size, "another operation (%s) is under way",
	         p->op.kind == OP_ROLL ? "a rolling replacement" : "scaling");
	return -EBUSY;
}

int pool_roll(struct pool *p, const char *binary, int only_slot, int conn, char *msg, size_t size)
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
	memset(op, 0, sizeof(*op));
	op->kind = OP_ROLL;
	op->conn = conn;
	op->old_slot = op->new_slot = -1;
	op->since_ns = now_ns();
	snprintf(op->binary, sizeof(op->binary), "%s", binary);
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		if (p->w[i].in_target && (only_slot < 0 || i == only_slot))
			op->queue[op->nqueue++] = i;
	op_say(p, "replacing %d worker%s with %s", op->nqueue, op->nqueue == 1 ? "" : "s",
	       op->binary);
	return 0;
}

int pool_scale(struct pool *p, int n, int conn, char *msg, size_t size)
{
	int err = op_busy(p, msg, size), live = 0;

	if (err)
		return err;
	if (n < 1 || n > SHM_MAX_WORKERS) {
		snprintf(msg, size, "scale takes 1 to %d workers", SHM_MAX_WORKERS);
		return -EINVAL;
	}
	memset(&p->op, 0, sizeof(p->op));
	p->op.kind = OP_SCALE;
	p->op.conn = conn;
	p->op.old_slot = p->op.new_slot = -1;
	p->op.since_ns = now_ns();
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		live += p->w[i].in_target;
	op_say(p, "scaling from %d to %d workers", live, n);
	/* Grow: new slots join the target at once, so a failed start is retried. */
	for (int i = 0; live < n && i < SHM_MAX_WORKERS; i++) {
		struct worker *w = pool_free_slot(p);

		if (!w)
			break;
		w->in_target = true;
		pool_spawn(p, w, p->binary);
		live++;
	}
	/* Shrink: the newest slots drain and stop; the others keep serving meanwhile. */
	for (int i = SHM_MAX_WORKERS - 1; live > n && i >= 0; i--) {
		struct worker *w = &p->w[i];

		if (!w->in_target)
			continue;
		w->in_target = false;
		if (w->st == W_READY) {
			w->st = W_DRAINING;
		} else if (w->st == W_STARTING) {
			/* Nothing to drain: its end is as planned as a drained one's. */
			w->stop_sent = true;
			kill(w->pid, SIGTERM);
		}
		live--;
	}
	p->target = n;
	return 0;
}

/* Scaling is done when every target worker is ready and every other one gone. */
static void scale_step(struct pool *p)
{
	int ready = 0;

	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct worker *w = &p->w[i];

		if (w->in_target && w->st != W_READY)
			return;
		if (!w->in_target && w->st != W_DEAD)
			return;
		ready += w->in_target;
	}
	op_end(p, true, "scaled to %d workers in %llu ms", ready,
	       (unsigned long long)((now_ns() - p->op.since_ns) / 1000000ULL));
}

static void roll_step(struct pool *p)
{
	struct pool_op *op = &p->op;
	struct worker *old, *new;

	if (op->new_slot < 0) {
		/* Next old worker still serving, if any. */
		while (op->nqueue > 0) {
			old = &p->w[op->queue[0]];
			if (old->in_target && old->st != W_DEAD)
				break;
			memmove(op->queue, op->queue + 1, sizeof(int) * (size_t)--op->nqueue);
		}
		if (op->nqueue == 0) {
			/* From now on every respawn uses the new binary too. */
			snprintf(p->binary, sizeof(p->binary), "%s", op->binary);
			op_end(p, true, "replaced %u worker%s in %llu ms", op->done,
			       op->done == 1 ? "" : "s",
			       (unsigned long long)((now_ns() - op->since_ns) / 1000000ULL));
			return;
		}
		new = pool_free_slot(p);
		if (!new) {
			op_end(p, false, "no free worker slot for a replacement");
			return;
		}
		op->old_slot = op->queue[0];
		op->new_slot = new->id;
		op->draining = false;
		if (pool_spawn(p, new, op->binary) < 0) {
			op_end(p, false, "could not start a worker from %s", op->binary);
			return;
		}
		return;
	}

	old = &p->w[op->old_slot];
	new = &p->w[op->new_slot];
	if (!op->draining) {
		if (new->st == W_READY) {
			struct shm_worker *sw = &p->m->shm.workers[new->id];

			new->in_target = true;
			old->in_target = false;
			if (old->st == W_READY) {
				old->st = W_DRAINING;
			} else if (old->st == W_STARTING) {
				/* Restarted meanwhile: nothing to drain, it would only linger. */
				old->stop_sent = true;
				kill(old->pid, SIGTERM);
			}
			op->draining = true;
			op_say(p, "worker %d (pid %d) ready: %.63s; worker %d (pid %d) draining",
			       new->id, new->pid, sw->version, old->id, old->pid);
		} else if (new->st == W_DEAD || now_ns() - new->started_ns > OP_START_NS) {
			if (new->st != W_DEAD) {
				/* Ours: counted as a failed start, not a crash. */
				new->killed = true;
				kill(new->pid, SIGKILL);
			}
			op_end(p, false,
			       "new worker from %s failed to start (%s): stopped, the old workers "
			       "keep serving",
			       op->binary,
			       new->st == W_DEAD ? new->last_exit : "not ready in 10 s");
		}
		return;
	}
	if (old->st != W_DEAD)
		return;
	op_say(p, "worker %d stopped (%s)", old->id, old->last_exit);
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
