/*
 * The control socket server (see control.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "master/control.h"
#include "master/loop.h"
#include "master/pool.h"
#include "master/stats.h"
#include "master/takeover.h"
#include "master/tenant.h"
#include "master/tree.h"
#include "shm/content.h"
#include "shm/log.h"

#define CTL_MAX_CONNS 16    /* at most 64: ids keep the index in 6 bits */
#define CTL_REQ_MAX   16384 /* a command and an escaped path */
#define CTL_OUT_FIRST (64 * 1024)
#define CTL_OUT_MAX   (32 * 1024 * 1024) /* a snapshot dump of 100,000 entries fits */
#define CTL_STALL_NS  (2ULL * 1000000000ULL)

struct conn {
	int fd;
	uint32_t gen;   /* tells a streaming operation's connection from a later one */
	bool streaming; /* an operation reports here: no stall limit */
	uint64_t since_ns;
	char in[CTL_REQ_MAX];
	size_t inlen;
	char *out;
	size_t outlen, outoff, outcap;
};

static int listen_fd = -1;
static struct conn conns[CTL_MAX_CONNS];

static void conn_close(struct master *m, struct conn *c)
{
	uint32_t gen = c->gen;

	if (c->fd < 0)
		return;
	master_unwatch(m, c->fd);
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->gen = gen + 1;
}

/*
 * The socket belongs to someone else now (a takeover session, which watches
 * it itself): forget it, open.
 */
static void conn_detach(struct conn *c)
{
	uint32_t gen = c->gen;

	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->gen = gen + 1;
}

static int conn_id(struct conn *c)
{
	return (int)((c - conns) | (c->gen & 0xffffff) << 6);
}

static struct conn *conn_by_id(int id)
{
	struct conn *c;

	if (id < 0)
		return NULL;
	c = &conns[id & 63];
	return (id & 63) < CTL_MAX_CONNS && c->fd >= 0 && (c->gen & 0xffffff) == ((uint32_t)id >> 6)
	           ? c
	           : NULL;
}

static void on_listen(struct master *m, int idx, unsigned events);
static void on_conn(struct master *m, int idx, unsigned events);
static uint64_t control_clock(struct master *m);

