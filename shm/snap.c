/*
 * Snapshot tables: see snap.h for the seqlock and lease rules.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "shm/layout.h"
#include "shm/snap.h"

/* How long a reader waits for another worker's refresh before reading live: far
 * above a cgroupfs read (tens of µs), far below the request deadline. */
#define SNAP_WAIT_NS    50000000ULL
#define SNAP_READ_TRIES 64

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

void snap_hash(const void *key, size_t len, struct snap_key *out)
{
	const unsigned char *p = key;
	uint64_t a = 0xcbf29ce484222325ULL ^ len, b = 0x9e3779b97f4a7c15ULL + len;

	/* Two independent 64-bit lanes: FNV-1a and a multiply-rotate. */
	for (size_t i = 0; i < len; i++) {
		a = (a ^ p[i]) * 0x100000001b3ULL;
		b = ((b ^ p[i]) * 0x87c37b91114253d5ULL);
		b = (b << 31) | (b >> 33);
	}
	out->h1 = mix64(a);
	out->h2 = mix64(b ^ a);
	if (!out->h1 && !out->h2)
		out->h1 = 1; /* zero marks an unused slot */
}

const char *snap_table_name(enum snap_table_id t)
{
	static const char *const names[SNAP_NTABLES] = {
		[SNAP_PID] = "pid",   [SNAP_CONT] = "container", [SNAP_MEM] = "memory",
		[SNAP_HOST] = "host", [SNAP_LOAD] = "loadavg",   [SNAP_STAT] = "stat",
		[SNAP_CPU] = "cpu",   [SNAP_ACCT] = "cputime",   [SNAP_PSI] = "pressure",
		[SNAP_IO] = "io",
		[SNAP_PATH] = "sysfs",
	};

	return (unsigned)t < SNAP_NTABLES && names[t] ? names[t] : "?";
}

void snap_label(char *out, size_t size, const char *kind, const char *what)
{
	size_t klen = strlen(kind), wlen = strlen(what);

	if (size == 0)
		return;
	if (klen + 1 + wlen < size) {
		snprintf(out, size, "%s %s", kind, what);
		return;
	}
	/* "kind ..." then as much of the end of what as fits. */
	snprintf(out, size, "%s ...", kind);
	klen = strlen(out);
	if (klen + 1 < size) {
		size_t room = size - klen - 1;

		memcpy(out + klen, what + wlen - (room < wlen ? room : wlen), room < wlen ? room : wlen);
		out[klen + (room < wlen ? room : wlen)] = '\0';
	}
}

uint64_t snap_table_bytes(uint32_t capacity, uint32_t value_size, uint32_t *nbuckets,
                          uint32_t *slot_size)
{
	uint32_t nb = 1;

	while ((uint64_t)nb * SNAP_WAYS < capacity)
		nb <<= 1;
	*nbuckets = nb;
	*slot_size = (uint32_t)((sizeof(struct snap_slot) + value_size + 63) & ~63ULL);
	return (uint64_t)nb * SNAP_WAYS * *slot_size;
}

static struct snap_slot *slot_at(const struct shm *s, enum snap_table_id t, uint32_t i)
{
	const struct snap_table_desc *d = &s->tables[t];

	return (struct snap_slot *)((unsigned char *)s->base + d->off + (uint64_t)i * d->slot_size);
}

static unsigned char *slot_value(struct snap_slot *sl)
{
	return (unsigned char *)(sl + 1);
}

static bool key_eq(const struct snap_key *a, const struct snap_key *b)
{
	return a->h1 == b->h1 && a->h2 == b->h2;
}

/*
 * Copy a consistent view of a slot: 1 if it holds key (value copied, at most
 * size bytes), 0 if it holds another key or none, -EBUSY if a writer is in it.
 */
