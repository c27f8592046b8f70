/*
 * The shared snapshot tables: hits within the freshness bound, one refresh
 * per stale entry however many processes race on it, eviction of the least
 * recently used entry of a full bucket, failed reads not stored, and the
 * leftovers of a process killed mid-write (an odd sequence, a lease of a dead
 * worker) taken over instead of waited on.
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
	shm_detach(&s);
	return check_report("snap");
}
