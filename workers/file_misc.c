/*
 * Gathering the smaller files for one request (see files_misc.h): find the
 * reader's container, read its cgroup files, render, or serve the host's file
 * when any of that fails.
 *
 * Host files are read into w->host and cgroups resolved with reader_cgroup(),
 * each in one helper below (misc_host, misc_cgroup), so that both can move to
 * a cache in one place.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proc_render/misc.h"
#include "proc_render/vmstat.h"
#include "workers/cg_fs.h"
#include "shm/log.h"
#include "workers/cg_misc.h"
#include "workers/files_misc.h"
#include "workers/reader.h"
#include "workers/ident.h"
#include "workers/snapshot.h"
#include "workers/worker.h"

/* Devices diskstats will track in one cgroup; io.stat lists only those used. */
#define MISC_DEVS_FIRST 64
#define MISC_DEVS_MAX   65536


static bool misc_virt_off(struct worker_ctx *w)
{
	return atomic_load(&w->shm.hdr->config.virt_off);
}

/* The host's file at path into w->host. Returns its length or -errno. */
static ssize_t misc_host(struct worker_ctx *w, const char *path)
{
	ssize_t n = worker_host_file(w, path);

	if (n < 0)
		log_msg("read %s: %s", path, strerror((int)-n));
	return n;
}

static int misc_serve_host(struct worker_ctx *w, const char *path)
{
	ssize_t n = misc_host(w, path);

	if (n < 0)
		return (int)n;
	return worker_copy_host(w);
}

/* The reader's container cgroup for controller c. */
static int misc_cgroup(struct worker_ctx *w, pid_t pid, enum cg_ctrl c, char *path, size_t size)
{
	return worker_reader_cgroup(w, pid, c, path, size);
}

/* Can controller c be read at all (present in the layout, its root open)? */
static bool misc_ctrl_usable(struct worker_ctx *w, enum cg_ctrl c)
{
	return w->layout.ctrl[c].present && w->root_fd[c] >= 0;
}

struct uptime_args {
	double age, idle;
};

static ssize_t uptime_render(const struct worker_ctx *w, const void *arg, char *buf, size_t size)
{
	const struct uptime_args *a = arg;

	return render_uptime(a->age, a->idle, buf, size);
}

int file_uptime(struct worker_ctx *w, pid_t pid)
{
	struct uptime_args a;
	struct ident_init init;
	char path[PATH_MAX];
	uint64_t busy_ns = 0;
	struct timespec now;
	long hz;
	ssize_t n;
	int err;

	n = misc_host(w, "/proc/uptime");
	if (n < 0)
		return (int)n;
	if (misc_virt_off(w))
		return worker_copy_host(w);

	err = ident_init(w, pid, &init);
	if (err < 0) {
		worker_fallback(w, "uptime", "pid namespace init", pid, NULL, err);
		return worker_copy_host(w);
	}
	/* the host's own init is the host: its uptime is the real one */
	if (init.host)
		return worker_copy_host(w);
	hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &now) < 0) {
		worker_fallback(w, "uptime", "clock", pid, NULL, -EINVAL);
		return worker_copy_host(w);
	}

	if (misc_ctrl_usable(w, CG_CPUACCT)) {
		err = misc_cgroup(w, pid, CG_CPUACCT, path, sizeof(path));
		if (err == 0)
			err = snap_cpu_usage(w, path, &busy_ns);
		if (err < 0) {
			worker_fallback(w, "uptime", "cpu usage", pid, NULL, err);
			return worker_copy_host(w);
		}
	}

	a.age = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - (double)init.start_ticks / (double)hz;
	a.idle = a.age - (double)busy_ns / 1e9;
	return worker_render(w, uptime_render, &a, 64);
}

struct swaps_args {
	uint64_t total_kb, used_kb;
};

static ssize_t swaps_render(const struct worker_ctx *w, const void *arg, char *buf, size_t size)
{
	const struct swaps_args *a = arg;

	return render_swaps(a->total_kb, a->used_kb, buf, size);
}

int file_swaps(struct worker_ctx *w, pid_t pid)
{
	struct swaps_args a;
	struct cg_memory mem;
	char path[PATH_MAX];
	ssize_t n;
	int err;

	if (misc_virt_off(w) || !misc_ctrl_usable(w, CG_MEMORY))
		return misc_serve_host(w, "/proc/swaps");

	err = misc_cgroup(w, pid, CG_MEMORY, path, sizeof(path));
	if (err < 0) {
		worker_fallback(w, "swaps", "memory cgroup lookup", pid, NULL, err);
		return misc_serve_host(w, "/proc/swaps");
	}
	err = snap_memory(w, path, &mem);
	if (err < 0) {
		worker_fallback(w, "swaps", "memory values", pid, path, err);
		return misc_serve_host(w, "/proc/swaps");
	}
	/* the host's SwapTotal and MemTotal bound the container's, as in meminfo */
	n = misc_host(w, "/proc/meminfo");
	if (n < 0)
		return (int)n;
	meminfo_swap_figures(w->host.data, w->host.len, &mem, &w->opts, &a.total_kb, &a.used_kb);
	return worker_render(w, swaps_render, &a, 256);
}