int control_open(struct master *m)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char dir[4096];
	int fd;

	for (int i = 0; i < CTL_MAX_CONNS; i++)
		conns[i].fd = -1;
	snprintf(dir, sizeof(dir), "%s/lxcfs", m->cli->runtime_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_err("mkdir %s: %s", dir, strerror(errno));
		return -errno;
	}
	snprintf(m->ctl_path, sizeof(m->ctl_path), "%s/%s", m->cli->runtime_dir, CTL_SOCKET_NAME);
	if (strlen(m->ctl_path) >= sizeof(addr.sun_path)) {
		log_err("control socket path %s is too long", m->ctl_path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, m->ctl_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* We hold the pidfile lock: a socket file left here is a dead daemon's. */
	unlink(m->ctl_path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(m->ctl_path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		int err = -errno;

		log_err("control socket %s: %s", m->ctl_path, strerror(errno));
		close(fd);
		return err;
	}
	listen_fd = fd;
	loop_on(m, EV_CTL_LISTEN, on_listen);
	loop_on(m, EV_CTL_CONN, on_conn);
	loop_add_tick(m, control_clock);
	return master_watch(m, fd, EV(EV_CTL_LISTEN, 0));
}

void control_close(struct master *m)
{
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		conn_close(m, &conns[i]);
	if (listen_fd >= 0) {
		close(listen_fd);
		/* Handed over: the path is the new master's to take. */
		if (!m->handed_over)
			unlink(m->ctl_path);
		listen_fd = -1;
	}
}

static void out_add(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Room for need more bytes in c's reply; false when it would outgrow CTL_OUT_MAX. */
static bool out_room(struct conn *c, size_t need)
{
	size_t cap = c->outcap ? c->outcap : CTL_OUT_FIRST;
	char *bigger;

	while (cap - c->outlen < need) {
		if (cap >= CTL_OUT_MAX)
			return false;
		cap *= 2;
	}
	if (c->out && cap == c->outcap)
		return true;
	bigger = realloc(c->out, cap);
	if (!bigger)
		return false;
	c->out = bigger;
	c->outcap = cap;
	return true;
}

static void out_add(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!out_room(c, 512))
		return;
	va_start(ap, fmt);
	n = vsnprintf(c->out + c->outlen, c->outcap - c->outlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= c->outcap - c->outlen) {
		if (!out_room(c, (size_t)n + 1)) {
			c->outlen = c->outcap - 1; /* cut short: the client sees no END */
			return;
		}
		va_start(ap, fmt);
		vsnprintf(c->out + c->outlen, c->outcap - c->outlen, fmt, ap);
		va_end(ap);
	}
	c->outlen += (size_t)n;
}

static const char *worker_state(enum worker_st st)
{
	switch (st) {
	case W_STARTING:
		return "starting";
	case W_READY:
		return "ready";
	case W_DRAINING:
		return "draining";
	default:
		return "dead";
	}
}

static void workers_records(struct master *m, struct conn *c)
{
	struct pool *p = m->pool;

	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct worker *w = &p->w[i];
		struct shm_worker *sw = &m->shm.workers[i];
		char wver[sizeof(sw->version) * 3 + 1], raw[sizeof(sw->version)];
		char lexit[sizeof(w->last_exit) * 3 + 1];

		if (w->st == W_DEAD && !w->in_target)
			continue;
		memcpy(raw, sw->version, sizeof(raw));
		raw[sizeof(raw) - 1] = '\0';
		ctl_escape(raw[0] ? raw : "-", wver, sizeof(wver));
		ctl_escape(w->last_exit[0] ? w->last_exit : "-", lexit, sizeof(lexit));
		out_add(c,
		        "worker id=%d pid=%d state=%s cpu=%d served=%llu errors=%llu "
		        "inflight=%u queued=%u restarts=%llu beat_ms=%lld last_exit=%s version=%s\n",
		        i, w->st == W_DEAD ? 0 : w->pid, worker_state(w->st), atomic_load(&sw->cpu),
		        (unsigned long long)atomic_load(&sw->served),
		        (unsigned long long)atomic_load(&sw->errors), w->ninflight,
		        ring_count(&sw->req, SHM_RING_SLOTS), (unsigned long long)w->restarts,
		        (long long)(now_ns() - atomic_load(&sw->heartbeat_ns)) / 1000000LL, lexit,
		        wver);
	}
}

#define STATUS_CONTAINERS 10

/* The handle table and the containers holding most of it. */
static void containers_records(struct master *m, struct conn *c)
{
	struct tenant_view top[STATUS_CONTAINERS];
	unsigned n, active;
	char label[4 * TENANT_LABEL];

	n = tenant_top(m, top, STATUS_CONTAINERS, &active);
	out_add(c,
	        "handles in_use=%u total=%u per_container=%u containers=%u "
	        "content_per_container_chunks=%u\n",
	        m->shm.nhandles - handle_nfree_count(&m->shm), m->shm.nhandles,
	        m->shm.quota_handles.limit, active, m->shm.quota_chunks.limit);
	for (unsigned i = 0; i < n; i++) {
		ctl_escape(top[i].label, label, sizeof(label));
		out_add(c, "container cgroup=%s handles=%u chunks=%d refused=%llu\n", label,
		        top[i].handles, top[i].chunks, (unsigned long long)top[i].refused);
	}
}

static void cmd_status(struct master *m, struct conn *c)
{
	struct pool *p = m->pool;
	char mnt[1024], ver[256];

	ctl_escape(m->cli->mountpoint, mnt, sizeof(mnt));
	ctl_escape(LXCFS_VERSION " " LXCFS_BUILD_ID, ver, sizeof(ver));
	out_add(c, "%s OK\n", CTL_PROTO_REPLY);
	out_add(c,
	        "master pid=%ld mount=%s version=%s workers=%d uptime_s=%llu "
	        "served_by_master=%llu fallbacks=%llu redispatched=%llu worker_deaths=%llu "
	        "worker_crashes=%llu worker_hangs=%llu worker_start_failures=%llu "
	        "worker_exits_planned=%llu log=%s log_dropped=%llu "
	        "pending=%u chunks_in_use=%u chunks_total=%u layout=%u shm_bytes=%zu "
	        "max_cgroups=%u max_pids=%u cgroups_cached=%u pids_cached=%u\n",
	        (long)getpid(), mnt, ver, p->target,
	        (unsigned long long)((now_ns() - m->start_mono_ns) / 1000000000ULL),
	        (unsigned long long)m->served_by_master, (unsigned long long)m->fallbacks,
	        (unsigned long long)p->redispatched, (unsigned long long)pool_deaths(p),
	        (unsigned long long)p->crashes, (unsigned long long)p->hangs,
	        (unsigned long long)p->start_failures, (unsigned long long)p->planned_exits,
	        log_target_name(log_target_now()), (unsigned long long)log_dropped(),
	        p->pending_tail - p->pending_head, atomic_load(&m->shm.hdr->chunks_in_use),
	        m->shm.nchunks, SHM_LAYOUT_VERSION, m->shm.size, m->shm.hdr->max_cgroups,
	        m->shm.hdr->max_pids, snap_count(&m->shm, SNAP_MEM), snap_count(&m->shm, SNAP_PID));
	workers_records(m, c);
	containers_records(m, c);
	out_add(c, "END\n");
}

/* The workers' snapshot counters, added up: hits, misses, stale, refreshes, evictions, waits, live, cgroupfs reads. */
static void cache_sums(struct master *m, uint64_t sum[8])
{
	memset(sum, 0, 8 * sizeof(sum[0]));
	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct snap_counters *k = &m->shm.workers[i].snap;

		sum[0] += atomic_load(&k->hits);
		sum[1] += atomic_load(&k->misses);
		sum[2] += atomic_load(&k->stale);
		sum[3] += atomic_load(&k->refreshes);
		sum[4] += atomic_load(&k->evictions);
		sum[5] += atomic_load(&k->waits);
		sum[6] += atomic_load(&k->live);
		sum[7] += atomic_load(&k->cgfs_reads);
	}
}

