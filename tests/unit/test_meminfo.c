/*
 * render_meminfo() and meminfo_swap_figures(): what a container's
 * /proc/meminfo shows for the cgroup figures of tests/fixtures/meminfo/
 * (see the README there), on a host without swap and on one with swap.
 *
 * The memory.stat fixtures are read with a tiny key lookup here only to fill
 * struct cg_memory; parsing memory.stat for real is the worker's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_render/misc.h"
#include "proc_render/render.h"
#include "tests/unit/check.h"
#include "tests/unit/fixture.h"
#include "workers/cgroup.h"

#define FIXTURES "tests/fixtures/meminfo/"
#define MiB      (1024ULL * 1024)

static char host_noswap[8192], host_swap[8192], stat_v1[8192], stat_v2[8192];
static size_t host_noswap_len, host_swap_len;
static char out[65536];

/* The value of "key value" in a memory.stat text; exits if the key is absent. */
static uint64_t stat_key(const char *stat, const char *key)
{
	size_t klen = strlen(key);
	const char *p = stat;

	while (p && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
			return strtoull(p + klen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	fprintf(stderr, "memory.stat fixture has no %s\n", key);
	exit(2);
}

/* The 300 MiB v1 container of memory.stat.v1, with its memsw files. */
static struct cg_memory cg_v1(void)
{
	struct cg_memory cg = {
	    .version = 1,
	    .limit = 314572800,
	    .usage = 159383552,
	    .cache = stat_key(stat_v1, "total_cache"),
	    .active_anon = stat_key(stat_v1, "total_active_anon"),
	    .inactive_anon = stat_key(stat_v1, "total_inactive_anon"),
	    .active_file = stat_key(stat_v1, "total_active_file"),
	    .inactive_file = stat_key(stat_v1, "total_inactive_file"),
	    .unevictable = stat_key(stat_v1, "total_unevictable"),
	    .shmem = stat_key(stat_v1, "total_shmem"),
	    .mapped = stat_key(stat_v1, "total_mapped_file"),
	    .dirty = stat_key(stat_v1, "total_dirty"),
	    .writeback = stat_key(stat_v1, "total_writeback"),
	    .anon_thp = stat_key(stat_v1, "total_rss_huge"),
	    .swap_accounting = true,
	    .swap_limit = 524288000,
	    .swap_usage = 180355072,
	    .has_swappiness = true,
	    .swappiness = 60,
	};
	return cg;
}

/* The 512 MiB v2 container of memory.stat.v2, with its swap files. */
static struct cg_memory cg_v2(void)
{
	struct cg_memory cg = {
	    .version = 2,
	    .limit = 536870912,
	    .usage = 263152096,
	    .cache = stat_key(stat_v2, "file"),
	    .active_anon = stat_key(stat_v2, "active_anon"),
	    .inactive_anon = stat_key(stat_v2, "inactive_anon"),
	    .active_file = stat_key(stat_v2, "active_file"),
	    .inactive_file = stat_key(stat_v2, "inactive_file"),
	    .unevictable = stat_key(stat_v2, "unevictable"),
	    .shmem = stat_key(stat_v2, "shmem"),
	    .mapped = stat_key(stat_v2, "file_mapped"),
	    .dirty = stat_key(stat_v2, "file_dirty"),
	    .writeback = stat_key(stat_v2, "file_writeback"),
	    .anon_thp = stat_key(stat_v2, "anon_thp"),
	    .slab = stat_key(stat_v2, "slab"),
	    .slab_reclaimable = stat_key(stat_v2, "slab_reclaimable"),
	    .slab_unreclaimable = stat_key(stat_v2, "slab_unreclaimable"),
	    .zswap = stat_key(stat_v2, "zswap"),
	    .zswapped = stat_key(stat_v2, "zswapped"),
	    .has_slab = true,
	    .has_zswap = true,
	    .swap_accounting = true,
	    .swap_limit = 268435456,
	    .swap_usage = 52428800,
	};
	return cg;
}

static const struct render_opts opts_default;

/* Render into out[] (NUL-terminated); returns what render_meminfo returned. */
static ssize_t render(const char *host, size_t host_len, const struct cg_memory *cg,
                      const struct render_opts *opts)
{
	ssize_t n = render_meminfo(host, host_len, cg, opts, out, sizeof(out) - 1);

	out[n >= 0 ? n : 0] = '\0';
	return n;
}

/* The whole line of text that starts with label, without its newline. */
static const char *line_of(const char *text, const char *label)
{
	static char line[4096];
	size_t llen = strlen(label);
	const char *p = text;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len >= llen && strncmp(p, label, llen) == 0 && len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			return line;
		}
		p = eol ? eol + 1 : NULL;
	}
	return "(missing)";
}

