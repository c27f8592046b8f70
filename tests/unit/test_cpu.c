/*
 * The CPU-shaped files: CPU lists, /proc/cpuinfo, /proc/stat and
 * /sys/devices/system/cpu/online as a container sees them, and the cgroup
 * readers that feed them, against the fixtures of tests/fixtures/cpu/ (see
 * the README there) and large hosts generated from them at run time.
 *
 * Runs from the repository root. Every rendering goes into a buffer with
 * guard bytes after the size it is given, checked untouched afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_render/cpu.h"
#include "tests/unit/check.h"
#include "workers/cg_cpu.h"

#define FIXTURES "tests/fixtures/cpu/"
#define GUARD    64

/* Whole file into a NUL-terminated malloc'd buffer; exits when it cannot. */
static char *slurp(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (!buf || fd < 0) {
		fprintf(stderr, "open %s: %s (run from the repository root)\n", path,
		        strerror(errno));
		exit(2);
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			buf = realloc(buf, cap *= 2);
			if (!buf)
				exit(2);
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static struct cpuset set_of(const char *list)
{
	struct cpuset s;

	if (cpuset_parse(list, strlen(list), &s) < 0) {
		fprintf(stderr, "bad CPU list in the test: %s\n", list);
		exit(2);
	}
	return s;
}

/* A buffer of size bytes followed by guard bytes that nothing may write. */
struct guarded {
	char *buf;
	size_t size;
};

static struct guarded guarded_new(size_t size)
{
	struct guarded g = {malloc(size + GUARD + 1), size};

	if (!g.buf)
		exit(2);
	memset(g.buf, 0x5a, size + GUARD + 1);
	return g;
}

static bool guard_intact(const struct guarded *g)
{
	for (size_t i = 0; i < GUARD; i++) {
		if ((unsigned char)g->buf[g->size + i] != 0x5a)
			return false;
	}
	return true;
}

/* NUL-terminate a result of n bytes (the guard area has room) for CHECK_STR. */
static const char *text_of(struct guarded *g, ssize_t n)
{
	static char none[] = "(error)";

	if (n < 0)
		return none;
	g->buf[n] = '\0';
	return g->buf;
}

static void guarded_free(struct guarded *g)
{
	free(g->buf);
	g->buf = NULL;
}

/* ---- CPU lists ---------------------------------------------------------- */

static void test_cpuset_parse(void)
{
	struct cpuset s = set_of("0-3,8,10-11\n"), keep;

	CHECK_EQ_U64(cpuset_count(&s), 7);
	CHECK(cpuset_has(&s, 0) && cpuset_has(&s, 3) && cpuset_has(&s, 8) && cpuset_has(&s, 11));
	CHECK(!cpuset_has(&s, 4) && !cpuset_has(&s, 9) && !cpuset_has(&s, 12));

	s = set_of("5");
	CHECK_EQ_U64(cpuset_count(&s), 1);
	CHECK(cpuset_has(&s, 5));
	s = set_of("");
	CHECK_EQ_U64(cpuset_count(&s), 0);
	s = set_of("\n");
	CHECK_EQ_U64(cpuset_count(&s), 0);
	s = set_of(" 0-1 ,\t4 \n");
	CHECK_EQ_U64(cpuset_count(&s), 3);
	s = set_of("0-8191");
	CHECK_EQ_U64(cpuset_count(&s), 8192);
	s = set_of("007");
	CHECK(cpuset_has(&s, 7));

	keep = set_of("1");
	s = keep;
	static const char *const bad[] = {"1-", "-1",  "3-1",    "a",     "0,,1", "0,",
	                                  ",0", "1 2", "0-3\n5", "0-1-2", "0x1",  "1;2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = cpuset_parse(bad[i], strlen(bad[i]), &s);

		if (ret != -EINVAL)
			fprintf(stderr, "cpuset_parse(\"%s\") = %d\n", bad[i], ret);
		CHECK(ret == -EINVAL);
	}
	CHECK(cpuset_parse("8192", 4, &s) == -ERANGE);
	CHECK(cpuset_parse("0-99999999999", 13, &s) == -ERANGE);
	CHECK(memcmp(&s, &keep, sizeof(s)) == 0); /* untouched by every failure */
	/* Only len bytes are read: no terminator needed. */
	CHECK(cpuset_parse("2-3XYZ", 3, &s) == 0 && cpuset_count(&s) == 2);
}

static void test_cpuset_format(void)
{
	static const char *const lists[] = {
	    "0,2-3\n", "0-1\n", "\n", "0-8191\n", "1,3,5\n", "63-64\n", "0,63-64,127-129,8191\n",
	    "7\n"};
	struct guarded g = guarded_new(64 * 1024);
	ssize_t n;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct cpuset s = set_of(lists[i]);

		n = cpuset_format(&s, g.buf, g.size);
		CHECK_STR(text_of(&g, n), lists[i]);
	}

	/* Every other CPU of 8192: the longest list there is, and back again. */
	struct cpuset odd = {0}, back;
	for (unsigned c = 1; c < CPUSET_MAX; c += 2)
		cpuset_set(&odd, c);
	n = cpuset_format(&odd, g.buf, g.size);
	CHECK(n > 0 && cpuset_parse(g.buf, (size_t)n, &back) == 0);
	CHECK(memcmp(&odd, &back, sizeof(odd)) == 0);
	CHECK(guard_intact(&g));
	guarded_free(&g);

	struct cpuset s = set_of("0,2-3");
	g = guarded_new(5);
	CHECK(cpuset_format(&s, g.buf, g.size) == -ENOSPC);
	CHECK(guard_intact(&g));
	guarded_free(&g);
}

/* The four lists of view v as one string: "online|possible|present|offline". */
static const char *lists_of(const struct cpu_sys_view *v)
{
	static char all[1024];
	struct guarded g = guarded_new(256);
	size_t len = 0;

	all[0] = '\0';
	for (enum cpu_list l = CPU_LIST_ONLINE; l <= CPU_LIST_OFFLINE; l++) {
		ssize_t n = render_cpu_list(v, l, g.buf, g.size);

		CHECK(n > 0 && g.buf[n - 1] == '\n');
		len += (size_t)snprintf(all + len, sizeof(all) - len, "%s%.*s", l ? "|" : "",
		                        n > 0 ? (int)n - 1 : 0, g.buf);
	}
	CHECK(guard_intact(&g));
	guarded_free(&g);
	return all;
}

static void test_cpu_lists(void)
{
	/* A VM host: 8 CPUs possible, 0-5 present, 0-3 online (4 and 5 taken offline). */
	struct cpu_host_masks host = {set_of("0-3"), set_of("0-7"), set_of("0-5")};
	struct cpuset s = set_of("2-3,5"), none = {0}, all;
	static struct cpu_sys_view v;
	struct guarded g = guarded_new(256);

	/* Its cpuset's CPUs with the host's numbers, online or not as the host has them. */
	cpu_sys_view(&s, &host, false, 0, &v);
	CHECK_STR(lists_of(&v), "2-3|2-3,5|2-3,5|5");
	CHECK(cpuset_count(&v.dirs) == 3 && cpuset_has(&v.dirs, 5) && !cpuset_has(&v.dirs, 0));
	/* no cpuset at all: the host's own lists */
	cpuset_fill(&all);
	cpu_sys_view(&all, &host, false, 0, &v);
	CHECK_STR(lists_of(&v), "0-3|0-7|0-5|4-7");
	CHECK_EQ_U64(cpuset_count(&v.dirs), 8);
	/* v2 may name a CPU the host lacks altogether */
	s = set_of("1,9");
	cpu_sys_view(&s, &host, false, 0, &v);
	CHECK_STR(lists_of(&v), "1|1|1|");

	/* --enable-cfs: a host of n CPUs, all online, numbered from 0 */
	s = set_of("2-3,5");
	cpu_sys_view(&s, &host, true, 0, &v);
	CHECK_STR(lists_of(&v), "0-1|0-1|0-1|");
	CHECK(cpuset_count(&v.dirs) == 2 && cpuset_has(&v.dirs, 1));
	cpu_sys_view(&s, &host, true, 1, &v);
	CHECK_STR(lists_of(&v), "0|0|0|");
	cpu_sys_view(&s, &host, true, 8, &v);
	CHECK_STR(lists_of(&v), "0-1|0-1|0-1|");
	cpu_sys_view(&all, &host, true, 3, &v);
	CHECK_STR(lists_of(&v), "0-2|0-2|0-2|");
	cpu_sys_view(&none, &host, true, 4, &v);
	CHECK_STR(lists_of(&v), "|||");
	CHECK_EQ_U64(cpuset_count(&v.dirs), 0);
	cpu_sys_view(&none, &host, false, 0, &v);
	CHECK_STR(lists_of(&v), "|||");

	s = set_of("2-3,5");
	cpu_sys_view(&s, &host, false, 0, &v);
	CHECK(render_cpu_list(&v, CPU_LIST_POSSIBLE, g.buf, 3) == -ENOSPC);
	CHECK(render_cpu_list(&v, (enum cpu_list)9, g.buf, g.size) == -EINVAL);
	CHECK(guard_intact(&g));
	guarded_free(&g);
}

/* ---- cpuinfo ------------------------------------------------------------ */

/* Render into a buffer of exactly the size needed, checking that one byte less fails. */
static char *cpuinfo_of(const char *host, size_t len, const char *list, unsigned max_cpus,
                        ssize_t *out_len)
{
	struct cpuset s = set_of(list);
	struct guarded g = guarded_new(len + 64);
	ssize_t n = render_cpuinfo(host, len, &s, max_cpus, g.buf, g.size);

	CHECK(guard_intact(&g));
	if (n > 0) {
		struct guarded tight = guarded_new((size_t)n - 1);

		CHECK(render_cpuinfo(host, len, &s, max_cpus, tight.buf, tight.size) == -ENOSPC);
		CHECK(guard_intact(&tight));
		guarded_free(&tight);
		g.buf[n] = '\0';
	}
	*out_len = n;
	return g.buf;
}

/* The index-th block (0-based) of an x86 cpuinfo text, blank line included. */
static char *x86_block(const char *host, unsigned index)
{
	const char *p = host, *e;

	for (unsigned i = 0; i < index; i++)
		p = strstr(p, "\n\n") + 2;
	e = strstr(p, "\n\n") + 2;
	return strndup(p, (size_t)(e - p));
}

static void test_cpuinfo_x86(void)
{
	size_t len;
	char *host = slurp(FIXTURES "cpuinfo.x86-2", &len), *out, *b1, *want;
	ssize_t n;

	/* Both CPUs: the host's text, byte for byte. */
	out = cpuinfo_of(host, len, "0-1", 0, &n);
	CHECK_EQ_U64(n, len);
	CHECK_STR(out, host);
	free(out);

	/* CPU 1 alone: its block, as processor 0. */
	b1 = x86_block(host, 1);
	CHECK(strncmp(b1, "processor\t: 1\n", 14) == 0);
	if (asprintf(&want, "processor\t: 0\n%s", b1 + 14) < 0)
		exit(2);
	out = cpuinfo_of(host, len, "1", 0, &n);
	CHECK_STR(out, want);
	free(out);
	free(want);
	free(b1);

	/* --enable-cfs with a one-CPU quota: the first visible block only. */
	want = x86_block(host, 0);
	out = cpuinfo_of(host, len, "0-1", 1, &n);
	CHECK_STR(out, want);
	free(out);
	free(want);

	/* A cpuset of CPUs this host does not have shows nothing. */
	out = cpuinfo_of(host, len, "4-7", 0, &n);
	CHECK(n == 0);
	free(out);
	free(host);
}

/* A 256-CPU x86 host: block 0 of the fixture with each CPU's own numbers. */
static char *cpuinfo_x86_256(size_t *len)
{
	size_t hlen, cap = 1 << 20, n = 0;
	char *host = slurp(FIXTURES "cpuinfo.x86-2", &hlen), *b0 = x86_block(host, 0);
	char *text = malloc(cap);

	if (!text)
		exit(2);
	for (unsigned cpu = 0; cpu < 256; cpu++) {
		for (const char *p = b0; *p;) {
			const char *eol = strchr(p, '\n');
			int line = (int)(eol - p);

			/* Each CPU its own core and APIC id, as on a real machine. */
			if (strncmp(p, "processor", 9) == 0)
				n += (size_t)snprintf(text + n, cap - n, "processor\t: %u\n", cpu);
			else if (strncmp(p, "core id", 7) == 0)
				n += (size_t)snprintf(text + n, cap - n, "core id\t\t: %u\n", cpu);
			else if (strncmp(p, "apicid", 6) == 0)
				n += (size_t)snprintf(text + n, cap - n, "apicid\t\t: %u\n", cpu);
			else if (strncmp(p, "initial apicid", 14) == 0)
				n += (size_t)snprintf(text + n, cap - n, "initial apicid\t: %u\n",
				                      cpu);
			else
				n += (size_t)snprintf(text + n, cap - n, "%.*s\n", line, p);
			p = eol + 1;
		}
	}
	free(b0);
	free(host);
	*len = n;
	return text;
}

/* The "processor" numbers and apicids of a cpuinfo text, in order. */
static unsigned cpuinfo_numbers(const char *text, unsigned *proc, unsigned *apic, unsigned max)
{
	unsigned count = 0, a = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (sscanf(p, "processor\t: %u", &proc[count < max ? count : max - 1]) == 1)
			count++;
		else if (strncmp(p, "apicid", 6) == 0 && a < max)
			sscanf(p, "apicid\t\t: %u", &apic[a++]);
	}
	return count;
}

