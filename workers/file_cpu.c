/*
 * Gathering the CPU-shaped files for one request (see files.h): cpuinfo,
 * stat and the CPU lists of sys/devices/system/cpu (online, possible,
 * present, offline; the same view hides the cpuN directories of CPUs the
 * container cannot use, see sysfs.c). All start from the same two figures of
 * the reader's container, the CPUs its cpuset allows and, with --enable-cfs,
 * its CFS quota in CPUs; stat adds the CPU time it used.
 *
 * Host files are read and cgroups resolved in one helper each (cpu_host,
 * cpu_cgroup), so both can move to a cache in one place.
 *
 * A container without a cpuset controller (none mounted, or v2 with no
 * cpuset anywhere) may use every CPU: its set is "all", and the host's online
 * CPUs narrow it as each file's host text does.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc_render/cpu.h"
#include "shm/log.h"
#include "workers/cg_cpu.h"
#include "workers/cg_misc.h"
#include "workers/files.h"
#include "workers/reader.h"
#include "workers/snapshot.h"
#include "workers/worker.h"

#define CPU_SYS_PATH "/sys/devices/system/cpu"

/* What the three files need to know of the container. */
struct cpu_view {
	struct cpuset visible;
	unsigned cfs_cpus; /* --enable-cfs quota in CPUs; 0: no quota or no --enable-cfs */
	bool cfs;          /* --enable-cfs */
};


/* The host's file at path into w->host. Returns its length or -errno. */
static ssize_t cpu_host(struct worker_ctx *w, const char *path)
{
	ssize_t n = worker_host_file(w, path);

	if (n < 0)
		log_msg("read %s: %s", path, strerror((int)-n));
	return n;
}

/* The reader's container cgroup for controller c. */
static int cpu_cgroup(struct worker_ctx *w, pid_t pid, enum cg_ctrl c, char *path, size_t size)
{
	return worker_reader_cgroup(w, pid, c, path, size);
}

/* Is controller c mounted where this worker can read it? */
static bool cpu_ctrl(const struct worker_ctx *w, enum cg_ctrl c)
{
	return w->layout.ctrl[c].present && w->root_fd[c] >= 0;
}

/*
 * The reader's CPUs and, with --enable-cfs, its quota. Logs and returns
 * -errno when they cannot be read: the caller serves the host's file.
 */
static int cpu_view_of(struct worker_ctx *w, const char *file, pid_t pid, struct cpu_view *v)
{
	char path[PATH_MAX];
	int err;

	cpuset_fill(&v->visible);
	v->cfs_cpus = 0;
	v->cfs = w->shm.hdr->config.opts & LX_OPT_CFS;

	if (cpu_ctrl(w, CG_CPUSET)) {
		err = cpu_cgroup(w, pid, CG_CPUSET, path, sizeof(path));
		if (err < 0) {
			worker_fallback(w, file, "cpuset cgroup lookup", pid, NULL, err);
			return err;
		}
		err = snap_cpuset(w, path, &v->visible);
		if (err == -ENODATA) {
			cpuset_fill(&v->visible);
		} else if (err < 0) {
			worker_fallback(w, file, "cpuset", pid, path, err);
			return err;
		}
	}

	if (!v->cfs || !cpu_ctrl(w, CG_CPU))
		return 0;
	err = cpu_cgroup(w, pid, CG_CPU, path, sizeof(path));
	if (err < 0) {
		worker_fallback(w, file, "cpu cgroup lookup", pid, NULL, err);
		return err;
	}
	err = snap_cfs(w, path, &v->cfs_cpus);
	if (err < 0) {
		worker_fallback(w, file, "cfs quota", pid, path, err);
		return err;
	}
	return 0;
}

static ssize_t cpu_render_cpuinfo(const struct worker_ctx *w, const void *arg, char *buf,
                                  size_t size)
{
	const struct cpu_view *v = arg;

	return render_cpuinfo(w->host.data, w->host.len, &v->visible, v->cfs_cpus, buf, size);
}

int file_cpuinfo(struct worker_ctx *w, pid_t pid)
{
	struct cpu_view v;
	ssize_t n;
	int err;

	n = cpu_host(w, "/proc/cpuinfo");
	if (n < 0)
		return (int)n;
	if (atomic_load(&w->shm.hdr->config.virt_off))
		return worker_copy_host(w);
	if (cpu_view_of(w, "cpuinfo", pid, &v) < 0)
		return worker_copy_host(w);

	/* Filtering only shrinks the text; a last line without newline gets one. */
	err = worker_render(w, cpu_render_cpuinfo, &v, w->host.len + 64);
	if (err == -ENOMEM)
		return err;
	if (err < 0) {
		worker_fallback(w, "cpuinfo", "render", pid, NULL, err);
		return worker_copy_host(w);
	}
	return 0;
}