/* The figure of a line, or UINT64_MAX when the line is missing. */
static uint64_t kb_of(const char *text, const char *label)
{
	const char *line = line_of(text, label);

	if (strcmp(line, "(missing)") == 0)
		return UINT64_MAX;
	return strtoull(line + strlen(label), NULL, 10);
}

static void check_v1_figures(const char *text)
{
	CHECK_EQ_U64(kb_of(text, "MemTotal:"), 307200);
	CHECK_EQ_U64(kb_of(text, "MemFree:"), 151552);      /* 307200 - 155648 used */
	CHECK_EQ_U64(kb_of(text, "MemAvailable:"), 253952); /* + 61440 + 40960 file */
	CHECK_EQ_U64(kb_of(text, "Buffers:"), 0);
	CHECK_EQ_U64(kb_of(text, "Cached:"), 106496);
	CHECK_EQ_U64(kb_of(text, "SwapCached:"), 0);
	CHECK_EQ_U64(kb_of(text, "Active:"), 102400);
	CHECK_EQ_U64(kb_of(text, "Inactive:"), 53248);
	CHECK_EQ_U64(kb_of(text, "Active(anon):"), 40960);
	CHECK_EQ_U64(kb_of(text, "Inactive(anon):"), 12288);
	CHECK_EQ_U64(kb_of(text, "Active(file):"), 61440);
	CHECK_EQ_U64(kb_of(text, "Inactive(file):"), 40960);
	CHECK_EQ_U64(kb_of(text, "Unevictable:"), 0);
	CHECK_EQ_U64(kb_of(text, "Dirty:"), 1028);
	CHECK_EQ_U64(kb_of(text, "Writeback:"), 0);
	CHECK_EQ_U64(kb_of(text, "AnonPages:"), 49152); /* 40960 + 12288 - 4096 shmem */
	CHECK_EQ_U64(kb_of(text, "Mapped:"), 20480);
	CHECK_EQ_U64(kb_of(text, "Shmem:"), 4096);
	CHECK_EQ_U64(kb_of(text, "AnonHugePages:"), 2048);
}

static void test_v1(void)
{
	struct cg_memory cg = cg_v1();

	CHECK(render(host_noswap, host_noswap_len, &cg, &opts_default) > 0);
	check_v1_figures(out);
	CHECK_STR(line_of(out, "MemTotal:"), "MemTotal:         307200 kB");
	CHECK_STR(line_of(out, "Inactive(anon):"), "Inactive(anon):    12288 kB");
	/* v1 memory.stat has no slab keys: 0, not the host's slab in buff/cache */
	CHECK_STR(line_of(out, "Slab:"), "Slab:                  0 kB");
	CHECK_STR(line_of(out, "SReclaimable:"), "SReclaimable:          0 kB");
	CHECK_STR(line_of(out, "SUnreclaim:"), "SUnreclaim:            0 kB");
	/* nor zswap keys: the host's lines stay */
	CHECK_STR(line_of(out, "Zswap:"), line_of(host_noswap, "Zswap:"));
	CHECK_STR(line_of(out, "Zswapped:"), line_of(host_noswap, "Zswapped:"));
}

