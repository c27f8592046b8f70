/*
 * render_vmstat() and the memory.stat parser that feeds it: what a
 * container's /proc/vmstat shows for the memory.stat fixtures of
 * tests/fixtures/meminfo/ on the 6.18 host of tests/fixtures/vmstat/.
 *
 * Every line of a rendering is checked: the lines of the table in
 * proc_render/vmstat.c carry the figure worked out below in the kernel's
 * unit, every other line is the host's as it is, in the host's order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc_render/vmstat.h"
#include "tests/unit/check.h"
#include "tests/unit/fixture.h"
#include "workers/cgroup.h"

static char host[16384], stat_v1[8192], stat_v2[8192], out[32768];
static size_t host_len;
static const struct vmstat_units x86 = {4096, 2 << 20};

struct want {
	const char *name;
	uint64_t value;
};

/* The value after "name " in text, or -1 when no such line. */
static int64_t line_value(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

/*
 * got has the host's lines in the host's order; the lines of want[] hold
 * their values, every other line is the host's verbatim.
 */
static void check_render(const char *got, const struct want *want, size_t nwant, const char *what)
{
	const char *h = host, *g = got;
	size_t lines = 0, replaced = 0;

	while (*h && *g) {
		const char *he = strchrnul(h, '\n'), *ge = strchrnul(g, '\n');
		const char *hs = memchr(h, ' ', (size_t)(he - h));
		size_t i;

		lines++;
		for (i = 0; hs && i < nwant; i++)
			if (strlen(want[i].name) == (size_t)(hs - h) &&
			    memcmp(want[i].name, h, (size_t)(hs - h)) == 0)
				break;
		if (hs && i < nwant) {
			char line[128];

			snprintf(line, sizeof(line), "%s %" PRIu64, want[i].name, want[i].value);
			if (strlen(line) != (size_t)(ge - g) ||
			    memcmp(line, g, (size_t)(ge - g)) != 0)
				fprintf(stderr, "%s: line %zu is '%.*s', want '%s'\n", what, lines,
				        (int)(ge - g), g, line);
			CHECK(strlen(line) == (size_t)(ge - g) &&
			      memcmp(line, g, (size_t)(ge - g)) == 0);
			replaced++;
		} else {
			if ((he - h) != (ge - g) || memcmp(h, g, (size_t)(he - h)) != 0)
				fprintf(stderr, "%s: line %zu is '%.*s', the host's '%.*s'\n", what,
				        lines, (int)(ge - g), g, (int)(he - h), h);
			CHECK((he - h) == (ge - g) && memcmp(h, g, (size_t)(he - h)) == 0);
		}
		h = *he ? he + 1 : he;
		g = *ge ? ge + 1 : ge;
	}
	CHECK(*h == '\0' && *g == '\0'); /* as many lines as the host */
	CHECK_EQ_U64(replaced, nwant);   /* every expected line is in the host's text */
}

/*
 * v2, memory.stat.v2 (a 512 MiB container) with meminfo's MemFree of
 * 268328 kB: sizes in 4 KiB pages, kernel_stack in kB, anon_thp in 2 MiB
 * pages; events as they are. pswpin and pswpout are not in this kernel's
 * memory.stat: the host's lines stay.
 */
static const struct want want_v2[] = {
    {"nr_free_pages", 67082},         /* 268328 kB */
    {"nr_zone_inactive_anon", 4608},  /* 18874368 B */
    {"nr_zone_active_anon", 23040},   /* 94371840 B */
    {"nr_zone_inactive_file", 16384}, /* 67108864 B */
    {"nr_zone_active_file", 14336},   /* 58720256 B */
    {"nr_zone_unevictable", 0},
    {"nr_zone_write_pending", 16}, /* file_dirty 65536 + file_writeback 0 */
    {"nr_inactive_anon", 4608},
    {"nr_active_anon", 23040},
    {"nr_inactive_file", 16384},
    {"nr_active_file", 14336},
    {"nr_unevictable", 0},
    {"nr_slab_reclaimable", 4096},   /* 16777216 B */
    {"nr_slab_unreclaimable", 1024}, /* 4194304 B */
    {"workingset_refault_anon", 12},
    {"workingset_refault_file", 2318},
    {"workingset_activate_anon", 0},
    {"workingset_activate_file", 1046},
    {"workingset_restore_anon", 0},
    {"workingset_restore_file", 17},
    {"workingset_nodereclaim", 0},
    {"nr_anon_pages", 25600}, /* anon 104857600 B */
    {"nr_mapped", 8192},      /* file_mapped 33554432 B */
    {"nr_file_pages", 32768}, /* file 134217728 B */
    {"nr_dirty", 16},
    {"nr_writeback", 0},
    {"nr_shmem", 2048}, /* 8388608 B */
    {"nr_shmem_hugepages", 0},
    {"nr_file_hugepages", 0},
    {"nr_anon_transparent_hugepages", 2}, /* anon_thp 4194304 B */
    {"nr_kernel_stack", 720},             /* 737280 B, in kB as the kernel prints it */
    {"nr_page_table_pages", 320},         /* 1310720 B */
    {"nr_sec_page_table_pages", 0},
    {"nr_swapcached", 64}, /* 262144 B */
    {"pgpromote_success", 0},
    {"pgdemote_kswapd", 0},
    {"pgdemote_direct", 0},
    {"pgdemote_khugepaged", 0},
    {"pgactivate", 15032},
    {"pgdeactivate", 6121},
    {"pglazyfree", 0},
    {"pgfault", 1820563},
    {"pgmajfault", 341},
    {"pglazyfreed", 0},
    {"pgrefill", 7724},
    {"pgsteal_kswapd", 0},
    {"pgsteal_direct", 38892},
    {"pgsteal_khugepaged", 0},
    {"pgscan_kswapd", 0},
    {"pgscan_direct", 40211},
    {"pgscan_khugepaged", 0},
    {"numa_pte_updates", 0},
    {"numa_hint_faults", 0},
    {"numa_pages_migrated", 0},
    {"thp_fault_alloc", 2},
    {"thp_collapse_alloc", 0},
    {"thp_swpout", 0},
    {"thp_swpout_fallback", 0},
    {"swpin_zero", 0},
    {"swpout_zero", 14},
    {"zswpin", 1930},
    {"zswpout", 13458},
    {"zswpwb", 0},
};

static void test_v2(void)
{
	struct cg_vmstat vm;
	ssize_t n;

	CHECK(cg_parse_vmstat(stat_v2, strlen(stat_v2), 2, &vm) == 0);
	n = render_vmstat(host, host_len, &vm, 268328, &x86, out, sizeof(out));
	CHECK(n > 0);
	out[n > 0 ? n : 0] = '\0';
	check_render(out, want_v2, sizeof(want_v2) / sizeof(want_v2[0]), "v2");

	/* A 64 KiB-page arm64 kernel with 512 MiB huge pages: the same bytes, other units. */
	n = render_vmstat(host, host_len, &vm, 268328, &(struct vmstat_units){65536, 512 << 20},
	                  out, sizeof(out));
	out[n > 0 ? n : 0] = '\0';
	CHECK_EQ_U64(line_value(out, "nr_free_pages"), 4192); /* 268328 kB / 64 */
	CHECK_EQ_U64(line_value(out, "nr_file_pages"), 2048);
	CHECK_EQ_U64(line_value(out, "nr_anon_transparent_hugepages"), 0);
	CHECK_EQ_U64(line_value(out, "nr_kernel_stack"), 720);
}

/*
 * v1, memory.stat.v1 (300 MiB): only the total_* keys count (the local ones
 * of the same names are the cgroup's own, without its children). v1 has no
 * slab, kernel stack, page table or reclaim figures: those lines are the
 * host's.
 */
static const struct want want_v1[] = {
    {"nr_free_pages", 37888},         /* 151552 kB */
    {"nr_zone_inactive_anon", 3072},  /* total_inactive_anon 12582912 */
    {"nr_zone_active_anon", 10240},   /* 41943040 */
    {"nr_zone_inactive_file", 10240}, /* 41943040 */
    {"nr_zone_active_file", 15360},   /* 62914560 */
    {"nr_zone_unevictable", 0},
    {"nr_zone_write_pending", 257}, /* total_dirty 1052672 + total_writeback 0 */
    {"nr_inactive_anon", 3072},
    {"nr_active_anon", 10240},
    {"nr_inactive_file", 10240},
    {"nr_active_file", 15360},
    {"nr_unevictable", 0},
    {"workingset_refault_anon", 0},
    {"workingset_refault_file", 1203},
    {"nr_anon_pages", 12288}, /* total_rss 50331648 */
    {"nr_mapped", 5120},      /* total_mapped_file 20971520 */
    {"nr_file_pages", 26624}, /* total_cache 109051904 */
    {"nr_dirty", 257},
    {"nr_writeback", 0},
    {"nr_shmem", 1024},                   /* 4194304 */
    {"nr_anon_transparent_hugepages", 1}, /* total_rss_huge 2097152 */
    {"nr_swapcached", 0},
    {"pgfault", 310242},
    {"pgmajfault", 87},
};

static void test_v1(void)
{
	struct cg_vmstat vm;
	ssize_t n;

	CHECK(cg_parse_vmstat(stat_v1, strlen(stat_v1), 1, &vm) == 0);
	n = render_vmstat(host, host_len, &vm, 151552, &x86, out, sizeof(out));
	CHECK(n > 0);
	out[n > 0 ? n : 0] = '\0';
	check_render(out, want_v1, sizeof(want_v1) / sizeof(want_v1[0]), "v1");
}

static void test_keys_and_errors(void)
{
	static const char bad[] = "anon 1\nfile x\n";
	static const char no_value[] = "anon\n";
	struct cg_vmstat vm = {.have = 7}, keep = vm;
	ssize_t n;

	CHECK(vmstat_key("anon", 4, 2) >= 0);
	CHECK(vmstat_key("anon", 4, 1) < 0); /* v1's is total_rss */
	CHECK(vmstat_key("total_rss", 9, 1) >= 0);
	CHECK(vmstat_key("rss", 3, 1) < 0);                  /* the local key */
	CHECK(vmstat_key("total_pgscan_direct", 19, 1) < 0); /* v2 only */
	CHECK(vmstat_key("pgscan", 6, 2) < 0);               /* no vmstat line of that name */
	CHECK(vmstat_key("anon", 4, 3) < 0);
	CHECK(cg_parse_vmstat(bad, strlen(bad), 2, &vm) == -EINVAL);
	CHECK(cg_parse_vmstat(no_value, strlen(no_value), 2, &vm) == -EINVAL);
	CHECK(memcmp(&vm, &keep, sizeof(vm)) == 0);
	CHECK(cg_parse_vmstat("", 0, 2, &vm) == 0 && vm.have == 0);

	/* Nothing known: the host's text but nr_free_pages. */
	n = render_vmstat(host, host_len, &vm, 4, &x86, out, sizeof(out));
	out[n > 0 ? n : 0] = '\0';
	check_render(out, &(struct want){"nr_free_pages", 1}, 1, "nothing known");
	CHECK(render_vmstat(host, host_len, &vm, 0, &x86, out, 100) == -ENOSPC);
	CHECK(render_vmstat(NULL, 0, &vm, 0, &x86, out, sizeof(out)) == -EINVAL);
	/* A last line without its newline gets one. */
	CHECK(render_vmstat("pgfault 5", 9, &vm, 0, &x86, out, sizeof(out)) == 10);
}

int main(void)
{
	host_len = fixture_load("tests/fixtures/vmstat/host.vmstat", host, sizeof(host));
	fixture_load("tests/fixtures/meminfo/memory.stat.v1", stat_v1, sizeof(stat_v1));
	fixture_load("tests/fixtures/meminfo/memory.stat.v2", stat_v2, sizeof(stat_v2));

	test_v2();
	test_v1();
	test_keys_and_errors();
	return check_report("vmstat");
}