static void test_cpuinfo_256(void)
{
	static unsigned proc[512], apic[512];
	size_t len;
	char *host = cpuinfo_x86_256(&len), *out;
	struct cpuset all = set_of("0-255"), odd = {0};
	struct guarded g;
	ssize_t n;
	bool order = true;

	/* No truncation for big hosts: the whole ~380 KiB comes back. */
	CHECK(len > 300 * 1024);
	out = cpuinfo_of(host, len, "0-255", 0, &n);
	CHECK_EQ_U64(n, len);
	CHECK(n > 0 && memcmp(out, host, len) == 0);
	CHECK_EQ_U64(cpuinfo_numbers(out, proc, apic, 512), 256);
	for (unsigned i = 0; i < 256; i++)
		order = order && proc[i] == i && apic[i] == i;
	CHECK(order);
	free(out);

	/* Too small, then grown as the worker does: -ENOSPC, then all of it. */
	g = guarded_new(len / 2);
	CHECK(render_cpuinfo(host, len, &all, 0, g.buf, g.size) == -ENOSPC);
	CHECK(guard_intact(&g));
	guarded_free(&g);
	g = guarded_new(len);
	n = render_cpuinfo(host, len, &all, 0, g.buf, g.size);
	CHECK_EQ_U64(n, len);
	CHECK(guard_intact(&g));
	guarded_free(&g);

	/* The odd CPUs: 128 blocks numbered 0..127, each the block of CPU 2k+1. */
	for (unsigned c = 1; c < 256; c += 2)
		cpuset_set(&odd, c);
	g = guarded_new(len);
	n = render_cpuinfo(host, len, &odd, 0, g.buf, g.size);
	CHECK(n > 0 && (size_t)n < len);
	CHECK_EQ_U64(cpuinfo_numbers(text_of(&g, n), proc, apic, 512), 128);
	order = true;
	for (unsigned i = 0; i < 128; i++)
		order = order && proc[i] == i && apic[i] == 2 * i + 1;
	CHECK(order);

	/* --enable-cfs with 100 CPUs of quota: the first 100 of them. */
	n = render_cpuinfo(host, len, &odd, 100, g.buf, g.size);
	CHECK_EQ_U64(cpuinfo_numbers(text_of(&g, n), proc, apic, 512), 100);
	CHECK(proc[99] == 99 && apic[99] == 199);
	CHECK(guard_intact(&g));
	guarded_free(&g);
	free(host);
}

