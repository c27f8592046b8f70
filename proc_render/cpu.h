/*
 * Pure renderers of the CPU-shaped files: /proc/cpuinfo, /proc/stat and
 * /sys/devices/system/cpu/{online,possible,present,offline}, and the CPU set
 * they are filtered by.
 *
 * As in render.h, nothing here does I/O, allocates, or reads the clock. Each
 * renderer writes into the caller's buffer and returns the bytes written, or
 * -ENOSPC when the buffer is too small (the caller retries with a larger one);
 * it never writes past size.
 */
#ifndef LXCFS_CPU_H
#define LXCFS_CPU_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* Highest CPU count we represent: the kernel's largest NR_CPUS on x86 and arm64. */
#define CPUSET_MAX 8192

/* A set of host CPU numbers. All zero is the empty set. */
struct cpuset {
	uint64_t bits[CPUSET_MAX / 64];
};

/*
 * Parse a kernel CPU list ("0-3,8,10-11\n", as cpuset.cpus and
 * /sys/devices/system/cpu/online print it). Blanks around the items and a
 * trailing newline are accepted; an empty text is the empty set. Returns 0,
 * -EINVAL on a malformed list (out untouched), or -ERANGE for a CPU number at
 * or above CPUSET_MAX.
 */
int cpuset_parse(const char *text, size_t len, struct cpuset *out);

/* Number of CPUs in the set. */
unsigned cpuset_count(const struct cpuset *s);

static inline bool cpuset_has(const struct cpuset *s, unsigned cpu)
{
	return cpu < CPUSET_MAX && (s->bits[cpu / 64] >> (cpu % 64)) & 1;
}

static inline void cpuset_set(struct cpuset *s, unsigned cpu)
{
	if (cpu < CPUSET_MAX)
		s->bits[cpu / 64] |= 1ULL << (cpu % 64);
}

/* Every CPU we can represent: a container no cpuset controller narrows. */
static inline void cpuset_fill(struct cpuset *s)
{
	memset(s->bits, 0xff, sizeof(s->bits));
}

/* dst = dst & mask. */
static inline void cpuset_and(struct cpuset *dst, const struct cpuset *mask)
{
	for (size_t i = 0; i < CPUSET_MAX / 64; i++)
		dst->bits[i] &= mask->bits[i];
}

/*
 * Format the set as the kernel prints a CPU list (%*pbl): each run of two or
 * more consecutive CPUs as "a-b", a lone CPU as "a", comma-separated, ending
 * in a newline ("0,2-3\n"; "\n" when empty). Returns bytes written or -ENOSPC.
 */
ssize_t cpuset_format(const struct cpuset *s, char *buf, size_t size);

/* The host's CPU masks, as its sys/devices/system/cpu/{online,possible,present} list them. */
struct cpu_host_masks {
	struct cpuset online;
	struct cpuset possible;
	struct cpuset present;
};

/*
 * What a container sees of the host's CPUs in sys/devices/system/cpu: the
 * four lists and the cpuN directories. From the CPUs it may use (visible:
 * its cpuset, or every CPU) and the host's masks:
 *   online   visible & host online
 *   possible visible & host possible (a v2 cpuset may name CPUs now offline)
 *   present  visible & host present
 *   offline  possible - online, as the kernel prints offline
 *   dirs     the cpuN directories shown: possible (the host has a directory
 *            for each of its present CPUs; those it lacks stay absent)
 * each with the host's CPU numbers, as /proc/stat numbers its lines. The
 * --enable-cfs view (renumber) shows a host with n CPUs, n = the online count
 * capped at cfs_cpus when that is not 0: online, possible, present and dirs
 * 0..n-1, offline empty, as cpuinfo and stat number them in that view.
 */
struct cpu_sys_view {
	struct cpuset online;
	struct cpuset possible;
	struct cpuset present;
	struct cpuset offline;
	struct cpuset dirs;
};

void cpu_sys_view(const struct cpuset *visible, const struct cpu_host_masks *host, bool renumber,
                  unsigned cfs_cpus, struct cpu_sys_view *out);

/* Which list of sys/devices/system/cpu. */
enum cpu_list {
	CPU_LIST_ONLINE,
	CPU_LIST_POSSIBLE,
	CPU_LIST_PRESENT,
	CPU_LIST_OFFLINE,
};

/*
 * sys/devices/system/cpu/{online,possible,present,offline} of view v, in the
 * kernel's list format ("0,2-3\n"; "\n" when empty, as offline is on most
 * hosts). Returns bytes written or -ENOSPC.
 */
ssize_t render_cpu_list(const struct cpu_sys_view *v, enum cpu_list which, char *buf, size_t size);