static void test_v2(void)
{
	struct cg_memory cg = cg_v2();

	CHECK(render(host_swap, host_swap_len, &cg, &opts_default) > 0);
	CHECK_EQ_U64(kb_of(out, "MemTotal:"), 524288);
	CHECK_EQ_U64(kb_of(out, "MemFree:"), 267304);      /* 524288 - 256984 used */
	CHECK_EQ_U64(kb_of(out, "MemAvailable:"), 406568); /* + 57344 + 65536 + 16384 */
	CHECK_EQ_U64(kb_of(out, "Buffers:"), 0);
	CHECK_EQ_U64(kb_of(out, "Cached:"), 131072);
	CHECK_EQ_U64(kb_of(out, "SwapCached:"), 0);
	CHECK_EQ_U64(kb_of(out, "Active:"), 149504);
	CHECK_EQ_U64(kb_of(out, "Inactive:"), 83968);
	CHECK_EQ_U64(kb_of(out, "Active(anon):"), 92160);
	CHECK_EQ_U64(kb_of(out, "Inactive(anon):"), 18432);
	CHECK_EQ_U64(kb_of(out, "Active(file):"), 57344);
	CHECK_EQ_U64(kb_of(out, "Inactive(file):"), 65536);
	CHECK_EQ_U64(kb_of(out, "Dirty:"), 64);
	CHECK_EQ_U64(kb_of(out, "AnonPages:"), 102400);
	CHECK_EQ_U64(kb_of(out, "Mapped:"), 32768);
	CHECK_EQ_U64(kb_of(out, "Shmem:"), 8192);
	CHECK_EQ_U64(kb_of(out, "AnonHugePages:"), 4096);
	CHECK_EQ_U64(kb_of(out, "Slab:"), 20480);
	CHECK_EQ_U64(kb_of(out, "SReclaimable:"), 16384);
	CHECK_EQ_U64(kb_of(out, "SUnreclaim:"), 4096);
	CHECK_EQ_U64(kb_of(out, "Zswap:"), 1024);
	CHECK_EQ_U64(kb_of(out, "Zswapped:"), 3072);
	/* KReclaimable is not ours to change */
	CHECK_STR(line_of(out, "KReclaimable:"), line_of(host_swap, "KReclaimable:"));
}

static void test_limit_above_host(void)
{
	struct cg_memory cg = cg_v1();

	cg.limit = 32768 * MiB;
	render(host_noswap, host_noswap_len, &cg, &opts_default);
	CHECK_EQ_U64(kb_of(out, "MemTotal:"), 24684084);
	CHECK_EQ_U64(kb_of(out, "MemFree:"), 24684084 - 155648);
}

static void test_no_limit(void)
{
	struct cg_memory cg = cg_v2();

	cg.limit = CG_UNLIMITED;
	render(host_noswap, host_noswap_len, &cg, &opts_default);
	CHECK_STR(line_of(out, "MemTotal:"), line_of(host_noswap, "MemTotal:"));
	CHECK_EQ_U64(kb_of(out, "MemFree:"), 24684084 - 256984);

	/* memory.max 0 reads as no limit, never as a MemTotal of 0 */
	cg.limit = 0;
	render(host_noswap, host_noswap_len, &cg, &opts_default);
	CHECK_EQ_U64(kb_of(out, "MemTotal:"), 24684084);
}

/* The worker hands over the least limit of the cgroup and its ancestors. */
static void test_lower_limit_wins(void)
{
	struct cg_memory cg = cg_v2();

	cg.limit = 1024 * MiB; /* below the 16 GiB host */
	cg.usage = 100 * MiB;
	render(host_swap, host_swap_len, &cg, &opts_default);
	CHECK_EQ_U64(kb_of(out, "MemTotal:"), 1048576);
	CHECK_EQ_U64(kb_of(out, "MemFree:"), 1048576 - 102400);
}