static void test_cpuinfo_arm(void)
{
	size_t len;
	char *host = slurp(FIXTURES "cpuinfo.arm64-4", &len), *out;
	ssize_t n;

	out = cpuinfo_of(host, len, "1,3", 0, &n);
	CHECK_STR(out, "processor\t: 0\n"
	               "BogoMIPS\t: 50.00\n"
	               "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
	               "asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\n"
	               "CPU implementer\t: 0x41\n"
	               "CPU architecture: 8\n"
	               "CPU variant\t: 0x3\n"
	               "CPU part\t: 0xd0c\n"
	               "CPU revision\t: 1\n"
	               "\n"
	               "processor\t: 1\n"
	               "BogoMIPS\t: 50.00\n"
	               "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
	               "asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\n"
	               "CPU implementer\t: 0x41\n"
	               "CPU architecture: 8\n"
	               "CPU variant\t: 0x3\n"
	               "CPU part\t: 0xd0c\n"
	               "CPU revision\t: 1\n"
	               "\n");
	free(out);
	free(host);

	/* arm32: the machine lines after the last block stay, whichever blocks go. */
	host = slurp(FIXTURES "cpuinfo.arm32-4", &len);
	out = cpuinfo_of(host, len, "2", 0, &n);
	CHECK_STR(out, "processor\t: 0\n"
	               "model name\t: ARMv7 Processor rev 4 (v7l)\n"
	               "BogoMIPS\t: 38.40\n"
	               "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt "
	               "vfpd32 lpae evtstrm crc32\n"
	               "CPU implementer\t: 0x41\n"
	               "CPU architecture: 7\n"
	               "CPU variant\t: 0x0\n"
	               "CPU part\t: 0xd03\n"
	               "CPU revision\t: 4\n"
	               "\n"
	               "Hardware\t: BCM2835\n"
	               "Revision\t: a02082\n"
	               "Serial\t\t: 00000000c2b1a3f4\n"
	               "Model\t\t: Raspberry Pi 3 Model B Rev 1.2\n");
	free(out);
	free(host);
}

