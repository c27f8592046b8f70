/*
 * Content chains and handles: see content.h for who may do what.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shm/content.h"

#define TAG(v)       ((uint32_t)((v) >> 32))
#define LOW(v)       ((uint32_t)(v))
#define PACK(hi, lo) (((uint64_t)(hi) << 32) | (uint32_t)(lo))

/* Handles are allocated by the master alone: a private free list suffices. */
static uint32_t *handle_free;
static uint32_t handle_nfree;

void content_init(struct shm *s)
{
	for (uint32_t i = 0; i < s->nchunks; i++) {
		atomic_store(&s->chunk_meta[i].next, i + 1 < s->nchunks ? i + 2 : 0);
		s->chunk_meta[i].len = 0;
	}
	atomic_store(&s->hdr->chunk_free, PACK(0, s->nchunks ? 1 : 0));
	atomic_store(&s->hdr->chunks_in_use, 0);
	for (uint32_t i = 0; i < s->nhandles; i++)
		atomic_store(&s->handles[i].state, PACK(1, 0));
}

static int chunk_pop(struct shm *s, uint32_t *idx)
{
	uint64_t old = atomic_load_explicit(&s->hdr->chunk_free, memory_order_acquire);
	uint64_t new;

	for (;;) {
		uint32_t top = LOW(old);

		if (top == 0 || top > s->nchunks)
			return -ENOSPC;
		/* A stale next fails the CAS below: the tag moved. */
		new = PACK(TAG(old) + 1, atomic_load_explicit(&s->chunk_meta[top - 1].next,
		                                              memory_order_relaxed));
		if (atomic_compare_exchange_weak_explicit(&s->hdr->chunk_free, &old, new,
		                                          memory_order_acq_rel,
		                                          memory_order_acquire)) {
			*idx = top - 1;
			atomic_fetch_add_explicit(&s->hdr->chunks_in_use, 1, memory_order_relaxed);
			return 0;
		}
	}
}

uint32_t content_free(struct shm *s, uint32_t chain)
{
	uint32_t last = chain, n = 1;
	uint64_t old, new;

	if (chain == 0 || chain > s->nchunks)
		return 0;
	/* Bounded walk: a corrupt chain must not loop forever. */
	while (n < s->nchunks) {
		uint32_t next =
		    atomic_load_explicit(&s->chunk_meta[last - 1].next, memory_order_relaxed);

		if (next == 0 || next > s->nchunks)
			break;
		last = next;
		n++;
	}
	old = atomic_load_explicit(&s->hdr->chunk_free, memory_order_acquire);
	do {
		atomic_store_explicit(&s->chunk_meta[last - 1].next, LOW(old),
		                      memory_order_relaxed);
		new = PACK(TAG(old) + 1, chain);
	} while (!atomic_compare_exchange_weak_explicit(
	    &s->hdr->chunk_free, &old, new, memory_order_acq_rel, memory_order_acquire));
	atomic_fetch_sub_explicit(&s->hdr->chunks_in_use, n, memory_order_relaxed);
	return n;
}

int content_store(struct shm *s, const void *data, size_t len, uint32_t *chain)
{
	uint32_t first = 0, prev = 0, idx, nchunks;
	size_t done = 0;

	if (len > UINT32_MAX || (nchunks = content_chunks_for(len)) > s->nchunks)
		return -ENOSPC;
	for (uint32_t i = 0; i < nchunks; i++) {
		size_t n = len - done < SHM_CHUNK_SIZE ? len - done : SHM_CHUNK_SIZE;

		if (chunk_pop(s, &idx) < 0) {
			if (first)
				content_free(s, first);
			return -ENOSPC;
		}
		atomic_store_explicit(&s->chunk_meta[idx].next, 0, memory_order_relaxed);
		memcpy(s->chunks + (size_t)idx * SHM_CHUNK_SIZE, (const char *)data + done, n);
		done += n;
		if (prev)
			atomic_store_explicit(&s->chunk_meta[prev - 1].next, idx + 1,
			                      memory_order_relaxed);
		else
			first = idx + 1;
		prev = idx + 1;
	}
	s->chunk_meta[first - 1].len = (uint32_t)len;
	*chain = first;
	return 0;
}