static int slot_read(const struct shm *s, enum snap_table_id t, struct snap_slot *sl,
                     const struct snap_key *key, void *out, size_t size, size_t *len,
                     uint64_t *filled)
{
	uint32_t vsize = s->tables[t].value_size;

	for (int i = 0; i < SNAP_READ_TRIES; i++) {
		uint32_t s1 = atomic_load_explicit(&sl->seq, memory_order_acquire), s2;
		struct snap_key k;
		uint32_t vlen;

		if (s1 & 1) {
			sched_yield();
			continue;
		}
		k = sl->key;
		vlen = sl->value_len;
		*filled = sl->filled_ns;
		if (!key_eq(&k, key)) {
			atomic_thread_fence(memory_order_acquire);
			s2 = atomic_load_explicit(&sl->seq, memory_order_relaxed);
			if (s1 == s2)
				return 0;
			continue;
		}
		/* Lengths in shm are untrusted: bound by the table and by the caller. */
		if (vlen > vsize)
			vlen = vsize;
		if (vlen > size)
			vlen = (uint32_t)size;
		if (out)
			memcpy(out, slot_value(sl), vlen);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&sl->seq, memory_order_relaxed);
		if (s1 == s2) {
			*len = vlen;
			return 1;
		}
	}
	return -EBUSY;
}

static bool lease_dead(const struct shm *s, uint64_t lease)
{
	uint32_t id = (uint32_t)(lease >> 32) - 1, gen = (uint32_t)lease;

	if (id >= SHM_MAX_WORKERS)
		return true;
	return atomic_load(&s->workers[id].gen) != gen ||
	       atomic_load(&s->workers[id].state) != WS_READY;
}

static bool lease_take(const struct shm *s, struct snap_slot *sl, const struct snap_who *who)
{
	uint64_t mine = ((uint64_t)(who->worker + 1) << 32) | who->gen;
	uint64_t cur = 0;

	if (atomic_compare_exchange_strong(&sl->lease, &cur, mine))
		return true;
	if (lease_dead(s, cur))
		return atomic_compare_exchange_strong(&sl->lease, &cur, mine);
	return false;
}

static void lease_drop(struct snap_slot *sl)
{
	atomic_store_explicit(&sl->lease, 0, memory_order_release);
}