struct vmstat_args {
	const struct cg_vmstat *cg;
	uint64_t free_kb;
	struct vmstat_units units;
	const char *host;
	size_t len;
};

static ssize_t vmstat_render(const struct worker_ctx *w, const void *arg, char *buf, size_t size)
{
	const struct vmstat_args *a = arg;

	return render_vmstat(a->host, a->len, a->cg, a->free_kb, &a->units, buf, size);
}

/* The kernel's PMD huge page size (vmstat counts THPs in them), read once. */
static uint64_t misc_thp_size(struct worker_ctx *w)
{
	static uint64_t size;
	char path[PATH_MAX], text[32];
	uint64_t v;
	ssize_t n;
	int fd;

	if (size)
		return size;
	size = 2 << 20; /* x86-64's, when the kernel has no THP to say it */
	snprintf(path, sizeof(path), "%s/sys/kernel/mm/transparent_hugepage/hpage_pmd_size",
	         w->host_root ? w->host_root : "");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return size;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n > 0 && cg_parse_u64(text, cg_trim(text, (size_t)n), &v) == 0 && v)
		size = v;
	return size;
}

int file_vmstat(struct worker_ctx *w, pid_t pid)
{
	struct vmstat_args a;
	struct cg_memory mem;
	struct cg_vmstat vm;
	char path[PATH_MAX];
	uint64_t total_kb;
	long page = sysconf(_SC_PAGESIZE);
	ssize_t n;
	int err;

	if (misc_virt_off(w) || !misc_ctrl_usable(w, CG_MEMORY))
		return misc_serve_host(w, "/proc/vmstat");
	err = misc_cgroup(w, pid, CG_MEMORY, path, sizeof(path));
	if (err < 0) {
		worker_fallback(w, "vmstat", "memory cgroup lookup", pid, NULL, err);
		return misc_serve_host(w, "/proc/vmstat");
	}
	/* The root cgroup is the whole host: its own file says it best. */
	if (strcmp(path, "/") == 0)
		return misc_serve_host(w, "/proc/vmstat");
	err = snap_memory(w, path, &mem);
	if (err == 0)
		err = snap_vmstat(w, path, &vm);
	if (err < 0) {
		worker_fallback(w, "vmstat", "memory values", pid, path, err);
		return misc_serve_host(w, "/proc/vmstat");
	}
	/* nr_free_pages is meminfo's MemFree, bounded by the host's MemTotal */
	n = misc_host(w, "/proc/meminfo");
	if (n < 0)
		return (int)n;
	meminfo_mem_figures(w->host.data, w->host.len, &mem, &total_kb, &a.free_kb);
	n = misc_host(w, "/proc/vmstat");
	if (n < 0)
		return (int)n;
	a.cg = &vm;
	a.units = (struct vmstat_units){page > 0 ? (uint64_t)page : 4096, misc_thp_size(w)};
	a.host = w->host.data;
	a.len = w->host.len;
	/* Figures can be longer than the host's: a line's worth of digits each at most. */
	return worker_render(w, vmstat_render, &a, w->host.len + 4096);
}

struct diskstats_args {
	const char *host;
	size_t len;
	const struct io_dev_stats *devs;
	size_t ndevs;
};

static ssize_t diskstats_render(const struct worker_ctx *w, const void *arg, char *buf, size_t size)
{
	const struct diskstats_args *a = arg;

	return render_diskstats(a->host, a->len, a->devs, a->ndevs, buf, size);
}