int content_publish(struct shm *s, uint64_t fh, uint32_t chain, uint32_t *old)
{
	struct shm_handle *h = shm_handle_of(s, fh);
	uint64_t cur, new;

	if (!h)
		return -ESTALE;
	cur = atomic_load_explicit(&h->state, memory_order_acquire);
	do {
		if (TAG(cur) != TAG(fh))
			return -ESTALE;
		new = PACK(TAG(fh), chain);
	} while (!atomic_compare_exchange_weak_explicit(&h->state, &cur, new, memory_order_acq_rel,
	                                                memory_order_acquire));
	*old = LOW(cur);
	return 0;
}

int content_get(const struct shm *s, uint64_t fh, uint32_t *chain, uint32_t *len)
{
	struct shm_handle *h = shm_handle_of(s, fh);
	uint64_t cur;

	if (!h)
		return -ESTALE;
	cur = atomic_load_explicit(&h->state, memory_order_acquire);
	if (TAG(cur) != TAG(fh))
		return -ESTALE;
	if (LOW(cur) == 0)
		return -ENODATA;
	if (LOW(cur) > s->nchunks)
		return -EFAULT;
	*chain = LOW(cur);
	*len = s->chunk_meta[LOW(cur) - 1].len;
	return 0;
}

int content_iov(const struct shm *s, uint32_t chain, uint32_t len, uint64_t off, uint32_t size,
                struct iovec *iov, int maxiov, size_t *bytes)
{
	uint64_t pos = 0, end;
	uint32_t c = chain;
	int n = 0;

	*bytes = 0;
	if ((uint64_t)len > (uint64_t)s->nchunks * SHM_CHUNK_SIZE)
		return -EFAULT;
	if (off >= len || size == 0)
		return 0;
	end = off + size < len ? off + size : len;
	while (pos < end) {
		size_t from, to;

		if (c == 0 || c > s->nchunks)
			return -EFAULT;
		if (pos + SHM_CHUNK_SIZE > off) {
			if (n == maxiov)
				return -EFAULT;
			from = off > pos ? off - pos : 0;
			to = end - pos < SHM_CHUNK_SIZE ? end - pos : SHM_CHUNK_SIZE;
			iov[n].iov_base = s->chunks + (size_t)(c - 1) * SHM_CHUNK_SIZE + from;
			iov[n].iov_len = to - from;
			*bytes += to - from;
			n++;
		}
		pos += SHM_CHUNK_SIZE;
		c = atomic_load_explicit(&s->chunk_meta[c - 1].next, memory_order_relaxed);
	}
	return n;
}

static uint32_t next_gen(uint32_t gen)
{
	return gen + 1 ? gen + 1 : 1;
}

/* The free list, from the table itself: a handle is free when it names no container. */
static int handle_list_build(struct shm *s)
{
	free(handle_free);
	handle_free = calloc(s->nhandles, sizeof(*handle_free));
	if (!handle_free)
		return -ENOMEM;
	handle_nfree = 0;
	for (uint32_t i = s->nhandles; i-- > 0;)
		if (atomic_load(&s->handles[i].tenant) == 0)
			handle_free[handle_nfree++] = i;
	return 0;
}

uint32_t handle_nfree_count(const struct shm *s)
{
	return handle_free ? handle_nfree : s->nhandles;
}

int64_t handle_open(struct shm *s, uint32_t tenant, uint64_t node)
{
	struct shm_handle *h;
	uint32_t idx;

	if (!handle_free && handle_list_build(s) < 0)
		return -ENOMEM;
	if (handle_nfree == 0)
		return -ENFILE;
	idx = handle_free[--handle_nfree];
	h = &s->handles[idx];
	atomic_store(&h->chunks, 0);
	atomic_store(&h->node, node < UINT32_MAX ? (uint32_t)node : UINT32_MAX);
	atomic_store(&h->tenant, tenant + 1);
	return (int64_t)PACK(TAG(atomic_load(&h->state)), idx);
}

