/*
 * Containers as tenants of the handle table (tenant.h). The region holds the
 * counts; this file keeps a private index from container key to slot, and
 * the refusal log's pacing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/tenant.h"
#include "shm/content.h"
#include "shm/log.h"

#define REFUSAL_LOG_NS (10ULL * 1000000000ULL)

/* key -> slot: chained through next[], heads in bucket[]; -1 ends a chain. */
static int32_t *bucket, *next;
static uint32_t nbuckets;
static uint32_t *free_slots, nfree;

/* Refusals not yet logged, per slot, and when the slot may log again. */
struct refusal_log {
	uint64_t next_ns;
	uint64_t unlogged;
	int last_err;
};
static struct refusal_log *rlog;

static uint32_t bucket_of(uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (nbuckets - 1);
}

static int64_t find(struct master *m, uint64_t key)
{
	for (int32_t i = bucket[bucket_of(key)]; i >= 0; i = next[i])
		if (atomic_load(&m->shm.tenants[i].key) == key)
			return i;
	return -1;
}

static void link_slot(struct master *m, uint32_t slot)
{
	uint32_t b = bucket_of(atomic_load(&m->shm.tenants[slot].key));

	next[slot] = bucket[b];
	bucket[b] = (int32_t)slot;
}

static void unlink_slot(struct master *m, uint32_t slot)
{
	int32_t *p = &bucket[bucket_of(atomic_load(&m->shm.tenants[slot].key))];

	while (*p >= 0 && *p != (int32_t)slot)
		p = &next[*p];
	if (*p == (int32_t)slot)
		*p = next[slot];
}

/*
 * The end of the path a container is best known by: its memory cgroup (a
 * hybrid host's unified path is often just "/"), else the first it has.
 */
static void label_from(char *label, const struct cont_paths *p)
{
	const char *path = p->path[0];
	size_t len;

	/* A path not starting with '/' is absent, or marked longer than the cache keeps. */
	for (int c = 1; c < IDENT_NPATHS && path[0] != '/'; c++)
		path = p->path[c];
	if (path[0] != '/')
		path = "?";
	len = strlen(path);
	if (len >= TENANT_LABEL)
		path += len - (TENANT_LABEL - 1);
	memset(label, 0, TENANT_LABEL);
	memcpy(label, path, strlen(path));
}

static void slot_clear(struct master *m, uint32_t slot)
{
	struct shm_tenant *t = &m->shm.tenants[slot];
	struct refusal_log *r = &rlog[slot];

	if (r->unlogged)
		log_msg("container %.*s: %llu more opens refused (%s)", TENANT_LABEL, t->label,
		        (unsigned long long)r->unlogged, strerror(-r->last_err));
	memset(r, 0, sizeof(*r));
	atomic_store(&t->handles, 0);
	atomic_store(&t->chunks, 0);
	atomic_store(&t->refused, 0);
	memset(t->label, 0, sizeof(t->label));
	atomic_store(&t->key, 0);
}

/* The slot of container key, taking a free one for a new container. */
static uint32_t slot_for(struct master *m, uint64_t key, const struct cont_paths *paths, pid_t pid)
{
	struct cont_paths found;
	struct shm_tenant *t;
	int64_t i;
	uint32_t slot;

	if (key == 0)
		return TENANT_UNRESOLVED;
	i = find(m, key);
	if (i >= 0)
		return (uint32_t)i;
	if (nfree == 0)
		return TENANT_OVERFLOW; /* more containers hold files than the snapshot holds */
	slot = free_slots[--nfree];
	t = &m->shm.tenants[slot];
	/* A worker resolved it: the identity cache has its paths now, unless it keeps nothing. */
	if (!paths && ident_peek_container(&m->shm, pid, &(uint64_t){0}, &found) == 0)
		paths = &found;
	if (paths)
		label_from(t->label, paths);
	else
		snprintf(t->label, sizeof(t->label), "key %016llx", (unsigned long long)key);
	atomic_store(&t->key, key);
	link_slot(m, slot);
	return slot;
}