static void cmd_stats(struct master *m, struct conn *c)
{
	uint64_t sum[8];
	char path[128];

	out_add(c, "%s OK\n", CTL_PROTO_REPLY);
	for (unsigned f = 1; f < LX_FILE_COUNT; f++) {
		const struct file_stats *s = stats_of(f);

		if (!tree_file_path((enum lx_file)f, path, sizeof(path)))
			continue;
		out_add(c,
		        "file name=%s requests=%llu errors=%llu from_master=%llu p50_us=%.1f "
		        "p99_us=%.1f\n",
		        path, (unsigned long long)s->reqs, (unsigned long long)s->errors,
		        (unsigned long long)s->by_master, stats_quantile_us(s, 0.5),
		        stats_quantile_us(s, 0.99));
	}
	cache_sums(m, sum);
	out_add(c,
	        "worker_exits deaths=%llu crashes=%llu hangs=%llu start_failures=%llu "
	        "planned=%llu redispatched=%llu\n",
	        (unsigned long long)pool_deaths(m->pool), (unsigned long long)m->pool->crashes,
	        (unsigned long long)m->pool->hangs, (unsigned long long)m->pool->start_failures,
	        (unsigned long long)m->pool->planned_exits,
	        (unsigned long long)m->pool->redispatched);
	out_add(c,
	        "cache hits=%llu misses=%llu stale=%llu refreshes=%llu evictions=%llu "
	        "waits=%llu live=%llu cgroupfs_reads=%llu ttl_ms=%u\n",
	        (unsigned long long)sum[0], (unsigned long long)sum[1], (unsigned long long)sum[2],
	        (unsigned long long)sum[3], (unsigned long long)sum[4], (unsigned long long)sum[5],
	        (unsigned long long)sum[6], (unsigned long long)sum[7],
	        m->shm.hdr->config.cache_ttl_ms);
	for (int t = 0; t < SNAP_NTABLES; t++)
		out_add(c, "table name=%s entries=%u capacity=%u\n", snap_table_name((enum snap_table_id)t),
		        snap_count(&m->shm, (enum snap_table_id)t),
		        m->shm.tables[t].nbuckets * SNAP_WAYS);
	out_add(c, "END\n");
}

/*
 * metrics: every figure lxcfs-ctl stats --prometheus exposes, in one reply so
 * that they are of one moment. Not a command for people (stats is): each file
 * carries its whole latency histogram, the counts of every bucket in order,
 * and a "buckets" record says where each bucket ends, so that the client
 * needs no knowledge of the master's bucket layout.
 *
 *   master pid= version= start_time_s= uptime_s= workers= served_by_master=
 *          fallbacks= redispatched= log_dropped= chunks_in_use= chunks_total=
 *          handles_in_use= handles_total= shm_bytes= virtualization=
 *   worker_exits crashes= hangs= start_failures= planned=
 *   cache hits= misses= stale= refreshes= evictions= waits= live= cgroupfs_reads= ttl_ms=
 *   table name= entries= capacity=                          one per table
 *   worker id= pid= state= served= errors= inflight= restarts=  one per slot in use
 *   buckets le_us=U0,U1,...   where each bucket but the last ends (µs)
 *   file name= requests= errors= from_master= sum_ns= hist=C0,C1,...  one per file
 */