static void slot_write(const struct shm *s, enum snap_table_id t, struct snap_slot *sl,
                       const struct snap_key *key, const char *label, const void *value, size_t len,
                       uint64_t filled)
{
	uint32_t seq = atomic_load_explicit(&sl->seq, memory_order_relaxed);
	bool was_used = sl->key.h1 || sl->key.h2, used = key->h1 || key->h2;

	if (was_used != used) {
		if (used)
			atomic_fetch_add_explicit(&s->hdr->snap_entries[t], 1,
			                          memory_order_relaxed);
		else
			atomic_fetch_sub_explicit(&s->hdr->snap_entries[t], 1,
			                          memory_order_relaxed);
	}
	/* Odd already if a writer died in it: stay odd until complete. */
	if (!(seq & 1))
		seq++;
	atomic_store_explicit(&sl->seq, seq, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	sl->key = *key;
	sl->filled_ns = filled;
	if (len > s->tables[t].value_size)
		len = s->tables[t].value_size;
	sl->value_len = (uint32_t)len;
	if (len)
		memcpy(slot_value(sl), value, len);
	snprintf(sl->label, sizeof(sl->label), "%s", label ? label : "");
	atomic_store_explicit(&sl->used_ns, filled, memory_order_relaxed);
	atomic_store_explicit(&sl->seq, seq + 1, memory_order_release);
}

/*
 * The slots a key may live in: its bucket, and for a state table a second
 * one chosen by the other half of the hash (see snap.h).
 */
struct snap_ways {
	uint32_t base[2]; /* first slot of each bucket */
	uint32_t n;       /* slots in all: SNAP_WAYS or 2 * SNAP_WAYS */
};

static void ways_of(const struct shm *s, enum snap_table_id t, const struct snap_key *key,
                    struct snap_ways *w)
{
	uint32_t nb = s->tables[t].nbuckets, b1 = (uint32_t)(key->h1 & (nb - 1)), b2;

	w->base[0] = w->base[1] = b1 * SNAP_WAYS;
	w->n = SNAP_WAYS;
	if (!(s->tables[t].flags & SNAP_TABLE_STATE) || nb < 2)
		return;
	b2 = (uint32_t)(key->h2 & (nb - 1));
	w->base[1] = (b2 == b1 ? b1 ^ 1 : b2) * SNAP_WAYS;
	w->n = 2 * SNAP_WAYS;
}

static struct snap_slot *way_slot(const struct shm *s, enum snap_table_id t,
                                  const struct snap_ways *w, uint32_t i)
{
	return slot_at(s, t, w->base[i / SNAP_WAYS] + i % SNAP_WAYS);
}

static bool slot_unused(const struct snap_slot *sl)
{
	return sl->key.h1 == 0 && sl->key.h2 == 0;
}

/*
 * The slot a new key should take: an unused one (in a state table, in the
 * bucket with more of them), else one a dead writer left half-written (its
 * sequence odd, its lease holder gone), else the least recently used. A state
 * table gives only an entry unused for SNAP_STATE_IDLE_NS: NULL when there is
 * none, the table is full for this key.
 */
static struct snap_slot *victim(const struct shm *s, enum snap_table_id t,
                                const struct snap_ways *w)
{
	struct snap_slot *best = NULL, *empty[2] = {NULL, NULL};
	uint64_t best_used = UINT64_MAX;
	unsigned nempty[2] = {0, 0};

	for (uint32_t i = 0; i < w->n; i++) {
		struct snap_slot *sl = way_slot(s, t, w, i);
		uint64_t used = atomic_load_explicit(&sl->used_ns, memory_order_relaxed);
		uint64_t lease = atomic_load_explicit(&sl->lease, memory_order_relaxed);

		if (slot_unused(sl)) {
			if (!empty[i / SNAP_WAYS])
				empty[i / SNAP_WAYS] = sl;
			nempty[i / SNAP_WAYS]++;
			continue;
		}
		if ((atomic_load_explicit(&sl->seq, memory_order_relaxed) & 1) &&
		    (lease == 0 || lease_dead(s, lease)))
			return sl;
		if (used < best_used) {
			best = sl;
			best_used = used;
		}
	}
	if (empty[0] || empty[1])
		return nempty[1] > nempty[0] ? empty[1] : empty[0] ? empty[0] : empty[1];
	if (best && (s->tables[t].flags & SNAP_TABLE_STATE) &&
	    best_used + SNAP_STATE_IDLE_NS > mono_ns())
		return NULL;
	return best;
}

/* Whether key is in one of its slots other than skip (a racing insert). */
static bool key_elsewhere(const struct shm *s, enum snap_table_id t, const struct snap_ways *w,
                          const struct snap_key *key, const struct snap_slot *skip)
{
	for (uint32_t i = 0; i < w->n; i++) {
		struct snap_slot *sl = way_slot(s, t, w, i);
		uint64_t filled;
		size_t len;

		/* Only a slot that reads as the key counts: one mid-write (perhaps
		 * left so by a dead writer) must not keep an insert from ever happening. */
		if (sl != skip && slot_read(s, t, sl, key, NULL, 0, &len, &filled) == 1)
			return true;
	}
	return false;
}

/* Read the value without storing it; prev: out holds the entry's last value (see snap.h). */
static int fill_live(snap_fill_fn fill, void *ctx, void *out, size_t size, size_t *len, bool prev,
                     const struct snap_who *who)
{
	atomic_fetch_add_explicit(&who->c->live, 1, memory_order_relaxed);
	if (!prev)
		*len = 0;
	return fill(ctx, out, size, len);
}

/* With the lease of sl held: read the value and store it. */
static int refresh(struct shm *s, enum snap_table_id t, struct snap_slot *sl,
                   const struct snap_key *key, const char *label, snap_fill_fn fill, void *ctx,
                   void *out, size_t size, size_t *len, const struct snap_who *who)
{
	bool evict = !key_eq(&sl->key, key) && (sl->key.h1 || sl->key.h2);
	uint64_t t0 = mono_ns();
	int err;

	err = fill(ctx, out, size, len);
	if (err == 0) {
		slot_write(s, t, sl, key, label, out, *len, t0);
		atomic_fetch_add_explicit(&who->c->refreshes, 1, memory_order_relaxed);
		if (evict)
			atomic_fetch_add_explicit(&who->c->evictions, 1, memory_order_relaxed);
	}
	lease_drop(sl);
	return err;
}

int snap_get(struct shm *s, enum snap_table_id t, const struct snap_key *key, const char *label,
             uint64_t ttl_ns, snap_fill_fn fill, void *ctx, void *out, size_t size, size_t *len,
             const struct snap_who *who)
{
	uint64_t deadline = 0;
	struct snap_ways ways;

	if (ttl_ns == 0)
		return fill_live(fill, ctx, out, size, len, false, who);
	ways_of(s, t, key, &ways);
	for (;;) {
		struct snap_slot *found = NULL, *sl;
		uint64_t filled = 0, now;
		bool busy = false;

		for (uint32_t i = 0; i < ways.n && !found; i++) {
			int r;

			sl = way_slot(s, t, &ways, i);
			r = slot_read(s, t, sl, key, out, size, len, &filled);
			if (r == 1)
				found = sl;
			busy |= r < 0;
		}
		now = mono_ns();
		if (found && now - filled < ttl_ns) {
			atomic_store_explicit(&found->used_ns, now, memory_order_relaxed);
			atomic_fetch_add_explicit(&who->c->hits, 1, memory_order_relaxed);
			return 0;
		}
		if (!deadline) {
			atomic_fetch_add_explicit(found ? &who->c->stale : &who->c->misses, 1,
			                          memory_order_relaxed);
			deadline = now + SNAP_WAIT_NS;
		}
		/* A slot mid-write may be our key arriving: give it the wait before inserting. */
		if (!found && busy && now <= deadline) {
			atomic_fetch_add_explicit(&who->c->waits, 1, memory_order_relaxed);
			sched_yield();
			continue;
		}
		sl = found ? found : victim(s, t, &ways);
		if (!sl) /* a full state table: no room for this key now */
			return fill_live(fill, ctx, out, size, len, false, who);
		if (lease_take(s, sl, who)) {
			bool prev = false;

			/* Someone may have refreshed or inserted it since our read. */
			if (found) {
				prev = slot_read(s, t, sl, key, out, size, len, &filled) == 1;
				if (prev && mono_ns() - filled < ttl_ns) {
					lease_drop(sl);
					atomic_fetch_add_explicit(&who->c->hits, 1,
					                          memory_order_relaxed);
					return 0;
				}
			}
			if (!found && key_elsewhere(s, t, &ways, key, sl)) {
				lease_drop(sl);
				if (mono_ns() > deadline)
					return fill_live(fill, ctx, out, size, len, false, who);
				continue;
			}
			if (!prev)
				*len = 0;
			return refresh(s, t, sl, key, label, fill, ctx, out, size, len, who);
		}
		/* Another worker holds it: its refresh will serve us too, unless it is slow. */
		if (now > deadline)
			return fill_live(fill, ctx, out, size, len, found != NULL, who);
		atomic_fetch_add_explicit(&who->c->waits, 1, memory_order_relaxed);
		sched_yield();
	}
}

void snap_drop(struct shm *s, enum snap_table_id t, const struct snap_key *key,
               const struct snap_who *who)
{
	static const struct snap_key none;
	struct snap_ways ways;

	ways_of(s, t, key, &ways);
	for (uint32_t i = 0; i < ways.n; i++) {
		struct snap_slot *sl = way_slot(s, t, &ways, i);

		if (!key_eq(&sl->key, key) || !lease_take(s, sl, who))
			continue;
		if (key_eq(&sl->key, key))
			slot_write(s, t, sl, &none, "", NULL, 0, 0);
		lease_drop(sl);
	}
}

uint32_t snap_count(const struct shm *s, enum snap_table_id t)
{
	return atomic_load_explicit(&s->hdr->snap_entries[t], memory_order_relaxed);
}

/*
 * Which pages of a table were ever touched, in one mincore() call: a scan must
 * neither fault in the whole table nor pay a system call per slot. NULL (and
 * the scan treats every page as touched) if the map cannot be had.
 */
struct resident {
	unsigned char *vec;
	const unsigned char *base;
	size_t npages;
};

static void resident_map(const struct shm *s, enum snap_table_id t, struct resident *r)
{
	const struct snap_table_desc *d = &s->tables[t];
	size_t bytes = (size_t)d->nbuckets * SNAP_WAYS * d->slot_size;

	r->base = (const unsigned char *)s->base + d->off; /* page-aligned: see region.c */
	r->npages = (bytes + 4095) / 4096;
	r->vec = malloc(r->npages ? r->npages : 1);
	if (r->vec && mincore((void *)r->base, bytes, r->vec) < 0) {
		free(r->vec);
		r->vec = NULL;
	}
}

static bool slot_resident(const struct resident *r, const struct snap_slot *sl, size_t size)
{
	size_t first = (size_t)((const unsigned char *)sl - r->base) / 4096;
	size_t last = (size_t)((const unsigned char *)sl + size - 1 - r->base) / 4096;

	if (!r->vec)
		return true;
	return last < r->npages && (r->vec[first] & 1) && (r->vec[last] & 1);
}

static void each_entry(const struct shm *s, enum snap_table_id t, uint64_t now_ns, bool values,
                       void (*cb)(void *arg, const struct snap_entry *e), void *arg)
{
	uint32_t total = s->tables[t].nbuckets * SNAP_WAYS, vsize = s->tables[t].value_size;
	unsigned char *value = values ? malloc(vsize ? vsize : 1) : NULL;
	struct resident r;

	if (values && !value)
		return;
	resident_map(s, t, &r);
	for (uint32_t i = 0; i < total; i++) {
		struct snap_slot *sl = slot_at(s, t, i);

		if (!slot_resident(&r, sl, sizeof(*sl)))
			continue;
		for (int tries = 0; tries < SNAP_READ_TRIES; tries++) {
			uint32_t s1 = atomic_load_explicit(&sl->seq, memory_order_acquire);
			char label[sizeof(sl->label)];
			struct snap_key key;
			uint64_t filled;
			uint32_t len;
			bool used;

			if (s1 & 1)
				break;
			key = sl->key;
			used = key.h1 || key.h2;
			memcpy(label, sl->label, sizeof(label));
			filled = sl->filled_ns;
			/* Lengths in shm are untrusted: bound by the table. */
			len = sl->value_len < vsize ? sl->value_len : vsize;
			if (values && used)
				memcpy(value, slot_value(sl), len);
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != s1)
				continue;
			label[sizeof(label) - 1] = '\0';
			if (used) {
				uint64_t last =
				    atomic_load_explicit(&sl->used_ns, memory_order_relaxed);
				struct snap_entry e = {
				    .label = label,
				    .age_ns = now_ns > filled ? now_ns - filled : 0,
				    .idle_ns = now_ns > last ? now_ns - last : 0,
				    .len = len,
				    .key = key,
				    .value = value,
				};

				cb(arg, &e);
			}
			break;
		}
	}
	free(r.vec);
	free(value);
}