static void test_cpuinfo_s390x(void)
{
	size_t len;
	char *host = slurp(FIXTURES "cpuinfo.s390x-4", &len), *out, *want;
	const char *lines = strstr(host, "processor 0:"), *facilities = strstr(host, "bogomips");
	ssize_t n;

	/* The header as it is but for the count; CPUs 1 and 2 as 0 and 1. */
	if (asprintf(&want,
	             "vendor_id       : IBM/S390\n"
	             "# processors    : 2\n"
	             "%.*s"
	             "processor 0: version = FF,  identification = 0133E8,  machine = 8561\n"
	             "processor 1: version = FF,  identification = 0133E8,  machine = 8561\n"
	             "\n"
	             "cpu number      : 0\n"
	             "cpu MHz dynamic : 5200\n"
	             "cpu MHz static  : 5200\n"
	             "\n"
	             "cpu number      : 1\n"
	             "cpu MHz dynamic : 5200\n"
	             "cpu MHz static  : 5200\n",
	             (int)(lines - facilities), facilities) < 0)
		exit(2);
	out = cpuinfo_of(host, len, "1-2", 0, &n);
	CHECK_STR(out, want);
	free(out);
	free(want);

	/* All four: the host's text. */
	out = cpuinfo_of(host, len, "0-3", 0, &n);
	CHECK_STR(out, host);
	free(out);
	free(host);
}

/* ---- stat --------------------------------------------------------------- */

static const char stat_rest[] =
    "intr 2576888 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 14 0 0 0 0 193 48 0 28 1 34766\n"
    "ctxt 18944227\n"
    "btime 1700000000\n"
    "processes 26913\n"
    "procs_running 2\n"
    "procs_blocked 0\n"
    "softirq 808173 0 60161 3 611 34764 0 2 84827 0 627805\n";

static ssize_t stat_render(const char *host, size_t len, const struct stat_view *v,
                           struct guarded *g)
{
	ssize_t n = render_stat(host, len, v, g->buf, g->size);

	CHECK(guard_intact(g));
	return n;
}

/* Render host's stat for v: cpu_lines, then the host's lines after its cpu ones. Its length. */
static ssize_t check_stat(const char *host, size_t len, const struct stat_view *v,
                          struct guarded *g, const char *cpu_lines)
{
	ssize_t n = stat_render(host, len, v, g);
	char *want;

	if (asprintf(&want, "%s%s", cpu_lines, stat_rest) < 0)
		exit(2);
	CHECK_STR(text_of(g, n), want);
	free(want);
	return n;
}

static struct cg_cpuacct *acct_of_fixture(const char *path)
{
	static struct cg_cpuacct acct;
	int root = open(FIXTURES "v1-cpuacct", O_PATH | O_DIRECTORY | O_CLOEXEC);

	CHECK(root >= 0 && cg_read_cpuacct(root, 1, path, &acct) == 0);
	close(root);
	return &acct;
}

/*
 * Host (tests/fixtures/cpu/stat.x86-4), per CPU: total = user+nice+system+idle
 * +iowait+irq+softirq+steal; weight = the same less idle and iowait.
 *   cpu0 total 11650 weight 1550, cpu1 8330 / 3130, cpu2 12860 / 810,
 *   cpu3 13760 / 710.
 */