static void test_usage_above_limit(void)
{
	struct cg_memory cg = cg_v1();

	cg.usage = 400 * MiB; /* v1 usage can overshoot a freshly lowered limit */
	render(host_noswap, host_noswap_len, &cg, &opts_default);
	CHECK_EQ_U64(kb_of(out, "MemTotal:"), 307200);
	CHECK_STR(line_of(out, "MemFree:"), "MemFree:               0 kB");
	CHECK_EQ_U64(kb_of(out, "MemAvailable:"), 102400); /* reclaimable file only */

	/* reclaimable figures larger than the whole limit are capped at it */
	cg.usage = 0;
	cg.active_file = 1024 * MiB;
	render(host_noswap, host_noswap_len, &cg, &opts_default);
	CHECK_EQ_U64(kb_of(out, "MemAvailable:"), 307200);

	/* shmem larger than the anon lists must not wrap AnonPages */
	cg = cg_v1();
	cg.shmem = 100 * MiB;
	render(host_noswap, host_noswap_len, &cg, &opts_default);
	CHECK_EQ_U64(kb_of(out, "AnonPages:"), 0);
}

static void check_swap(const struct cg_memory *cg, const struct render_opts *opts, uint64_t total,
                       uint64_t free_kb)
{
	uint64_t t = 1, u = 1;

	CHECK(render(host_swap, host_swap_len, cg, opts) > 0);
	CHECK_EQ_U64(kb_of(out, "SwapTotal:"), total);
	CHECK_EQ_U64(kb_of(out, "SwapFree:"), free_kb);
	/* /proc/swaps prints these: they must match meminfo's lines */
	meminfo_swap_figures(host_swap, host_swap_len, cg, opts, &t, &u);
	CHECK_EQ_U64(t, total);
	CHECK_EQ_U64(u, total - free_kb);
}

static void test_swap_v1(void)
{
	struct cg_memory cg = cg_v1();

	/* (500 MiB memsw - 300 MiB mem) + 307200 kB MemTotal; 20 MiB swapped */
	check_swap(&cg, &opts_default, 512000, 491520);
	check_v1_figures(out); /* the memory lines do not move with swap */
	CHECK_STR(line_of(out, "SwapTotal:"), "SwapTotal:        512000 kB");

	cg.swap_limit = 64 * 1024 * MiB; /* clamped to the host's 8 GiB */
	check_swap(&cg, &opts_default, 8388604, 8388604 - 20480);

	cg.swap_limit = CG_UNLIMITED;
	check_swap(&cg, &opts_default, 8388604, 8388604 - 20480);

	/* memsw usage a little behind memory usage: nothing swapped, not -1 */
	cg = cg_v1();
	cg.swap_usage = cg.usage - 4096;
	check_swap(&cg, &opts_default, 512000, 512000);
}

static void test_swap_v2(void)
{
	struct cg_memory cg = cg_v2();

	check_swap(&cg, &opts_default, 262144, 262144 - 51200);

	cg.swap_limit = CG_UNLIMITED; /* memory.swap.max "max" */
	check_swap(&cg, &opts_default, 8388604, 8388604 - 51200);

	cg.swap_limit = 0; /* memory.swap.max 0: the container may not swap */
	cg.swap_usage = 0;
	check_swap(&cg, &opts_default, 0, 0);

	/* swap.max lowered below what is already swapped out */
	cg.swap_limit = 32 * MiB;
	cg.swap_usage = 50 * MiB;
	check_swap(&cg, &opts_default, 32768, 0);

	/* a host without swap has none to give */
	cg = cg_v2();
	render(host_noswap, host_noswap_len, &cg, &opts_default);
	CHECK_EQ_U64(kb_of(out, "SwapTotal:"), 0);
	CHECK_EQ_U64(kb_of(out, "SwapFree:"), 0);
}