void snap_each(const struct shm *s, enum snap_table_id t, uint64_t now_ns,
               void (*cb)(void *arg, const struct snap_entry *e), void *arg)
{
	each_entry(s, t, now_ns, false, cb, arg);
}

void snap_each_value(const struct shm *s, enum snap_table_id t, uint64_t now_ns,
                     void (*cb)(void *arg, const struct snap_entry *e), void *arg)
{
	each_entry(s, t, now_ns, true, cb, arg);
}

unsigned snap_update_each(struct shm *s, enum snap_table_id t, const struct snap_who *who,
                          snap_update_fn fn, void *ctx)
{
	uint32_t total = s->tables[t].nbuckets * SNAP_WAYS, vsize = s->tables[t].value_size;
	static const struct snap_key none;
	unsigned char value[4096];
	unsigned visited = 0;
	struct resident res;

	if (vsize > sizeof(value))
		return 0;
	resident_map(s, t, &res);
	for (uint32_t i = 0; i < total; i++) {
		struct snap_slot *sl = slot_at(s, t, i);
		struct snap_key key;
		uint64_t filled;
		size_t len;
		int r;

		if (!slot_resident(&res, sl, sizeof(*sl)) || (!sl->key.h1 && !sl->key.h2))
			continue;
		if (!lease_take(s, sl, who))
			continue;
		key = sl->key;
		if (slot_read(s, t, sl, &key, value, vsize, &len, &filled) != 1) {
			lease_drop(sl);
			continue;
		}
		visited++;
		r = fn(ctx, value, len, atomic_load_explicit(&sl->used_ns, memory_order_relaxed));
		if (r == SNAP_WRITE) {
			uint64_t used = atomic_load_explicit(&sl->used_ns, memory_order_relaxed);
			char label[sizeof(sl->label)];

			memcpy(label, sl->label, sizeof(label));
			label[sizeof(label) - 1] = '\0';
			slot_write(s, t, sl, &key, label, value, len, filled);
			/* A write is not a use: eviction still sees when a reader last asked. */
			atomic_store_explicit(&sl->used_ns, used, memory_order_relaxed);
		} else if (r == SNAP_DROP) {
			slot_write(s, t, sl, &none, "", NULL, 0, 0);
		}
		lease_drop(sl);
	}
	free(res.vec);
	return visited;
}

