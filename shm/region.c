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
	uint64_t off_workers, off_handles, off_chunk_meta, off_tenants, off_chunks, size;
	uint32_t ntenants;
	struct snap_table_desc tables[SNAP_NTABLES];
};

/* Every offset follows from the sizes alone, so a worker can check the header. */
static void shm_geometry(const struct shm_sizes *sz, struct shm_geometry *g)
{
	static const uint32_t fixed_value[SNAP_NTABLES] = {
	    [SNAP_PID] = SNAP_PID_VALUE,
	    [SNAP_CONT] = SNAP_CONT_VALUE,
	    [SNAP_MEM] = SNAP_MEM_VALUE,
	    [SNAP_LOAD] = SNAP_LOAD_VALUE,
	    [SNAP_PATH] = SNAP_PATH_VALUE,
	    [SNAP_PSI] = SNAP_PSI_VALUE,
	    [SNAP_IO] = SNAP_IO_VALUE,
	};
	uint64_t off;

	g->off_workers = ALIGN_UP(sizeof(struct shm_header), 4096);
	g->off_handles =
	    ALIGN_UP(g->off_workers + (uint64_t)SHM_MAX_WORKERS * sizeof(struct shm_worker), 4096);
	g->off_chunk_meta =
	    ALIGN_UP(g->off_handles + (uint64_t)sz->nhandles * sizeof(struct shm_handle), 4096);
	g->off_tenants =
	    ALIGN_UP(g->off_chunk_meta + (uint64_t)sz->nchunks * sizeof(struct shm_chunk), 4096);
	/* A slot per container the snapshot holds, and the two shared ones. */
	g->ntenants = sz->max_cgroups + 2;
	off = ALIGN_UP(g->off_tenants + (uint64_t)g->ntenants * sizeof(struct shm_tenant), 4096);
	for (int t = 0; t < SNAP_NTABLES; t++) {
		struct snap_table_desc *d = &g->tables[t];
		/*
		 * A container's cpuset and its CFS quota are two entries of SNAP_CPU,
		 * its three pressure files three of SNAP_PSI. The state tables are
		 * not a cache: sized apart, with room to spare (layout.h).
		 */
		bool state = t == SNAP_STAT || t == SNAP_LOAD;
		uint32_t cap = t == SNAP_PID    ? sz->max_pids
			       : t == SNAP_HOST ? SNAP_HOST_ENTRIES
			       : t == SNAP_PATH ? SNAP_PATH_ENTRIES
			       : t == SNAP_CPU  ? 2 * sz->max_cgroups
			       : t == SNAP_PSI  ? 3 * sz->max_cgroups
			       : state          ? SNAP_STATE_CAPACITY(sz->max_cgroups)
						: sz->max_cgroups;

		memset(d, 0, sizeof(*d));
		d->flags = state ? SNAP_TABLE_STATE : 0;
		d->value_size = t == SNAP_HOST   ? sz->host_size
		                : t == SNAP_STAT ? (uint32_t)SNAP_STAT_VALUE(sz->host_cpus)
		                : t == SNAP_ACCT ? (uint32_t)SNAP_ACCT_VALUE(sz->host_cpus)
		                : t == SNAP_CPU  ? (uint32_t)SNAP_CPU_VALUE(sz->host_cpus)
		                                 : fixed_value[t];
		d->off = off;
		off = ALIGN_UP(
		    off + snap_table_bytes(cap, d->value_size, &d->nbuckets, &d->slot_size), 4096);
	}
	g->off_chunks = off;
	g->size = g->off_chunks + (uint64_t)sz->nchunks * SHM_CHUNK_SIZE;
}

static void shm_bind(struct shm *s, const struct shm_geometry *g, const struct shm_sizes *sz)
{
	unsigned char *b = s->base;

	s->hdr = (struct shm_header *)b;
	s->workers = (struct shm_worker *)(b + g->off_workers);
	s->handles = (struct shm_handle *)(b + g->off_handles);
	s->chunk_meta = (struct shm_chunk *)(b + g->off_chunk_meta);
	s->chunks = b + g->off_chunks;
	s->tenants = (struct shm_tenant *)(b + g->off_tenants);
	s->nhandles = sz->nhandles;
	s->nchunks = sz->nchunks;
	s->ntenants = g->ntenants;
	memcpy(s->tables, g->tables, sizeof(s->tables));
	s->quota_handles = s->hdr->quota_handles;
	s->quota_chunks = s->hdr->quota_chunks;
}

