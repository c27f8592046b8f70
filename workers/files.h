/*
 * The files a worker renders, one gather-and-render function each, called from
 * the request switch in serve.c. Each reads the host's file into w->host,
 * finds the reader's container, leaves the content in w->out and returns 0,
 * or a -errno for the reader when not even the host's file could be served.
 * When the container cannot be resolved or its cgroup files cannot be read,
 * the host's file is served and the reason logged (rate-limited); while
 * virtualization is off (SIGUSR2) the host's file is served.
 */
#ifndef LXCFS_FILES_H
#define LXCFS_FILES_H

#include <stdint.h>
#include <sys/types.h>

#include "proc_render/cpu.h"

struct worker_ctx;
struct stat_floor;

/* /proc/cpuinfo: the host's blocks of the container's CPUs, renumbered; --enable-cfs caps them. */
int file_cpuinfo(struct worker_ctx *w, pid_t pid);

/* /proc/stat: the container's CPUs and CPU time, without a never-backwards floor. */
int file_stat(struct worker_ctx *w, pid_t pid);

/*
 * /proc/stat clamped to floor (the container's last figures, NULL: none),
 * updated in place. *life (when not NULL) is the life of the usage cgroup
 * the floor was shown for (cg_life, 0: unknown): figures of a later life
 * start the floor afresh, and *life is set to the life of the figures shown.
 */
int file_stat_floor(struct worker_ctx *w, pid_t pid, struct stat_floor *floor, uint64_t *life);

/* /sys/devices/system/cpu/online: the container's online CPUs as a list; --enable-cfs renumbers. */
int file_cpu_online(struct worker_ctx *w, pid_t pid);

/*
 * /sys/devices/system/cpu/{online,possible,present,offline} of the reader's
 * container (see cpu_sys_view() in proc_render/cpu.h).
 */
int file_cpu_list(struct worker_ctx *w, pid_t pid, enum cpu_list which);

/*
 * The reader's view of sys/devices/system/cpu: its lists and the cpuN
 * directories it is shown. -ENODATA while virtualization is off; another
 * -errno (logged) when its CPUs cannot be told. Either way the caller shows
 * the host's.
 */
int cpu_sys_view_of(struct worker_ctx *w, pid_t pid, struct cpu_sys_view *out);

#endif
