/*
 * SPSC rings: see ring.h for the ordering contract.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm/ring.h"

void ring_reset(struct ring *r)
{
	atomic_store(&r->head, 0);
	atomic_store(&r->tail, 0);
	atomic_store(&r->waiting, 0);
}

uint32_t ring_count(const struct ring *r, uint32_t nslots)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	uint32_t n = head - tail;

	return n > nslots ? UINT32_MAX : n;
}

static void futex_wake(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, 1, NULL, NULL, 0);
}

bool ring_push(struct ring *r, void *slots, uint32_t nslots, size_t esz, const void *e)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (head - tail >= nslots)
		return false;
	memcpy((char *)slots + (size_t)(head & (nslots - 1)) * esz, e, esz);
	atomic_store_explicit(&r->head, head + 1, memory_order_release);

	/* Pairs with the consumer's fence between setting waiting and re-reading head. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->waiting, memory_order_relaxed)) {
		atomic_store_explicit(&r->waiting, 0, memory_order_relaxed);
		futex_wake(&r->head);
	}
	return true;
}

bool ring_pop(struct ring *r, const void *slots, uint32_t nslots, size_t esz, void *e)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	if (head == tail)
		return false;
	memcpy(e, (const char *)slots + (size_t)(tail & (nslots - 1)) * esz, esz);
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return true;
}

int ring_wait(struct ring *r, int timeout_ms)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	struct timespec ts, *tsp = NULL;
	uint32_t head;
	long rc;

	atomic_store_explicit(&r->waiting, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	head = atomic_load_explicit(&r->head, memory_order_acquire);
	if (head != tail) {
		atomic_store_explicit(&r->waiting, 0, memory_order_relaxed);
		return 0;
	}
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	rc = syscall(SYS_futex, &r->head, FUTEX_WAIT, head, tsp, NULL, 0);
	atomic_store_explicit(&r->waiting, 0, memory_order_relaxed);
	if (rc < 0 && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	if (rc < 0 && errno == EINTR)
		return -EINTR;
	return 0; /* woken, or head moved before we slept (EAGAIN) */
}