static bool sizes_sane(const struct shm_sizes *sz)
{
	return sz->nhandles && sz->nchunks && sz->max_cgroups && sz->max_pids &&
	       sz->nhandles <= (1u << 24) && sz->nchunks <= (1u << 24) &&
	       sz->max_cgroups <= (1u << 22) && sz->max_pids <= (1u << 24) &&
	       sz->host_size >= 4096 && sz->host_size <= (64u << 20) && sz->host_cpus >= 1 &&
	       sz->host_cpus <= 8192 && sz->tenant_handles <= sz->nhandles &&
	       sz->tenant_chunks <= sz->nchunks;
}

/* A quota read from a header: a container can hold no more than the pool. */
static bool quota_sane(const struct quota *q, uint32_t total)
{
	return q->limit >= 1 && q->limit <= total && q->floor <= q->limit && q->reserve <= total;
}

/*
 * Default shares: 1/64 of the handles (a table of 262,144 gives 4,096 a
 * container, and 64 containers at their limit leave room for the rest) and
 * 1/8 of the content. A container below 64 handles or 256 chunks (1 MiB) is
 * served from the reserve that containers at their limit cannot take.
 */
static void quotas_set(struct shm_header *h, const struct shm_sizes *sz)
{
	uint32_t nh = sz->tenant_handles ? sz->tenant_handles : sz->nhandles / 64;
	uint32_t nc = sz->tenant_chunks ? sz->tenant_chunks : sz->nchunks / 8;

	h->quota_handles = quota_for(sz->nhandles, nh ? nh : 1, 64);
	h->quota_chunks = quota_for(sz->nchunks, nc ? nc : 1, 256);
}

int shm_create(struct shm *s, const struct shm_sizes *sz)
{
	struct shm_geometry g;
	struct shm_header *h;
	int fd, err;

	if (!sizes_sane(sz))
		return -EINVAL;
	shm_geometry(sz, &g);

	/* Pages are touched only as used: the size is an upper bound, not a cost. */
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
	shm_bind(s, &g, sz);

	h = s->hdr;
	h->magic = SHM_MAGIC;
	h->layout_version = SHM_LAYOUT_VERSION;
	h->header_size = sizeof(*h);
	h->region_size = g.size;
	h->max_workers = SHM_MAX_WORKERS;
	h->ring_slots = SHM_RING_SLOTS;
	h->nhandles = sz->nhandles;
	h->nchunks = sz->nchunks;
	h->max_cgroups = sz->max_cgroups;
	h->max_pids = sz->max_pids;
	h->host_size = sz->host_size;
	h->host_cpus = sz->host_cpus;
	h->off_workers = g.off_workers;
	h->off_handles = g.off_handles;
	h->off_chunk_meta = g.off_chunk_meta;
	h->off_chunks = g.off_chunks;
	h->off_tenants = g.off_tenants;
	h->ntenants = g.ntenants;
	quotas_set(h, sz);
	s->quota_handles = h->quota_handles;
	s->quota_chunks = h->quota_chunks;
	memcpy(h->tables, g.tables, sizeof(h->tables));
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
	struct shm_sizes sz;
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
	sz = (struct shm_sizes){.nhandles = h.nhandles,
	                        .nchunks = h.nchunks,
	                        .max_cgroups = h.max_cgroups,
	                        .max_pids = h.max_pids,
	                        .host_size = h.host_size,
	                        .host_cpus = h.host_cpus};
	if (!sizes_sane(&sz)) {
		snprintf(msg, msgsize, "header sizes out of range");
		return -EINVAL;
	}
	shm_geometry(&sz, &g);
	if (h.max_workers != SHM_MAX_WORKERS || h.ring_slots != SHM_RING_SLOTS ||
	    h.region_size != g.size || (uint64_t)st.st_size < g.size ||
	    h.off_workers != g.off_workers || h.off_handles != g.off_handles ||
	    h.off_chunk_meta != g.off_chunk_meta || h.off_chunks != g.off_chunks ||
	    h.off_tenants != g.off_tenants || h.ntenants != g.ntenants ||
	    !quota_sane(&h.quota_handles, h.nhandles) || !quota_sane(&h.quota_chunks, h.nchunks) ||
	    memcmp(h.tables, g.tables, sizeof(g.tables)) != 0) {
		snprintf(msg, msgsize, "header describes an inconsistent region");
		return -EINVAL;
	}
	base = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	s->base = base;
	s->size = g.size;
	s->fd = fd;
	shm_bind(s, &g, &sz);
	return 0;
}

void shm_detach(struct shm *s)
{
	if (s->base && s->base != MAP_FAILED)
		munmap(s->base, s->size);
	s->base = NULL;
}
