/*
 * Serving one request: find the reader's container, gather its values, render,
 * publish the content for later offsets of this open, and reply to the kernel.
 *
 * When the container cannot be resolved (the reader exited, its cgroup was
 * removed, a cgroup file is malformed) the reader gets the host's file, as
 * upstream does, and the reason is logged (rate-limited: a flood of vanished
 * readers must not flood the log).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shm/content.h"
#include "shm/fuse_reply.h"
#include "shm/log.h"
#include "workers/files.h"
#include "workers/files_misc.h"
#include "workers/ident.h"
#include "workers/reader.h"
#include "workers/snapshot.h"
#include "workers/sysfs.h"
#include "workers/worker.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#define LOG_PATH_TAIL 160

void worker_fallback(struct worker_ctx *w, const char *file, const char *what, pid_t pid,
                     const char *path, int err)
{
	static unsigned long count;
	size_t plen = path ? strlen(path) : 0;

	if (err == -ENAMETOOLONG)
		w->refuse = err;
	/* A path's end tells it apart; a whole 4 KiB one would push the reason off the line. */
	if (++count <= 20 || count % 1000 == 0)
		log_msg("%s: %s for pid %d%s%s%s: %s: %s (%lu so far)", file, what, (int)pid,
		        path ? " in " : "", plen > LOG_PATH_TAIL ? "..." : "",
		        path ? path + (plen > LOG_PATH_TAIL ? plen - LOG_PATH_TAIL : 0) : "",
		        strerror(-err), w->refuse ? "refused" : "serving host content", count);
}

static ssize_t meminfo_render(const struct worker_ctx *w, const void *arg, char *buf, size_t size)
{
	return render_meminfo(w->host.data, w->host.len, arg, &w->opts, buf, size);
}

static int render_meminfo_for(struct worker_ctx *w, pid_t pid)
{
	const struct cg_hier *h = &w->layout.ctrl[CG_MEMORY];
	struct cg_memory mem;
	char path[PATH_MAX];
	ssize_t n;
	int err;

	n = worker_host_file(w, "/proc/meminfo");
	if (n < 0) {
		log_msg("read /proc/meminfo: %s", strerror((int)-n));
		return (int)n;
	}
	if (atomic_load(&w->shm.hdr->config.virt_off) || !h->present || w->root_fd[CG_MEMORY] < 0)
		return worker_copy_host(w);

	err = worker_reader_cgroup(w, pid, CG_MEMORY, path, sizeof(path));
	if (err < 0) {
		worker_fallback(w, "meminfo", "memory cgroup lookup", pid, NULL, err);
		return worker_copy_host(w);
	}
	err = snap_memory(w, path, &mem);
	if (err < 0) {
		worker_fallback(w, "meminfo", "memory values", pid, path, err);
		return worker_copy_host(w);
	}
	return worker_render(w, meminfo_render, &mem, w->host.len + 4096);
}

static int render(struct worker_ctx *w, const struct lx_req *req)
{
	pid_t pid = (pid_t)req->pid;

	switch (req->file) {
	case LX_FILE_MEMINFO:
		return render_meminfo_for(w, pid);
	case LX_FILE_CPUINFO:
		return file_cpuinfo(w, pid);
	case LX_FILE_STAT:
		return file_stat(w, pid);
	case LX_FILE_CPU_ONLINE:
		return file_cpu_list(w, pid, CPU_LIST_ONLINE);
	case LX_FILE_CPU_POSSIBLE:
		return file_cpu_list(w, pid, CPU_LIST_POSSIBLE);
	case LX_FILE_CPU_PRESENT:
		return file_cpu_list(w, pid, CPU_LIST_PRESENT);
	case LX_FILE_CPU_OFFLINE:
		return file_cpu_list(w, pid, CPU_LIST_OFFLINE);
	case LX_FILE_UPTIME:
		return file_uptime(w, pid);
	case LX_FILE_SWAPS:
		return file_swaps(w, pid);
	case LX_FILE_VMSTAT:
		return file_vmstat(w, pid);
	case LX_FILE_DISKSTATS:
		return file_diskstats(w, pid);
	case LX_FILE_SLABINFO:
		return file_slabinfo(w, pid);
	case LX_FILE_PRESSURE_CPU:
		return file_pressure(w, pid, "cpu");
	case LX_FILE_PRESSURE_IO:
		return file_pressure(w, pid, "io");
	case LX_FILE_PRESSURE_MEMORY:
		return file_pressure(w, pid, "memory");
	case LX_FILE_LOADAVG:
		return file_loadavg(w, pid);
	case LX_FILE_SYSFS:
		return file_sysfs(w, req->nodeid);
	default:
		return -ENOENT;
	}
}

/*
 * Keep the render for later offsets of this open, if the reader's container
 * may hold that much more content (shm/quota.h): past its share, this reader
 * is served uncached (a later offset with nothing published is rendered
 * again) and other containers keep their room. A full region is not an
 * error for the reader either: this reply comes from our own buffer.
 * Sets cmp's old chain and the chunks kept, for the master to account.
 */
