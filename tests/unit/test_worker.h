/*
 * A worker context for tests of the gather functions: a real shared region
 * (snapshot tables included), this machine's cgroup layout and root fds, as
 * lxcfs-worker sets them up at start.
 */
#ifndef LXCFS_TEST_WORKER_H
#define LXCFS_TEST_WORKER_H

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "workers/worker.h"

static struct snap_counters test_worker_counters;

static inline int test_worker_init(struct worker_ctx *w, uint32_t ttl_ms)
{
	int err;

	memset(w, 0, sizeof(*w));
	err = shm_create(&w->shm, &(struct shm_sizes){.nhandles = 16,
						      .nchunks = 64,
						      .max_cgroups = 64,
						      .max_pids = 64,
						      .host_size = 1u << 20,
						      .host_cpus = 64});
	if (err < 0)
		return err;
	w->shm.hdr->config.cache_ttl_ms = ttl_ms;
	atomic_store(&w->shm.workers[0].gen, 1);
	atomic_store(&w->shm.workers[0].state, WS_READY);
	w->sw = &w->shm.workers[0];
	w->who = (struct snap_who){.worker = 0, .gen = 1, .c = &test_worker_counters};
	if (cg_layout_detect(&w->layout) < 0)
		memset(&w->layout, 0, sizeof(w->layout));
	for (int c = 0; c < CG_NCTRL; c++) {
		w->root_fd[c] = -1;
		if (w->layout.ctrl[c].present)
			w->root_fd[c] = open(w->layout.ctrl[c].mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	w->unified_fd = -1;
	if (w->layout.unified.present)
		w->unified_fd = open(w->layout.unified.mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return 0;
}

static inline void test_worker_fini(struct worker_ctx *w)
{
	for (int c = 0; c < CG_NCTRL; c++)
		if (w->root_fd[c] >= 0)
			close(w->root_fd[c]);
	if (w->unified_fd >= 0)
		close(w->unified_fd);
	free(w->host.data);
	free(w->out.data);
	free(w->acct_value);
	free(w->cpuset_value);
	shm_detach(&w->shm);
	close(w->shm.fd);
}

#endif