int handle_release(struct shm *s, uint64_t fh, uint32_t *tenant, int32_t *chunks)
{
	struct shm_handle *h = shm_handle_of(s, fh);
	uint64_t cur;

	if (!h || !handle_free)
		return -ESTALE;
	cur = atomic_load(&h->state);
	if (TAG(cur) != TAG(fh) || atomic_load(&h->tenant) == 0)
		return -ESTALE;
	/* The generation bump makes any publish still in flight for this open fail. */
	cur = atomic_exchange(&h->state, PACK(next_gen(TAG(fh)), 0));
	if (LOW(cur))
		content_free(s, LOW(cur));
	*tenant = atomic_load(&h->tenant) - 1;
	*chunks = atomic_load(&h->chunks);
	atomic_store(&h->chunks, 0);
	atomic_store(&h->tenant, 0);
	handle_free[handle_nfree++] = (uint32_t)fh;
	return 0;
}

int handle_import(struct shm *s, uint64_t fh, uint32_t tenant, uint64_t node)
{
	struct shm_handle *h = shm_handle_of(s, fh);

	if (!h || TAG(fh) == 0)
		return -ERANGE;
	if (atomic_load(&h->tenant))
		return -EEXIST;
	atomic_store(&h->state, PACK(TAG(fh), 0));
	atomic_store(&h->chunks, 0);
	atomic_store(&h->node, node < UINT32_MAX ? (uint32_t)node : UINT32_MAX);
	atomic_store(&h->tenant, tenant + 1);
	/* The free list is built again from the table at the next open. */
	free(handle_free);
	handle_free = NULL;
	return 0;
}

struct shm_handle *handle_if_open(const struct shm *s, uint64_t fh)
{
	struct shm_handle *h = shm_handle_of(s, fh);

	if (!h || atomic_load(&h->tenant) == 0 || TAG(atomic_load(&h->state)) != TAG(fh))
		return NULL;
	return h;
}

uint32_t content_chain_chunks(const struct shm *s, uint32_t chain)
{
	uint32_t n = 0;

	/* Bounded: a corrupt chain must not loop forever. */
	while (chain && chain <= s->nchunks && n < s->nchunks) {
		n++;
		chain = atomic_load_explicit(&s->chunk_meta[chain - 1].next, memory_order_relaxed);
	}
	return n;
}

/* Mark the chunks of one chain; false if it does not check out (then nothing is trusted). */
static bool mark_chain(const struct shm *s, uint32_t c, unsigned char *seen)
{
	for (uint32_t n = 0; c != 0; n++) {
		if (c > s->nchunks || n >= s->nchunks || seen[c - 1])
			return false;
		seen[c - 1] = 1;
		c = atomic_load_explicit(&s->chunk_meta[c - 1].next, memory_order_relaxed);
	}
	return true;
}

unsigned content_collect(struct shm *s)
{
	unsigned char *seen = calloc(s->nchunks, 1);
	uint32_t in_use = 0;
	unsigned freed = 0;

	if (!seen)
		return 0;
	/* A cycle or a bad index means a corrupt region: better to leak than to double-free. */
	if (!mark_chain(s, LOW(atomic_load(&s->hdr->chunk_free)), seen))
		goto out;
	for (uint32_t i = 0; i < s->nhandles; i++) {
		uint32_t head = LOW(atomic_load(&s->handles[i].state));

		if (head && !mark_chain(s, head, seen))
			goto out;
	}
	for (uint32_t i = 0; i < s->nchunks; i++) {
		if (seen[i])
			continue;
		atomic_store_explicit(&s->chunk_meta[i].next, 0, memory_order_relaxed);
		/* content_free counts it out of chunks_in_use: count it in first. */
		atomic_fetch_add_explicit(&s->hdr->chunks_in_use, 1, memory_order_relaxed);
		content_free(s, i + 1);
		freed++;
	}
	/* Recount from what is published: the count is approximate under concurrency. */
	for (uint32_t i = 0; i < s->nhandles; i++)
		in_use += content_chain_chunks(s, LOW(atomic_load(&s->handles[i].state)));
	atomic_store(&s->hdr->chunks_in_use, in_use);
out:
	free(seen);
	return freed;
}