static void test_stat_v1(void)
{
	size_t len;
	char *host = slurp(FIXTURES "stat.x86-4", &len);
	struct cpuset vis;
	struct cg_cpuacct *acct;
	struct stat_view v = {.visible = &vis};
	struct guarded g = guarded_new(4096);
	int root;
	ssize_t n;

	/* The container of the v1 fixtures: cpuset /lxc/c1 (1,3), cpuacct /lxc/c1. */
	root = open(FIXTURES "v1-cpuset", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(root >= 0 && cg_read_cpuset(root, 1, "/lxc/c1", &vis) == 0);
	close(root);
	acct = acct_of_fixture("/lxc/c1");
	v.acct = acct;

	/*
	 * cpu1: user 8e9 ns = 800, system 3e9 = 300, idle' = 8330 - 1100.
	 * cpu3: user 2.5e9 = 250, system 1234567890 = 123, idle' = 13760 - 373.
	 */
	check_stat(host, len, &v, &g,
	           "cpu  1050 0 423 20617 0 0 0 0 0 0\n"
	           "cpu1 800 0 300 7230 0 0 0 0 0 0\n"
	           "cpu3 250 0 123 13387 0 0 0 0 0 0\n");

	/* No usage figures: the host's lines of CPUs 1 and 3, with their numbers. */
	v.acct = NULL;
	check_stat(host, len, &v, &g,
	           "cpu  2500 100 1200 18000 250 0 40 0 0 0\n"
	           "cpu1 2000 100 1000 5000 200 0 30 0 0 0\n"
	           "cpu3 500 0 200 13000 50 0 10 0 0 0\n");

	/* The container's thread counts replace the host's procs lines, nothing else. */
	v.procs = true;
	v.procs_running = 7;
	v.procs_blocked = 12345;
	n = stat_render(host, len, &v, &g);
	CHECK(n > 0 && strstr(text_of(&g, n), "\nprocs_running 7\nprocs_blocked 12345\n") &&
	      strstr(g.buf, "\nprocesses 26913\n") && strstr(g.buf, "\nctxt 18944227\n"));
	CHECK(!strstr(g.buf, "procs_running 2"));
	v.procs = false;

	/* The cfs view numbers the same lines 0..n-1, as its online file does. */
	v.renumber = true;
	check_stat(host, len, &v, &g,
	           "cpu  2500 100 1200 18000 250 0 40 0 0 0\n"
	           "cpu0 2000 100 1000 5000 200 0 30 0 0 0\n"
	           "cpu1 500 0 200 13000 50 0 10 0 0 0\n");
	v.renumber = false;

	/* Every CPU visible, nothing to hide: the host's text. */
	vis = set_of("0-7");
	n = stat_render(host, len, &v, &g);
	CHECK_STR(text_of(&g, n), host);

	/* Without room: -ENOSPC and nothing past the size. */
	guarded_free(&g);
	g = guarded_new(100);
	CHECK(stat_render(host, len, &v, &g) == -ENOSPC);
	guarded_free(&g);

	/* A host text without cpu lines is not /proc/stat. */
	g = guarded_new(4096);
	CHECK(render_stat(stat_rest, strlen(stat_rest), &v, g.buf, g.size) == -EINVAL);
	guarded_free(&g);
	free(host);
}

static void test_stat_v2(void)
{
	size_t len;
	char *host = slurp(FIXTURES "stat.x86-4", &len);
	struct cpuset vis = set_of("0-3");
	struct cg_cpu_stat cs;
	struct stat_view v = {.visible = &vis, .cpu_stat = &cs};
	struct guarded g = guarded_new(4096);
	int root = open(FIXTURES "v2", O_PATH | O_DIRECTORY | O_CLOEXEC);

	/* machine.slice/c1: user 9 s, system 3 s = 900 + 300 ticks. */
	CHECK(root >= 0 && cg_read_cpu_stat_v2(root, 2, "/machine.slice/c1", &cs) == 0);
	close(root);

	/*
	 * 1200 ticks by weight 1550:3130:810:710 (of 6200), cumulatively:
	 * floor(1200 * 1550/6200) = 300, * 4680/6200 = 905, * 5490/6200 = 1062,
	 * 1200: shares 300, 605, 157, 138. User parts: floor(900 * 300/1200) =
	 * 225, floor(900 * 905/1200) = 678, 796, 900: 225, 453, 118, 104.
	 */
	check_stat(host, len, &v, &g,
	           "cpu  900 0 300 45400 0 0 0 0 0 0\n"
	           "cpu0 225 0 75 11350 0 0 0 0 0 0\n"
	           "cpu1 453 0 152 7725 0 0 0 0 0 0\n"
	           "cpu2 118 0 39 12703 0 0 0 0 0 0\n"
	           "cpu3 104 0 34 13622 0 0 0 0 0 0\n");

	/* Two CPUs visible: the whole 1200 on them, 3130:710. */
	vis = set_of("1,3");
	check_stat(host, len, &v, &g,
	           "cpu  900 0 300 20890 0 0 0 0 0 0\n"
	           "cpu1 733 0 245 7352 0 0 0 0 0 0\n"
	           "cpu3 167 0 55 13538 0 0 0 0 0 0\n");
	guarded_free(&g);
	free(host);
}

static void test_stat_cfs(void)
{
	size_t len;
	char *host = slurp(FIXTURES "stat.x86-4", &len);
	struct cpuset vis = set_of("0-3");
	struct stat_view v = {.visible = &vis, .max_cpus = 2, .renumber = true};
	struct guarded g = guarded_new(4096);

	/*
	 * Shown: host CPUs 0 and 1, own time 100+50 and 800+300, room 11500 and
	 * 7230 (of 18730). Hidden CPU 3's 250+123 goes to them by room:
	 * floor(373 * 11500/18730) = 229 of which floor(250 * 229/373) = 153
	 * user, then the rest, 144 of which 97 user.
	 */
	v.acct = acct_of_fixture("/lxc/c1");
	check_stat(host, len, &v, &g,
	           "cpu  1150 0 473 18357 0 0 0 0 0 0\n"
	           "cpu0 253 0 126 11271 0 0 0 0 0 0\n"
	           "cpu1 897 0 347 7086 0 0 0 0 0 0\n");

	/* Without usage figures the first two lines as they are. */
	v.acct = NULL;
	check_stat(host, len, &v, &g,
	           "cpu  3000 100 1500 15000 300 0 80 0 0 0\n"
	           "cpu0 1000 0 500 10000 100 0 50 0 0 0\n"
	           "cpu1 2000 100 1000 5000 200 0 30 0 0 0\n");
	guarded_free(&g);
	free(host);
}

/* The n-th CPU (from 0) of s, or CPUSET_MAX. */
static unsigned cpuset_nth(const struct cpuset *s, unsigned n)
{
	for (unsigned c = 0; c < CPUSET_MAX; c++)
		if (cpuset_has(s, c) && n-- == 0)
			return c;
	return CPUSET_MAX;
}

/*
 * The cpuN and "cpu" lines of a rendering, parsed back. *order: every line
 * has ten counters and the n-th cpuN line is numbered the n-th CPU of ids
 * (the host's numbers), or n when ids is NULL (the cfs view).
 */
static unsigned stat_parse(const char *text, uint64_t all[ST_NFIELDS], uint64_t (*cpu)[ST_NFIELDS],
                           unsigned max, const struct cpuset *ids, bool *order)
{
	unsigned n = 0;

	*order = true;
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned long long f[ST_NFIELDS];
		unsigned num;
		uint64_t *dst;

		if (strncmp(p, "cpu  ", 5) == 0) {
			dst = all;
			p += 5;
		} else if (sscanf(p, "cpu%u ", &num) == 1) {
			*order = *order && num == (ids ? cpuset_nth(ids, n) : n);
			dst = n < max ? cpu[n] : all;
			n++;
			p = strchr(p, ' ') + 1;
		} else {
			continue;
		}
		if (sscanf(p, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1],
		           &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9]) != ST_NFIELDS)
			*order = false;
		for (int i = 0; i < ST_NFIELDS; i++)
			dst[i] = f[i];
	}
	return n;
}

