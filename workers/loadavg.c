/*
 * /proc/loadavg per container (-l). Each container's averages live in the
 * shared snapshot (SNAP_LOAD), so they survive the death of every worker.
 * The master asks one worker every 5 s to sample: it visits only the
 * containers read in the last LOAD_IDLE_NS, counts their threads in R or D
 * state and folds the count in with the kernel's fixed-point formula;
 * containers nobody reads are dropped, so the cost follows the readers, not
 * the number of cgroups on the host.
 *
 * Averages belong to one life of the cgroup (cg_life): a container made again
 * at the same path (a restart under the same name) starts at 0, noticed at
 * its first read (its init is new: cont_paths.seen_ns) or at the next sample.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc_render/misc.h"
#include "shm/log.h"
#include "workers/cg_fs.h"
#include "workers/cg_misc.h"
#include "workers/files_misc.h"
#include "workers/ident.h"
#include "workers/worker.h"

#define LOAD_PERIOD_NS   (5ULL * 1000000000ULL)
#define LOAD_IDLE_NS     (600ULL * 1000000000ULL) /* unread this long: stop sampling */
#define LOAD_MAX_CATCHUP 12 /* periods folded in at once after a pause (1 minute) */

/*
 * One container's averages. life: of the cgroup directory they were counted
 * in (cg_life); checked_ns: when that life was last compared with the
 * cgroup's at path (at each sample, and when a new init is seen reading).
 */
struct load_state {
	uint64_t avenrun[3];
	uint64_t sampled_ns;
	uint32_t running;
	uint32_t total;
	int32_t last_pid;
	int32_t version;
	uint64_t life;
	uint64_t checked_ns;
	char path[IDENT_PATH_MAX + 1];
};

_Static_assert(sizeof(struct load_state) <= SNAP_LOAD_VALUE, "load state outgrew its table");

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The hierarchy loadavg counts in: the cpu controller's, as upstream. */
static int load_root(const struct worker_ctx *w, int *version)
{
	*version = w->layout.ctrl[CG_CPU].version;
	return w->layout.ctrl[CG_CPU].present ? w->root_fd[CG_CPU] : -1;
}

struct load_fill {
	struct worker_ctx *w;
	const char *path;
};

/*
 * Start st afresh for the cgroup at path, as at boot: averages 0, its
 * threads counted now, its life noted. 0 or -errno (st untouched).
 */
static int load_start(struct worker_ctx *w, const char *path, struct load_state *st)
{
	struct load_state fresh;
	pid_t last = 0;
	int version, root = load_root(w, &version), fd, err;

	if (strlen(path) > IDENT_PATH_MAX)
		return -ENOSPC;
	memset(&fresh, 0, sizeof(fresh));
	fd = cg_open(root, path);
	if (fd < 0)
		return fd;
	err = cg_life(fd, &fresh.life);
	if (err == 0)
		err = cg_count_tasks_at(fd, version, &fresh.running, &fresh.total, &last);
	close(fd);
	if (err < 0)
		return err;
	fresh.last_pid = last;
	fresh.version = version;
	fresh.sampled_ns = fresh.checked_ns = mono_ns();
	strcpy(fresh.path, path);
	*st = fresh;
	return 0;
}

/* A container seen for the first time: averages start at 0, as at boot. */
static int fill_load(void *ctx, void *value, size_t size, size_t *len)
{
	struct load_fill *f = ctx;
	struct load_state st;
	int err;

	if (size < sizeof(st))
		return -ENOSPC;
	err = load_start(f->w, f->path, &st);
	if (err < 0)
		return err;
	memcpy(value, &st, sizeof(st));
	*len = sizeof(st);
	return 0;
}

struct load_check {
	struct worker_ctx *w;
	struct load_state *st; /* in: as read; out: as stored */
};

/*
 * Is the state still the cgroup's at its path? A cgroup made again there
 * (a restarted container) starts afresh. Only asked when a reader's init was
 * first seen after the state was last checked: once per new container life.
 */
static int check_load(void *ctx, void *value, size_t size, size_t *len)
{
	struct load_check *c = ctx;
	struct load_state *st = value;
	uint64_t life = 0;
	int version, root = load_root(c->w, &version), fd;

	if (*len != sizeof(*st) || size < sizeof(*st))
		return SNAP_KEEP; /* dropped meanwhile: the next read makes it anew */
	st->path[IDENT_PATH_MAX] = '\0';
	fd = cg_open(root, st->path);
	if (fd < 0)
		return SNAP_KEEP;
	if (cg_life(fd, &life) < 0)
		life = st->life;
	close(fd);
	if (life > st->life && load_start(c->w, st->path, st) < 0)
		return SNAP_KEEP;
	st->checked_ns = mono_ns();
	*c->st = *st;
	return SNAP_WRITE;
}

