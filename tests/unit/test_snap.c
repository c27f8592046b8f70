/*
 * The shared snapshot tables: hits within the freshness bound, one refresh
 * per stale entry however many processes race on it, eviction of the least
 * recently used entry of a full bucket, failed reads not stored, and the
 * leftovers of a process killed mid-write (an odd sequence, a lease of a dead
 * worker) taken over instead of waited on. State tables (stat floors, load
 * averages) keep every entry up to their capacity whatever the snapshot's
 * size, give room only from entries idle for SNAP_STATE_IDLE_NS, and leave a
 * newcomer out rather than evict an entry in use.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "shm/layout.h"
#include "shm/snap.h"

struct fill_ctx {
	_Atomic unsigned *calls;
	uint64_t value;
	int error;
	unsigned delay_us;
};

static int fill(void *ctx, void *value, size_t size, size_t *len)
{
	struct fill_ctx *f = ctx;

	atomic_fetch_add(f->calls, 1);
	if (f->delay_us)
		usleep(f->delay_us);
	if (f->error)
		return f->error;
	if (size < sizeof(f->value))
		return -ENOSPC;
	memcpy(value, &f->value, sizeof(f->value));
	*len = sizeof(f->value);
	return 0;
}

static struct snap_counters counters;

static struct snap_who who_of(struct shm *s, int id)
{
	/* Leases name a live worker: mark the slot ready with a generation. */
	atomic_store(&s->workers[id].gen, 7);
	atomic_store(&s->workers[id].state, WS_READY);
	return (struct snap_who){.worker = (uint32_t)id, .gen = 7, .c = &counters};
}

static int get(struct shm *s, const char *name, uint64_t ttl, struct fill_ctx *f, uint64_t *out,
	       const struct snap_who *who)
{
	struct snap_key k;
	size_t len = 0;

	snap_hash(name, strlen(name), &k);
	return snap_get(s, SNAP_MEM, &k, name, ttl, fill, f, out, sizeof(*out), &len, who);
}

static void test_basic(struct shm *s, _Atomic unsigned *calls)
{
	struct snap_who w = who_of(s, 0);
	struct fill_ctx f = {.calls = calls, .value = 42};
	uint64_t v = 0;

	atomic_store(calls, 0);
	CHECK_EQ_U64(get(s, "/a", 1000000000ULL, &f, &v, &w), 0);
	CHECK_EQ_U64(v, 42);
	f.value = 43;
	CHECK_EQ_U64(get(s, "/a", 1000000000ULL, &f, &v, &w), 0);
	CHECK_EQ_U64(v, 42); /* fresh: not read again */
	CHECK_EQ_U64(atomic_load(calls), 1);
	CHECK_EQ_U64(snap_count(s, SNAP_MEM), 1);

	usleep(20000);
	CHECK_EQ_U64(get(s, "/a", 10000000ULL, &f, &v, &w), 0);
	CHECK_EQ_U64(v, 43); /* older than 10 ms: read again */
	CHECK_EQ_U64(atomic_load(calls), 2);

	/* ttl 0: always live, never stored. */
	f.value = 44;
	CHECK_EQ_U64(get(s, "/a", 0, &f, &v, &w), 0);
	CHECK_EQ_U64(v, 44);
	CHECK_EQ_U64(get(s, "/a", 1000000000ULL, &f, &v, &w), 0);
	CHECK_EQ_U64(v, 43);

	/* A failed read is not stored: the next asks again. */
	f.error = -ENOENT;
	CHECK_EQ_U64(get(s, "/gone", 1000000000ULL, &f, &v, &w), (uint64_t)-ENOENT);
	f.error = 0;
	f.value = 7;
	CHECK_EQ_U64(get(s, "/gone", 1000000000ULL, &f, &v, &w), 0);
	CHECK_EQ_U64(v, 7);
}

