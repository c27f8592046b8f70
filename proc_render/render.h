/*
 * Pure renderers: (host inputs, cgroup values) -> file text.
 *
 * Nothing here does I/O, allocates, or reads the clock: the worker gathers every
 * input and a unit test can feed the same inputs from fixtures. Each renderer
 * writes into the caller's buffer and returns the bytes written, or -ENOSPC when
 * the buffer is too small (the caller retries with a larger one).
 */
#ifndef LXCFS_RENDER_H
#define LXCFS_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* "No limit": memory.max "max", or a v1 limit at or above the page-rounded LONG_MAX. */
#define CG_UNLIMITED UINT64_MAX

/*
 * Memory figures of one cgroup, all in bytes, as the worker read them.
 * limit and swap_limit are already the minimum over the cgroup and its
 * ancestors. On v1 the memory.stat figures come from the total_* (hierarchical)
 * keys; on v2 from the plain keys.
 */
struct cg_memory {
	int version; /* 1 or 2 */

	uint64_t limit; /* memory.limit_in_bytes / memory.max, CG_UNLIMITED if none */
	uint64_t usage; /* memory.usage_in_bytes / memory.current */

	/* memory.stat */
	uint64_t cache;              /* v1 total_cache, v2 file */
	uint64_t active_anon;        /* total_active_anon / active_anon */
	uint64_t inactive_anon;      /* total_inactive_anon / inactive_anon */
	uint64_t active_file;        /* total_active_file / active_file */
	uint64_t inactive_file;      /* total_inactive_file / inactive_file */
	uint64_t unevictable;        /* total_unevictable / unevictable */
	uint64_t shmem;              /* total_shmem / shmem */
	uint64_t mapped;             /* total_mapped_file / file_mapped */
	uint64_t dirty;              /* total_dirty / file_dirty */
	uint64_t writeback;          /* total_writeback / file_writeback */
	uint64_t anon_thp;           /* total_rss_huge / anon_thp */
	uint64_t slab;               /* v2 slab */
	uint64_t slab_reclaimable;   /* v2 slab_reclaimable */
	uint64_t slab_unreclaimable; /* v2 slab_unreclaimable */
	uint64_t zswap;              /* v2 zswap */
	uint64_t zswapped;           /* v2 zswapped */
	bool has_slab;               /* memory.stat had the slab keys (v2) */
	bool has_zswap;              /* memory.stat had the zswap keys (v2) */

	/*
	 * Swap accounting. v2: swap_limit = min over ancestors of memory.swap.max
	 * (CG_UNLIMITED if none), swap_usage = memory.swap.current.
	 * v1: swap_limit = min over ancestors of memory.memsw.limit_in_bytes,
	 * swap_usage = memory.memsw.usage_in_bytes (both memory plus swap).
	 */
	bool swap_accounting; /* the swap files exist */
	uint64_t swap_limit;
	uint64_t swap_usage;
	bool has_swappiness;
	uint64_t swappiness; /* memory.swappiness (v1) */

	/*
	 * v1 memory.stat's hierarchical_memory_limit / hierarchical_memsw_limit
	 * were seen: the kernel's own minimum over the cgroup and its ancestors,
	 * taken into limit / swap_limit. Only the cgroup reader looks at these.
	 */
	bool hier_limit;
	bool hier_swap_limit;
};

/* Switches from the command line that shape the output. */
struct render_opts {
	bool swap_off;  /* -u: SwapTotal/SwapFree 0, swaps header only */
	bool zswap_off; /* -z: Zswap lines 0 */
};

/*
 * Render /proc/meminfo for one container from the host's /proc/meminfo text.
 * Lines we do not virtualize are copied from the host text as they are.
 * Returns bytes written, or -ENOSPC.
 */
ssize_t render_meminfo(const char *host, size_t host_len, const struct cg_memory *cg,
                       const struct render_opts *opts, char *buf, size_t size);

/*
 * The container's MemTotal and MemFree in kB, as render_meminfo() prints them
 * (for the files that must agree with it: vmstat's nr_free_pages).
 */
void meminfo_mem_figures(const char *host, size_t host_len, const struct cg_memory *cg,
                         uint64_t *total_kb, uint64_t *free_kb);

/*
 * The container's swap size and use in kB: meminfo's SwapTotal and
 * SwapTotal - SwapFree, and the figures of the one line of /proc/swaps, so the
 * two files always agree. Both are 0 with -u; used_kb never exceeds total_kb.
 */
void meminfo_swap_figures(const char *host, size_t host_len, const struct cg_memory *cg,
                          const struct render_opts *opts, uint64_t *total_kb, uint64_t *used_kb);

#endif