uint32_t tenant_import(struct master *m, uint64_t key, const char *label)
{
	uint32_t slot = slot_for(m, key, NULL, 0);
	struct shm_tenant *t = &m->shm.tenants[slot];

	/* The label the other master knew it by, unless we name it already. */
	if (slot > TENANT_OVERFLOW && label[0] && (!t->label[0] || strncmp(t->label, "key ", 4) == 0))
		snprintf(t->label, sizeof(t->label), "%.*s", TENANT_LABEL - 1, label);
	return slot;
}

static void slot_release_if_idle(struct master *m, uint32_t slot)
{
	if (slot <= TENANT_OVERFLOW || atomic_load(&m->shm.tenants[slot].handles) != 0)
		return;
	unlink_slot(m, slot);
	slot_clear(m, slot);
	free_slots[nfree++] = slot;
}

int tenant_init(struct master *m)
{
	uint32_t n = m->shm.ntenants;

	nbuckets = 1;
	while (nbuckets < 2 * n)
		nbuckets <<= 1;
	bucket = malloc(nbuckets * sizeof(*bucket));
	next = malloc(n * sizeof(*next));
	free_slots = malloc(n * sizeof(*free_slots));
	rlog = calloc(n, sizeof(*rlog));
	if (!bucket || !next || !free_slots || !rlog)
		return -ENOMEM;
	memset(bucket, 0xff, nbuckets * sizeof(*bucket));
	snprintf(m->shm.tenants[TENANT_UNRESOLVED].label, TENANT_LABEL, "(unresolved readers)");
	snprintf(m->shm.tenants[TENANT_OVERFLOW].label, TENANT_LABEL, "(beyond --max-cgroups)");
	nfree = 0;
	for (uint32_t s = 0; s < n; s++)
		next[s] = -1;
	for (uint32_t s = n; s-- > TENANT_OVERFLOW + 1;) {
		uint64_t key = atomic_load(&m->shm.tenants[s].key);

		if (key != 0 && find(m, key) < 0) {
			link_slot(m, s);
			continue;
		}
		/* Free, or a second slot for one key (a master died filling it): the recount
		 * below moves whatever it held to the shared slot. */
		slot_clear(m, s);
		free_slots[nfree++] = s;
	}
	tenant_recount(m);
	return 0;
}

void tenant_recount(struct master *m)
{
	struct shm *s = &m->shm;

	for (uint32_t i = 0; i < s->ntenants; i++) {
		atomic_store(&s->tenants[i].handles, 0);
		atomic_store(&s->tenants[i].chunks, 0);
	}
	for (uint32_t i = 0; i < s->nhandles; i++) {
		struct shm_handle *h = &s->handles[i];
		uint32_t t = atomic_load(&h->tenant);
		int32_t n;

		if (t == 0)
			continue;
		if (t > s->ntenants ||
		    (t - 1 > TENANT_OVERFLOW && atomic_load(&s->tenants[t - 1].key) == 0)) {
			/* Charged to a slot that names nobody: the shared one keeps it. */
			t = TENANT_OVERFLOW + 1;
			atomic_store(&h->tenant, t);
		}
		n = (int32_t)content_chain_chunks(s, (uint32_t)atomic_load(&h->state));
		atomic_store(&h->chunks, n);
		atomic_fetch_add(&s->tenants[t - 1].handles, 1);
		atomic_fetch_add(&s->tenants[t - 1].chunks, n);
	}
	for (uint32_t i = TENANT_OVERFLOW + 1; i < s->ntenants; i++)
		if (atomic_load(&s->tenants[i].key) != 0)
			slot_release_if_idle(m, i);
}

