/*
 * /proc/vmstat for one container.
 *
 * The host text is the template, as for meminfo: each line whose figure the
 * container's memory cgroup counts is replaced, every other line is copied
 * as it is (so lines of newer kernels keep appearing), in the host's order.
 * Where the cgroup has no figure (a key its kernel or cgroup version does not
 * print, or a line no cgroup counts) the host's line stays: the whole
 * machine's figure, as upstream serves every file it does not virtualize.
 *
 * Line by line (v2 memory.stat key / v1 key, whose total_ form is read; "-"
 * when that version has none):
 *
 *   nr_free_pages               meminfo's MemFree (limit - usage), in pages
 *   nr_zone_inactive_anon,      inactive_anon / inactive_anon   pages; the
 *   nr_inactive_anon                                            zone and node
 *   nr_zone_active_anon,        active_anon / active_anon       lines show
 *   nr_active_anon                                              the same: a
 *   nr_zone_inactive_file,      inactive_file / inactive_file   cgroup has
 *   nr_inactive_file                                            no zones
 *   nr_zone_active_file,        active_file / active_file
 *   nr_active_file
 *   nr_zone_unevictable,        unevictable / unevictable
 *   nr_unevictable
 *   nr_zone_write_pending       file_dirty + file_writeback / dirty + writeback
 *   nr_slab_reclaimable         slab_reclaimable / -            pages
 *   nr_slab_unreclaimable       slab_unreclaimable / -          pages
 *   nr_anon_pages               anon / rss                      pages
 *   nr_mapped                   file_mapped / mapped_file       pages
 *   nr_file_pages               file / cache                    pages
 *   nr_dirty                    file_dirty / dirty              pages
 *   nr_writeback                file_writeback / writeback      pages
 *   nr_shmem                    shmem / shmem                   pages
 *   nr_shmem_hugepages          shmem_thp / -                   huge pages
 *   nr_file_hugepages           file_thp / -                    huge pages
 *   nr_anon_transparent_hugepages  anon_thp / rss_huge          huge pages
 *   nr_kernel_stack             kernel_stack / -                kB (as the kernel)
 *   nr_page_table_pages         pagetables / -                  pages
 *   nr_sec_page_table_pages     sec_pagetables / -              pages
 *   nr_swapcached               swapcached / swapcached         pages
 *   workingset_refault_anon, workingset_refault_file     same name / same name
 *   workingset_activate_anon, workingset_activate_file,
 *   workingset_restore_anon, workingset_restore_file,
 *   workingset_nodereclaim                               same name / -
 *   pgfault, pgmajfault                                  same name / same name
 *   pswpin, pswpout, pgrefill, pgactivate, pgdeactivate, pglazyfree,
 *   pglazyfreed, pgscan_{kswapd,direct,khugepaged,proactive},
 *   pgsteal_{kswapd,direct,khugepaged,proactive},
 *   pgdemote_{kswapd,direct,khugepaged,proactive}, pgpromote_success,
 *   swpin_zero, swpout_zero, zswpin, zswpout, zswpwb, thp_fault_alloc,
 *   thp_collapse_alloc, thp_swpout, thp_swpout_fallback,
 *   numa_pages_migrated, numa_pte_updates, numa_hint_faults
 *                                                        same name / -
 *   (events are counts, printed as they are)
 *
 * The host's, for want of a per-cgroup figure: nr_free_cma, numa_hit and the
 * other NUMA allocation counters, nr_isolated_*, workingset_nodes,
 * nr_vmscan_*, nr_dirtied, nr_written, nr_foll_pin_*, nr_dirty_threshold and
 * nr_dirty_background_threshold (computed for the whole machine), pgpgin and
 * pgpgout (kB to and from block devices, which v1's pgpgin, pages charged to
 * the cgroup, is not), pgalloc_*, allocstall_*, pgfree, compaction, oom_kill
 * (memory.events has the cgroup's, not read here), and the rest. On v1, the
 * lines of keys only v2 prints (slab, kernel stack, page tables, the reclaim
 * events) are the host's too, as meminfo's Slab is 0 there.
 */
#include <errno.h>
#include <string.h>

#include "proc_render/cpu.h"
#include "proc_render/vmstat.h"

/* The memory.stat keys kept (index = position in struct cg_vmstat). */
enum vm_key {
	VK_INACTIVE_ANON,
	VK_ACTIVE_ANON,
	VK_INACTIVE_FILE,
	VK_ACTIVE_FILE,
	VK_UNEVICTABLE,
	VK_SLAB_RECLAIMABLE,
	VK_SLAB_UNRECLAIMABLE,
	VK_ANON,
	VK_FILE_MAPPED,
	VK_FILE,
	VK_FILE_DIRTY,
	VK_FILE_WRITEBACK,
	VK_SHMEM,
	VK_SHMEM_THP,
	VK_FILE_THP,
	VK_ANON_THP,
	VK_KERNEL_STACK,
	VK_PAGETABLES,
	VK_SEC_PAGETABLES,
	VK_SWAPCACHED,
	VK_FIRST_EVENT, /* from here on, events: counts, with vmstat's own names */
	VK_NONE = VMSTAT_KEYS,
	VK_FREE, /* nr_free_pages: meminfo's MemFree, not a memory.stat key */
};