static void cmd_metrics(struct master *m, struct conn *c)
{
	struct pool *p = m->pool;
	uint64_t sum[8];
	char ver[256], path[128];

	ctl_escape(LXCFS_VERSION " " LXCFS_BUILD_ID, ver, sizeof(ver));
	out_add(c, "%s OK\n", CTL_PROTO_REPLY);
	out_add(c,
	        "master pid=%ld version=%s start_time_s=%llu uptime_s=%llu workers=%d "
	        "served_by_master=%llu fallbacks=%llu redispatched=%llu log_dropped=%llu "
	        "chunks_in_use=%u chunks_total=%u handles_in_use=%u handles_total=%u "
	        "shm_bytes=%zu virtualization=%d\n",
	        (long)getpid(), ver, (unsigned long long)(m->start_ns / 1000000000ULL),
	        (unsigned long long)((now_ns() - m->start_mono_ns) / 1000000000ULL), p->target,
	        (unsigned long long)m->served_by_master, (unsigned long long)m->fallbacks,
	        (unsigned long long)p->redispatched, (unsigned long long)log_dropped(),
	        atomic_load(&m->shm.hdr->chunks_in_use), m->shm.nchunks,
	        m->shm.nhandles - handle_nfree_count(&m->shm), m->shm.nhandles, m->shm.size,
	        !atomic_load(&m->shm.hdr->config.virt_off));
	out_add(c, "worker_exits crashes=%llu hangs=%llu start_failures=%llu planned=%llu\n",
	        (unsigned long long)p->crashes, (unsigned long long)p->hangs,
	        (unsigned long long)p->start_failures, (unsigned long long)p->planned_exits);
	cache_sums(m, sum);
	out_add(c,
	        "cache hits=%llu misses=%llu stale=%llu refreshes=%llu evictions=%llu "
	        "waits=%llu live=%llu cgroupfs_reads=%llu ttl_ms=%u\n",
	        (unsigned long long)sum[0], (unsigned long long)sum[1], (unsigned long long)sum[2],
	        (unsigned long long)sum[3], (unsigned long long)sum[4], (unsigned long long)sum[5],
	        (unsigned long long)sum[6], (unsigned long long)sum[7],
	        m->shm.hdr->config.cache_ttl_ms);
	for (int t = 0; t < SNAP_NTABLES; t++)
		out_add(c, "table name=%s entries=%u capacity=%u\n",
		        snap_table_name((enum snap_table_id)t),
		        snap_count(&m->shm, (enum snap_table_id)t),
		        m->shm.tables[t].nbuckets * SNAP_WAYS);
	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct worker *w = &p->w[i];
		struct shm_worker *sw = &m->shm.workers[i];

		if (w->st == W_DEAD && !w->in_target)
			continue;
		out_add(c,
		        "worker id=%d pid=%d state=%s served=%llu errors=%llu inflight=%u "
		        "restarts=%llu\n",
		        i, w->st == W_DEAD ? 0 : w->pid, worker_state(w->st),
		        (unsigned long long)atomic_load(&sw->served),
		        (unsigned long long)atomic_load(&sw->errors), w->ninflight,
		        (unsigned long long)w->restarts);
	}
	out_add(c, "buckets le_us=");
	for (unsigned b = 0; b + 1 < STATS_BUCKETS; b++)
		out_add(c, "%s%llu", b ? "," : "", (unsigned long long)stats_bucket_upper_us(b));
	out_add(c, "\n");
	for (unsigned f = 1; f < LX_FILE_COUNT; f++) {
		const struct file_stats *s = stats_of(f);

		if (!tree_file_path((enum lx_file)f, path, sizeof(path)))
			continue;
		out_add(c, "file name=%s requests=%llu errors=%llu from_master=%llu sum_ns=%llu hist=",
		        path, (unsigned long long)s->reqs, (unsigned long long)s->errors,
		        (unsigned long long)s->by_master, (unsigned long long)s->sum_ns);
		for (unsigned b = 0; b < STATS_BUCKETS; b++)
			out_add(c, "%s%llu", b ? "," : "", (unsigned long long)s->hist[b]);
		out_add(c, "\n");
	}
	out_add(c, "END\n");
}

/*
 * snapshot [table=NAME[,NAME...]] [cgroup=PATH] [limit=N]: the cached entries
 * an operator is after first. Entries about containers and cgroups come
 * first, then host-wide ones, then readers' pid entries (many, mostly of
 * processes long gone); within each, the most recently used first. A
 * "count" record per table says how many entries it holds, how many the
 * filters kept and how many were shown, so that what was left out is seen.
 *
 * The master scans each table once and keeps only the best `limit` rows (a
 * heap), so a dump costs one pass over the resident slots whatever its size.
 */
#define DUMP_DEFAULT 500
#define DUMP_LIMIT   100000

struct dump_row {
	uint64_t idle_ns, age_ns;
	uint32_t len;
	uint8_t table, rank;
	char label[sizeof(((struct snap_slot *)0)->label)];
};