static ssize_t cpu_render_stat(const struct worker_ctx *w, const void *arg, char *buf, size_t size)
{
	return render_stat(w->host.data, w->host.len, arg, buf, size);
}

/* One per worker: 128 KiB, too large for the stack, and one request at a time. */
static struct cg_cpuacct *cpu_acct_buf(void)
{
	static struct cg_cpuacct *acct;

	if (!acct)
		acct = malloc(sizeof(*acct));
	return acct;
}

/*
 * The container's CPU time into sv: per CPU from v1 cpuacct, else totals from
 * v2 cpu.stat, else none (sv shows the host's lines), and the life of the
 * cgroup it was read from (0: none read). Logs and returns -errno when a
 * controller is there but its figures cannot be read.
 */
static int cpu_usage_of(struct worker_ctx *w, pid_t pid, struct stat_view *sv,
                        struct cg_cpu_stat *cs, uint64_t *life)
{
	const struct cg_hier *acct_h = &w->layout.ctrl[CG_CPUACCT];
	const struct cg_hier *cpu_h = &w->layout.ctrl[CG_CPU];
	struct cg_cpuacct *acct;
	char path[PATH_MAX];
	int err;

	if (cpu_ctrl(w, CG_CPUACCT) && acct_h->version == 1) {
		acct = cpu_acct_buf();
		if (!acct)
			return -ENOMEM;
		err = cpu_cgroup(w, pid, CG_CPUACCT, path, sizeof(path));
		if (err < 0) {
			worker_fallback(w, "stat", "cpuacct cgroup lookup", pid, NULL, err);
			return err;
		}
		err = snap_cpuacct(w, path, acct, life);
		if (err < 0) {
			worker_fallback(w, "stat", "cpuacct usage", pid, path, err);
			return err;
		}
		sv->acct = acct;
	} else if (cpu_ctrl(w, CG_CPU) && cpu_h->version == 2) {
		err = cpu_cgroup(w, pid, CG_CPU, path, sizeof(path));
		if (err < 0) {
			worker_fallback(w, "stat", "cpu cgroup lookup", pid, NULL, err);
			return err;
		}
		err = snap_cpu_stat(w, path, cs, life);
		if (err < 0) {
			worker_fallback(w, "stat", "cpu.stat", pid, path, err);
			return err;
		}
		sv->cpu_stat = cs;
	}
	return 0;
}

/*
 * The container's threads running and blocked into sv, counted in its cpu
 * cgroup (the hierarchy loadavg counts in). Left to the host's lines (and
 * logged at debug) when they cannot be counted, and for the root cgroup,
 * which is the whole host and whose walk would visit every thread.
 */
static void cpu_procs_of(struct worker_ctx *w, pid_t pid, struct stat_view *sv)
{
	struct cg_task_states st;
	char path[PATH_MAX];
	int err;

	if (!cpu_ctrl(w, CG_CPU))
		return;
	err = cpu_cgroup(w, pid, CG_CPU, path, sizeof(path));
	if (err == 0 && strcmp(path, "/") == 0)
		return;
	if (err == 0)
		err = snap_procs(w, path, pid, &st);
	if (err < 0) {
		log_debug("stat: threads of pid %d's container: %s: host's procs lines", (int)pid,
		          strerror(-err));
		return;
	}
	sv->procs = true;
	sv->procs_running = st.running;
	sv->procs_blocked = st.blocked;
}

