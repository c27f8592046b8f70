/*
 * /proc/vmstat for a container (upstream lxcfs #212, which upstream never
 * served): the host's text with the lines a memory cgroup counts replaced by
 * the cgroup's figures. See vmstat.c for the table, line by line.
 *
 * Same contract as render.h: no I/O, no clock, no allocation.
 */
#ifndef LXCFS_RENDER_VMSTAT_H
#define LXCFS_RENDER_VMSTAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* memory.stat keys kept for vmstat: at most 63 (a bit each in have). */
#define VMSTAT_KEYS 61

/*
 * The memory.stat figures of one cgroup that vmstat lines show, as memory.stat
 * prints them: bytes for sizes, counts for events. v1 values are the total_*
 * (hierarchical) keys, v2 the plain ones (hierarchical already). Index k is
 * the key vmstat_key() names k; bit k of have says it was read.
 */
struct cg_vmstat {
	uint64_t have;
	uint64_t value[VMSTAT_KEYS];
};

/* Sizes the kernel prints vmstat in: PAGE_SIZE, and the PMD huge page (2 MiB on x86-64). */
struct vmstat_units {
	uint64_t page_size;
	uint64_t thp_size;
};

/*
 * The index of memory.stat key (len bytes, not NUL-terminated) of cgroup
 * version 1 or 2 in struct cg_vmstat, or -1 when vmstat shows no line of
 * it. On v1 only total_* keys count.
 */
int vmstat_key(const char *key, size_t len, int version);

/*
 * /proc/vmstat from the host's text: lines the cgroup has a figure for are
 * replaced (in the kernel's units: pages, kB for nr_kernel_stack, huge pages
 * for the *_hugepages lines), nr_free_pages is free_kb (meminfo's MemFree, so
 * the two files agree) in pages, every other line is the host's as it is.
 * Returns bytes written, or -ENOSPC.
 */
ssize_t render_vmstat(const char *host, size_t len, const struct cg_vmstat *cg, uint64_t free_kb,
                      const struct vmstat_units *u, char *buf, size_t size);

#endif