int snap_modify(struct shm *s, enum snap_table_id t, const struct snap_key *key, const char *label,
                const struct snap_who *who, snap_modify_fn fn, void *ctx)
{
	uint32_t vsize = s->tables[t].value_size;
	uint64_t deadline = mono_ns() + SNAP_WAIT_NS;
	static unsigned char *value;
	static uint32_t value_cap;
	struct snap_ways ways;

	if (value_cap < vsize) {
		unsigned char *bigger = realloc(value, vsize);

		if (!bigger)
			return -ENOMEM;
		value = bigger;
		value_cap = vsize;
	}
	ways_of(s, t, key, &ways);
	for (;;) {
		struct snap_slot *found = NULL, *sl;
		uint64_t filled = 0;
		size_t len = 0;
		int r;

		for (uint32_t i = 0; i < ways.n && !found; i++) {
			sl = way_slot(s, t, &ways, i);
			if (slot_read(s, t, sl, key, NULL, 0, &len, &filled) == 1)
				found = sl;
		}
		sl = found ? found : victim(s, t, &ways);
		if (!sl)
			return -ENOSPC; /* a full state table: no room for this key now */
		if (lease_take(s, sl, who)) {
			if (!found && key_elsewhere(s, t, &ways, key, sl)) {
				lease_drop(sl);
				if (mono_ns() > deadline)
					return -EBUSY;
				continue;
			}
			len = 0;
			if (!found || slot_read(s, t, sl, key, value, vsize, &len, &filled) != 1)
				len = 0;
			if (len == 0)
				memset(value, 0, vsize);
			r = fn(ctx, value, vsize, &len);
			if (r == SNAP_WRITE) {
				if (!found && (sl->key.h1 || sl->key.h2))
					atomic_fetch_add_explicit(&who->c->evictions, 1,
					                          memory_order_relaxed);
				slot_write(s, t, sl, key, label, value, len, mono_ns());
			}
			lease_drop(sl);
			return r < 0 ? r : 0;
		}
		if (mono_ns() > deadline)
			return -EBUSY;
		atomic_fetch_add_explicit(&who->c->waits, 1, memory_order_relaxed);
		sched_yield();
	}
}

int snap_peek(const struct shm *s, enum snap_table_id t, const struct snap_key *key, void *out,
	      size_t size, size_t *len)
{
	struct snap_ways ways;
	bool busy = false;

	ways_of(s, t, key, &ways);
	for (uint32_t i = 0; i < ways.n; i++) {
		uint64_t filled;
		int r = slot_read(s, t, way_slot(s, t, &ways, i), key, out, size, len, &filled);

		if (r == 1)
			return 0;
		busy |= r < 0;
	}
	return busy ? -EBUSY : -ENOENT;
}

struct put_ctx {
	const void *value;
	size_t len;
};

static int put_value(void *ctx, void *value, size_t size, size_t *len)
{
	struct put_ctx *p = ctx;

	if (p->len > size)
		return -ENOSPC;
	memcpy(value, p->value, p->len);
	*len = p->len;
	return SNAP_WRITE;
}

int snap_put(struct shm *s, enum snap_table_id t, const struct snap_key *key, const char *label,
	     const void *value, size_t len, const struct snap_who *who)
{
	return snap_modify(s, t, key, label, who, put_value,
			   &(struct put_ctx){.value = value, .len = len});
}