struct dump_ctx {
	enum snap_table_id table;
	const char *cgroup; /* NULL: any */
	size_t cglen;
	struct dump_row *heap; /* the rows to show so far, the last one to show at [0] */
	unsigned nheap, limit;
	unsigned entries[SNAP_NTABLES], matched[SNAP_NTABLES], unsure[SNAP_NTABLES];
};

/* Readers' pid entries last: they are many and say little; host-wide ones before them. */
static uint8_t dump_rank(enum snap_table_id t)
{
	switch (t) {
	case SNAP_PID:
		return 2;
	case SNAP_HOST:
	case SNAP_PATH:
		return 1;
	default:
		return 0;
	}
}

/* Is a shown before b? */
static bool row_before(const struct dump_row *a, const struct dump_row *b)
{
	if (a->rank != b->rank)
		return a->rank < b->rank;
	if (a->idle_ns != b->idle_ns)
		return a->idle_ns < b->idle_ns;
	if (a->age_ns != b->age_ns)
		return a->age_ns < b->age_ns;
	if (a->table != b->table)
		return a->table < b->table;
	return strcmp(a->label, b->label) < 0;
}

static int row_cmp(const void *x, const void *y)
{
	const struct dump_row *a = x, *b = y;

	return row_before(a, b) ? -1 : row_before(b, a) ? 1 : 0;
}

static void heap_down(struct dump_row *h, unsigned n, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, last = i;
		struct dump_row tmp;

		if (l < n && row_before(&h[last], &h[l]))
			last = l;
		if (r < n && row_before(&h[last], &h[r]))
			last = r;
		if (last == i)
			return;
		tmp = h[i];
		h[i] = h[last];
		h[last] = tmp;
		i = last;
	}
}

static void heap_up(struct dump_row *h, unsigned i)
{
	while (i > 0) {
		unsigned parent = (i - 1) / 2;
		struct dump_row tmp;

		if (!row_before(&h[parent], &h[i]))
			return;
		tmp = h[i];
		h[i] = h[parent];
		h[parent] = tmp;
		i = parent;
	}
}

int ctl_cgroup_match(const char *label, const char *cg, size_t cglen)
{
	const char *path = strchr(label, ' ');
	size_t tlen;

	if (!path)
		return CTL_CG_NO;
	path++;
	if (strncmp(path, "...", 3) != 0) {
		if (path[0] != '/')
			return CTL_CG_NO; /* not a cgroup's entry: a pid, a host file */
		if (cglen == 1)
			return CTL_CG_YES;
		return strncmp(path, cg, cglen) == 0 && (path[cglen] == '\0' || path[cglen] == '/')
		           ? CTL_CG_YES
		           : CTL_CG_NO;
	}
	if (cglen == 1)
		return CTL_CG_YES;
	path += 3;
	tlen = strlen(path);
	for (size_t k = tlen < cglen - 1 ? tlen : cglen - 1; k >= 8; k--)
		if ((k == tlen || path[k] == '/') && memcmp(path, cg + cglen - k, k) == 0)
			return CTL_CG_YES;
	return CTL_CG_UNSURE;
}

static void dump_entry(void *arg, const struct snap_entry *e)
{
	struct dump_ctx *d = arg;
	struct dump_row row;

	d->entries[d->table]++;
	if (d->cgroup) {
		int r = ctl_cgroup_match(e->label, d->cgroup, d->cglen);

		if (r == CTL_CG_UNSURE)
			d->unsure[d->table]++;
		if (r != CTL_CG_YES)
			return;
	}
	d->matched[d->table]++;
	if (d->limit == 0)
		return;
	memset(&row, 0, sizeof(row));
	row.idle_ns = e->idle_ns;
	row.age_ns = e->age_ns;
	row.len = e->len;
	row.table = (uint8_t)d->table;
	row.rank = dump_rank(d->table);
	snprintf(row.label, sizeof(row.label), "%s", e->label);
	if (d->nheap < d->limit) {
		d->heap[d->nheap] = row;
		heap_up(d->heap, d->nheap++);
	} else if (row_before(&row, &d->heap[0])) {
		d->heap[0] = row;
		heap_down(d->heap, d->nheap, 0);
	}
}

/* The table named name, or -1. */
static int table_by_name(const char *name, size_t len)
{
	for (int t = 0; t < SNAP_NTABLES; t++) {
		const char *n = snap_table_name((enum snap_table_id)t);

		if (strlen(n) == len && strncmp(n, name, len) == 0)
			return t;
	}
	return -1;
}

