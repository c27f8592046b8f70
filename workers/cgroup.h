/*
 * cgroupfs as the workers see it: which hierarchy holds each controller
 * (cgroup v1, v2 or hybrid, from /proc/self/mountinfo), where a process's
 * cgroup is, and the values each file needs.
 *
 * Parsers take text and do no I/O so fixtures can drive them. Readers take the
 * hierarchy root as a directory fd: in production the host's mount, in tests a
 * fixture tree written as the kernel writes the files.
 */
#ifndef LXCFS_CGROUP_H
#define LXCFS_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proc_render/render.h"
#include "proc_render/vmstat.h"

/* cgroupfs files read by this process: the snapshot's effect is measured by it. */
extern unsigned long cg_files_read;

enum cg_ctrl { CG_MEMORY, CG_CPU, CG_CPUACCT, CG_CPUSET, CG_BLKIO, CG_NCTRL };

enum cg_layout_kind {
	CG_LAYOUT_NONE = 0, /* no cgroup mount found */
	CG_LAYOUT_V1,       /* v1 hierarchies only */
	CG_LAYOUT_V2,       /* the unified hierarchy only */
	CG_LAYOUT_HYBRID,   /* v1 controllers plus a (controller-less) unified tree */
};

/* Where one controller lives. */
struct cg_hier {
	bool present;
	int version;          /* 1 or 2 */
	char mount[PATH_MAX]; /* mount point, e.g. /sys/fs/cgroup/memory */
	char root[PATH_MAX];  /* root of the mount inside the hierarchy ("/" on the host) */
};

struct cg_layout {
	enum cg_layout_kind kind;
	struct cg_hier ctrl[CG_NCTRL];
	struct cg_hier unified; /* the cgroup2 mount, if any */
};

/* Controller name as in /proc/<pid>/cgroup and mountinfo super options. */
const char *cg_ctrl_name(enum cg_ctrl c);

/*
 * Parse /proc/self/mountinfo text. A controller is v1 where a cgroup (v1) mount
 * lists it in its super options; otherwise v2 where a cgroup2 mount exists and
 * no v1 hierarchy claims it. Returns 0 or -EINVAL on text that is not mountinfo.
 */
int cg_layout_parse(const char *text, size_t len, struct cg_layout *out);

/* cg_layout_parse of this process's /proc/self/mountinfo. Returns 0 or -errno. */
int cg_layout_detect(struct cg_layout *out);

/* The kernel's buffer for a path in /proc/<pid>/cgroup (it truncates longer ones). */
#define CG_PROC_PATH_MAX 4096

/*
 * The cgroup of a process for controller c, from the text of /proc/<pid>/cgroup:
 * v1 the line whose controller list holds c, v2 the "0::" line. The path is
 * made relative to the hierarchy's mount root and a trailing "/init.scope" is
 * dropped. Writes a path starting with '/' to out. Returns 0, -ENOENT when no
 * line matches, -ENAMETOOLONG (longer than out, or as long as the kernel
 * writes, which may be a cut path), or -EINVAL on malformed text.
 */
int cg_path_parse(const char *text, size_t len, const struct cg_hier *h, enum cg_ctrl c, char *out,
                  size_t size);

/*
 * Memory figures of the cgroup at path (starting with '/') in the hierarchy
 * whose root directory is root_fd, version 1 or 2. The limits are the minimum
 * over the cgroup and all its ancestors up to root_fd. Returns 0, -ENOENT if
 * the cgroup does not exist (vanished), -EINVAL on a malformed required file,
 * or another -errno from the failing read.
 */
int cg_read_memory(int root_fd, int version, const char *path, struct cg_memory *out);

/*
 * As cg_read_memory, but the limits are the cgroup's own only: the caller
 * takes the minimum with its ancestors' (which siblings share, so the
 * snapshot keeps them once). Returns 0 or -errno as cg_read_memory.
 */
int cg_read_memory_here(int root_fd, int version, const char *path, struct cg_memory *out);

/*
 * Whether out's limits from cg_read_memory_here already cover the ancestors:
 * v1 memory.stat carries the kernel's hierarchical minimum, so a v1 refresh
 * reads neither the limit files nor anything above the cgroup.
 */
bool cg_memory_limits_final(const struct cg_memory *m);

/* The cgroup's own memory and swap limits (CG_UNLIMITED where none). 0 or -errno. */
int cg_read_memory_limits(int root_fd, int version, const char *path, uint64_t *limit,
			  uint64_t *swap_limit);

/*
 * Parse a memory.stat text into out (keys per cg_memory's comments). Unknown
 * keys are ignored; malformed lines give -EINVAL and leave out untouched.
 */
int cg_parse_memory_stat(const char *text, size_t len, int version, struct cg_memory *out);

/*
 * The memory.stat figures /proc/vmstat shows of the cgroup at path (see
 * proc_render/vmstat.c): v1 total_* keys, v2 plain keys. Returns 0, -ENOENT,
 * -EINVAL on a malformed memory.stat, or another -errno.
 */
int cg_read_vmstat(int root_fd, int version, const char *path, struct cg_vmstat *out);

/* Parse a memory.stat text for cg_read_vmstat. 0, or -EINVAL (out untouched). */
int cg_parse_vmstat(const char *text, size_t len, int version, struct cg_vmstat *out);

/*
 * Parse a single-value limit file: a decimal number or "max". Returns 0 with
 * CG_UNLIMITED for "max" (and for v1's page-rounded LONG_MAX), -EINVAL otherwise.
 */
int cg_parse_limit(const char *text, size_t len, uint64_t *out);

#endif
