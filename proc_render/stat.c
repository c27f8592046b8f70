/*
 * /proc/stat for one container.
 *
 * The host's cpuN lines of the container's visible CPUs are shown, in the
 * host's order, under a "cpu  " line that is the field sums of the lines
 * shown; every other line (intr, ctxt, btime, processes, softirq) is the
 * host's, as it is, and procs_running and procs_blocked are the container's
 * when the worker could count its threads (upstream #654):
 *
 *   procs_running   its threads in state R, the reader itself included (the
 *                   kernel counts the reader of /proc/stat as running; ours
 *                   waits for this answer in D)
 *   procs_blocked   its threads in state D, the reader left out: the
 *                   kernel's figure counts only those of them waiting for
 *                   I/O (nr_iowait), which no cgroup file tells apart
 *   (counting reads each thread's /proc/<pid>/task/<tid>/stat, about 12 us
 *   a thread on the development VMs: 12 ms for a container of 1000 threads,
 *   at most once per freshness bound, whatever the number of readers)
 *   processes       the host's: it counts forks since boot, and no cgroup
 *                   counts a container's (pids.current is a count of the
 *                   living)
 *   intr, ctxt, softirq, btime   the host's: no per-cgroup figure exists,
 *                   and btime is the boot time the uptime of the container's
 *                   /proc/uptime does not change
 *
 * Each line keeps its host CPU's number (cpuset "1,3" shows cpu1 and cpu3),
 * as sys/devices/system/cpu/online lists the same CPUs, as the kernel does
 * and as upstream does since 5.0.3: tools that pair sched_getaffinity() or
 * the online list with these lines (mpstat -P, sar, per-CPU monitors) find
 * theirs. Only the --enable-cfs view renumbers them 0..n-1, because its
 * online file does too (a quota is a count of CPUs, not a set of them).
 *
 * What a line holds depends on what the container's cgroup tells us:
 *
 *  - v1 cpuacct.usage_all: "cpuk user 0 system idle' 0 0 0 0 0 0", user and
 *    system the container's time on that host CPU (ns / 10^7 = USER_HZ
 *    ticks), idle' = host total - user - system. So the line's total is the
 *    host's total for the CPU: tools that take busy/total deltas (top, mpstat,
 *    psutil) see the container's share of that CPU.
 *  - v2 cpu.stat: it has only totals, user_usec and system_usec. We apportion
 *    them across the visible CPUs in proportion to each host CPU's busy time
 *    (user+nice+system+irq+softirq+steal): with C = the container's ticks,
 *    W_j = the busy time of the first j visible CPUs and W = all of them,
 *    CPU j gets c_j = floor(C * W_j / W) - floor(C * W_(j-1) / W), so the
 *    lines add up to C exactly and each is within a tick of its share; the
 *    user part is split from c_j the same way (cumulative, by user:system).
 *    idle' as above. When the visible CPUs have no busy time at all the
 *    share is equal. Upstream shows the host's lines here.
 *  - neither: the host's lines of the visible CPUs as they are (renumbered).
 *
 * Host "busy" here is user+nice+system+iowait+irq+softirq+steal: guest and
 * guest_nice are already inside user and nice (the kernel counts guest time
 * twice on purpose), so a line's total is the sum of the first eight fields,
 * as top(1) computes it. Upstream adds guest again, and leaves the host's idle
 * unchanged when the container's time exceeds the host's busy time (tick
 * sampling against cpuacct's exact accounting); we keep the total and floor
 * idle' at 0.
 *
 * --enable-cfs shows only the first max_cpus visible CPUs. The time the
 * container spent on the hidden ones is not dropped: it is added to the shown
 * lines in proportion to the room each has left (host total - the
 * container's own time), with the same cumulative rounding, and capped at
 * that room, so a container using its whole quota of 2 CPUs spread over 8
 * shows 2 busy CPUs. Upstream does the same in spirit with per-cgroup history
 * (cpuview_proc_stat); we stay stateless apart from the floor below.
 *
 * Never backwards (upstream #554): apportioned shares and idle' move both
 * ways as their inputs shift, a cpuset change renumbers the lines, and the
 * kernel's own iowait may decrease. With a floor (the figures shown last
 * time) each counter is raised to at least its last value, per line (by the
 * number the line shows) and for the "cpu  " line; the floor then receives
 * what was shown. A clamped line
 * may total a little more than the host's for a while; a reader computing
 * deltas only ever sees them >= 0.
 */
#include <errno.h>
#include <string.h>

#include "proc_render/cpu.h"

#define STAT_NS_PER_TICK   (1000000000ULL / STAT_USER_HZ)
#define STAT_USEC_PER_TICK (1000000ULL / STAT_USER_HZ)