/* The table was made with room for 8: one bucket. A ninth key evicts the coldest. */
static void test_evict(struct shm *s, _Atomic unsigned *calls)
{
	struct snap_who w = who_of(s, 0);
	struct fill_ctx f = {.calls = calls};
	uint64_t before = atomic_load(&counters.evictions), v;
	char name[16];

	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "/k%d", i);
		f.value = (uint64_t)i;
		CHECK_EQ_U64(get(s, name, 1000000000ULL, &f, &v, &w), 0);
		usleep(100);
	}
	/* Touch all but /k3, then add /k8: /k3 is the least recently used. */
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "/k%d", i);
		if (i != 3)
			get(s, name, 1000000000ULL, &f, &v, &w);
	}
	f.value = 8;
	CHECK_EQ_U64(get(s, "/k8", 1000000000ULL, &f, &v, &w), 0);
	CHECK(atomic_load(&counters.evictions) > before);
	atomic_store(calls, 0);
	f.value = 99;
	get(s, "/k3", 1000000000ULL, &f, &v, &w);
	CHECK_EQ_U64(v, 99); /* evicted: read again */
	get(s, "/k7", 1000000000ULL, &f, &v, &w);
	CHECK_EQ_U64(v, 7); /* kept */
}

static struct snap_slot *slot_of_key(struct shm *s, const char *name)
{
	const struct snap_table_desc *d = &s->tables[SNAP_MEM];
	struct snap_key k;

	snap_hash(name, strlen(name), &k);
	for (uint32_t i = 0; i < d->nbuckets * SNAP_WAYS; i++) {
		struct snap_slot *sl =
			(struct snap_slot *)((char *)s->base + d->off + (uint64_t)i * d->slot_size);

		if (sl->key.h1 == k.h1 && sl->key.h2 == k.h2)
			return sl;
	}
	return NULL;
}

