/*
 * Per-open content in shared memory: chains that hold any size, reads at any
 * offset, a publish to a closed handle refused, a full region reported (and
 * recovered from once content is freed), corrupt chains refused, and the
 * layout version checked at attach.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "shm/content.h"
#include "shm/layout.h"

static size_t gather(const struct iovec *iov, int n, char *out)
{
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return len;
}

static void test_roundtrip(struct shm *s)
{
	static char big[300 * 1024], back[300 * 1024];
	struct iovec iov[128];
	uint32_t chain, old, clen, tenant;
	int32_t held;
	size_t bytes;
	int64_t fh;
	int n;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	fh = handle_open(s, 5, 7);
	CHECK(fh >= 0);
	CHECK_EQ_U64(content_get(s, (uint64_t)fh, &chain, &clen), (uint64_t)-ENODATA);
	CHECK_EQ_U64(content_store(s, big, sizeof(big), &chain), 0);
	CHECK_EQ_U64(content_publish(s, (uint64_t)fh, chain, &old), 0);
	CHECK_EQ_U64(old, 0);
	CHECK_EQ_U64(content_get(s, (uint64_t)fh, &chain, &clen), 0);
	CHECK_EQ_U64(clen, sizeof(big));

	/* Whole, at odd offsets and sizes, byte by byte near a chunk edge, past the end. */
	n = content_iov(s, chain, clen, 0, sizeof(big), iov, 128, &bytes);
	CHECK(n == 75);
	CHECK(bytes == sizeof(big) && gather(iov, n, back) == sizeof(big));
	CHECK(memcmp(back, big, sizeof(big)) == 0);
	n = content_iov(s, chain, clen, 4095, 3, iov, 128, &bytes);
	CHECK(n == 2 && bytes == 3 && gather(iov, n, back) == 3 && memcmp(back, big + 4095, 3) == 0);
	n = content_iov(s, chain, clen, 123457, 70000, iov, 128, &bytes);
	CHECK(bytes == 70000 && gather(iov, n, back) == 70000);
	CHECK(memcmp(back, big + 123457, 70000) == 0);
	CHECK(content_iov(s, chain, clen, sizeof(big), 10, iov, 128, &bytes) == 0 && bytes == 0);
	CHECK(content_iov(s, chain, clen, sizeof(big) + 5, 10, iov, 128, &bytes) == 0);
	CHECK(content_iov(s, chain, clen, 0, sizeof(big), iov, 4, &bytes) == -EFAULT);

	/* A second render replaces the first; the old chain goes back to its owner. */
	CHECK_EQ_U64(content_store(s, "x", 1, &chain), 0);
	CHECK_EQ_U64(content_publish(s, (uint64_t)fh, chain, &old), 0);
	CHECK(old != 0);
	content_free(s, old);

	/* The handle names its container until released; release says what it held. */
	CHECK_EQ_U64(atomic_load(&shm_handle_of(s, (uint64_t)fh)->tenant), 6);
	CHECK(handle_if_open(s, (uint64_t)fh) != NULL);
	atomic_store(&shm_handle_of(s, (uint64_t)fh)->chunks, 1);
	CHECK_EQ_U64(handle_nfree_count(s), 15);
	CHECK_EQ_U64(handle_release(s, (uint64_t)fh, &tenant, &held), 0);
	CHECK_EQ_U64(tenant, 5);
	CHECK_EQ_U64(held, 1);
	CHECK_EQ_U64(handle_nfree_count(s), 16);
	CHECK(handle_if_open(s, (uint64_t)fh) == NULL);

	/* After release the id is stale: no publish, no get, a new open is clean. */
	CHECK_EQ_U64(content_store(s, "y", 1, &chain), 0);
	CHECK_EQ_U64(content_publish(s, (uint64_t)fh, chain, &old), (uint64_t)-ESTALE);
	content_free(s, chain);
	CHECK_EQ_U64(content_get(s, (uint64_t)fh, &chain, &clen), (uint64_t)-ESTALE);
	/* Twice: refused, and nothing changes. */
	CHECK_EQ_U64(handle_release(s, (uint64_t)fh, &tenant, &held), (uint64_t)-ESTALE);
	CHECK_EQ_U64(handle_nfree_count(s), 16);
	CHECK_EQ_U64(atomic_load(&s->hdr->chunks_in_use), 0);
}