static void test_stat_floor(void)
{
	size_t len;
	char *host = slurp(FIXTURES "stat.x86-4", &len);
	struct cpuset vis = set_of("1,3");
	static struct stat_floor floor, next;
	struct stat_view v = {.visible = &vis, .prev = &floor, .next = &floor};
	struct guarded g = guarded_new(4096);
	ssize_t n;

	/* Last time cpu1 showed more user time and idle than now; cpu3 less. */
	v.acct = acct_of_fixture("/lxc/c1");
	floor.cpu[1][ST_USER] = 900;
	floor.cpu[1][ST_IDLE] = 8000;
	floor.cpu[3][ST_IDLE] = 100;
	floor.cpu[0][ST_USER] = 99999; /* another CPU's floor: not this one's */
	floor.all[ST_SYSTEM] = 500;
	n = check_stat(host, len, &v, &g,
	               "cpu  1150 0 500 21387 0 0 0 0 0 0\n"
	               "cpu1 900 0 300 8000 0 0 0 0 0 0\n"
	               "cpu3 250 0 123 13387 0 0 0 0 0 0\n");
	/* The floor now holds what was shown, and rendering again shows the same. */
	CHECK_EQ_U64(floor.cpu[1][ST_USER], 900);
	CHECK_EQ_U64(floor.cpu[3][ST_IDLE], 13387);
	CHECK_EQ_U64(floor.cpu[0][ST_USER], 99999);
	CHECK_EQ_U64(floor.all[ST_SYSTEM], 500);
	CHECK_EQ_U64(floor.all[ST_IDLE], 21387);
	CHECK_EQ_U64(stat_render(host, len, &v, &g), n);

	/*
	 * v2 shares follow the host's busy time: when only CPU 3 gets busier,
	 * CPU 1's share of the same usage falls. Unclamped its line goes
	 * backwards; with the floor it stays.
	 */
	static const char before[] = "cpu  0 0 0 0 0 0 0 0 0 0\n"
	                             "cpu0 100 0 0 1000 0 0 0 0 0 0\n"
	                             "cpu1 100 0 0 1000 0 0 0 0 0 0\n";
	static const char after[] = "cpu  0 0 0 0 0 0 0 0 0 0\n"
	                            "cpu0 100 0 0 1100 0 0 0 0 0 0\n"
	                            "cpu1 300 0 0 1000 0 0 0 0 0 0\n";
	struct cg_cpu_stat cs = {.usage_usec = 1000000, .user_usec = 1000000};
	uint64_t all[ST_NFIELDS], lines[2][ST_NFIELDS], first[2][ST_NFIELDS];
	bool order;

	vis = set_of("0-1");
	memset(&floor, 0, sizeof(floor));
	v = (struct stat_view){.visible = &vis, .cpu_stat = &cs, .next = &next};
	n = stat_render(before, strlen(before), &v, &g);
	CHECK(stat_parse(text_of(&g, n), all, first, 2, &vis, &order) == 2 && order);
	CHECK_EQ_U64(first[0][ST_USER], 50);
	CHECK_EQ_U64(next.cpu[0][ST_USER], 50);
	CHECK_EQ_U64(next.cpu[5][ST_USER], 0); /* no prev: the rest of the floor is cleared */

	v.prev = &next;
	v.next = &floor;
	v.cpu_stat = &cs;
	cs.usage_usec = cs.user_usec = 1010000; /* one tick more */
	n = stat_render(after, strlen(after), &(struct stat_view){.visible = &vis, .cpu_stat = &cs},
	                &g);
	CHECK(stat_parse(text_of(&g, n), all, lines, 2, &vis, &order) == 2 && order);
	CHECK(lines[0][ST_USER] < first[0][ST_USER]); /* 101 * 100/400 = 25 < 50 */
	n = stat_render(after, strlen(after), &v, &g);
	CHECK(stat_parse(text_of(&g, n), all, lines, 2, &vis, &order) == 2 && order);
	CHECK_EQ_U64(lines[0][ST_USER], 50);
	CHECK(lines[1][ST_USER] >= first[1][ST_USER]);
	CHECK(all[ST_USER] >= 100);
	for (int i = 0; i < ST_NFIELDS; i++)
		CHECK(lines[0][i] >= first[0][i] && lines[1][i] >= first[1][i]);

	/* A cpuset that shrinks keeps the floor of the line that went. */
	vis = set_of("0");
	v.prev = v.next = &floor;
	n = stat_render(after, strlen(after), &v, &g);
	CHECK(stat_parse(text_of(&g, n), all, lines, 2, &vis, &order) == 1 && order);
	CHECK(floor.cpu[1][ST_USER] > 0);

	/*
	 * Moved to CPU 1 alone: its line is cpu1, clamped by cpu1's own floor,
	 * not by cpu0's (a renumbered line would inherit CPU 0's figures).
	 */
	vis = set_of("1");
	floor.cpu[0][ST_USER] = 77777;
	n = stat_render(after, strlen(after), &v, &g);
	CHECK(stat_parse(text_of(&g, n), all, lines, 2, &vis, &order) == 1 && order);
	CHECK(lines[0][ST_USER] >= first[1][ST_USER] && lines[0][ST_USER] < 77777);
	guarded_free(&g);
	free(host);
}