static void test_dead_writer(struct shm *s, _Atomic unsigned *calls)
{
	struct snap_who w = who_of(s, 0);
	struct fill_ctx f = {.calls = calls, .value = 5};
	struct snap_slot *sl;
	uint64_t v = 0, t0;
	struct timespec a, b;

	get(s, "/k7", 1000000000ULL, &f, &v, &w);
	sl = slot_of_key(s, "/k7");
	CHECK(sl != NULL);
	if (!sl)
		return;
	/* Killed mid-write: sequence odd, lease naming worker 5 which is gone. */
	atomic_fetch_add(&sl->seq, 1);
	atomic_store(&sl->lease, ((uint64_t)(5 + 1) << 32) | 3);
	atomic_store(&s->workers[5].state, WS_EMPTY);
	clock_gettime(CLOCK_MONOTONIC, &a);
	f.value = 6;
	CHECK_EQ_U64(get(s, "/k7", 1000000000ULL, &f, &v, &w), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t0 = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ULL + (uint64_t)(b.tv_nsec - a.tv_nsec);
	CHECK_EQ_U64(v, 6);
	CHECK(t0 < 100000000ULL); /* not a wait on the dead */
	CHECK((atomic_load(&sl->seq) & 1) == 0 || slot_of_key(s, "/k7") != sl);
	CHECK_EQ_U64(atomic_load(&sl->lease), 0);
}

/*
 * Four processes read one key with a 20 ms bound for 1 s, each fill taking
 * 2 ms: refreshes stay near 1 s / 20 ms, not four times that.
 */
static void test_single_flight(struct shm *s, _Atomic unsigned *calls)
{
	struct timespec start, now;
	int nproc = 4;

	atomic_store(calls, 0);
	for (int p = 0; p < nproc; p++) {
		if (fork() == 0) {
			struct snap_who w = who_of(s, 10 + p);
			struct fill_ctx f = {.calls = calls, .value = 1, .delay_us = 2000};
			uint64_t v;

			clock_gettime(CLOCK_MONOTONIC, &start);
			do {
				if (get(s, "/hot", 20000000ULL, &f, &v, &w) != 0 || v != 1)
					_exit(1);
				clock_gettime(CLOCK_MONOTONIC, &now);
			} while (now.tv_sec - start.tv_sec < 1 ||
				 (now.tv_sec - start.tv_sec == 1 && now.tv_nsec < start.tv_nsec));
			_exit(0);
		}
	}
	for (int p = 0; p < nproc; p++) {
		int st = 0;

		wait(&st);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	/* 50 periods of 20 ms; allow a refresh started at each boundary plus slack. */
	CHECK(atomic_load(calls) <= 60);
	CHECK(atomic_load(calls) >= 30);
	printf("single flight: %u refreshes for 4 readers over 1 s at a 20 ms bound\n",
	       atomic_load(calls));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct snap_slot *state_slot_of(struct shm *s, enum snap_table_id t, const char *name)
{
	const struct snap_table_desc *d = &s->tables[t];
	struct snap_key k;

	snap_hash(name, strlen(name), &k);
	for (uint32_t i = 0; i < d->nbuckets * SNAP_WAYS; i++) {
		struct snap_slot *sl =
		    (struct snap_slot *)((char *)s->base + d->off + (uint64_t)i * d->slot_size);

		if (sl->key.h1 == k.h1 && sl->key.h2 == k.h2)
			return sl;
	}
	return NULL;
}

static int put_u64(struct shm *s, enum snap_table_id t, const char *name, uint64_t v,
                   const struct snap_who *w)
{
	struct snap_key k;

	snap_hash(name, strlen(name), &k);
	return snap_put(s, t, &k, name, &v, sizeof(v), w);
}

static int peek_u64(struct shm *s, enum snap_table_id t, const char *name, uint64_t *v)
{
	struct snap_key k;
	size_t len = 0;
	int err;

	snap_hash(name, strlen(name), &k);
	err = snap_peek(s, t, &k, v, sizeof(*v), &len);
	return err == 0 && len != sizeof(*v) ? -EIO : err;
}

/* The two buckets a state table's key may live in, as an unordered pair. */
static void state_buckets(const struct shm *s, enum snap_table_id t, const char *name, uint32_t *lo,
                          uint32_t *hi)
{
	uint32_t nb = s->tables[t].nbuckets, b1, b2;
	struct snap_key k;

	snap_hash(name, strlen(name), &k);
	b1 = (uint32_t)(k.h1 & (nb - 1));
	b2 = (uint32_t)(k.h2 & (nb - 1));
	if (b2 == b1)
		b2 = b1 ^ 1;
	*lo = b1 < b2 ? b1 : b2;
	*hi = b1 < b2 ? b2 : b1;
}

/*
 * The stat floor table of a region made for 8 cgroups: room for
 * SNAP_STATE_MIN floors all the same, none of them lost to another.
 */
static void test_state_capacity(struct shm *s)
{
	struct snap_who w = who_of(s, 0);
	uint64_t evicted = atomic_load(&counters.evictions), v;
	unsigned stored = 0, kept = 0;
	char name[32];

	CHECK(s->tables[SNAP_STAT].flags & SNAP_TABLE_STATE);
	CHECK(s->tables[SNAP_LOAD].flags & SNAP_TABLE_STATE);
	CHECK(!(s->tables[SNAP_MEM].flags & SNAP_TABLE_STATE));
	CHECK(s->tables[SNAP_STAT].nbuckets * SNAP_WAYS >= SNAP_STATE_MIN);
	for (unsigned i = 0; i < SNAP_STATE_MIN; i++) {
		snprintf(name, sizeof(name), "/floor%u", i);
		stored += put_u64(s, SNAP_STAT, name, i, &w) == 0;
	}
	for (unsigned i = 0; i < SNAP_STATE_MIN; i++) {
		snprintf(name, sizeof(name), "/floor%u", i);
		kept += peek_u64(s, SNAP_STAT, name, &v) == 0 && v == i;
	}
	CHECK_EQ_U64(stored, SNAP_STATE_MIN);
	CHECK_EQ_U64(kept, SNAP_STATE_MIN);
	CHECK_EQ_U64(snap_count(s, SNAP_STAT), SNAP_STATE_MIN);
	CHECK_EQ_U64(atomic_load(&counters.evictions), evicted);
}

/*
 * Seventeen keys whose two buckets are the same: sixteen fill them; the
 * seventeenth is not stored while they are in use (snap_get reads it live)
 * and takes the place of one only once that one was idle for
 * SNAP_STATE_IDLE_NS.
 */
static void test_state_full(struct shm *s, _Atomic unsigned *calls)
{
	struct snap_who w = who_of(s, 0);
	struct fill_ctx f = {.calls = calls, .value = 77};
	char names[2 * SNAP_WAYS + 1][32];
	uint32_t lo, hi, l2, h2;
	unsigned n = 0, kept = 0;
	struct snap_slot *sl;
	struct snap_key k;
	uint64_t v = 0;
	size_t len = 0;

	snprintf(names[0], sizeof(names[0]), "/load/0");
	state_buckets(s, SNAP_LOAD, names[0], &lo, &hi);
	n = 1;
	for (unsigned i = 1; n < 2 * SNAP_WAYS + 1 && i < 50000000; i++) {
		snprintf(names[n], sizeof(names[n]), "/load/%u", i);
		state_buckets(s, SNAP_LOAD, names[n], &l2, &h2);
		if (l2 == lo && h2 == hi)
			n++;
	}
	CHECK_EQ_U64(n, 2 * SNAP_WAYS + 1);
	if (n != 2 * SNAP_WAYS + 1)
		return;
	for (unsigned i = 0; i < 2 * SNAP_WAYS; i++)
		CHECK_EQ_U64(put_u64(s, SNAP_LOAD, names[i], i, &w), 0);
	CHECK_EQ_U64(put_u64(s, SNAP_LOAD, names[2 * SNAP_WAYS], 99, &w), (uint64_t)-ENOSPC);

	/* snap_get of the newcomer: read (live), not stored, nothing evicted */
	atomic_store(calls, 0);
	snap_hash(names[2 * SNAP_WAYS], strlen(names[2 * SNAP_WAYS]), &k);
	CHECK_EQ_U64(
	    snap_get(s, SNAP_LOAD, &k, "newcomer", UINT64_MAX, fill, &f, &v, sizeof(v), &len, &w),
	    0);
	CHECK_EQ_U64(v, 77);
	CHECK_EQ_U64(atomic_load(calls), 1);
	CHECK_EQ_U64(peek_u64(s, SNAP_LOAD, names[2 * SNAP_WAYS], &v), (uint64_t)-ENOENT);
	for (unsigned i = 0; i < 2 * SNAP_WAYS; i++)
		kept += peek_u64(s, SNAP_LOAD, names[i], &v) == 0 && v == i;
	CHECK_EQ_U64(kept, 2 * SNAP_WAYS);

	/* names[5] unread for longer than the idle bound: it makes room */
	sl = state_slot_of(s, SNAP_LOAD, names[5]);
	CHECK(sl != NULL);
	if (!sl)
		return;
	atomic_store(&sl->used_ns, now_ns() - SNAP_STATE_IDLE_NS - 1000000000ULL);
	CHECK_EQ_U64(put_u64(s, SNAP_LOAD, names[2 * SNAP_WAYS], 99, &w), 0);
	CHECK_EQ_U64(peek_u64(s, SNAP_LOAD, names[2 * SNAP_WAYS], &v), 0);
	CHECK_EQ_U64(v, 99);
	CHECK_EQ_U64(peek_u64(s, SNAP_LOAD, names[5], &v), (uint64_t)-ENOENT);
	kept = 0;
	for (unsigned i = 0; i < 2 * SNAP_WAYS; i++)
		kept += i != 5 && peek_u64(s, SNAP_LOAD, names[i], &v) == 0 && v == i;
	CHECK_EQ_U64(kept, 2 * SNAP_WAYS - 1);
}

int main(void)
{
	_Atomic unsigned *calls = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct shm s;

	CHECK_EQ_U64(shm_create(&s, &(struct shm_sizes){16, 16, 8, 16, 4096, 4, 0, 0}), 0);
	CHECK_EQ_U64(s.tables[SNAP_MEM].nbuckets, 1);
	test_basic(&s, calls);
	test_evict(&s, calls);
	test_dead_writer(&s, calls);
	test_single_flight(&s, calls);
	test_state_capacity(&s);
	test_state_full(&s, calls);
	shm_detach(&s);
	return check_report("snap");
}
