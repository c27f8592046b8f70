/*
 * CPU sets in the kernel's list format, and the lists of
 * /sys/devices/system/cpu (online, possible, present, offline).
 *
 * The kernel prints every CPU mask a container's view depends on (cpuset.cpus,
 * cpuset.cpus.effective, the online and possible files) with %*pbl: ranges
 * "a-b" and lone CPUs, comma-separated, a newline at the end. We parse that
 * and print it back the same way, so a container reading its online file sees
 * what the host kernel would print for the same mask.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proc_render/cpu.h"

static bool cpuset_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* One CPU number; -EINVAL without digits, -ERANGE at or above CPUSET_MAX. */
static int cpuset_number(const char **pp, const char *end, unsigned *out)
{
	const char *p = *pp;
	unsigned v = 0;

	if (p == end || *p < '0' || *p > '9')
		return -EINVAL;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v >= CPUSET_MAX)
			return -ERANGE;
	}
	*pp = p;
	*out = v;
	return 0;
}

int cpuset_parse(const char *text, size_t len, struct cpuset *out)
{
	const char *p = text, *end = text + len;
	struct cpuset set = {0};
	int ret;

	if (!text || !out)
		return -EINVAL;
	while (end > p && cpuset_blank(end[-1]))
		end--;

	while (p < end) {
		unsigned first, last;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		ret = cpuset_number(&p, end, &first);
		if (ret < 0)
			return ret;
		last = first;
		if (p < end && *p == '-') {
			p++;
			ret = cpuset_number(&p, end, &last);
			if (ret < 0)
				return ret;
			if (last < first)
				return -EINVAL;
		}
		for (unsigned cpu = first; cpu <= last; cpu++)
			cpuset_set(&set, cpu);

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		/* A comma must be followed by another item: "0," is malformed. */
		if (*p != ',' || ++p == end)
			return -EINVAL;
	}
	*out = set;
	return 0;
}

unsigned cpuset_count(const struct cpuset *s)
{
	unsigned n = 0;

	for (size_t i = 0; i < CPUSET_MAX / 64; i++)
		n += (unsigned)__builtin_popcountll(s->bits[i]);
	return n;
}

/* Next CPU at or after cpu that is (want = true) or is not in the set; CPUSET_MAX if none. */
static unsigned cpuset_next(const struct cpuset *s, unsigned cpu, bool want)
{
	while (cpu < CPUSET_MAX) {
		uint64_t word = s->bits[cpu / 64];

		if (!want)
			word = ~word;
		word &= ~0ULL << (cpu % 64);
		if (word)
			return (cpu & ~63u) + (unsigned)__builtin_ctzll(word);
		cpu = (cpu & ~63u) + 64;
	}
	return CPUSET_MAX;
}

ssize_t cpuset_format(const struct cpuset *s, char *buf, size_t size)
{
	struct cpu_out out = {.buf = buf, .size = size};
	unsigned cpu = cpuset_next(s, 0, true);

	while (cpu < CPUSET_MAX) {
		unsigned last = cpuset_next(s, cpu, false) - 1;

		if (out.len)
			cpu_out_put(&out, ",", 1);
		cpu_out_u64(&out, cpu);
		if (last > cpu) {
			cpu_out_put(&out, "-", 1);
			cpu_out_u64(&out, last);
		}
		cpu = last + 1 < CPUSET_MAX ? cpuset_next(s, last + 1, true) : CPUSET_MAX;
	}
	cpu_out_put(&out, "\n", 1);
	return cpu_out_result(&out);
}

/* dst = a & ~b. */
static void cpuset_minus(struct cpuset *dst, const struct cpuset *a, const struct cpuset *b)
{
	for (size_t i = 0; i < CPUSET_MAX / 64; i++)
		dst->bits[i] = a->bits[i] & ~b->bits[i];
}

void cpu_sys_view(const struct cpuset *visible, const struct cpu_host_masks *host, bool renumber,
                  unsigned cfs_cpus, struct cpu_sys_view *out)
{
	unsigned n;

	out->online = *visible;
	cpuset_and(&out->online, &host->online);
	out->possible = *visible;
	cpuset_and(&out->possible, &host->possible);
	out->present = *visible;
	cpuset_and(&out->present, &host->present);
	if (!renumber) {
		cpuset_minus(&out->offline, &out->possible, &out->online);
		out->dirs = out->possible;
		return;
	}

	/* A host of n CPUs, all of them online: the first n of 0, 1, 2... */
	n = cpuset_count(&out->online);
	if (cfs_cpus && cfs_cpus < n)
		n = cfs_cpus;
	memset(&out->online, 0, sizeof(out->online));
	for (unsigned c = 0; c < n; c++)
		cpuset_set(&out->online, c);
	out->possible = out->present = out->dirs = out->online;
	memset(&out->offline, 0, sizeof(out->offline));
}

ssize_t render_cpu_list(const struct cpu_sys_view *v, enum cpu_list which, char *buf, size_t size)
{
	switch (which) {
	case CPU_LIST_ONLINE:
		return cpuset_format(&v->online, buf, size);
	case CPU_LIST_POSSIBLE:
		return cpuset_format(&v->possible, buf, size);
	case CPU_LIST_PRESENT:
		return cpuset_format(&v->present, buf, size);
	case CPU_LIST_OFFLINE:
		return cpuset_format(&v->offline, buf, size);
	}
	return -EINVAL;
}
