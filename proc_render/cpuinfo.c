/*
 * /proc/cpuinfo for one container: the host's text with only the container's
 * CPUs in it, renumbered from 0.
 *
 * Architectures lay the file out in one of three ways, and we handle each
 * without knowing which one we are on:
 *
 *  - one block per CPU, opened by "processor\t: N" and closed by a blank line
 *    (x86, arm64, ppc64le, riscv). arm32 and some vendor arm64 kernels add
 *    lines such as "Hardware" after the last block; ppc64le adds "timebase",
 *    "platform" and "model". Those lines are outside any block and copied.
 *  - s390x: a machine-wide header with "# processors : N" and one line
 *    "processor N: version = ..." per CPU, then (since 4.15) one block per
 *    CPU opened by "cpu number : N". Header lines are copied, the per-CPU
 *    lines and blocks filtered and renumbered, and the count follows.
 *  - anything else: copied as it is, since there is nothing to filter.
 *
 * Upstream LXCFS (proc_cpuinfo_read in src/proc_cpuview.c) prints the blocks
 * whose processor is in the cpuset as "processor\t: %d" with a running count
 * and stops after max_cpus with --enable-cfs; it drops lines before the first
 * block. We keep the host's own spelling of the processor line (only the
 * number changes) and keep lines outside blocks.
 *
 * Other fields that number CPUs (core id, apicid, siblings, cpu cores) are
 * the hardware's and stay as they are, as upstream leaves them.
 */
#include <errno.h>
#include <string.h>

#include "proc_render/cpu.h"

enum cpuinfo_line {
	CI_OTHER,
	CI_BLANK,
	CI_BLOCK, /* "processor : N" or "cpu number : N": opens a CPU's block */
	CI_ENTRY, /* s390x "processor N: ...": one CPU on one line */
	CI_COUNT, /* s390x "# processors : N" */
};

/* Where a line's CPU number is, so it can be replaced. */
struct cpuinfo_num {
	unsigned cpu; /* CPUSET_MAX when too large to be in any set */
	size_t start, end;
};

static bool ci_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Digits at line[i]; false if there are none. Saturates at CPUSET_MAX. */
static bool ci_number(const char *line, size_t len, size_t i, struct cpuinfo_num *num)
{
	unsigned v = 0;

	num->start = i;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		v = v * 10 + (unsigned)(line[i] - '0');
		if (v > CPUSET_MAX)
			v = CPUSET_MAX;
	}
	if (i == num->start)
		return false;
	num->end = i;
	num->cpu = v;
	return true;
}

/* "label <blanks>: <blanks>N <blanks>", the whole line. */
static bool ci_label_value(const char *line, size_t len, const char *label, struct cpuinfo_num *num)
{
	size_t i = strlen(label);

	if (len < i || memcmp(line, label, i) != 0)
		return false;
	while (i < len && ci_blank(line[i]))
		i++;
	if (i == len || line[i] != ':')
		return false;
	i++;
	while (i < len && ci_blank(line[i]))
		i++;
	if (!ci_number(line, len, i, num))
		return false;
	for (i = num->end; i < len; i++) {
		if (!ci_blank(line[i]))
			return false;
	}
	return true;
}

static enum cpuinfo_line ci_classify(const char *line, size_t len, struct cpuinfo_num *num)
{
	if (len == 0)
		return CI_BLANK;
	if (ci_label_value(line, len, "processor", num) ||
	    ci_label_value(line, len, "cpu number", num))
		return CI_BLOCK;
	if (ci_label_value(line, len, "# processors", num))
		return CI_COUNT;
	/* s390x: "processor 0: version = FF, ..." */
	if (len > 10 && memcmp(line, "processor ", 10) == 0 && ci_number(line, len, 10, num) &&
	    num->end < len && line[num->end] == ':')
		return CI_ENTRY;
	return CI_OTHER;
}