enum stat_mode { STAT_HOST, STAT_V1, STAT_V2 };

/* Figures of the whole rendering, computed by the first passes over the text. */
struct stat_calc {
	const struct stat_view *v;
	enum stat_mode mode;
	unsigned visible; /* host cpu lines in the visible set */
	unsigned shown;   /* lines shown: visible, or max_cpus if fewer */

	/* v2: the container's ticks, and the busy time they are apportioned by. */
	uint64_t c_user, c_system;
	uint64_t weight_total;
	bool equal_weights;

	/* --enable-cfs: the hidden CPUs' time, spread over the shown lines' room. */
	uint64_t room_total;
	uint64_t surplus_user, surplus_system;
	uint64_t surplus; /* what is spread: min(surplus_user + surplus_system, room_total) */
};

/* Where a pass is in the cumulative roundings. */
struct stat_run {
	unsigned j; /* visible line index */
	uint64_t weight_cum, c_cum, user_cum;
	uint64_t room_cum, s_cum, su_cum;
};

static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c)
{
	return c ? (uint64_t)((unsigned __int128)a * b / c) : 0;
}

static bool stat_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Up to ST_NFIELDS counters after the label; missing ones are 0. */
static void stat_fields(const char *line, size_t len, size_t i, uint64_t f[ST_NFIELDS])
{
	memset(f, 0, ST_NFIELDS * sizeof(f[0]));
	for (int k = 0; k < ST_NFIELDS; k++) {
		uint64_t v = 0;

		while (i < len && line[i] == ' ')
			i++;
		if (i == len || !stat_is_digit(line[i]))
			return;
		for (; i < len && stat_is_digit(line[i]); i++) {
			unsigned d = (unsigned)(line[i] - '0');

			v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
		}
		f[k] = v;
	}
}

/* "key value": the line of key. */
static bool stat_is_key(const char *line, size_t len, const char *key)
{
	size_t k = strlen(key);

	return len > k && memcmp(line, key, k) == 0 && line[k] == ' ';
}

/* "cpu  ..." (the sum line) */
static bool stat_is_all(const char *line, size_t len)
{
	return len >= 4 && memcmp(line, "cpu", 3) == 0 && (line[3] == ' ' || line[3] == '\t');
}

/* "cpuN ..."; *cpu saturates at CPUSET_MAX (in no set). */
static bool stat_is_cpu(const char *line, size_t len, unsigned *cpu, size_t *after)
{
	unsigned v = 0;
	size_t i = 3;

	if (len < 4 || memcmp(line, "cpu", 3) != 0 || !stat_is_digit(line[3]))
		return false;
	for (; i < len && stat_is_digit(line[i]); i++) {
		v = v * 10 + (unsigned)(line[i] - '0');
		if (v > CPUSET_MAX)
			v = CPUSET_MAX;
	}
	*cpu = v;
	*after = i;
	return true;
}

/* The next host cpuN line of a visible CPU after *pos. */
static bool stat_next_visible(const char *host, size_t len, size_t *pos,
                              const struct cpuset *visible, unsigned *cpu, uint64_t f[ST_NFIELDS])
{
	while (*pos < len) {
		const char *p = host + *pos;
		const char *eol = memchr(p, '\n', len - *pos);
		size_t n = eol ? (size_t)(eol - p) : len - *pos;
		size_t after;

		/* The cpu lines come first; the rest (intr can be long) need no scan. */
		if (n < 3 || memcmp(p, "cpu", 3) != 0) {
			*pos = len;
			return false;
		}
		*pos += n + 1;
		if (stat_is_cpu(p, n, cpu, &after) && cpuset_has(visible, *cpu)) {
			stat_fields(p, n, after, f);
			return true;
		}
	}
	return false;
}

static uint64_t host_busy(const uint64_t f[ST_NFIELDS])
{
	return f[ST_USER] + f[ST_NICE] + f[ST_SYSTEM] + f[ST_IOWAIT] + f[ST_IRQ] + f[ST_SOFTIRQ] +
	       f[ST_STEAL];
}

/* What the container could have used of the CPU: busy minus waiting for I/O. */
static uint64_t host_weight(const uint64_t f[ST_NFIELDS])
{
	return f[ST_USER] + f[ST_NICE] + f[ST_SYSTEM] + f[ST_IRQ] + f[ST_SOFTIRQ] + f[ST_STEAL];
}