/* Sizes: v2 and v1 names. A NULL v1 name: v1 has no such key. */
static const struct {
	const char *v2, *v1;
} vm_sizes[VK_FIRST_EVENT] = {
    [VK_INACTIVE_ANON] = {"inactive_anon", "inactive_anon"},
    [VK_ACTIVE_ANON] = {"active_anon", "active_anon"},
    [VK_INACTIVE_FILE] = {"inactive_file", "inactive_file"},
    [VK_ACTIVE_FILE] = {"active_file", "active_file"},
    [VK_UNEVICTABLE] = {"unevictable", "unevictable"},
    [VK_SLAB_RECLAIMABLE] = {"slab_reclaimable", NULL},
    [VK_SLAB_UNRECLAIMABLE] = {"slab_unreclaimable", NULL},
    [VK_ANON] = {"anon", "rss"},
    [VK_FILE_MAPPED] = {"file_mapped", "mapped_file"},
    [VK_FILE] = {"file", "cache"},
    [VK_FILE_DIRTY] = {"file_dirty", "dirty"},
    [VK_FILE_WRITEBACK] = {"file_writeback", "writeback"},
    [VK_SHMEM] = {"shmem", "shmem"},
    [VK_SHMEM_THP] = {"shmem_thp", NULL},
    [VK_FILE_THP] = {"file_thp", NULL},
    [VK_ANON_THP] = {"anon_thp", "rss_huge"},
    [VK_KERNEL_STACK] = {"kernel_stack", NULL},
    [VK_PAGETABLES] = {"pagetables", NULL},
    [VK_SEC_PAGETABLES] = {"sec_pagetables", NULL},
    [VK_SWAPCACHED] = {"swapcached", "swapcached"},
};

/* Events, from VK_FIRST_EVENT on: vmstat's name is memory.stat's; v1 has the first four. */
#define VM_V1_EVENTS 4
static const char *const vm_events[] = {
    "workingset_refault_anon",
    "workingset_refault_file",
    "pgfault",
    "pgmajfault",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "pswpin",
    "pswpout",
    "pgrefill",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgscan_khugepaged",
    "pgscan_proactive",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "pgsteal_khugepaged",
    "pgsteal_proactive",
    "pgdemote_kswapd",
    "pgdemote_direct",
    "pgdemote_khugepaged",
    "pgdemote_proactive",
    "pgpromote_success",
    "swpin_zero",
    "swpout_zero",
    "zswpin",
    "zswpout",
    "zswpwb",
    "thp_fault_alloc",
    "thp_collapse_alloc",
    "thp_swpout",
    "thp_swpout_fallback",
    "numa_pages_migrated",
    "numa_pte_updates",
    "numa_hint_faults",
};

#define VM_NEVENTS (sizeof(vm_events) / sizeof(vm_events[0]))
_Static_assert(VK_FIRST_EVENT + VM_NEVENTS <= VMSTAT_KEYS, "more vmstat keys than cg_vmstat holds");
_Static_assert(VMSTAT_KEYS < 64, "have is one 64-bit word");

enum vm_unit { VU_PAGES, VU_KB, VU_THP, VU_COUNT };

/* The size lines: vmstat's name, the key (and a second one added to it), the unit. */
static const struct {
	const char *line;
	enum vm_key key, plus;
	enum vm_unit unit;
} vm_lines[] = {
    {"nr_free_pages", VK_FREE, VK_NONE, VU_PAGES},
    {"nr_zone_inactive_anon", VK_INACTIVE_ANON, VK_NONE, VU_PAGES},
    {"nr_zone_active_anon", VK_ACTIVE_ANON, VK_NONE, VU_PAGES},
    {"nr_zone_inactive_file", VK_INACTIVE_FILE, VK_NONE, VU_PAGES},
    {"nr_zone_active_file", VK_ACTIVE_FILE, VK_NONE, VU_PAGES},
    {"nr_zone_unevictable", VK_UNEVICTABLE, VK_NONE, VU_PAGES},
    {"nr_zone_write_pending", VK_FILE_DIRTY, VK_FILE_WRITEBACK, VU_PAGES},
    {"nr_inactive_anon", VK_INACTIVE_ANON, VK_NONE, VU_PAGES},
    {"nr_active_anon", VK_ACTIVE_ANON, VK_NONE, VU_PAGES},
    {"nr_inactive_file", VK_INACTIVE_FILE, VK_NONE, VU_PAGES},
    {"nr_active_file", VK_ACTIVE_FILE, VK_NONE, VU_PAGES},
    {"nr_unevictable", VK_UNEVICTABLE, VK_NONE, VU_PAGES},
    {"nr_slab_reclaimable", VK_SLAB_RECLAIMABLE, VK_NONE, VU_PAGES},
    {"nr_slab_unreclaimable", VK_SLAB_UNRECLAIMABLE, VK_NONE, VU_PAGES},
    {"nr_anon_pages", VK_ANON, VK_NONE, VU_PAGES},
    {"nr_mapped", VK_FILE_MAPPED, VK_NONE, VU_PAGES},
    {"nr_file_pages", VK_FILE, VK_NONE, VU_PAGES},
    {"nr_dirty", VK_FILE_DIRTY, VK_NONE, VU_PAGES},
    {"nr_writeback", VK_FILE_WRITEBACK, VK_NONE, VU_PAGES},
    {"nr_shmem", VK_SHMEM, VK_NONE, VU_PAGES},
    {"nr_shmem_hugepages", VK_SHMEM_THP, VK_NONE, VU_THP},
    {"nr_file_hugepages", VK_FILE_THP, VK_NONE, VU_THP},
    {"nr_anon_transparent_hugepages", VK_ANON_THP, VK_NONE, VU_THP},
    {"nr_kernel_stack", VK_KERNEL_STACK, VK_NONE, VU_KB},
    {"nr_page_table_pages", VK_PAGETABLES, VK_NONE, VU_PAGES},
    {"nr_sec_page_table_pages", VK_SEC_PAGETABLES, VK_NONE, VU_PAGES},
    {"nr_swapcached", VK_SWAPCACHED, VK_NONE, VU_PAGES},
};