static void refused(struct master *m, uint32_t slot, int err, pid_t pid, const char *what)
{
	struct shm_tenant *t = &m->shm.tenants[slot];
	struct refusal_log *r = &rlog[slot];
	uint64_t now = now_ns();
	const struct quota *q = &m->shm.quota_handles;

	atomic_fetch_add(&t->refused, 1);
	r->unlogged++;
	r->last_err = err;
	if (now < r->next_ns)
		return;
	/* A tenant looping on refused opens must not flood the log: one line per interval. */
	log_msg("container %.*s: %llu opens refused in the last %llu s: %s (it holds %u files, "
	        "its share is %u, %u free of %u; last: %s by pid %d)",
	        TENANT_LABEL, t->label, (unsigned long long)r->unlogged,
	        (unsigned long long)(REFUSAL_LOG_NS / 1000000000ULL), strerror(-err),
	        atomic_load(&t->handles), q->limit, handle_nfree_count(&m->shm), m->shm.nhandles,
	        what, (int)pid);
	r->unlogged = 0;
	r->next_ns = now + REFUSAL_LOG_NS;
}

int64_t tenant_open(struct master *m, uint64_t key, const struct cont_paths *paths, pid_t pid,
                    const char *what, uint64_t node)
{
	uint32_t slot = slot_for(m, key, paths, pid);
	struct shm_tenant *t = &m->shm.tenants[slot];
	uint32_t nfree_h = handle_nfree_count(&m->shm);
	int64_t fh;

	if (!quota_admit(&m->shm.quota_handles, atomic_load(&t->handles), 1, nfree_h)) {
		/* Its own share used up, or the rest kept for containers that hold little. */
		int err = nfree_h == 0 ? -ENFILE : -EMFILE;

		refused(m, slot, err, pid, what);
		slot_release_if_idle(m, slot);
		return err;
	}
	fh = handle_open(&m->shm, slot, node);
	if (fh < 0) {
		refused(m, slot, (int)fh, pid, what);
		slot_release_if_idle(m, slot);
		return fh;
	}
	atomic_fetch_add(&t->handles, 1);
	return fh;
}

void tenant_release(struct master *m, uint64_t fh)
{
	uint32_t slot;
	int32_t chunks;

	if (handle_release(&m->shm, fh, &slot, &chunks) < 0 || slot >= m->shm.ntenants)
		return;
	atomic_fetch_sub(&m->shm.tenants[slot].handles, 1);
	atomic_fetch_sub(&m->shm.tenants[slot].chunks, chunks);
	slot_release_if_idle(m, slot);
}

void tenant_charge(struct master *m, uint64_t fh, int32_t delta)
{
	struct shm_handle *h = handle_if_open(&m->shm, fh);
	uint32_t t;

	/* Closed meanwhile: its release settled what it held. */
	if (!h || delta == 0)
		return;
	t = atomic_load(&h->tenant);
	if (t == 0 || t > m->shm.ntenants)
		return;
	atomic_fetch_add(&h->chunks, delta);
	atomic_fetch_add(&m->shm.tenants[t - 1].chunks, delta);
}

unsigned tenant_top(struct master *m, struct tenant_view *out, unsigned n, unsigned *active)
{
	unsigned got = 0;

	*active = 0;
	for (uint32_t i = 0; i < m->shm.ntenants; i++) {
		const struct shm_tenant *t = &m->shm.tenants[i];
		struct tenant_view v;
		unsigned at;

		v.handles = atomic_load(&t->handles);
		v.refused = atomic_load(&t->refused);
		if (v.handles == 0 && v.refused == 0)
			continue;
		++*active;
		v.chunks = atomic_load(&t->chunks);
		memcpy(v.label, t->label, sizeof(v.label));
		v.label[TENANT_LABEL - 1] = '\0';
		/* Kept sorted, most handles first: insert where it belongs, the last falls off. */
		if (got < n)
			got++;
		else if (n == 0 || out[n - 1].handles >= v.handles)
			continue;
		for (at = got - 1; at > 0 && out[at - 1].handles < v.handles; at--)
			out[at] = out[at - 1];
		out[at] = v;
	}
	return got;
}
