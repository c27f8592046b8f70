/*
 * The kernel's load average, kept per container.
 *
 * Every LOADAVG_FREQ_S seconds the kernel folds the number of runnable and
 * uninterruptible threads into three exponentially decaying averages held in
 * fixed point with 11 fraction bits (kernel/sched/loadavg.c, calc_load() in
 * include/linux/sched/loadavg.h). Upstream LXCFS (src/proc_loadavg.c) uses the
 * same formula and rounding, and the same print format; so do we, so that a
 * container with one busy thread sees what a one-CPU machine would.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "proc_render/misc.h"

static uint64_t calc_load(uint64_t load, uint64_t exp, uint64_t active)
{
	uint64_t newload = load * exp + active * (LOADAVG_FIXED_1 - exp);

	/* Round up while rising, so a steady load is reached and not approached forever. */
	if (active >= load)
		newload += LOADAVG_FIXED_1 - 1;
	return newload / LOADAVG_FIXED_1;
}

void loadavg_update(uint64_t avenrun[3], uint64_t active)
{
	/* The kernel's count is a long; more threads than this cannot exist. */
	if (active > (1ULL << 32))
		active = 1ULL << 32;
	active *= LOADAVG_FIXED_1;
	avenrun[0] = calc_load(avenrun[0], LOADAVG_EXP_1, active);
	avenrun[1] = calc_load(avenrun[1], LOADAVG_EXP_5, active);
	avenrun[2] = calc_load(avenrun[2], LOADAVG_EXP_15, active);
}

/* LOAD_INT and LOAD_FRAC of fs/proc/loadavg.c, after adding FIXED_1/200 (0.005). */
static uint64_t load_int(uint64_t x)
{
	return x >> LOADAVG_FSHIFT;
}

static uint64_t load_frac(uint64_t x)
{
	return load_int((x & (LOADAVG_FIXED_1 - 1)) * 100);
}

ssize_t render_loadavg(const uint64_t avenrun[3], unsigned running, unsigned total, pid_t last_pid,
                       char *buf, size_t size)
{
	uint64_t a = avenrun[0] + LOADAVG_FIXED_1 / 200;
	uint64_t b = avenrun[1] + LOADAVG_FIXED_1 / 200;
	uint64_t c = avenrun[2] + LOADAVG_FIXED_1 / 200;
	int n;

	n = snprintf(buf, size,
	             "%" PRIu64 ".%02" PRIu64 " %" PRIu64 ".%02" PRIu64 " %" PRIu64 ".%02" PRIu64
	             " %u/%u %d\n",
	             load_int(a), load_frac(a), load_int(b), load_frac(b), load_int(c),
	             load_frac(c), running, total, (int)last_pid);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENOSPC;
	return n;
}