/* A 256-CPU /proc/stat and cpuacct: CPU c has user 1000 + c, idle 100000 + c... */
static char *stat_256(size_t *len, struct cg_cpuacct *acct)
{
	size_t cap = 1 << 16, n = 0;
	char *text = malloc(cap);

	if (!text)
		exit(2);
	n += (size_t)snprintf(text, cap, "cpu  1 2 3 4 5 6 7 8 9 10\n");
	for (unsigned c = 0; c < 256; c++) {
		n += (size_t)snprintf(text + n, cap - n, "cpu%u %u 0 %u %u 10 0 5 0 0 0\n", c,
		                      1000 + c, 500 + c, 100000 + c);
		acct->user_ns[c] = (uint64_t)(100 + c) * 10000000;
		acct->system_ns[c] = (uint64_t)(50 + c) * 10000000;
	}
	acct->ncpus = 256;
	n += (size_t)snprintf(text + n, cap - n, "%s", stat_rest);
	*len = n;
	return text;
}

static void test_stat_256(void)
{
	static struct cg_cpuacct acct;
	static uint64_t lines[256][ST_NFIELDS];
	uint64_t all[ST_NFIELDS], sum[ST_NFIELDS] = {0};
	size_t len;
	char *host = stat_256(&len, &acct);
	struct cpuset odd = {0};
	struct stat_view v = {.visible = &odd, .acct = &acct};
	struct guarded g = guarded_new(64);
	bool order, exact = true;
	ssize_t n;

	for (unsigned c = 1; c < 256; c += 2)
		cpuset_set(&odd, c);
	CHECK(stat_render(host, len, &v, &g) == -ENOSPC);
	guarded_free(&g);
	g = guarded_new(len + 4096);
	n = stat_render(host, len, &v, &g);
	CHECK(n > 0);
	CHECK_EQ_U64(stat_parse(text_of(&g, n), all, lines, 256, &odd, &order), 128);
	CHECK(order);
	/* Line k is host CPU 2k+1, so numbered: its own usage, idle' = its total less that. */
	for (unsigned k = 0; k < 128; k++) {
		unsigned c = 2 * k + 1;
		uint64_t total = (1000 + c) + (500 + c) + (100000 + c) + 10 + 5;

		exact = exact && lines[k][ST_USER] == 100 + c && lines[k][ST_SYSTEM] == 50 + c &&
		        lines[k][ST_IDLE] == total - (150 + 2 * c);
		for (int i = 0; i < ST_NFIELDS; i++)
			sum[i] += lines[k][i];
	}
	CHECK(exact);
	CHECK(memcmp(sum, all, sizeof(sum)) == 0);
	CHECK(strstr(g.buf, "\ncpu255 ") && strstr(g.buf, "\ncpu1 ") && !strstr(g.buf, "\ncpu0 ") &&
	      !strstr(g.buf, "\ncpu254 "));

	/* The cfs view of the same CPUs: cpu0..cpu127. */
	v.renumber = true;
	n = stat_render(host, len, &v, &g);
	CHECK_EQ_U64(stat_parse(text_of(&g, n), all, lines, 256, NULL, &order), 128);
	CHECK(order);
	v.renumber = false;
	CHECK(strstr(g.buf, stat_rest) != NULL);

	/* All 256, no usage: the host's lines, so the host's text but the first line. */
	cpuset_fill(&odd);
	v = (struct stat_view){.visible = &odd};
	n = stat_render(host, len, &v, &g);
	CHECK_EQ_U64(stat_parse(text_of(&g, n), all, lines, 256, NULL, &order), 256);
	CHECK(order && strcmp(strchr(g.buf, '\n'), strchr(host, '\n')) == 0);
	guarded_free(&g);
	free(host);
}

/* ---- cgroup readers ----------------------------------------------------- */

static int fixture_root(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return fd;
}

static void check_cpuset(int root, int version, const char *path, const char *want)
{
	struct cpuset s, w = set_of(want);
	int ret = cg_read_cpuset(root, version, path, &s);

	if (ret != 0 || memcmp(&s, &w, sizeof(s)) != 0)
		fprintf(stderr, "cg_read_cpuset v%d %s: %d, want %s\n", version, path, ret, want);
	CHECK(ret == 0 && memcmp(&s, &w, sizeof(s)) == 0);
}

static void check_cfs(int root, int version, const char *path, int want)
{
	unsigned cpus = 12345;
	int ret = cg_read_cfs(root, version, path, &cpus);

	if (want < 0) {
		CHECK_EQ_U64(ret, want);
		return;
	}
	CHECK(ret == 0);
	if (cpus != (unsigned)want)
		fprintf(stderr, "cg_read_cfs v%d %s: %u, want %d\n", version, path, cpus, want);
	CHECK_EQ_U64(cpus, want);
}

static void test_cg_cpuset(void)
{
	int v1 = fixture_root("v1-cpuset"), v2 = fixture_root("v2"), none = fixture_root("v1-cpu");
	struct cpuset s;

	check_cpuset(v1, 1, "/", "0-7");
	check_cpuset(v1, 1, "/lxc", "0-3");
	check_cpuset(v1, 1, "/lxc/c1", "1,3");
	check_cpuset(v1, 1, "/lxc/c2", "0-3"); /* empty: the parent's */
	check_cpuset(v1, 1, "//lxc//c1/", "1,3");
	CHECK(cg_read_cpuset(v1, 1, "/lxc/bad", &s) == -EINVAL);
	CHECK(cg_read_cpuset(v1, 1, "/lxc/gone", &s) == -ENOENT);
	CHECK(cg_read_cpuset(v1, 1, "/lxc/c1/cpuset.cpus", &s) == -ENOENT);
	CHECK(cg_read_cpuset(v1, 1, "/lxc/../lxc", &s) == -EINVAL);
	CHECK(cg_read_cpuset(v1, 1, "lxc", &s) == -EINVAL);

	check_cpuset(v2, 2, "/", "0-7");
	check_cpuset(v2, 2, "/machine.slice/c1", "2-5");
	check_cpuset(v2, 2, "/machine.slice/c2",
	             "0-7"); /* no cpuset files: the parent's effective */
	check_cpuset(v2, 2, "/machine.slice/c3", "6-7"); /* cpuset.cpus empty: its effective */

	CHECK(cg_read_cpuset(none, 1, "/lxc/c1", &s) == -ENODATA);
	close(v1);
	close(v2);
	close(none);
}