static void test_swappiness_zero(void)
{
	struct cg_memory cg = cg_v1();

	cg.swappiness = 0; /* looks unable to swap more than it has */
	check_swap(&cg, &opts_default, 20480, 0);

	cg.has_swappiness = false; /* a swappiness never read is not 0 */
	check_swap(&cg, &opts_default, 512000, 491520);
}

static void test_swap_off(void)
{
	struct render_opts opts = {.swap_off = true};
	struct cg_memory cg = cg_v1();

	check_swap(&cg, &opts, 0, 0);
	CHECK_STR(line_of(out, "SwapTotal:"), "SwapTotal:             0 kB");
	CHECK_STR(line_of(out, "SwapFree:"), "SwapFree:              0 kB");
	check_v1_figures(out);

	cg = cg_v2();
	check_swap(&cg, &opts, 0, 0);
}

/* Without swap accounting, as upstream: no swap at all, on a host that has 8 GiB of it. */
static void test_no_swap_accounting(void)
{
	struct cg_memory cg = cg_v1();

	cg.swap_accounting = false;
	check_swap(&cg, &opts_default, 0, 0);
	CHECK_STR(line_of(out, "SwapTotal:"), "SwapTotal:             0 kB");
	CHECK_STR(line_of(out, "SwapFree:"), "SwapFree:              0 kB");
	check_v1_figures(out); /* the memory lines are the same as with accounting */
	cg.swappiness = 0;     /* only read with accounting */
	check_swap(&cg, &opts_default, 0, 0);

	cg = cg_v2();
	cg.swap_accounting = false;
	check_swap(&cg, &opts_default, 0, 0);
}

/*
 * A v1 kernel booted without swap accounting (swapaccount=0, or
 * CONFIG_MEMCG_SWAP unset): tests/fixtures/cgroup1-nomemsw has no
 * memory.memsw.* files and a memory.stat without swap lines. Read as the
 * worker reads it, meminfo and swaps show no swap however much the host has.
 */
static void test_no_memsw_fixture(void)
{
	struct cg_memory cg;
	uint64_t total = 1, used = 1;
	char swaps[256];
	int root = open("tests/fixtures/cgroup1-nomemsw", O_PATH | O_DIRECTORY | O_CLOEXEC);

	CHECK(root >= 0);
	memset(&cg, 0, sizeof(cg));
	CHECK(cg_read_memory(root, 1, "/lxc/c1", &cg) == 0);
	close(root);
	CHECK(!cg.swap_accounting);
	CHECK_EQ_U64(cg.limit, 314572800);
	CHECK_EQ_U64(cg.usage, 159383552);

	CHECK(render(host_swap, host_swap_len, &cg, &opts_default) > 0);
	CHECK_EQ_U64(kb_of(out, "MemTotal:"), 307200);
	CHECK_EQ_U64(kb_of(out, "SwapTotal:"), 0);
	CHECK_EQ_U64(kb_of(out, "SwapFree:"), 0);
	meminfo_swap_figures(host_swap, host_swap_len, &cg, &opts_default, &total, &used);
	CHECK_EQ_U64(total, 0);
	CHECK_EQ_U64(used, 0);
	CHECK(render_swaps(total, used, swaps, sizeof(swaps)) > 0);
	CHECK_STR(swaps, "Filename\t\t\t\tType\t\tSize\tUsed\tPriority\n");
}

static void test_zswap(void)
{
	struct render_opts opts = {.zswap_off = true};
	struct cg_memory cg = cg_v2();

	render(host_swap, host_swap_len, &cg, &opts);
	CHECK_STR(line_of(out, "Zswap:"), "Zswap:                 0 kB");
	CHECK_STR(line_of(out, "Zswapped:"), "Zswapped:              0 kB");

	cg.has_zswap = false;
	render(host_swap, host_swap_len, &cg, &opts_default);
	CHECK_STR(line_of(out, "Zswap:"), "Zswap:             21844 kB");
	CHECK_STR(line_of(out, "Zswapped:"), "Zswapped:          65536 kB");
}

