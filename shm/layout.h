/*
 * The shared memory region: one memfd, created by the master, mapped by every
 * worker. A versioned header comes first and is checked at attach, so a worker
 * built for another layout refuses to attach instead of misreading it.
 *
 * Layout version changelog:
 *   1: header, worker slots (request and completion rings, counters), handle
 *      table, content chunks, snapshot tables.
 *   2: snapshot tables for cpusets and quotas, CPU time, pressure and I/O.
 *   3: containers (tenants) and their quotas: each handle names the container
 *      it is charged to, the chunks its content holds and its inode;
 *      completions carry the handle, a container key and the chunks
 *      published; the serving master and the FUSE connection's state. The
 *      stat floor and loadavg tables are state tables (snap.h: two buckets
 *      per key, sized by SNAP_STATE_CAPACITY, flags in the table
 *      descriptors); when a container's init was first seen in its cgroups,
 *      after its paths in the container table; cgroup lives (cg_life) in the
 *      stat floors' header, the CPU time values and the load states.
 *
 * Who writes what:
 *   header        master, before any worker starts (config.virt_off: master, any time)
 *   worker slot   gen/pid: master; state/version/counters: the worker; rings per ring.h
 *   handles       master allocates and frees; workers publish content by CAS (content.h)
 *   tenants       master alone; workers read a container's chunk count
 *   chunks        workers take free chunks and fill them; only the master frees them
 *   snapshot      workers, under each slot's seqlock and lease (snap.h)
 *
 * Nothing read from the region is trusted: indexes and lengths are checked
 * against the sizes fixed at creation, which each process keeps privately.
 */
#ifndef LXCFS_LAYOUT_H
#define LXCFS_LAYOUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/proto.h"
#include "shm/quota.h"
#include "shm/ring.h"
#include "shm/snap.h"

#define SHM_MAGIC 0x4d48534643584c00ULL /* "\0LXCFSHM" */
/* Overridable at build time only to produce an incompatible binary for the upgrade test. */
#ifndef SHM_LAYOUT_VERSION
#define SHM_LAYOUT_VERSION 3
#endif

#define SHM_MAX_WORKERS 64

/* Value room per snapshot table (the workers' structs must fit: checked at build). */
#define SNAP_PID_VALUE    32
#define SNAP_CONT_VALUE   1552 /* six paths of 256 bytes and when they were first seen */
#define SNAP_MEM_VALUE    512
#define SNAP_LOAD_VALUE   512
#define SNAP_PATH_VALUE   512   /* struct sysfs_node: a type and a path of at most 400 bytes */
#define SNAP_PSI_VALUE    256   /* a pressure file: two lines of four figures */
#define SNAP_IO_VALUE     1024  /* I/O figures of up to 9 devices (more: read live) */
#define SNAP_PATH_ENTRIES 65536 /* a 1024-CPU host's tree, with room to spare */
#define SNAP_HOST_ENTRIES 32
/*
 * Entries of each state table (stat floors, load averages): never fewer than
 * SNAP_STATE_MIN whatever --max-cgroups says (that bounds a cache; these are
 * what readers were shown), and a quarter more than asked so that the two
 * buckets of a key seldom are both full before the table is.
 */
#define SNAP_STATE_MIN              1024
#define SNAP_STATE_CAPACITY(cgroups) \
	(((cgroups) > SNAP_STATE_MIN ? (cgroups) : SNAP_STATE_MIN) / 4 * 5)
#define SHM_RING_SLOTS    256 /* per ring, a power of two */
#define SHM_CHUNK_SIZE    4096

/* Options that shape rendering, set by the master from its command line. */
#define LX_OPT_SWAP_OFF  (1u << 0) /* -u */
#define LX_OPT_ZSWAP_OFF (1u << 1) /* -z */
#define LX_OPT_CFS       (1u << 2) /* --enable-cfs */
#define LX_OPT_LOADAVG   (1u << 3) /* -l */
#define LX_OPT_IO_ACCOUNTING (1u << 4) /* --enable-io-accounting: every v1 disk counts */

struct shm_config {
	uint32_t opts; /* LX_OPT_* */
	uint32_t cache_ttl_ms;
	_Atomic uint32_t virt_off; /* SIGUSR2: serve host content while set */
	uint32_t pad;
};

enum shm_worker_state {
	WS_EMPTY = 0,
	WS_STARTING, /* forked, not yet attached */
	WS_READY,    /* attached, serving its ring */
};

