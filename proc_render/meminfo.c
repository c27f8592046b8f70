/*
 * /proc/meminfo for one container.
 *
 * The host text is the template: we walk it line by line, replace the lines
 * whose figures the container's memory cgroup knows better, and copy every
 * other line as it is, so fields added by newer kernels keep appearing.
 *
 * Swap, compared with upstream LXCFS (src/proc_fuse.c, get_swap_info() and
 * proc_meminfo_read(), read in a 5.0-era tree; 6.0 changed MemAvailable but,
 * as far as we could find, not swap):
 *
 *  - v2: SwapTotal = min(memory.swap.max, host SwapTotal), used =
 *    memory.swap.current. Upstream is the same, except that it reads "max"
 *    as 0 and then shows no swap at all; we show the host's SwapTotal, as
 *    SPEC asks.
 *  - v1: SwapTotal = (memsw limit - memory limit) + MemTotal, clamped to the
 *    host's SwapTotal; used = memsw usage - memory usage. SPEC and upstream
 *    agree here. Adding MemTotal back is deliberate (upstream issues #240,
 *    #258): memsw bounds memory plus swap, so a container that keeps little
 *    in RAM may put nearly all of its memsw limit in swap, not only the
 *    difference. An unlimited memsw leaves the host's SwapTotal.
 *  - swappiness 0: SwapTotal = used, so the container looks unable to swap
 *    more, as upstream does. It is only read with swap accounting, as upstream.
 *  - No swap accounting (v1 without memory.memsw.*, a kernel booted without
 *    swapaccount; v2 without memory.swap.*): no swap at all, SwapTotal and
 *    SwapFree 0 and swaps with its header only, as upstream ("When SWAP
 *    accounting isn't enabled, no SWAP space is reported at all"). Nothing
 *    says how much swap the container may use or uses: the host's figures
 *    would be another container's, and a SwapTotal shown all free invites a
 *    JVM or a database to size itself for swap it may not have.
 *  - SwapFree = SwapTotal - used, with used clamped to the total: upstream
 *    can wrap around here (issue #115); we do not.
 *
 * Other choices: a limit of 0 is treated as no limit, as upstream does, so
 * that ps(1) and top(1) never divide by a MemTotal of 0 (issue #389).
 * MemAvailable is capped at MemTotal (upstream does not cap it). Lines whose
 * figures the cgroup lacks (Slab on v1, Zswap without the keys) stay host
 * verbatim; upstream 5.0 prints Slab, SReclaimable and SUnreclaim as 0 there.
 * A last host line without a newline gets one, so the output is always whole
 * lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proc_render/render.h"

/* The kernel pads every meminfo label to 16 columns. */
#define MEMINFO_LABEL_WIDTH 16

enum meminfo_field {
	MI_MEM_TOTAL,
	MI_MEM_FREE,
	MI_MEM_AVAILABLE,
	MI_BUFFERS,
	MI_CACHED,
	MI_SWAP_CACHED,
	MI_ACTIVE,
	MI_INACTIVE,
	MI_ACTIVE_ANON,
	MI_INACTIVE_ANON,
	MI_ACTIVE_FILE,
	MI_INACTIVE_FILE,
	MI_UNEVICTABLE,
	MI_SWAP_TOTAL,
	MI_SWAP_FREE,
	MI_ZSWAP,
	MI_ZSWAPPED,
	MI_DIRTY,
	MI_WRITEBACK,
	MI_ANON_PAGES,
	MI_MAPPED,
	MI_SHMEM,
	MI_SLAB,
	MI_SRECLAIMABLE,
	MI_SUNRECLAIM,
	MI_ANON_HUGE_PAGES,
	MI_NR_FIELDS,
};