static const char *const virtualized[] = {
    "MemTotal:",      "MemFree:",        "MemAvailable:", "Buffers:",      "Cached:",
    "SwapCached:",    "Active:",         "Inactive:",     "Active(anon):", "Inactive(anon):",
    "Active(file):",  "Inactive(file):", "Unevictable:",  "SwapTotal:",    "SwapFree:",
    "Dirty:",         "Writeback:",      "AnonPages:",    "Mapped:",       "Shmem:",
    "AnonHugePages:", "Slab:",           "SReclaimable:", "SUnreclaim:",   "Zswap:",
    "Zswapped:",
};

static bool is_virtualized(const char *line, size_t len)
{
	size_t i, l;

	for (i = 0; i < sizeof(virtualized) / sizeof(virtualized[0]); i++) {
		l = strlen(virtualized[i]);
		if (len >= l && strncmp(line, virtualized[i], l) == 0)
			return true;
	}
	return false;
}

/* Every other line, in order, byte for byte; one output line per host line. */
static void check_verbatim(const char *host, const char *text)
{
	int mismatches = 0, host_lines = 0, out_lines = 0;
	const char *h = host, *o = text;

	while (*h && *o) {
		const char *he = strchr(h, '\n'), *oe = strchr(o, '\n');
		size_t hl = he ? (size_t)(he - h) : strlen(h);
		size_t ol = oe ? (size_t)(oe - o) : strlen(o);

		if (!is_virtualized(h, hl) && (hl != ol || memcmp(h, o, hl) != 0)) {
			fprintf(stderr, "not verbatim: \"%.*s\" became \"%.*s\"\n", (int)hl, h,
			        (int)ol, o);
			mismatches++;
		}
		host_lines++;
		out_lines++;
		h += hl + (he ? 1 : 0);
		o += ol + (oe ? 1 : 0);
	}
	CHECK(*h == '\0' && *o == '\0');
	CHECK(mismatches == 0);
	CHECK(host_lines == out_lines && host_lines > 40);
}

static void test_verbatim(void)
{
	struct cg_memory cg = cg_v2();

	render(host_swap, host_swap_len, &cg, &opts_default);
	check_verbatim(host_swap, out);
	CHECK_STR(line_of(out, "VmallocTotal:"), "VmallocTotal:   34359738367 kB");
	CHECK_STR(line_of(out, "HugePages_Total:"), "HugePages_Total:      16");
	CHECK_STR(line_of(out, "HardwareCorrupted:"), "HardwareCorrupted:     0 kB");

	cg = cg_v1();
	render(host_noswap, host_noswap_len, &cg, &opts_default);
	check_verbatim(host_noswap, out);
	CHECK_STR(line_of(out, "VmallocTotal:"), line_of(host_noswap, "VmallocTotal:"));
	CHECK_STR(line_of(out, "HugePages_Total:"), line_of(host_noswap, "HugePages_Total:"));
	CHECK_STR(line_of(out, "DirectMap1G:"), line_of(host_noswap, "DirectMap1G:"));
}

static void test_enospc(void)
{
	struct cg_memory cg = cg_v2();
	static char small[sizeof(out)];
	ssize_t full = render(host_swap, host_swap_len, &cg, &opts_default);
	size_t sizes[] = {0, 1, 16, 500, (size_t)full - 1};
	size_t i;

	CHECK(full > 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(small, 0x5a, sizeof(small));
		CHECK(render_meminfo(host_swap, host_swap_len, &cg, &opts_default, small,
		                     sizes[i]) == -ENOSPC);
		CHECK(small[sizes[i]] == 0x5a); /* the canary past the end is untouched */
	}

	/* exactly enough room is enough, and the text is the same */
	memset(small, 0x5a, sizeof(small));
	CHECK(render_meminfo(host_swap, host_swap_len, &cg, &opts_default, small, (size_t)full) ==
	      full);
	CHECK(small[full] == 0x5a);
	CHECK(memcmp(small, out, (size_t)full) == 0);
}

