/*
 * The lxcfs command line: upstream's options, plus the pool's own.
 */
#ifndef LXCFS_CLI_H
#define LXCFS_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "shm/log.h"

struct cli {
	const char *mountpoint;
	bool foreground;
	bool debug;
	bool loadavg;              /* -l */
	bool swap_off;             /* -u */
	bool zswap_off;            /* -z */
	bool cfs;                  /* --enable-cfs */
	bool io_accounting;        /* --enable-io-accounting */
	bool takeover;             /* --takeover: replace the daemon serving the mount */
	bool standby;              /* --standby: the serving master's standby (standby.h) */
	const char *pidfile;       /* default <runtime-dir>/lxcfs.pid */
	const char *runtime_dir;   /* default /run */
	const char *fuse_opts;     /* every -o, less the dropped ones; NULL: none */
	const char *worker_binary; /* default: beside our own binary */
	int workers;               /* default: CPUs, at least 2 */
	uint32_t cache_ttl_ms;
	uint32_t request_timeout_ms;
	uint32_t max_cgroups; /* snapshot capacity: containers and cgroups */
	uint32_t max_pids;    /* identity cache capacity: readers */
	uint32_t max_handles; /* files open at once */
	uint32_t container_handles;     /* one container's share; 0: max_handles / 64 */
	uint32_t content_mib;           /* open files' content */
	uint32_t container_content_mib; /* one container's share; 0: content_mib / 8 */
	enum log_target log;  /* --log, or log_target_default() */
	char pidfile_buf[PATH_MAX];
	char worker_buf[PATH_MAX];
	char fuse_opts_buf[4096];
};

/* Parse argv. Returns 0 to run, 1 when -h/-v was answered, 2 on a usage error. */
int cli_parse(int argc, char **argv, struct cli *c);

#endif