/*
 * One worker's slot. The master resets the rings and bumps gen before each new
 * worker in the slot; the worker checks gen at attach so that a late starter of
 * a previous generation cannot take over a slot it no longer owns.
 */
struct shm_worker {
	_Atomic uint32_t gen;       /* master */
	_Atomic int32_t pid;        /* master */
	_Atomic uint32_t state;     /* worker: READY once attached; master: the rest */
	_Atomic uint32_t want_wake; /* master: write the wake eventfd after each completion */
	char version[64];           /* worker: version and build id, NUL-terminated */
	_Atomic int32_t cpu;        /* worker: the CPU it last woke on */
	_Atomic uint64_t heartbeat_ns; /* worker: CLOCK_MONOTONIC of its last wake-up */
	_Atomic uint64_t served;    /* worker: requests answered */
	_Atomic uint64_t errors;    /* worker: requests answered with an error */
	_Atomic uint64_t file_reqs[LX_FILE_MAX]; /* worker: requests per file */
	struct snap_counters snap;               /* worker: snapshot use */

	struct ring req; /* master -> worker */
	struct lx_req req_slot[SHM_RING_SLOTS];
	struct ring cmp; /* worker -> master */
	struct lx_cmp cmp_slot[SHM_RING_SLOTS];
};

/*
 * One open file. state = generation << 32 | (first chunk index + 1), low half 0
 * when no content is published. The generation changes at each RELEASE, so a
 * worker publishing for a handle that was closed (and perhaps reused) fails
 * its compare-and-swap instead of attaching content to someone else's open.
 */
struct shm_handle {
	_Atomic uint64_t state;
	_Atomic uint32_t tenant; /* master: container slot + 1 while open, 0 when free */
	_Atomic int32_t chunks;  /* master: chunks of this open's content charged to it */
	_Atomic uint32_t node;   /* master: the inode it was opened on, below 2^32 */
	uint32_t pad;
};

/*
 * A container holding open files (a tenant of the region): the reader's
 * container as the identity cache names it, so that every process of one
 * container shares one quota. Slots 0 and 1 stand for readers whose container
 * could not be resolved and for containers beyond the table's capacity.
 * Written by the master alone; a worker reads chunks to decide whether to keep
 * a render (quota.h). A new master recounts handles and chunks from the
 * handle table, so counts a dead master left half-updated do not last.
 */
#define TENANT_UNRESOLVED 0
#define TENANT_OVERFLOW   1
#define TENANT_LABEL      40

struct shm_tenant {
	_Atomic uint64_t key;     /* ident_container_key, 0 when the slot is free */
	_Atomic uint32_t handles; /* files it holds open */
	_Atomic int32_t chunks;   /* content chunks charged to its handles */
	_Atomic uint64_t refused; /* opens refused to it, since it took the slot */
	char label[TENANT_LABEL]; /* its cgroup, for status (the end of a long path) */
};

/*
 * Chunk metadata, beside the chunk data so that data is page-aligned. next
 * links a content chain (and the free list): chunk index + 1, 0 at the end.
 * len is the whole content's length, on a chain's first chunk only.
 */
struct shm_chunk {
	_Atomic uint32_t next;
	uint32_t len;
};

struct shm_header {
	uint64_t magic;
	uint32_t layout_version;
	uint32_t header_size;
	uint64_t region_size;
	uint32_t max_workers;
	uint32_t ring_slots;
	uint32_t nhandles;
	uint32_t nchunks;
	uint64_t off_workers;
	uint64_t off_handles;
	uint64_t off_chunk_meta;
	uint64_t off_chunks;
	uint64_t off_tenants;
	uint32_t ntenants;
	uint32_t pad0;
	struct quota quota_handles; /* per container, of nhandles */
	struct quota quota_chunks;  /* per container, of nchunks */
	struct snap_table_desc tables[SNAP_NTABLES];
	uint32_t max_cgroups;
	uint32_t max_pids;
	uint32_t host_size;
	uint32_t host_cpus; /* CPUs the host can have (sizes the stat floors) */

	struct shm_config config;