static void out_err(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_err(struct conn *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line: the message is the rest of the status line. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	out_add(c, "%s ERR %s\n", CTL_PROTO_REPLY, msg);
}

static void cmd_snapshot(struct master *m, struct conn *c, char *args)
{
	struct dump_ctx *d = calloc(1, sizeof(*d));
	bool want[SNAP_NTABLES], any_table = false;
	char *save = NULL, *tok, cg[4096 + 1] = "";
	unsigned shown[SNAP_NTABLES] = {0}, entries = 0, matched = 0, unsure = 0;
	uint64_t now = now_ns();

	if (!d) {
		out_err(c, "snapshot: out of memory");
		return;
	}
	d->limit = DUMP_DEFAULT;
	memset(want, 0, sizeof(want));
	for (tok = args ? strtok_r(args, " ", &save) : NULL; tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '='), *end;

		if (!eq) {
			out_err(c, "snapshot: argument '%.64s' is not key=value", tok);
			goto out;
		}
		*eq++ = '\0';
		ctl_unescape(eq);
		if (strcmp(tok, "table") == 0) {
			for (char *n = eq, *comma; *n; n = comma + 1) {
				int t;

				comma = strchrnul(n, ',');
				t = table_by_name(n, (size_t)(comma - n));
				if (t < 0) {
					char names[256] = "";

					for (int i = 0; i < SNAP_NTABLES; i++)
						snprintf(names + strlen(names),
						         sizeof(names) - strlen(names), "%s%s",
						         i ? " " : "",
						         snap_table_name((enum snap_table_id)i));
					out_err(c, "snapshot: no table '%.*s' (tables: %s)",
					        (int)(comma - n) > 64 ? 64 : (int)(comma - n), n,
					        names);
					goto out;
				}
				want[t] = any_table = true;
				if (!*comma)
					break;
			}
		} else if (strcmp(tok, "cgroup") == 0) {
			size_t len = strlen(eq);

			if (eq[0] != '/' || len >= sizeof(cg)) {
				out_err(c, "snapshot: cgroup takes an absolute cgroup path, as in "
				           "/proc/PID/cgroup");
				goto out;
			}
			memcpy(cg, eq, len + 1);
			while (len > 1 && cg[len - 1] == '/')
				cg[--len] = '\0';
			d->cgroup = cg;
			d->cglen = len;
		} else if (strcmp(tok, "limit") == 0) {
			unsigned long v;

			errno = 0;
			v = strtoul(eq, &end, 10);
			if (errno || end == eq || *end || eq[0] == '-' || v > DUMP_LIMIT) {
				out_err(c, "snapshot: limit takes 0 to %d entries", DUMP_LIMIT);
				goto out;
			}
			d->limit = (unsigned)v;
		} else {
			out_err(c, "snapshot: unknown argument '%.64s' (table, cgroup, limit)",
			        tok);
			goto out;
		}
	}
	if (d->limit) {
		d->heap = malloc(sizeof(*d->heap) * d->limit);
		if (!d->heap) {
			out_err(c, "snapshot: out of memory for %u rows", d->limit);
			goto out;
		}
	}
	for (int t = 0; t < SNAP_NTABLES; t++) {
		if (any_table && !want[t])
			continue;
		d->table = (enum snap_table_id)t;
		snap_each(&m->shm, (enum snap_table_id)t, now, dump_entry, d);
	}
	if (d->nheap) /* with limit=0 there is no heap: qsort must not see NULL */
		qsort(d->heap, d->nheap, sizeof(*d->heap), row_cmp);
	for (unsigned i = 0; i < d->nheap; i++)
		shown[d->heap[i].table]++;
	for (int t = 0; t < SNAP_NTABLES; t++) {
		/* A table not asked for is not scanned: its count is the kept one. */
		if (any_table && !want[t])
			d->entries[t] = snap_count(&m->shm, (enum snap_table_id)t);
		entries += d->entries[t];
		matched += d->matched[t];
		unsure += d->unsure[t];
	}

	out_add(c, "%s OK\n", CTL_PROTO_REPLY);
	{
		char esc[sizeof(cg) * 3];

		ctl_escape(d->cgroup ? d->cgroup : "-", esc, sizeof(esc));
		out_add(c,
		        "snapshot entries=%u matched=%u shown=%u left_out=%u limit=%u cgroup=%s "
		        "cgroup_unsure=%u order=containers,host,pids;most-recently-used-first\n",
		        entries, matched, d->nheap, entries - d->nheap, d->limit, esc, unsure);
	}
	for (int t = 0; t < SNAP_NTABLES; t++)
		out_add(c, "count table=%s entries=%u matched=%u shown=%u cgroup_unsure=%u\n",
		        snap_table_name((enum snap_table_id)t), d->entries[t], d->matched[t],
		        shown[t], d->unsure[t]);
	for (unsigned i = 0; i < d->nheap; i++) {
		const struct dump_row *r = &d->heap[i];
		char esc[sizeof(r->label) * 3 + 1];

		ctl_escape(r->label, esc, sizeof(esc));
		out_add(c, "entry table=%s key=%s idle_ms=%llu age_ms=%llu bytes=%u\n",
		        snap_table_name((enum snap_table_id)r->table), esc,
		        (unsigned long long)(r->idle_ns / 1000000ULL),
		        (unsigned long long)(r->age_ns / 1000000ULL), r->len);
	}
	out_add(c, "END\n");
out:
	free(d->heap);
	free(d);
}