static void test_full(struct shm *s)
{
	static char block[SHM_CHUNK_SIZE * 8];
	uint32_t chains[64], chain;
	int n = 0;

	/* 64 chunks in all: eight chains of eight fill it. */
	while (n < 64 && content_store(s, block, sizeof(block), &chains[n]) == 0)
		n++;
	CHECK_EQ_U64(n, 8);
	CHECK_EQ_U64(content_store(s, "z", 1, &chain), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(atomic_load(&s->hdr->chunks_in_use), 64);
	content_free(s, chains[3]);
	CHECK_EQ_U64(content_store(s, block, sizeof(block), &chain), 0);
	content_free(s, chain);
	for (int i = 0; i < n; i++)
		if (i != 3)
			content_free(s, chains[i]);
	CHECK_EQ_U64(atomic_load(&s->hdr->chunks_in_use), 0);
	/* Larger than the whole region: refused, nothing leaked. */
	CHECK_EQ_U64(content_store(s, block, SHM_CHUNK_SIZE * 65, &chain), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(atomic_load(&s->hdr->chunks_in_use), 0);
}

static void test_corrupt(struct shm *s)
{
	struct iovec iov[8];
	uint32_t chain;
	size_t bytes;

	CHECK_EQ_U64(content_store(s, "hello", 5, &chain), 0);
	CHECK(content_iov(s, 9999, 5, 0, 5, iov, 8, &bytes) == -EFAULT);
	CHECK(content_iov(s, chain, 64 * SHM_CHUNK_SIZE + 1, 0, 5, iov, 8, &bytes) == -EFAULT);
	/* A length longer than the chain: the walk stops at the end instead of running off. */
	CHECK(content_iov(s, chain, 3 * SHM_CHUNK_SIZE, 0, 3 * SHM_CHUNK_SIZE, iov, 8, &bytes) ==
	      -EFAULT);
	content_free(s, chain);
	content_free(s, 0);
	content_free(s, 100000);
	CHECK_EQ_U64(atomic_load(&s->hdr->chunks_in_use), 0);
}

/* What a worker killed mid-request leaves: chunks taken, never published. */
static void test_collect(struct shm *s)
{
	static char block[SHM_CHUNK_SIZE * 3], all[SHM_CHUNK_SIZE * 64];
	uint32_t leaked, kept, old;
	int64_t fh = handle_open(s, 5, 7);
	struct iovec iov[8];
	size_t bytes;

	memset(block, 'k', sizeof(block));
	CHECK(fh >= 0);
	CHECK_EQ_U64(content_store(s, block, sizeof(block), &kept), 0);
	CHECK_EQ_U64(content_publish(s, (uint64_t)fh, kept, &old), 0);
	CHECK_EQ_U64(content_store(s, block, sizeof(block), &leaked), 0);
	CHECK_EQ_U64(content_store(s, "x", 1, &leaked), 0);
	CHECK_EQ_U64(atomic_load(&s->hdr->chunks_in_use), 7);

	CHECK_EQ_U64(content_collect(s), 4);
	CHECK_EQ_U64(atomic_load(&s->hdr->chunks_in_use), 3);
	/* The published chain is untouched and still reads whole. */
	CHECK(content_iov(s, kept, sizeof(block), 0, sizeof(block), iov, 8, &bytes) == 3);
	CHECK_EQ_U64(bytes, sizeof(block));
	CHECK(((char *)iov[2].iov_base)[0] == 'k');
	/* Nothing left to recover; every chunk usable again. */
	CHECK_EQ_U64(content_collect(s), 0);
	CHECK_EQ_U64(content_chain_chunks(s, kept), 3);
	CHECK_EQ_U64(handle_release(s, (uint64_t)fh, &(uint32_t){0}, &(int32_t){0}), 0);
	CHECK_EQ_U64(atomic_load(&s->hdr->chunks_in_use), 0);
	CHECK_EQ_U64(content_store(s, all, sizeof(all), &kept), 0);
	content_free(s, kept);
}

/* Shares of a pool (quota.h): a limit per container, a reserve for those below the floor. */
static void test_quota(void)
{
	struct quota q = quota_for(800, 200, 20); /* reserve 100 */

	CHECK_EQ_U64(q.reserve, 100);
	CHECK(quota_admit(&q, 0, 1, 800));
	CHECK(quota_admit(&q, 199, 1, 500));
	CHECK(!quota_admit(&q, 200, 1, 500)); /* its own limit */
	CHECK(!quota_admit(&q, 150, 1, 100)); /* above the floor, the reserve is not its */
	CHECK(quota_admit(&q, 150, 1, 101));
	CHECK(quota_admit(&q, 19, 1, 1));     /* below the floor: any free unit */
	CHECK(!quota_admit(&q, 19, 2, 1));    /* but no more than is free */
	CHECK(!quota_admit(&q, 0, 1, 0));
	CHECK(quota_admit(&q, -5, 1, 800));   /* a count settling below zero holds nothing */
	CHECK(!quota_admit(&q, 0, 201, 800)); /* one grant beyond the limit */
	q = quota_for(800, 10, 64);           /* a floor above the limit is the limit */
	CHECK_EQ_U64(q.floor, 10);
}

static void test_attach(struct shm *s)
{
	struct shm w;
	char msg[256] = "";

	CHECK_EQ_U64(shm_attach(&w, s->fd, msg, sizeof(msg)), 0);
	CHECK(w.nchunks == s->nchunks && w.nhandles == s->nhandles);
	shm_detach(&w);

	s->hdr->layout_version = SHM_LAYOUT_VERSION + 1;
	CHECK_EQ_U64(shm_attach(&w, s->fd, msg, sizeof(msg)), (uint64_t)-EPROTO);
	CHECK(strstr(msg, "layout version") != NULL);
	s->hdr->layout_version = SHM_LAYOUT_VERSION;

	s->hdr->magic = 0;
	CHECK_EQ_U64(shm_attach(&w, s->fd, msg, sizeof(msg)), (uint64_t)-EINVAL);
	s->hdr->magic = SHM_MAGIC;

	s->hdr->nchunks = 1u << 30; /* describes more than the file holds */
	CHECK_EQ_U64(shm_attach(&w, s->fd, msg, sizeof(msg)), (uint64_t)-EINVAL);
	s->hdr->nchunks = s->nchunks;
}

int main(void)
{
	struct shm s, roomy;

	CHECK_EQ_U64(shm_create(&roomy, &(struct shm_sizes){16, 128, 64, 64, 4096, 4, 0, 0}), 0);
	test_roundtrip(&roomy);
	shm_detach(&roomy);
	close(roomy.fd);

	CHECK_EQ_U64(shm_create(&s, &(struct shm_sizes){16, 64, 64, 64, 4096, 4, 0, 0}), 0);
	test_full(&s);
	test_collect(&s);
	test_corrupt(&s);
	test_attach(&s);
	test_quota();
	shm_detach(&s);
	close(s.fd);
	return check_report("content");
}