/* The container's own ticks on visible line r->j (host CPU cpu). */
static void stat_own(const struct stat_calc *c, struct stat_run *r, unsigned cpu,
                     const uint64_t f[ST_NFIELDS], uint64_t *user, uint64_t *system)
{
	const struct cg_cpuacct *a = c->v->acct;
	uint64_t total = c->c_user + c->c_system, c_cum, user_cum;

	if (c->mode == STAT_V1) {
		*user = cpu < a->ncpus ? a->user_ns[cpu] / STAT_NS_PER_TICK : 0;
		*system = cpu < a->ncpus ? a->system_ns[cpu] / STAT_NS_PER_TICK : 0;
		return;
	}
	/* v2: see the header for the cumulative rounding. */
	r->weight_cum += c->equal_weights ? 1 : host_weight(f);
	c_cum = mul_div(total, r->weight_cum, c->weight_total);
	user_cum = mul_div(c->c_user, c_cum, total);
	*user = user_cum - r->user_cum;
	*system = (c_cum - r->c_cum) - *user;
	r->c_cum = c_cum;
	r->user_cum = user_cum;
}

/*
 * The counters of shown line r->j, before the floor. Called once per shown
 * line per pass, in order: the cumulative roundings depend on it.
 */
static void stat_line(const struct stat_calc *c, struct stat_run *r, unsigned cpu,
                      const uint64_t f[ST_NFIELDS], uint64_t out[ST_NFIELDS])
{
	uint64_t user, system, total, used, room, s_cum, su_cum, add, add_user;

	if (c->mode == STAT_HOST) {
		memcpy(out, f, ST_NFIELDS * sizeof(out[0]));
		return;
	}
	stat_own(c, r, cpu, f, &user, &system);
	total = host_busy(f) + f[ST_IDLE];
	used = user + system;
	room = total > used ? total - used : 0;

	if (c->surplus) {
		r->room_cum += room;
		s_cum = mul_div(c->surplus, r->room_cum, c->room_total);
		su_cum = mul_div(c->surplus_user, s_cum, c->surplus_user + c->surplus_system);
		add = s_cum - r->s_cum;
		add_user = su_cum - r->su_cum;
		r->s_cum = s_cum;
		r->su_cum = su_cum;
		user += add_user;
		system += add - add_user;
		used += add;
	}

	memset(out, 0, ST_NFIELDS * sizeof(out[0]));
	out[ST_USER] = user;
	out[ST_SYSTEM] = system;
	out[ST_IDLE] = total > used ? total - used : 0;
}

/* Raise each counter to at least its floor (the figure shown last time), if any. */
static void stat_clamp(const uint64_t *floor, uint64_t f[ST_NFIELDS])
{
	if (!floor)
		return;
	for (int i = 0; i < ST_NFIELDS; i++) {
		if (f[i] < floor[i])
			f[i] = floor[i];
	}
}

/* The number line r->j of host CPU cpu shows: the host's, or its rank in the cfs view. */
static unsigned stat_label(const struct stat_calc *c, const struct stat_run *r, unsigned cpu)
{
	return c->v->renumber ? r->j : cpu;
}

/* The floor of the line numbered k, if it has one. */
static const uint64_t *stat_floor_of(const struct stat_floor *prev, unsigned k)
{
	return prev && k < STAT_FLOOR_CPUS ? prev->cpu[k] : NULL;
}

/* First pass: how many lines, and (v2) the busy time to apportion by. */
static void stat_pass_count(struct stat_calc *c, const char *host, size_t len)
{
	uint64_t f[ST_NFIELDS];
	size_t pos = 0;
	unsigned cpu;

	while (stat_next_visible(host, len, &pos, c->v->visible, &cpu, f)) {
		c->visible++;
		c->weight_total += host_weight(f);
	}
	c->shown = c->visible;
	if (c->v->max_cpus && c->v->max_cpus < c->shown)
		c->shown = c->v->max_cpus;
	if (c->weight_total == 0) {
		c->equal_weights = true;
		c->weight_total = c->visible;
	}
}

/* Second pass, --enable-cfs with usage: the hidden lines' time and the shown lines' room. */
static void stat_pass_surplus(struct stat_calc *c, const char *host, size_t len)
{
	struct stat_run r = {0};
	uint64_t f[ST_NFIELDS], out[ST_NFIELDS];
	size_t pos = 0;
	unsigned cpu;

	for (; stat_next_visible(host, len, &pos, c->v->visible, &cpu, f); r.j++) {
		if (r.j < c->shown) {
			stat_line(c, &r, cpu, f, out); /* surplus is still 0 here */
			c->room_total += out[ST_IDLE];
		} else {
			uint64_t user, system;

			stat_own(c, &r, cpu, f, &user, &system);
			c->surplus_user += user;
			c->surplus_system += system;
		}
	}
	c->surplus = c->surplus_user + c->surplus_system;
	if (c->surplus > c->room_total)
		c->surplus = c->room_total;
}

/*
 * Third pass: the shown lines after the floor, their sum, and the new floor.
 * Written before any text so that it is whole whatever happens to the output.
 */