static void test_no_trailing_newline(void)
{
	static const char host[] = "MemTotal:       16315484 kB\n"
	                           "MemFree:         9127844 kB\n"
	                           "VmallocTotal:   34359738367 kB";
	static const char host_virt_last[] = "VmallocTotal:   34359738367 kB\n"
	                                     "MemTotal:       16315484 kB";
	struct cg_memory cg = cg_v1();
	ssize_t n;

	/* the last line keeps its bytes and gains the newline readers expect */
	n = render(host, sizeof(host) - 1, &cg, &opts_default);
	CHECK_STR(out, "MemTotal:         307200 kB\n"
	               "MemFree:          151552 kB\n"
	               "VmallocTotal:   34359738367 kB\n");
	CHECK_EQ_U64(n, strlen(out));

	n = render(host_virt_last, sizeof(host_virt_last) - 1, &cg, &opts_default);
	CHECK_STR(out, "VmallocTotal:   34359738367 kB\n"
	               "MemTotal:         307200 kB\n");
	CHECK_EQ_U64(n, strlen(out));
}

/* Unknown, empty, label-less and very long lines pass through untouched. */
static void test_odd_lines(void)
{
	static char host[16384], want[16384];
	struct cg_memory cg = cg_v1();
	size_t n = 0;

	n += (size_t)sprintf(host + n, "MemTotal:       16315484 kB\n\nno colon here\n");
	n += (size_t)sprintf(host + n, "FutureField:    12345 kB\nLong:");
	memset(host + n, 'x', 9000);
	n += 9000;
	n += (size_t)sprintf(host + n, "\nMemTotalish:    1 kB\nActive:\n  Active: 5 kB\n");

	strcpy(want, host);
	memcpy(want, "MemTotal:         307200 kB\n", 28); /* same length as the host's */
	/* an "Active:" without a figure is still ours; the indented one is not */
	strcpy(strstr(want, "Active:\n"), "Active:           102400 kB\n  Active: 5 kB\n");

	CHECK_EQ_U64(render(host, n, &cg, &opts_default), strlen(want));
	CHECK_STR(out, want);

	CHECK(render(NULL, 0, &cg, &opts_default) == 0);
	CHECK(render("", 0, &cg, &opts_default) == 0);
}

/* A host text without MemTotal still yields sane figures from the limit. */
static void test_host_without_memtotal(void)
{
	static const char host[] = "MemFree:         9127844 kB\nSwapTotal:       8388604 kB\n";
	struct cg_memory cg = cg_v1();

	render(host, sizeof(host) - 1, &cg, &opts_default);
	CHECK_EQ_U64(kb_of(out, "MemFree:"), 151552);
	CHECK_EQ_U64(kb_of(out, "SwapTotal:"), 512000);
}

int main(void)
{
	host_noswap_len =
	    fixture_load(FIXTURES "host-noswap.meminfo", host_noswap, sizeof(host_noswap));
	host_swap_len = fixture_load(FIXTURES "host-swap.meminfo", host_swap, sizeof(host_swap));
	fixture_load(FIXTURES "memory.stat.v1", stat_v1, sizeof(stat_v1));
	fixture_load(FIXTURES "memory.stat.v2", stat_v2, sizeof(stat_v2));

	test_v1();
	test_v2();
	test_limit_above_host();
	test_no_limit();
	test_lower_limit_wins();
	test_usage_above_limit();
	test_swap_v1();
	test_swap_v2();
	test_swappiness_zero();
	test_swap_off();
	test_no_swap_accounting();
	test_no_memsw_fixture();
	test_zswap();
	test_verbatim();
	test_enospc();
	test_no_trailing_newline();
	test_odd_lines();
	test_host_without_memtotal();
	return check_report("meminfo");
}