static const char *const meminfo_labels[MI_NR_FIELDS] = {
    [MI_MEM_TOTAL] = "MemTotal:",
    [MI_MEM_FREE] = "MemFree:",
    [MI_MEM_AVAILABLE] = "MemAvailable:",
    [MI_BUFFERS] = "Buffers:",
    [MI_CACHED] = "Cached:",
    [MI_SWAP_CACHED] = "SwapCached:",
    [MI_ACTIVE] = "Active:",
    [MI_INACTIVE] = "Inactive:",
    [MI_ACTIVE_ANON] = "Active(anon):",
    [MI_INACTIVE_ANON] = "Inactive(anon):",
    [MI_ACTIVE_FILE] = "Active(file):",
    [MI_INACTIVE_FILE] = "Inactive(file):",
    [MI_UNEVICTABLE] = "Unevictable:",
    [MI_SWAP_TOTAL] = "SwapTotal:",
    [MI_SWAP_FREE] = "SwapFree:",
    [MI_ZSWAP] = "Zswap:",
    [MI_ZSWAPPED] = "Zswapped:",
    [MI_DIRTY] = "Dirty:",
    [MI_WRITEBACK] = "Writeback:",
    [MI_ANON_PAGES] = "AnonPages:",
    [MI_MAPPED] = "Mapped:",
    [MI_SHMEM] = "Shmem:",
    [MI_SLAB] = "Slab:",
    [MI_SRECLAIMABLE] = "SReclaimable:",
    [MI_SUNRECLAIM] = "SUnreclaim:",
    [MI_ANON_HUGE_PAGES] = "AnonHugePages:",
};

/* The figures to print, in kB; a field not set here is copied from the host. */
struct meminfo_view {
	uint64_t kb[MI_NR_FIELDS];
	bool set[MI_NR_FIELDS];
};

/* Where the rendered text goes; once full it stays full and writes nothing. */
struct meminfo_out {
	char *buf;
	size_t size;
	size_t len;
	bool full;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t sub_floor0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* Length of the label at the start of a line, colon included; 0 if none. */
static size_t line_label_len(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);

	return colon ? (size_t)(colon - line) + 1 : 0;
}

static int meminfo_field_of(const char *line, size_t len)
{
	size_t label_len = line_label_len(line, len);
	int i;

	if (!label_len)
		return -1;
	for (i = 0; i < MI_NR_FIELDS; i++) {
		/* The first byte rules out most labels before any strlen. */
		if (meminfo_labels[i][0] == line[0] && strlen(meminfo_labels[i]) == label_len &&
		    memcmp(meminfo_labels[i], line, label_len) == 0)
			return i;
	}
	return -1;
}

/* Parse the decimal after the label; false if there is none or it overflows. */
static bool line_value(const char *line, size_t len, size_t label_len, uint64_t *val)
{
	size_t i = label_len;
	uint64_t v = 0;

	while (i < len && line[i] == ' ')
		i++;
	if (i == len || line[i] < '0' || line[i] > '9')
		return false;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	*val = v;
	return true;
}

/* Find one field of the host text (a figure in kB); false if it is absent. */
static bool host_field_kb(const char *host, size_t host_len, enum meminfo_field field, uint64_t *kb)
{
	const char *p = host, *end;

	if (!host)
		return false;
	for (end = host + host_len; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);

		if (meminfo_field_of(p, len) == (int)field)
			return line_value(p, len, strlen(meminfo_labels[field]), kb);
		p += len + 1;
	}
	return false;
}

static uint64_t limit_kb(uint64_t limit)
{
	/* 0 is no usable limit: see the header comment. */
	if (limit == CG_UNLIMITED || limit == 0)
		return CG_UNLIMITED;
	return limit / 1024;
}

static uint64_t mem_total_kb(const char *host, size_t host_len, const struct cg_memory *cg)
{
	uint64_t host_kb;

	if (!host_field_kb(host, host_len, MI_MEM_TOTAL, &host_kb))
		host_kb = CG_UNLIMITED;
	host_kb = min_u64(limit_kb(cg->limit), host_kb);
	return host_kb == CG_UNLIMITED ? 0 : host_kb;
}