/*
 * /proc/cpuinfo for a container: the host's per-CPU blocks (from a
 * "processor : N" line, or s390x's "cpu number : N", to the blank line after
 * it) whose N is in visible, renumbered 0, 1, 2..., at most max_cpus of them
 * when max_cpus > 0. s390x's one-line "processor N: ..." entries are filtered
 * and renumbered the same way and its "# processors" count follows. Text
 * outside per-CPU blocks is copied as it is.
 */
ssize_t render_cpuinfo(const char *host, size_t len, const struct cpuset *visible,
                       unsigned max_cpus, char *buf, size_t size);

/* /proc/stat's clock: USER_HZ is 100 on every architecture Linux exports it for. */
#define STAT_USER_HZ 100

/* The ten counters of a cpu line, in the kernel's order. */
enum stat_field {
	ST_USER,
	ST_NICE,
	ST_SYSTEM,
	ST_IDLE,
	ST_IOWAIT,
	ST_IRQ,
	ST_SOFTIRQ,
	ST_STEAL,
	ST_GUEST,
	ST_GUEST_NICE,
	ST_NFIELDS,
};

/*
 * cgroup v1 cpuacct figures of one cgroup, in nanoseconds: per host CPU from
 * cpuacct.usage_all (or, on kernels before 4.7, cpuacct.usage_percpu split
 * by cpuacct.stat), and the total of cpuacct.usage. 128 KiB: keep it off the
 * stack.
 */
struct cg_cpuacct {
	uint64_t usage_ns; /* cpuacct.usage */
	unsigned ncpus;    /* entries below that were read: CPUs 0..ncpus-1 */
	uint64_t user_ns[CPUSET_MAX];
	uint64_t system_ns[CPUSET_MAX];
};

/* cgroup v2 cpu.stat totals of one cgroup, in microseconds. */
struct cg_cpu_stat {
	uint64_t usage_usec;
	uint64_t user_usec;
	uint64_t system_usec;
};

/* CPU lines a stat floor remembers; lines past it are not clamped. */
#define STAT_FLOOR_CPUS 1024

/*
 * The last figures /proc/stat showed one container, so the next rendering
 * never shows a counter lower than before (upstream issue #554): apportioned
 * and derived figures (v2 usage, idle') move both ways as their inputs shift,
 * and a cpuset change renumbers the cfs view's lines. cpu[k] is line "cpuk"
 * as emitted (the host CPU k, or the k-th line of the cfs view), all the
 * "cpu " line. All zero is "nothing shown yet".
 * 82000 bytes; fixed size so it can live in shared memory.
 */
struct stat_floor {
	uint64_t all[ST_NFIELDS];
	uint64_t cpu[STAT_FLOOR_CPUS][ST_NFIELDS];
};

/*
 * What /proc/stat shows one container. Usage comes from acct (v1), else from
 * cpu_stat (v2), else the host's lines of the visible CPUs are shown as they
 * are (renumbered).
 */
struct stat_view {
	const struct cpuset *visible;  /* host CPUs whose lines are shown */
	unsigned max_cpus;             /* --enable-cfs: at most this many lines; 0 = no limit */
	bool renumber;                 /* --enable-cfs: lines cpu0..cpu(n-1), as its online
	                                  file; else each keeps its host CPU's number */
	const struct cg_cpuacct *acct; /* v1 per-CPU usage, or NULL */
	const struct cg_cpu_stat *cpu_stat; /* v2 totals, or NULL */
	const struct stat_floor *prev;      /* figures shown last time, or NULL */
	struct stat_floor *next;            /* receives the figures shown, or NULL; may be prev */
	bool procs;                         /* the two below replace the host's lines */
	unsigned procs_running;             /* the container's threads running (R) */
	unsigned procs_blocked;             /* ... and in uninterruptible sleep (D) */
};

/*
 * /proc/stat for a container from the host's /proc/stat text (see stat.c for
 * the figures). Lines other than cpu lines are copied as they are, but
 * procs_running and procs_blocked when v->procs. Returns
 * bytes written, -ENOSPC, or -EINVAL when the host text has no cpu lines.
 * v->next is written even on -ENOSPC; rendering again from the same inputs
 * gives the same text and the same floor, so a retry is safe.
 */
ssize_t render_stat(const char *host, size_t len, const struct stat_view *v, char *buf,
                    size_t size);

/* Where a CPU renderer's text goes; once full it stays full and writes nothing. */
struct cpu_out {
	char *buf;
	size_t size;
	size_t len;
	bool full;
};

static inline void cpu_out_put(struct cpu_out *o, const char *s, size_t n)
{
	if (o->full || n > o->size - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* Decimal of v, without the snprintf format parsing: stat prints thousands of them. */
static inline void cpu_out_u64(struct cpu_out *o, uint64_t v)
{
	char digits[20];
	size_t n = sizeof(digits);

	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	cpu_out_put(o, digits + n, sizeof(digits) - n);
}

static inline ssize_t cpu_out_result(const struct cpu_out *o)
{
	return o->full ? -ENOSPC : (ssize_t)o->len;
}

#endif