int file_stat_floor(struct worker_ctx *w, pid_t pid, struct stat_floor *floor, uint64_t *life)
{
	struct stat_view sv = {.prev = floor, .next = floor};
	struct cg_cpu_stat cs;
	struct cpu_view v;
	uint64_t shown = 0;
	ssize_t n;
	int err;

	n = cpu_host(w, "/proc/stat");
	if (n < 0)
		return (int)n;
	if (atomic_load(&w->shm.hdr->config.virt_off))
		return worker_copy_host(w);
	if (cpu_view_of(w, "stat", pid, &v) < 0)
		return worker_copy_host(w);
	err = cpu_usage_of(w, pid, &sv, &cs, &shown);
	if (err == -ENOMEM)
		return err;
	if (err < 0)
		return worker_copy_host(w);
	/*
	 * A floor belongs to one life of the usage cgroup: a container made again
	 * at the same path starts from nothing, not from its predecessor's last
	 * figures. Figures of an older life than the floor's (a copy taken
	 * before the new cgroup was read) are shown as they are, floor untouched.
	 */
	if (floor && life && shown && shown != *life) {
		if (shown > *life)
			memset(floor, 0, sizeof(*floor));
		else
			sv.prev = sv.next = NULL;
		*life = shown;
	}

	cpu_procs_of(w, pid, &sv);
	sv.visible = &v.visible;
	sv.max_cpus = v.cfs_cpus;
	/* Numbered as online numbers them: host ids, renumbered in the cfs view only. */
	sv.renumber = v.cfs;
	/* Figures can grow a line by a few digits; the first doubling covers the rest. */
	err = worker_render(w, cpu_render_stat, &sv, w->host.len + 4096);
	if (err == -ENOMEM)
		return err;
	if (err < 0) {
		worker_fallback(w, "stat", "render", pid, NULL, err);
		return worker_copy_host(w);
	}
	return 0;
}

/* The host's masks into host: online, possible and present. Logs and returns -errno. */
static int cpu_host_masks_of(struct worker_ctx *w, pid_t pid, struct cpu_host_masks *host)
{
	static const char *const paths[] = {CPU_SYS_PATH "/online", CPU_SYS_PATH "/possible",
	                                    CPU_SYS_PATH "/present"};
	struct cpuset *masks[] = {&host->online, &host->possible, &host->present};
	ssize_t n;
	int err;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		n = cpu_host(w, paths[i]);
		if (n < 0)
			return (int)n;
		err = cpuset_parse(w->host.data, w->host.len, masks[i]);
		if (err < 0) {
			worker_fallback(w, "cpu lists", paths[i], pid, NULL, err);
			return err;
		}
	}
	return 0;
}

int cpu_sys_view_of(struct worker_ctx *w, pid_t pid, struct cpu_sys_view *out)
{
	struct cpu_host_masks host;
	struct cpu_view v;
	int err;

	if (atomic_load(&w->shm.hdr->config.virt_off))
		return -ENODATA;
	err = cpu_view_of(w, "cpu lists", pid, &v);
	if (err == 0)
		err = cpu_host_masks_of(w, pid, &host);
	if (err < 0)
		return err;
	/* --enable-cfs renumbers even without a quota, as cpuinfo and stat do. */
	cpu_sys_view(&v.visible, &host, v.cfs, v.cfs_cpus, out);
	return 0;
}

struct cpu_list_args {
	const struct cpu_sys_view *view;
	enum cpu_list which;
};

static ssize_t cpu_render_list(const struct worker_ctx *w, const void *arg, char *buf, size_t size)
{
	const struct cpu_list_args *a = arg;

	return render_cpu_list(a->view, a->which, buf, size);
}

int file_cpu_list(struct worker_ctx *w, pid_t pid, enum cpu_list which)
{
	static const char *const names[] = {
	    [CPU_LIST_ONLINE] = "online",
	    [CPU_LIST_POSSIBLE] = "possible",
	    [CPU_LIST_PRESENT] = "present",
	    [CPU_LIST_OFFLINE] = "offline",
	};
	static struct cpu_sys_view view; /* 5 KiB; one request at a time */
	struct cpu_list_args a = {&view, which};
	char path[64];
	ssize_t n;
	int err;

	if ((unsigned)which >= sizeof(names) / sizeof(names[0]))
		return -EINVAL;
	err = cpu_sys_view_of(w, pid, &view);
	if (err == 0) {
		err = worker_render(w, cpu_render_list, &a, 4096);
		if (err == 0 || err == -ENOMEM)
			return err;
		worker_fallback(w, names[which], "render", pid, NULL, err);
	}
	/* Virtualization off, or the reader's CPUs unknown: the host's list. */
	snprintf(path, sizeof(path), "%s/%s", CPU_SYS_PATH, names[which]);
	n = cpu_host(w, path);
	if (n < 0)
		return (int)n;
	return worker_copy_host(w);
}

int file_cpu_online(struct worker_ctx *w, pid_t pid)
{
	return file_cpu_list(w, pid, CPU_LIST_ONLINE);
}
