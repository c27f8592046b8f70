/*
 * Creating, attaching and checking the shared memory region (layout.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/content.h"
#include "shm/layout.h"

#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((uint64_t)(a)-1))

struct shm_geometry {
	uint64_t off_workers, off_handles, off_chunk_meta, off_chunks, size;
};

static void shm_geometry(uint32_t nhandles, uint32_t nchunks, struct shm_geometry *g)
{
	g->off_workers = ALIGN_UP(sizeof(struct shm_header), 4096);
	g->off_handles =
		ALIGN_UP(g->off_workers + (uint64_t)SHM_MAX_WORKERS * sizeof(struct shm_worker), 4096);
	g->off_chunk_meta =
		ALIGN_UP(g->off_handles + (uint64_t)nhandles * sizeof(struct shm_handle), 4096);
	g->off_chunks =
		ALIGN_UP(g->off_chunk_meta + (uint64_t)nchunks * sizeof(struct shm_chunk), 4096);
	g->size = g->off_chunks + (uint64_t)nchunks * SHM_CHUNK_SIZE;
}

static void shm_bind(struct shm *s, const struct shm_geometry *g, uint32_t nhandles,
		     uint32_t nchunks)
{
	unsigned char *b = s->base;

	s->hdr = (struct shm_header *)b;
	s->workers = (struct shm_worker *)(b + g->off_workers);
	s->handles = (struct shm_handle *)(b + g->off_handles);
	s->chunk_meta = (struct shm_chunk *)(b + g->off_chunk_meta);
	s->chunks = b + g->off_chunks;
	s->nhandles = nhandles;
	s->nchunks = nchunks;
}

int shm_create(struct shm *s, uint32_t nhandles, uint32_t nchunks)
{
	struct shm_geometry g;
	struct shm_header *h;
	int fd, err;

	if (nhandles == 0 || nchunks == 0)
		return -EINVAL;
	shm_geometry(nhandles, nchunks, &g);

	/* Not sealed: workers need write access, and the master alone holds the
	 * fd it hands out at fork. 0600 is memfd's default. */
	fd = memfd_create("lxcfs-shm", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)g.size) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	s->base = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s->base == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	s->fd = fd;
	s->size = g.size;
	shm_bind(s, &g, nhandles, nchunks);

	h = s->hdr;
	h->magic = SHM_MAGIC;
	h->layout_version = SHM_LAYOUT_VERSION;
	h->header_size = sizeof(*h);
	h->region_size = g.size;
	h->max_workers = SHM_MAX_WORKERS;
	h->ring_slots = SHM_RING_SLOTS;
	h->nhandles = nhandles;
	h->nchunks = nchunks;
	h->off_workers = g.off_workers;
	h->off_handles = g.off_handles;
	h->off_chunk_meta = g.off_chunk_meta;
	h->off_chunks = g.off_chunks;
	for (uint32_t i = 0; i < SHM_MAX_WORKERS; i++) {
		ring_reset(&s->workers[i].req);
		ring_reset(&s->workers[i].cmp);
	}
	content_init(s);
	return 0;
}

int shm_attach(struct shm *s, int fd, char *msg, size_t msgsize)
{
	struct shm_header h;
	struct shm_geometry g;
	struct stat st;
	void *base;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size < sizeof(h)) {
		snprintf(msg, msgsize, "region of %lld bytes is smaller than a header",
			 (long long)st.st_size);
		return -EINVAL;
	}
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return errno ? -errno : -EIO;
	if (h.magic != SHM_MAGIC) {
		snprintf(msg, msgsize, "not an lxcfs region (magic %#llx)",
			 (unsigned long long)h.magic);
		return -EINVAL;
	}
	if (h.layout_version != SHM_LAYOUT_VERSION || h.header_size != sizeof(h)) {
		snprintf(msg, msgsize,
			 "shared memory layout version %u (header %u bytes), this worker speaks "
			 "version %u (header %zu bytes)",
			 h.layout_version, h.header_size, SHM_LAYOUT_VERSION, sizeof(h));
		return -EPROTO;
	}
	shm_geometry(h.nhandles, h.nchunks, &g);
	if (h.max_workers != SHM_MAX_WORKERS || h.ring_slots != SHM_RING_SLOTS ||
	    h.region_size != g.size || (uint64_t)st.st_size < g.size ||
	    h.off_workers != g.off_workers || h.off_handles != g.off_handles ||
	    h.off_chunk_meta != g.off_chunk_meta || h.off_chunks != g.off_chunks) {
		snprintf(msg, msgsize, "header describes an inconsistent region");
		return -EINVAL;
	}
	base = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	s->base = base;
	s->size = g.size;
	s->fd = fd;
	shm_bind(s, &g, h.nhandles, h.nchunks);
	return 0;
}

void shm_detach(struct shm *s)
{
	if (s->base && s->base != MAP_FAILED)
		munmap(s->base, s->size);
	s->base = NULL;
}