	/*
	 * The master serving the connection, and what a master taking its place
	 * must know of it (master-written). A standby master watches master_pid
	 * and the beat (the loop's last turn, CLOCK_MONOTONIC); each master that
	 * takes over bumps master_gen, so workers watching the master know to
	 * look again. INIT is answered once per mount: its outcome stays here.
	 */
	_Atomic int32_t master_pid;
	_Atomic uint32_t master_gen;
	_Atomic uint64_t master_beat_ns;
	_Atomic uint32_t fuse_ready;  /* FUSE INIT answered */
	_Atomic uint32_t proto_minor; /* the protocol minor INIT agreed on */
	_Atomic int32_t backing_id;   /* passthrough backing file of the opens, 0: none */
	uint32_t pad1;

	/* Free chunk stack: tag << 32 | (index + 1). The tag defeats ABA. */
	_Atomic uint64_t chunk_free;
	_Atomic uint32_t chunks_in_use;              /* approximate: for status */
	_Atomic uint32_t snap_entries[SNAP_NTABLES]; /* used slots per table */
	/*
	 * st_size per file: at least the host file's size measured at start and
	 * the longest content rendered since, rounded up to 4 KiB, so that a
	 * reader that reads st_size bytes gets everything (master, then workers
	 * raise it).
	 */
	_Atomic uint32_t size_hint[LX_FILE_MAX];
	uint32_t pad;
};

/* A mapped region with the sizes this process trusts (from its own creation or
 * from a validated header, copied once at attach). */
struct shm {
	void *base;
	size_t size;
	int fd;
	struct shm_header *hdr;
	struct shm_worker *workers;
	struct shm_handle *handles;
	struct shm_chunk *chunk_meta;
	unsigned char *chunks;
	struct shm_tenant *tenants;
	uint32_t nhandles;
	uint32_t nchunks;
	uint32_t ntenants;
	struct quota quota_handles;
	struct quota quota_chunks;
	struct snap_table_desc tables[SNAP_NTABLES];
};

/* What a region is sized for: fixed for its life. */
struct shm_sizes {
	uint32_t nhandles;    /* files open at once */
	uint32_t nchunks;     /* SHM_CHUNK_SIZE pieces of open-file content */
	uint32_t max_cgroups; /* containers and cgroups in the snapshot */
	uint32_t max_pids;    /* readers in the identity cache */
	uint32_t host_size;   /* largest host file kept (a 1024-CPU cpuinfo fits in 2 MiB) */
	uint32_t host_cpus;   /* CPUs the host can have: sizes the /proc/stat floors */
	/* Per container: handles and chunks one may hold (0: the defaults, 1/64 and 1/8). */
	uint32_t tenant_handles;
	uint32_t tenant_chunks;
};

/* A /proc/stat floor: a header, the "cpu" line then one per CPU, ten counters each. */
#define SNAP_STAT_FIELDS      10
/* A cpuset of the host's CPUs (a word per 64) and a header; a CFS quota fits too. */
#define SNAP_CPU_VALUE(cpus) (8 + ((uint64_t)(cpus) + 63) / 64 * 8)
/* CPU time per CPU (user, system) and totals: 16 bytes a CPU and a header. */
#define SNAP_ACCT_VALUE(cpus) (64 + (uint64_t)(cpus) * 16)
#define SNAP_STAT_VALUE(cpus) (16 + ((uint64_t)(cpus) + 1) * SNAP_STAT_FIELDS * sizeof(uint64_t))

/* Master: create and initialise a region. Returns 0 or -errno. */
int shm_create(struct shm *s, const struct shm_sizes *sz);

/*
 * Worker: map the region behind fd and check its header. Returns 0, -EPROTO
 * when the layout version differs (msg says which), -EINVAL on a header that
 * does not describe a sane region, or -errno from mmap/fstat.
 */
int shm_attach(struct shm *s, int fd, char *msg, size_t msgsize);

void shm_detach(struct shm *s);

/* Raise a file's st_size hint to cover len bytes. */
static inline void shm_note_size(struct shm *s, unsigned file, size_t len)
{
	uint32_t want = (uint32_t)((len + 4095) & ~(size_t)4095), cur;

	if (file >= LX_FILE_MAX || len > UINT32_MAX - 4096)
		return;
	cur = atomic_load_explicit(&s->hdr->size_hint[file], memory_order_relaxed);
	while (cur < want && !atomic_compare_exchange_weak(&s->hdr->size_hint[file], &cur, want))
		;
}

/* Handle id <-> slot. Returns NULL for an id outside the table. */
static inline struct shm_handle *shm_handle_of(const struct shm *s, uint64_t fh)
{
	uint32_t idx = (uint32_t)fh;

	return idx < s->nhandles ? &s->handles[idx] : NULL;
}

#endif