static void swap_figures_v2(const struct cg_memory *cg, uint64_t host_swap_kb, uint64_t *total_kb,
                            uint64_t *used_kb)
{
	/* unlike memory.max, a swap.max of 0 is common: the container may not swap */
	if (cg->swap_limit == CG_UNLIMITED)
		*total_kb = host_swap_kb;
	else
		*total_kb = min_u64(cg->swap_limit / 1024, host_swap_kb);
	*used_kb = cg->swap_usage / 1024;
}

/* On v1 swap_limit and swap_usage are memory plus swap: see the header. */
static void swap_figures_v1(const struct cg_memory *cg, uint64_t mem_total, uint64_t host_swap_kb,
                            uint64_t *total_kb, uint64_t *used_kb)
{
	uint64_t swap_only_kb;

	if (cg->swap_limit == CG_UNLIMITED) {
		*total_kb = host_swap_kb;
	} else {
		swap_only_kb = sub_floor0(cg->swap_limit, cg->limit) / 1024;
		*total_kb = min_u64(swap_only_kb + mem_total, host_swap_kb);
	}
	*used_kb = sub_floor0(cg->swap_usage, cg->usage) / 1024;
}

/*
 * The container's swap size and use in kB, as meminfo's SwapTotal and
 * SwapTotal - SwapFree, and as the one line of /proc/swaps. used_kb never
 * exceeds total_kb.
 */
void meminfo_swap_figures(const char *host, size_t host_len, const struct cg_memory *cg,
                          const struct render_opts *opts, uint64_t *total_kb, uint64_t *used_kb)
{
	uint64_t host_swap_kb, mem_total = mem_total_kb(host, host_len, cg);

	*total_kb = *used_kb = 0;
	if (opts->swap_off)
		return;
	if (!host_field_kb(host, host_len, MI_SWAP_TOTAL, &host_swap_kb))
		host_swap_kb = 0;

	if (!cg->swap_accounting)
		return;

	if (cg->version == 2)
		swap_figures_v2(cg, host_swap_kb, total_kb, used_kb);
	else
		swap_figures_v1(cg, mem_total, host_swap_kb, total_kb, used_kb);

	if (cg->has_swappiness && cg->swappiness == 0)
		*total_kb = *used_kb;
	*used_kb = min_u64(*used_kb, *total_kb);
}

static void view_set(struct meminfo_view *v, enum meminfo_field field, uint64_t kb)
{
	v->kb[field] = kb;
	v->set[field] = true;
}

void meminfo_mem_figures(const char *host, size_t host_len, const struct cg_memory *cg,
                         uint64_t *total_kb, uint64_t *free_kb)
{
	*total_kb = mem_total_kb(host, host_len, cg);
	*free_kb = sub_floor0(*total_kb, cg->usage / 1024);
}

static void view_memory(struct meminfo_view *v, const char *host, size_t host_len,
                        const struct cg_memory *cg)
{
	uint64_t total, free_kb;
	uint64_t reclaimable = (cg->active_file + cg->inactive_file + cg->slab_reclaimable) / 1024;

	meminfo_mem_figures(host, host_len, cg, &total, &free_kb);
	view_set(v, MI_MEM_TOTAL, total);
	view_set(v, MI_MEM_FREE, free_kb);
	view_set(v, MI_MEM_AVAILABLE, min_u64(free_kb + reclaimable, total));
}

static void view_lists(struct meminfo_view *v, const struct cg_memory *cg)
{
	uint64_t anon = sub_floor0(cg->active_anon + cg->inactive_anon, cg->shmem);

	/* memcg accounts no buffers or swap cache of its own */
	view_set(v, MI_BUFFERS, 0);
	view_set(v, MI_SWAP_CACHED, 0);
	view_set(v, MI_CACHED, cg->cache / 1024);
	view_set(v, MI_ACTIVE, (cg->active_anon + cg->active_file) / 1024);
	view_set(v, MI_INACTIVE, (cg->inactive_anon + cg->inactive_file) / 1024);
	view_set(v, MI_ACTIVE_ANON, cg->active_anon / 1024);
	view_set(v, MI_INACTIVE_ANON, cg->inactive_anon / 1024);
	view_set(v, MI_ACTIVE_FILE, cg->active_file / 1024);
	view_set(v, MI_INACTIVE_FILE, cg->inactive_file / 1024);
	view_set(v, MI_UNEVICTABLE, cg->unevictable / 1024);
	view_set(v, MI_DIRTY, cg->dirty / 1024);
	view_set(v, MI_WRITEBACK, cg->writeback / 1024);
	view_set(v, MI_ANON_PAGES, anon / 1024);
	view_set(v, MI_MAPPED, cg->mapped / 1024);
	view_set(v, MI_SHMEM, cg->shmem / 1024);
	view_set(v, MI_ANON_HUGE_PAGES, cg->anon_thp / 1024);
}