static void stat_pass_sum(const struct stat_calc *c, const char *host, size_t len,
                          uint64_t sum[ST_NFIELDS])
{
	const struct stat_view *v = c->v;
	struct stat_run r = {0};
	uint64_t f[ST_NFIELDS], out[ST_NFIELDS];
	size_t pos = 0;
	unsigned cpu;

	memset(sum, 0, ST_NFIELDS * sizeof(sum[0]));
	/* Lines not shown now keep their floor, should they come back. */
	if (v->next && v->next != v->prev) {
		if (v->prev)
			memcpy(v->next->cpu, v->prev->cpu, sizeof(v->next->cpu));
		else
			memset(v->next->cpu, 0, sizeof(v->next->cpu));
	}
	for (; r.j < c->shown && stat_next_visible(host, len, &pos, v->visible, &cpu, f); r.j++) {
		unsigned k = stat_label(c, &r, cpu);

		stat_line(c, &r, cpu, f, out);
		stat_clamp(stat_floor_of(v->prev, k), out);
		for (int i = 0; i < ST_NFIELDS; i++)
			sum[i] += out[i];
		if (v->next && k < STAT_FLOOR_CPUS)
			memcpy(v->next->cpu[k], out, sizeof(out));
	}
	stat_clamp(v->prev ? v->prev->all : NULL, sum);
	if (v->next)
		memcpy(v->next->all, sum, sizeof(v->next->all));
}

static void stat_put_fields(struct cpu_out *o, const uint64_t f[ST_NFIELDS])
{
	for (int i = 0; i < ST_NFIELDS; i++) {
		cpu_out_put(o, " ", 1);
		cpu_out_u64(o, f[i]);
	}
	cpu_out_put(o, "\n", 1);
}

/* The "cpu  " line and the shown cpuN lines, where the host's cpu lines start. */
static void stat_put_cpus(const struct stat_calc *c, const char *host, size_t len,
                          const uint64_t sum[ST_NFIELDS], struct cpu_out *o)
{
	struct stat_run r = {0};
	uint64_t f[ST_NFIELDS], out[ST_NFIELDS];
	size_t pos = 0;
	unsigned cpu;

	/* The kernel pads "cpu" to the width of "cpuN": two spaces. */
	cpu_out_put(o, "cpu ", 4);
	stat_put_fields(o, sum);
	for (; r.j < c->shown && stat_next_visible(host, len, &pos, c->v->visible, &cpu, f);
	     r.j++) {
		unsigned k = stat_label(c, &r, cpu);

		stat_line(c, &r, cpu, f, out);
		stat_clamp(stat_floor_of(c->v->prev, k), out);
		cpu_out_put(o, "cpu", 3);
		cpu_out_u64(o, k);
		stat_put_fields(o, out);
	}
}

ssize_t render_stat(const char *host, size_t len, const struct stat_view *v, char *buf, size_t size)
{
	struct cpu_out out = {.buf = buf, .size = size};
	struct stat_calc c = {.v = v};
	uint64_t sum[ST_NFIELDS];
	bool cpus_done = false;
	const char *p, *end;

	if (!host || !v || !v->visible)
		return -EINVAL;
	if (v->acct) {
		c.mode = STAT_V1;
	} else if (v->cpu_stat) {
		c.mode = STAT_V2;
		c.c_user = v->cpu_stat->user_usec / STAT_USEC_PER_TICK;
		c.c_system = v->cpu_stat->system_usec / STAT_USEC_PER_TICK;
	}

	stat_pass_count(&c, host, len);
	if (c.mode != STAT_HOST && c.shown < c.visible)
		stat_pass_surplus(&c, host, len);
	stat_pass_sum(&c, host, len, sum);

	for (p = host, end = host + len; p < end && !out.full;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		unsigned cpu;
		size_t after;

		if (stat_is_all(p, n) || stat_is_cpu(p, n, &cpu, &after)) {
			if (!cpus_done)
				stat_put_cpus(&c, host, len, sum, &out);
			cpus_done = true;
		} else if (v->procs && stat_is_key(p, n, "procs_running")) {
			cpu_out_put(&out, "procs_running ", 14);
			cpu_out_u64(&out, v->procs_running);
			cpu_out_put(&out, "\n", 1);
		} else if (v->procs && stat_is_key(p, n, "procs_blocked")) {
			cpu_out_put(&out, "procs_blocked ", 14);
			cpu_out_u64(&out, v->procs_blocked);
			cpu_out_put(&out, "\n", 1);
		} else {
			cpu_out_put(&out, p, n);
			cpu_out_put(&out, "\n", 1);
		}
		p += n + 1;
	}
	if (!cpus_done)
		return -EINVAL;
	return cpu_out_result(&out);
}