static ssize_t load_render_fn(const struct load_state *st, char *buf, size_t size)
{
	return render_loadavg(st->avenrun, st->running, st->total, st->last_pid, buf, size);
}

int file_loadavg(struct worker_ctx *w, pid_t pid)
{
	char path[PATH_MAX], label[64];
	struct load_state st;
	struct snap_key key;
	size_t len = 0;
	ssize_t n;
	int version, err;

	if (!(w->shm.hdr->config.opts & LX_OPT_LOADAVG) ||
	    atomic_load(&w->shm.hdr->config.virt_off) || load_root(w, &version) < 0)
		return file_loadavg_host(w, pid);
	err = worker_reader_cgroup(w, pid, CG_CPU, path, sizeof(path));
	if (err == 0 && strcmp(path, "/") == 0)
		return file_loadavg_host(w, pid); /* the host itself */
	if (err == 0) {
		snap_hash(path, strlen(path), &key);
		snap_label(label, sizeof(label), "load", path);
		err = snap_get(&w->shm, SNAP_LOAD, &key, label, UINT64_MAX, fill_load,
		               &(struct load_fill){w, path}, &st, sizeof(st), &len, &w->who);
	}
	if (err == 0 && len != sizeof(st))
		err = -EIO;
	/* A container first seen after these averages were last checked may be a new one. */
	if (err == 0 && w->reader_valid && w->reader.seen_ns > st.checked_ns)
		snap_modify(&w->shm, SNAP_LOAD, &key, label, &w->who, check_load,
		            &(struct load_check){w, &st});
	if (err < 0) {
		static unsigned long count;

		if (count++ < 20 || count % 1000 == 0)
			log_msg("loadavg for pid %d: %s: serving host content", pid,
			        strerror(-err));
		return file_loadavg_host(w, pid);
	}
	if (fbuf_reserve(&w->out, 128) < 0)
		return -ENOMEM;
	n = load_render_fn(&st, w->out.data, w->out.cap);
	if (n < 0)
		return (int)n;
	w->out.len = (size_t)n;
	return 0;
}

struct sample_ctx {
	struct worker_ctx *w;
	uint64_t now;
	unsigned sampled, dropped;
};

/* How long before now t was; t after our reading of the clock (a reader since) is 0. */
static uint64_t ago(uint64_t now, uint64_t t)
{
	return now > t ? now - t : 0;
}

static int sample_one(void *ctx, void *value, size_t len, uint64_t used_ns)
{
	struct sample_ctx *c = ctx;
	struct load_state *st = value;
	unsigned running = 0, total = 0, periods;
	uint64_t life = 0;
	pid_t last = 0;
	int version, root = load_root(c->w, &version), fd, err;

	(void)version; /* each entry keeps the version it was made with */
	if (len != sizeof(*st) || ago(c->now, used_ns) > LOAD_IDLE_NS) {
		c->dropped++;
		return SNAP_DROP;
	}
	if (ago(c->now, st->sampled_ns) < LOAD_PERIOD_NS - LOAD_PERIOD_NS / 10)
		return SNAP_KEEP;
	st->path[IDENT_PATH_MAX] = '\0';
	fd = cg_open(root, st->path);
	err = fd < 0 ? fd : cg_life(fd, &life);
	if (err == 0 && life > st->life) {
		/* Another cgroup at the same path: a new container, whose averages start at 0. */
		close(fd);
		err = load_start(c->w, st->path, st);
		if (err == -ENOENT)
			c->dropped++;
		if (err < 0)
			return err == -ENOENT ? SNAP_DROP : SNAP_KEEP;
		c->sampled++;
		return SNAP_WRITE;
	}
	if (err == 0)
		err = cg_count_tasks_at(fd, st->version, &running, &total, &last);
	if (fd >= 0)
		close(fd);
	if (err == -ENOENT) {
		c->dropped++; /* the container is gone */
		return SNAP_DROP;
	}
	if (err < 0)
		return SNAP_KEEP; /* try again next period */
	periods = (unsigned)(ago(c->now, st->sampled_ns) / (LOAD_PERIOD_NS - LOAD_PERIOD_NS / 10));
	if (periods > LOAD_MAX_CATCHUP)
		periods = LOAD_MAX_CATCHUP;
	for (unsigned i = 0; i < (periods ? periods : 1); i++)
		loadavg_update(st->avenrun, running);
	st->running = running;
	st->total = total;
	st->last_pid = last;
	st->sampled_ns = st->checked_ns = c->now;
	c->sampled++;
	return SNAP_WRITE;
}

void loadavg_sample(struct worker_ctx *w)
{
	struct sample_ctx c = {.w = w, .now = mono_ns()};
	unsigned visited;

	visited = snap_update_each(&w->shm, SNAP_LOAD, &w->who, sample_one, &c);
	log_debug("loadavg: %u containers visited, %u sampled, %u dropped", visited, c.sampled,
	          c.dropped);
}