static void test_cg_cfs(void)
{
	int v1 = fixture_root("v1-cpu"), v2 = fixture_root("v2");
	uint64_t q, p;

	check_cfs(v1, 1, "/", 0);
	check_cfs(v1, 1, "/free", 0);
	check_cfs(v1, 1, "/lxc", 2);    /* 150000/100000 rounded up */
	check_cfs(v1, 1, "/lxc/c1", 2); /* none of its own: the parent's */
	check_cfs(v1, 1, "/lxc/c2", 1);
	check_cfs(v1, 1, "/lxc/c3", 2); /* 4 of its own, the parent's 2 is lower */
	check_cfs(v1, 1, "/lxc/bad", -EINVAL);
	check_cfs(v1, 1, "/lxc/gone", -ENOENT);

	check_cfs(v2, 2, "/", 0);
	check_cfs(v2, 2, "/machine.slice", 2);
	check_cfs(v2, 2, "/machine.slice/c1", 2); /* "max": the parent's */
	check_cfs(v2, 2, "/machine.slice/c2", 1);
	check_cfs(v2, 2, "/machine.slice/c3", 2);
	check_cfs(v2, 2, "/bad", -EINVAL);

	CHECK(cg_parse_cpu_max("max 100000\n", 11, &q, &p) == 0 && q == UINT64_MAX && p == 100000);
	CHECK(cg_parse_cpu_max("50000 100000", 12, &q, &p) == 0 && q == 50000 && p == 100000);
	CHECK(cg_parse_cpu_max("50000\n", 6, &q, &p) == -EINVAL);
	CHECK(cg_parse_cpu_max("max 0\n", 6, &q, &p) == -EINVAL);
	CHECK(cg_parse_cpu_max("1 2 3\n", 6, &q, &p) == -EINVAL);
	CHECK(cg_parse_cpu_max("-1 100000\n", 10, &q, &p) == -EINVAL);
	close(v1);
	close(v2);
}

static void test_cg_usage(void)
{
	static struct cg_cpuacct a;
	int v1 = fixture_root("v1-cpuacct"), v2 = fixture_root("v2");
	struct cg_cpu_stat cs;
	static const char all[] = "cpu user system\n0 5 6\n1 7 8\n";

	CHECK(cg_read_cpuacct(v1, 1, "/lxc/c1", &a) == 0);
	CHECK_EQ_U64(a.ncpus, 4);
	CHECK_EQ_U64(a.usage_ns, 13234567890ULL);
	CHECK_EQ_U64(a.user_ns[1], 8000000000ULL);
	CHECK_EQ_U64(a.system_ns[3], 1234567890ULL);

	/* Before 4.7: per-CPU totals split 300:100 as cpuacct.stat says. */
	CHECK(cg_read_cpuacct(v1, 1, "/lxc/old", &a) == 0);
	CHECK_EQ_U64(a.ncpus, 4);
	CHECK_EQ_U64(a.usage_ns, 4000000000ULL);
	CHECK_EQ_U64(a.user_ns[0], 2250000000ULL);
	CHECK_EQ_U64(a.system_ns[0], 750000000ULL);
	CHECK_EQ_U64(a.user_ns[1], 750000000ULL);
	CHECK_EQ_U64(a.user_ns[2] + a.system_ns[2], 0);

	CHECK(cg_read_cpuacct(v1, 1, "/", &a) == 0 && a.ncpus == 4);
	CHECK(cg_read_cpuacct(v1, 1, "/lxc/bad", &a) == -EINVAL);
	CHECK(cg_read_cpuacct(v1, 1, "/lxc/gone", &a) == -ENOENT);
	CHECK(cg_read_cpuacct(v2, 2, "/machine.slice/c1", &a) == -EOPNOTSUPP);
	CHECK(cg_parse_cpuacct_all(all, strlen(all), &a) == 0 && a.ncpus == 2 &&
	      a.system_ns[1] == 8);
	CHECK(cg_parse_cpuacct_all("cpu user\n0 1\n", 14, &a) == -EINVAL);
	CHECK(cg_parse_cpuacct_all("cpu user system\n0 1 2 3\n", 24, &a) == -EINVAL);
	CHECK(cg_parse_cpuacct_all("cpu user system\n9000 1 2\n", 25, &a) == -EINVAL);

	CHECK(cg_read_cpu_stat_v2(v2, 2, "/machine.slice/c1", &cs) == 0);
	CHECK_EQ_U64(cs.usage_usec, 12000000);
	CHECK_EQ_U64(cs.user_usec, 9000000);
	CHECK_EQ_U64(cs.system_usec, 3000000);
	CHECK(cg_read_cpu_stat_v2(v2, 2, "/", &cs) == 0 && cs.usage_usec == 987654321000ULL);
	CHECK(cg_read_cpu_stat_v2(v2, 2, "/bad", &cs) == -EINVAL);
	CHECK(cg_read_cpu_stat_v2(v2, 2, "/gone", &cs) == -ENOENT);
	CHECK(cg_read_cpu_stat_v2(v1, 1, "/lxc/c1", &cs) == -EOPNOTSUPP);
	close(v1);
	close(v2);
}

int main(void)
{
	test_cpuset_parse();
	test_cpuset_format();
	test_cpu_lists();
	test_cpuinfo_x86();
	test_cpuinfo_256();
	test_cpuinfo_arm();
	test_cpuinfo_s390x();
	test_stat_v1();
	test_stat_v2();
	test_stat_cfs();
	test_stat_floor();
	test_stat_256();
	test_cg_cpuset();
	test_cg_cfs();
	test_cg_usage();
	return check_report("test_cpu");
}