static void view_kernel(struct meminfo_view *v, const struct cg_memory *cg,
                        const struct render_opts *opts)
{
	if (cg->has_slab) {
		view_set(v, MI_SLAB, cg->slab / 1024);
		view_set(v, MI_SRECLAIMABLE, cg->slab_reclaimable / 1024);
		view_set(v, MI_SUNRECLAIM, cg->slab_unreclaimable / 1024);
	} else {
		/*
		 * v1 has no per-cgroup slab figures. The host's would put the whole
		 * host's reclaimable slab into free(1)'s buff/cache, which can exceed
		 * the container's MemTotal; upstream shows 0 here too.
		 */
		view_set(v, MI_SLAB, 0);
		view_set(v, MI_SRECLAIMABLE, 0);
		view_set(v, MI_SUNRECLAIM, 0);
	}
	if (opts->zswap_off) {
		view_set(v, MI_ZSWAP, 0);
		view_set(v, MI_ZSWAPPED, 0);
	} else if (cg->has_zswap) {
		view_set(v, MI_ZSWAP, cg->zswap / 1024);
		view_set(v, MI_ZSWAPPED, cg->zswapped / 1024);
	}
}

static void view_swap(struct meminfo_view *v, const char *host, size_t host_len,
                      const struct cg_memory *cg, const struct render_opts *opts)
{
	uint64_t total, used;

	meminfo_swap_figures(host, host_len, cg, opts, &total, &used);
	view_set(v, MI_SWAP_TOTAL, total);
	view_set(v, MI_SWAP_FREE, total - used);
}

static void out_put(struct meminfo_out *out, const char *s, size_t n)
{
	if (out->full || n > out->size - out->len) {
		out->full = true;
		return;
	}
	memcpy(out->buf + out->len, s, n);
	out->len += n;
}

static void out_field(struct meminfo_out *out, enum meminfo_field field, uint64_t kb)
{
	char line[64];
	int n;

	n = snprintf(line, sizeof(line), "%-*s%8" PRIu64 " kB\n", MEMINFO_LABEL_WIDTH,
	             meminfo_labels[field], kb);
	out_put(out, line, (size_t)n);
}

/* Emit one host line (without its newline), replaced or as it is. */
static void out_line(struct meminfo_out *out, const struct meminfo_view *v, const char *line,
                     size_t len)
{
	int field = meminfo_field_of(line, len);

	if (field >= 0 && v->set[field]) {
		out_field(out, (enum meminfo_field)field, v->kb[field]);
		return;
	}
	out_put(out, line, len);
	out_put(out, "\n", 1);
}

ssize_t render_meminfo(const char *host, size_t host_len, const struct cg_memory *cg,
                       const struct render_opts *opts, char *buf, size_t size)
{
	struct meminfo_out out = {.buf = buf, .size = size};
	struct meminfo_view v = {0};
	const char *p, *end;

	if (!host) {
		host = "";
		host_len = 0;
	}
	p = host;
	end = host + host_len;

	view_memory(&v, host, host_len, cg);
	view_lists(&v, cg);
	view_kernel(&v, cg, opts);
	view_swap(&v, host, host_len, cg, opts);

	while (p < end && !out.full) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);

		out_line(&out, &v, p, len);
		p += len + 1;
	}
	return out.full ? -ENOSPC : (ssize_t)out.len;
}