/* Is the next CPU of a kind shown? Counts it in *shown if so. */
static bool ci_select(unsigned cpu, const struct cpuset *visible, unsigned max_cpus,
                      unsigned *shown)
{
	if (!cpuset_has(visible, cpu) || (max_cpus && *shown >= max_cpus))
		return false;
	(*shown)++;
	return true;
}

/* The line with its CPU number replaced by n, and a newline. */
static void ci_put_renumbered(struct cpu_out *out, const char *line, size_t len,
                              const struct cpuinfo_num *num, unsigned n)
{
	cpu_out_put(out, line, num->start);
	cpu_out_u64(out, n);
	cpu_out_put(out, line + num->end, len - num->end);
	cpu_out_put(out, "\n", 1);
}

static void ci_put_blanks(struct cpu_out *out, unsigned *blanks)
{
	for (; *blanks; (*blanks)--)
		cpu_out_put(out, "\n", 1);
}

/* The s390x count: the per-CPU lines we will show. */
static unsigned ci_entries_shown(const char *host, size_t len, const struct cpuset *visible,
                                 unsigned max_cpus)
{
	const char *p = host, *end = host + len;
	unsigned shown = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		struct cpuinfo_num num;

		if (ci_classify(p, n, &num) == CI_ENTRY)
			ci_select(num.cpu, visible, max_cpus, &shown);
		p += n + 1;
	}
	return shown;
}

/* Empty lines at the end of the text: x86 ends each block with one, s390x does not. */
static unsigned ci_trailing_blanks(const char *host, size_t len)
{
	unsigned n = 0;

	if (len == 0 || host[len - 1] != '\n')
		return 0;
	while (len >= 2 && host[len - 2] == '\n') {
		n++;
		len--;
	}
	return n;
}

ssize_t render_cpuinfo(const char *host, size_t len, const struct cpuset *visible,
                       unsigned max_cpus, char *buf, size_t size)
{
	struct cpu_out out = {.buf = buf, .size = size};
	unsigned blocks = 0, entries = 0, blanks = 0;
	bool in_block = false, printing = false;
	const char *p, *end;

	if (!host) {
		host = "";
		len = 0;
	}
	for (p = host, end = host + len; p < end && !out.full;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		struct cpuinfo_num num;
		enum cpuinfo_line kind = ci_classify(p, n, &num);

		/* Inside a block only another block's start or its blank line matter. */
		if (in_block && kind != CI_BLOCK && kind != CI_BLANK)
			kind = CI_OTHER;

		/*
		 * Blank lines are held back until something is shown after them:
		 * whether a block's blank line ends it (x86) or opens the next
		 * (s390x), dropping blocks then leaves no blank lines behind.
		 */
		switch (kind) {
		case CI_BLOCK:
			in_block = true;
			printing = ci_select(num.cpu, visible, max_cpus, &blocks);
			if (printing) {
				ci_put_blanks(&out, &blanks);
				ci_put_renumbered(&out, p, n, &num, blocks - 1);
			}
			break;
		case CI_ENTRY:
			if (ci_select(num.cpu, visible, max_cpus, &entries)) {
				ci_put_blanks(&out, &blanks);
				ci_put_renumbered(&out, p, n, &num, entries - 1);
			}
			break;
		case CI_COUNT:
			ci_put_blanks(&out, &blanks);
			ci_put_renumbered(&out, p, n, &num,
			                  ci_entries_shown(host, len, visible, max_cpus));
			break;
		case CI_BLANK:
			if (!in_block || printing)
				blanks++;
			in_block = false;
			break;
		case CI_OTHER:
			if (!in_block || printing) {
				ci_put_blanks(&out, &blanks);
				cpu_out_put(&out, p, n);
				cpu_out_put(&out, "\n", 1);
			}
			break;
		}
		p += n + 1;
	}
	/* End as the host's text ends. */
	if (blanks > ci_trailing_blanks(host, len))
		blanks = ci_trailing_blanks(host, len);
	ci_put_blanks(&out, &blanks);
	return cpu_out_result(&out);
}