/* The cgroup's devices into a malloc'd *devs, grown until they all fit. */
static int misc_read_io(struct worker_ctx *w, const char *path, struct io_dev_stats **devs,
                        size_t *ndevs)
{
	const struct cg_hier *h = &w->layout.ctrl[CG_BLKIO];
	size_t max = MISC_DEVS_FIRST;
	struct io_dev_stats *d = calloc(max, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	/* The snapshot's copy, unless the cgroup used more devices than it keeps. */
	err = snap_io(w, path, d, max, ndevs);
	if (err == -ENOSPC)
		err = cg_read_io(w->root_fd[CG_BLKIO], h->version, path, d, max, ndevs);
	while (err == -ENOSPC && max < MISC_DEVS_MAX) {
		free(d);
		max *= 2;
		d = calloc(max, sizeof(*d));
		if (!d)
			return -ENOMEM;
		err = cg_read_io(w->root_fd[CG_BLKIO], h->version, path, d, max, ndevs);
	}
	if (err < 0) {
		free(d);
		return err;
	}
	*devs = d;
	return 0;
}

int file_diskstats(struct worker_ctx *w, pid_t pid)
{
	struct diskstats_args a;
	struct io_dev_stats *devs = NULL;
	char path[PATH_MAX];
	size_t ndevs = 0;
	ssize_t n;
	int err;

	n = misc_host(w, "/proc/diskstats");
	if (n < 0)
		return (int)n;
	if (misc_virt_off(w) || !misc_ctrl_usable(w, CG_BLKIO))
		return worker_copy_host(w);

	err = misc_cgroup(w, pid, CG_BLKIO, path, sizeof(path));
	if (err < 0) {
		worker_fallback(w, "diskstats", "blkio cgroup lookup", pid, NULL, err);
		return worker_copy_host(w);
	}
	/*
	 * The root cgroup is the whole host, and the host's own file says it
	 * best: v1 keeps no throttle statistics for the root, and v2's root
	 * io.stat is derived from the same disk counters.
	 */
	if (strcmp(path, "/") == 0)
		return worker_copy_host(w);
	err = misc_read_io(w, path, &devs, &ndevs);
	if (err == -ENODATA && (w->shm.hdr->config.opts & LX_OPT_IO_ACCOUNTING)) {
		/* Every disk counts (--enable-io-accounting): none listed is no I/O. */
		err = 0;
		ndevs = 0;
	}
	if (err < 0) {
		/*
		 * -EOPNOTSUPP: no io controller for this cgroup; -ENODATA: no disk
		 * counts (no --enable-io-accounting). Upstream shows the host's too.
		 */
		worker_fallback(w, "diskstats", "io values", pid, path, err);
		return worker_copy_host(w);
	}
	a = (struct diskstats_args){w->host.data, w->host.len, devs, ndevs};
	err = worker_render(w, diskstats_render, &a, w->host.len + 1);
	free(devs);
	return err;
}

/* A slabinfo text, not the empty file kernels since 5.9 leave in each memcg. */
static bool is_slabinfo(const char *text, size_t len)
{
	static const char head[] = "slabinfo - version:";

	return len >= sizeof(head) - 1 && memcmp(text, head, sizeof(head) - 1) == 0;
}

int file_slabinfo(struct worker_ctx *w, pid_t pid)
{
	const struct cg_hier *h = &w->layout.ctrl[CG_MEMORY];
	char path[PATH_MAX];
	ssize_t n;
	int err;

	/* v2 has no per-cgroup slabinfo */
	if (misc_virt_off(w) || !misc_ctrl_usable(w, CG_MEMORY) || h->version != 1)
		return misc_serve_host(w, "/proc/slabinfo");

	err = misc_cgroup(w, pid, CG_MEMORY, path, sizeof(path));
	if (err < 0) {
		worker_fallback(w, "slabinfo", "memory cgroup lookup", pid, NULL, err);
		return misc_serve_host(w, "/proc/slabinfo");
	}
	n = cg_read_file(w->root_fd[CG_MEMORY], path, "memory.kmem.slabinfo", &w->host);
	if (n >= 0 && is_slabinfo(w->host.data, (size_t)n))
		return worker_copy_host(w);
	/* no kmem accounting, or a kernel that no longer fills it: the host's is all there is */
	if (n < 0 && n != -ENOENT && n != -EOPNOTSUPP && n != -EIO)
		worker_fallback(w, "slabinfo", "memory.kmem.slabinfo", pid, path, (int)n);
	return misc_serve_host(w, "/proc/slabinfo");
}

/* The reader's cgroup in the unified hierarchy (its "0::" line), into path. */
static int misc_unified_cgroup(struct worker_ctx *w, pid_t pid, char *path, size_t size)
{
	return worker_reader_cgroup(w, pid, IDENT_UNIFIED, path, size);
}

int file_pressure(struct worker_ctx *w, pid_t pid, const char *which)
{
	char host_path[32], name[32], path[PATH_MAX];
	ssize_t n;
	int err;

	if (!which ||
	    (strcmp(which, "cpu") != 0 && strcmp(which, "io") != 0 && strcmp(which, "memory") != 0))
		return -EINVAL;
	snprintf(host_path, sizeof(host_path), "/proc/pressure/%s", which);
	snprintf(name, sizeof(name), "%s.pressure", which);

	if (misc_virt_off(w) || !w->layout.unified.present)
		return misc_serve_host(w, host_path);

	err = misc_unified_cgroup(w, pid, path, sizeof(path));
	if (err < 0) {
		worker_fallback(w, "pressure", "unified cgroup lookup", pid, NULL, err);
		return misc_serve_host(w, host_path);
	}
	/* On a hybrid host no controller's root is the unified mount: it has its own fd. */
	if (w->unified_fd < 0) {
		worker_fallback(w, "pressure", "open unified mount", pid, NULL, -EBADF);
		return misc_serve_host(w, host_path);
	}
	n = snap_pressure(w, path, name);
	if (n > 0)
		return worker_copy_host(w);
	/* a kernel without PSI per cgroup, or cgroup.pressure 0, has no file to show */
	if (n < 0 && n != -ENOENT && n != -EOPNOTSUPP)
		worker_fallback(w, "pressure", name, pid, path, (int)n);
	return misc_serve_host(w, host_path);
}

int file_loadavg_host(struct worker_ctx *w, pid_t pid)
{
	return misc_serve_host(w, "/proc/loadavg");
}
