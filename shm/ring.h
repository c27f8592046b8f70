/*
 * Single-producer single-consumer rings in shared memory.
 *
 * head and tail run freely (uint32, wrapping); a slot is head % nslots.
 * The producer writes a slot then publishes it with a release store of head;
 * the consumer reads head with acquire, copies the slot out, then releases it
 * with a release store of tail. A process killed at any instruction leaves
 * either the old or the new index, never a torn slot visible to the other side:
 * an unpublished slot is invisible and a slot copied out but not released is
 * simply seen again by whoever takes over the consumer side.
 *
 * The consumer sleeps on a futex on head (the memory is a shared mapping, so
 * the futex is not process-private). It announces itself in `waiting` before
 * re-checking for work, so the producer's wake-up cannot be lost.
 *
 * Indexes read from shared memory are untrusted: counts above nslots are
 * treated as a corrupt ring (ring_count returns UINT32_MAX) by the callers.
 */
#ifndef LXCFS_RING_H
#define LXCFS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ring {
	_Alignas(64) _Atomic uint32_t head; /* written by the producer only */
	_Alignas(64) _Atomic uint32_t tail; /* written by the consumer only */
	_Atomic uint32_t waiting;           /* consumer is about to sleep on head */
};

/* Reset to empty. Only when neither side is running (start, or after a death). */
void ring_reset(struct ring *r);

/* Slots in use as seen now; UINT32_MAX if the indexes are corrupt. */
uint32_t ring_count(const struct ring *r, uint32_t nslots);

/* Producer: copy e into the next slot. Returns false if the ring is full. */
bool ring_push(struct ring *r, void *slots, uint32_t nslots, size_t esz, const void *e);

/* Consumer: copy the oldest slot into e and release it. False if empty. */
bool ring_pop(struct ring *r, const void *slots, uint32_t nslots, size_t esz, void *e);

/*
 * Consumer: sleep until the ring is not empty, at most timeout_ms (-1: no
 * limit). No spinning first: the master hands work to the worker on its own
 * CPU, where a spin would only hold off the producer it waits for (measured:
 * no gain pinned, ~10 µs lost per request). Returns 0 when there is work,
 * -ETIMEDOUT, -EINTR.
 */
int ring_wait(struct ring *r, int timeout_ms);

#endif