static void publish(struct worker_ctx *w, const struct lx_req *req, struct lx_cmp *cmp)
{
	static unsigned long full, over;
	const struct shm_handle *h = shm_handle_of(&w->shm, req->fh);
	uint32_t need = content_chunks_for(w->out.len), chain, old = 0, t;
	uint32_t in_use = atomic_load_explicit(&w->shm.hdr->chunks_in_use, memory_order_relaxed);
	int64_t held = 0;
	int err;

	/* The master's counts, read without a lock: a few renders' worth of overshoot at most. */
	t = h ? atomic_load_explicit(&h->tenant, memory_order_relaxed) : 0;
	if (t > 0 && t <= w->shm.ntenants)
		held = atomic_load_explicit(&w->shm.tenants[t - 1].chunks, memory_order_relaxed);
	if (!quota_admit(&w->shm.quota_chunks, held, need,
	                 in_use < w->shm.nchunks ? w->shm.nchunks - in_use : 0)) {
		if (over++ % 1000 == 0)
			log_msg("content of pid %u's container not kept: %lld chunks held, share %u "
			        "(%lu renders served uncached)",
			        req->pid, (long long)held, w->shm.quota_chunks.limit, over);
		return;
	}
	err = content_store(&w->shm, w->out.data, w->out.len, &chain);
	if (err < 0) {
		if (full++ % 1000 == 0)
			log_msg("content region full: %lu renders not kept", full);
		return;
	}
	if (content_publish(&w->shm, req->fh, chain, &old) < 0) {
		content_free(&w->shm, chain); /* the file was closed meanwhile */
		return;
	}
	cmp->old_content = old;
	cmp->new_chunks = need;
}

/* An OPEN by a reader the master could not place: its container, for the master's quota. */
static void resolve(struct worker_ctx *w, const struct lx_req *req, struct lx_cmp *cmp)
{
	struct cont_paths paths;
	int err = ident_resolve(w, (pid_t)req->pid, &paths);

	if (err < 0) {
		log_debug("container of pid %u (open of %.64s): %s", req->pid, req->name,
		          strerror(-err));
		cmp->error = err;
		return;
	}
	cmp->tenant = ident_container_key(&paths);
}

void serve_request(struct worker_ctx *w, const struct lx_req *req, struct lx_cmp *cmp)
{
	struct iovec iov;
	int err, rerr;

	memset(cmp, 0, sizeof(*cmp));
	w->reader_valid = false; /* resolved afresh (through the cache) for each request */
	w->refuse = 0;
	cmp->seq = req->seq;
	cmp->unique = req->unique;
	cmp->fh = req->fh;
	cmp->file = req->file;

	if (req->op == LX_OP_SAMPLE || req->op == LX_OP_RESOLVE) {
		/* Nobody waits for a sample; the master answers the OPEN behind a resolve. */
		if (req->op == LX_OP_SAMPLE)
			loadavg_sample(w);
		else
			resolve(w, req, cmp);
		cmp->done_ns = mono_ns();
		return;
	}
	if (req->op != LX_OP_READ) {
		err = sysfs_serve(w, req, cmp);
		rerr = err < 0 ? fuse_reply_err(WORKER_FUSE_FD, req->unique, err) : 0;
		if (err < 0 && err != -ENOENT) {
			cmp->error = err;
			atomic_fetch_add(&w->sw->errors, 1);
		}
		goto done;
	}
	err = req->op == LX_OP_READ ? render(w, req) : -ENOSYS;
	if (err == 0 && w->refuse)
		err = w->refuse;
	if (err < 0) {
		log_msg("request %llu (file %u, pid %u): %s", (unsigned long long)req->unique,
		        req->file, req->pid, strerror(-err));
		rerr = fuse_reply_err(WORKER_FUSE_FD, req->unique, err);
		cmp->error = err;
		atomic_fetch_add(&w->sw->errors, 1);
		goto done;
	}
	shm_note_size(&w->shm, req->file, w->out.len);
	publish(w, req, cmp);

	iov.iov_base = w->out.data + (req->offset < w->out.len ? req->offset : w->out.len);
	iov.iov_len = req->offset < w->out.len ? w->out.len - req->offset : 0;
	if (iov.iov_len > req->size)
		iov.iov_len = req->size;
	rerr = fuse_reply_iov(WORKER_FUSE_FD, req->unique, 0, &iov, iov.iov_len ? 1 : 0);
	cmp->bytes = (uint32_t)iov.iov_len;
done:
	/* ENOENT: the kernel no longer waits for it (interrupted, or answered twice). */
	if (rerr < 0 && rerr != -ENOENT)
		log_msg("reply to request %llu: %s", (unsigned long long)req->unique,
		        strerror(-rerr));
	atomic_fetch_add(&w->sw->served, 1);
	cmp->done_ns = mono_ns();
}