static void conn_flush(struct master *m, struct conn *c);

static void cmd_workers(struct master *m, struct conn *c)
{
	out_add(c, "%s OK\n", CTL_PROTO_REPLY);
	workers_records(m, c);
	out_add(c, "END\n");
}

/* Parse a whole decimal in [lo, hi]; -1 if it is not one. */
static long arg_num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end || v < lo || v > hi ? -1 : v;
}

static void control_progress(struct master *m, int conn, const char *line);
static void control_finish(struct master *m, int conn, bool ok, const char *line);

/* An operation streams to the connection that started it, named by its id. */
static void *conn_ctx(struct conn *c)
{
	return (void *)(intptr_t)conn_id(c);
}

static void op_report(struct master *m, void *ctx, bool final, bool ok, const char *line)
{
	if (final)
		control_finish(m, (int)(intptr_t)ctx, ok, line);
	else
		control_progress(m, (int)(intptr_t)ctx, line);
}

static void cmd_op(struct master *m, struct conn *c, const char *cmd, char *arg)
{
	char msg[512] = "";
	int err;

	/* The OK line first: progress records follow as the operation runs. */
	out_add(c, "%s OK\n", CTL_PROTO_REPLY);
	c->streaming = true;
	if (strcmp(cmd, "upgrade") == 0) {
		if (arg)
			ctl_unescape(arg);
		err = pool_roll(m->pool, arg, -1, op_report, conn_ctx(c), msg, sizeof(msg));
	} else if (strcmp(cmd, "restart-worker") == 0) {
		long id = arg_num(arg, 0, SHM_MAX_WORKERS - 1);

		err = id < 0 ? -EINVAL
		             : pool_roll(m->pool, NULL, (int)id, op_report, conn_ctx(c), msg,
		                         sizeof(msg));
		if (id < 0)
			snprintf(msg, sizeof(msg), "restart-worker takes a worker id");
	} else {
		long n = arg_num(arg, 1, SHM_MAX_WORKERS);

		err = n < 0 ? -EINVAL
		             : pool_scale(m->pool, (int)n, op_report, conn_ctx(c), msg, sizeof(msg));
		if (n < 0)
			snprintf(msg, sizeof(msg), "scale takes a number of workers, 1 to %d",
			         SHM_MAX_WORKERS);
	}
	if (err < 0) {
		char esc[1024];

		c->streaming = false;
		ctl_escape(msg, esc, sizeof(esc));
		out_add(c, "result ok=0 msg=%s\nEND\n", esc);
	}
}

static void control_progress(struct master *m, int conn, const char *line)
{
	struct conn *c = conn_by_id(conn);
	char esc[1024];

	if (!c)
		return;
	ctl_escape(line, esc, sizeof(esc));
	out_add(c, "progress msg=%s\n", esc);
	conn_flush(m, c);
}

static void control_finish(struct master *m, int conn, bool ok, const char *line)
{
	struct conn *c = conn_by_id(conn);
	char esc[1024];

	if (!c)
		return;
	ctl_escape(line, esc, sizeof(esc));
	out_add(c, "result ok=%d msg=%s\nEND\n", ok, esc);
	c->streaming = false;
	conn_flush(m, c);
}

/* lxcfs --takeover asking: the connection becomes its session (takeover.h). */
static void cmd_takeover(struct master *m, struct conn *c, char *args)
{
	char msg[512];

	master_unwatch(m, c->fd); /* the session watches it from here, or conn_flush again */
	if (takeover_accept(m, c->fd, args, msg, sizeof(msg)) == 0) {
		conn_detach(c);
		return;
	}
	log_warn("takeover refused: %s", msg);
	out_add(c, "%s ERR %s\n", CTL_PROTO_REPLY, msg);
}