static bool vm_is(const char *s, size_t len, const char *name)
{
	return name && strlen(name) == len && memcmp(s, name, len) == 0;
}

int vmstat_key(const char *key, size_t len, int version)
{
	if (version == 1) {
		if (len < 6 || memcmp(key, "total_", 6) != 0)
			return -1;
		key += 6;
		len -= 6;
	} else if (version != 2) {
		return -1;
	}
	for (int k = 0; k < VK_FIRST_EVENT; k++)
		if (vm_is(key, len, version == 1 ? vm_sizes[k].v1 : vm_sizes[k].v2))
			return k;
	for (size_t e = 0; e < (version == 1 ? VM_V1_EVENTS : VM_NEVENTS); e++)
		if (vm_is(key, len, vm_events[e]))
			return VK_FIRST_EVENT + (int)e;
	return -1;
}

static bool vm_have(const struct cg_vmstat *cg, enum vm_key k)
{
	return k < VK_NONE && (cg->have >> k) & 1;
}

static uint64_t vm_in_unit(uint64_t v, enum vm_unit unit, const struct vmstat_units *u)
{
	switch (unit) {
	case VU_PAGES:
		return u->page_size ? v / u->page_size : 0;
	case VU_KB:
		return v / 1024;
	case VU_THP:
		return u->thp_size ? v / u->thp_size : 0;
	case VU_COUNT:
		break;
	}
	return v;
}

/* The container's figure for line name (len bytes), or false: keep the host's line. */
static bool vm_figure(const char *name, size_t len, const struct cg_vmstat *cg, uint64_t free_kb,
                      const struct vmstat_units *u, uint64_t *out)
{
	for (size_t i = 0; i < sizeof(vm_lines) / sizeof(vm_lines[0]); i++) {
		if (!vm_is(name, len, vm_lines[i].line))
			continue;
		if (vm_lines[i].key == VK_FREE) {
			*out = vm_in_unit(free_kb * 1024, VU_PAGES, u);
			return true;
		}
		if (!vm_have(cg, vm_lines[i].key) ||
		    (vm_lines[i].plus != VK_NONE && !vm_have(cg, vm_lines[i].plus)))
			return false;
		*out = cg->value[vm_lines[i].key] +
		       (vm_lines[i].plus != VK_NONE ? cg->value[vm_lines[i].plus] : 0);
		*out = vm_in_unit(*out, vm_lines[i].unit, u);
		return true;
	}
	for (size_t e = 0; e < VM_NEVENTS; e++) {
		if (vm_is(name, len, vm_events[e])) {
			if (!vm_have(cg, (enum vm_key)(VK_FIRST_EVENT + e)))
				return false;
			*out = cg->value[VK_FIRST_EVENT + e];
			return true;
		}
	}
	return false;
}

ssize_t render_vmstat(const char *host, size_t len, const struct cg_vmstat *cg, uint64_t free_kb,
                      const struct vmstat_units *u, char *buf, size_t size)
{
	struct cpu_out out = {.buf = buf, .size = size};
	const char *p = host, *end = host + len;

	if (!host || !cg || !u)
		return -EINVAL;
	while (p < end && !out.full) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		const char *sp = memchr(p, ' ', n);
		uint64_t v;

		/* "name value", one blank, as the kernel prints it */
		if (sp && vm_figure(p, (size_t)(sp - p), cg, free_kb, u, &v)) {
			cpu_out_put(&out, p, (size_t)(sp - p) + 1);
			cpu_out_u64(&out, v);
		} else {
			cpu_out_put(&out, p, n);
		}
		cpu_out_put(&out, "\n", 1);
		p += n + 1;
	}
	return cpu_out_result(&out);
}
