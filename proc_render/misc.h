/*
 * Pure renderers of the smaller files: uptime, swaps, diskstats, loadavg.
 * (slabinfo and pressure are copied verbatim and need none.)
 *
 * Same contract as render.h: no I/O, no clock, no allocation; each writes into
 * the caller's buffer and returns the bytes written, or -ENOSPC when the
 * buffer is too small.
 */
#ifndef LXCFS_RENDER_MISC_H
#define LXCFS_RENDER_MISC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * /proc/uptime: "<age> <idle>\n" with two decimals, as the kernel prints it.
 * A negative age prints as 0; idle is clamped to [0, age], so a container
 * whose CPU time exceeds its age (several CPUs busy) shows 0 idle.
 */
ssize_t render_uptime(double age_s, double idle_s, char *buf, size_t size);

/*
 * /proc/swaps: the header, then when total_kb > 0 one line for the virtual
 * device "none" with size total_kb and use used_kb, priority 0 (upstream's
 * line). total_kb and used_kb come from meminfo_swap_figures() so that swaps
 * and meminfo always agree.
 */
ssize_t render_swaps(uint64_t total_kb, uint64_t used_kb, char *buf, size_t size);

/*
 * One block device's I/O as a cgroup accounts it, already summed over the
 * cgroup's descendants (v1 *_recursive files; v2 io.stat is hierarchical).
 * Fields a source does not provide stay 0:
 *
 *                 v1 blkio (CFQ era)           v1 blkio.throttle.*   v2 io.stat
 *   r/w/dios      io_serviced_recursive        io_serviced_recursive rios wios dios
 *   r/w/dbytes    io_service_bytes_recursive   io_service_bytes_rec. rbytes wbytes dbytes
 *   r/w/dmerged   io_merged_recursive          -                     -
 *   r/w/dticks_ms io_service_time + io_wait_time (ns, each / 1e6)    -
 *   io_ticks_ms   io_service_time "Total" / 1e6                      -
 */
struct io_dev_stats {
	unsigned int major, minor;
	uint64_t rios, wios, dios;                /* requests completed: read, write, discard */
	uint64_t rbytes, wbytes, dbytes;          /* bytes transferred */
	uint64_t rmerged, wmerged, dmerged;       /* requests merged */
	uint64_t rticks_ms, wticks_ms, dticks_ms; /* time spent per direction */
	uint64_t io_ticks_ms;                     /* time the device was busy */
};

/*
 * /proc/diskstats for one container. host is the host's /proc/diskstats text:
 * it gives the device names, the order, and how many figures each line has
 * (11 before 4.18, 15 with the discard fields, 17 with the flush fields since
 * 5.5; more from a future kernel are printed as 0). A host device is printed
 * only if devs holds it with a figure that is not 0: the container did no I/O
 * on the others. Devices in devs the host does not list are ignored.
 * Sectors are bytes / 512; in-flight, weighted time and flushes are 0 (no
 * cgroup file has them). Lines use the kernel's "%4u %7u %s" layout.
 */
ssize_t render_diskstats(const char *host, size_t len, const struct io_dev_stats *devs,
                         size_t ndevs, char *buf, size_t size);

/* The kernel's fixed-point load average (include/linux/sched/loadavg.h). */
#define LOADAVG_FSHIFT  11
#define LOADAVG_FIXED_1 (1ULL << LOADAVG_FSHIFT) /* 1.0 */
#define LOADAVG_EXP_1   1884ULL                  /* 1/exp(5 s/1 min) */
#define LOADAVG_EXP_5   2014ULL                  /* 1/exp(5 s/5 min) */
#define LOADAVG_EXP_15  2037ULL                  /* 1/exp(5 s/15 min) */
#define LOADAVG_FREQ_S  5                        /* seconds between updates */

/*
 * One 5-second step of the 1, 5 and 15 minute averages, as the kernel's
 * calc_load(): active is the number of threads in R or D state now. Rounds up
 * while the load rises and down while it falls, so it settles on active
 * exactly (and decays to 0).
 */
void loadavg_update(uint64_t avenrun[3], uint64_t active);

/*
 * /proc/loadavg: "a.bb c.dd e.ff running/total lastpid\n", each average
 * rounded to two decimals as the kernel's LOAD_INT/LOAD_FRAC do.
 */
ssize_t render_loadavg(const uint64_t avenrun[3], unsigned running, unsigned total, pid_t last_pid,
                       char *buf, size_t size);

#endif