static void handle_request(struct master *m, struct conn *c)
{
	char *nl = memchr(c->in, '\n', c->inlen), *save = NULL, *proto, *cmd, *arg, *rest;

	*nl = '\0';
	proto = strtok_r(c->in, " ", &save);
	cmd = strtok_r(NULL, " ", &save);
	rest = save; /* the arguments as sent, for commands taking several */
	arg = cmd && strcmp(cmd, "snapshot") != 0 && strcmp(cmd, "takeover") != 0
	          ? strtok_r(NULL, " ", &save)
	          : NULL;
	if (!proto || strcmp(proto, CTL_PROTO_REQ) != 0) {
		out_add(c, "%s ERR unsupported protocol (this daemon speaks %s)\n", CTL_PROTO_REPLY,
		        CTL_PROTO_REQ);
		return;
	}
	if (cmd && strcmp(cmd, "status") == 0)
		cmd_status(m, c);
	else if (cmd && strcmp(cmd, "stats") == 0)
		cmd_stats(m, c);
	else if (cmd && strcmp(cmd, "metrics") == 0)
		cmd_metrics(m, c);
	else if (cmd && strcmp(cmd, "snapshot") == 0)
		cmd_snapshot(m, c, rest);
	else if (cmd && strcmp(cmd, "workers") == 0)
		cmd_workers(m, c);
	else if (cmd && (strcmp(cmd, "upgrade") == 0 || strcmp(cmd, "restart-worker") == 0 ||
	                 strcmp(cmd, "scale") == 0))
		cmd_op(m, c, cmd, arg);
	else if (cmd && strcmp(cmd, "takeover") == 0)
		cmd_takeover(m, c, rest);
	else
		out_add(c, "%s ERR unknown command\n", CTL_PROTO_REPLY);
}

static void on_listen(struct master *m, int idx, unsigned events)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c = NULL;
	int fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < CTL_MAX_CONNS; i++)
		if (conns[i].fd < 0) {
			c = &conns[i];
			break;
		}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		static const char deny[] = CTL_PROTO_REPLY " ERR permission denied: root only\n";

		(void)!write(fd, deny, sizeof(deny) - 1);
		close(fd);
		return;
	}
	if (!c) {
		static const char busy[] = CTL_PROTO_REPLY " ERR busy\n";

		(void)!write(fd, busy, sizeof(busy) - 1);
		close(fd);
		return;
	}
	c->fd = fd;
	c->since_ns = now_ns();
	c->streaming = false;
	if (master_watch(m, fd, EV(EV_CTL_CONN, c - conns)) < 0)
		conn_close(m, c);
}

/* Watch c for input, or for room to write while output is pending. */
static void conn_watch(struct master *m, struct conn *c, unsigned events)
{
	master_unwatch(m, c->fd);
	if (master_watch_events(m, c->fd, EV(EV_CTL_CONN, c - conns), events) < 0)
		conn_close(m, c);
}

static void conn_flush(struct master *m, struct conn *c)
{
	if (c->fd < 0)
		return;
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);

		if (n < 0 && errno == EAGAIN) {
			conn_watch(m, c, EPOLLOUT);
			return;
		}
		if (n <= 0) {
			conn_close(m, c);
			return;
		}
		c->outoff += (size_t)n;
	}
	if (!c->streaming) {
		conn_close(m, c);
		return;
	}
	/* All sent so far: wait for the next progress line, or the operator leaving. */
	c->outoff = c->outlen = 0;
	conn_watch(m, c, EPOLLIN);
}

static void on_conn(struct master *m, int idx, unsigned events)
{
	struct conn *c;
	ssize_t n;

	if (idx < 0 || idx >= CTL_MAX_CONNS || conns[idx].fd < 0)
		return;
	c = &conns[idx];
	if (c->streaming && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		char junk[64];

		n = read(c->fd, junk, sizeof(junk));
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			/* The operator went away: the operation goes on, reported to the log. */
			conn_close(m, c);
			return;
		}
	}
	if (c->outlen || c->streaming) {
		conn_flush(m, c);
		return;
	}
	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		conn_close(m, c);
		return;
	}
	c->inlen += (size_t)n;
	if (memchr(c->in, '\n', c->inlen)) {
		handle_request(m, c);
	} else if (c->inlen == sizeof(c->in)) {
		out_add(c, "%s ERR request too long\n", CTL_PROTO_REPLY);
	} else {
		return;
	}
	conn_flush(m, c);
}

/* Drop connections that stalled: while any is open, the loop's tick comes back. */
static uint64_t control_clock(struct master *m)
{
	uint64_t now = now_ns();
	bool open = false;

	for (int i = 0; i < CTL_MAX_CONNS; i++) {
		if (conns[i].fd >= 0 && !conns[i].streaming &&
		    now - conns[i].since_ns > CTL_STALL_NS)
			conn_close(m, &conns[i]);
		open |= conns[i].fd >= 0;
	}
	return open ? now + LOOP_TICK_NS : 0;
}
