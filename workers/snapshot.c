/*
 * The worker's side of the shared snapshot: host files, reader cgroups and
 * cgroup values, each read from cgroupfs or /proc only when the shared copy
 * is older than the freshness bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "workers/ident.h"
#include "workers/reader.h"
#include "workers/snapshot.h"
#include "workers/worker.h"

_Static_assert(sizeof(struct cg_memory) <= SNAP_MEM_VALUE, "cg_memory outgrew its table");

struct host_fill {
	const char *path;
	struct fbuf scratch;
};

static int fill_host(void *ctx, void *value, size_t size, size_t *len)
{
	struct host_fill *f = ctx;
	ssize_t n = procfs_read(AT_FDCWD, f->path, &f->scratch);

	if (n < 0)
		return (int)n;
	if ((size_t)n > size)
		return -EFBIG;
	memcpy(value, f->scratch.data, (size_t)n);
	*len = (size_t)n;
	return 0;
}

ssize_t worker_host_file(struct worker_ctx *w, const char *path)
{
	static struct host_fill f; /* its scratch buffer is kept between calls */
	size_t room = w->shm.hdr->host_size, len = 0;
	struct snap_key key;
	int err;

	char full[PATH_MAX];

	if (fbuf_reserve(&w->host, room + 1) < 0)
		return -ENOMEM;
	if (snprintf(full, sizeof(full), "%s%s", w->host_root ? w->host_root : "", path) >=
	    (int)sizeof(full))
		return -ENAMETOOLONG;
	f.path = full;
	snap_hash(path, strlen(path), &key);
	err = snap_get(&w->shm, SNAP_HOST, &key, path, worker_ttl_ns(w), fill_host, &f,
	               w->host.data, room, &len, &w->who);
	if (err < 0)
		return err;
	w->host.len = len;
	w->host.data[len] = '\0';
	return (ssize_t)len;
}

/* Far above a 1024-CPU cpuinfo: a renderer that keeps asking for more is broken. */
#define WORKER_OUT_MAX (64u << 20)

int worker_render(struct worker_ctx *w, worker_render_fn fn, const void *arg, size_t first)
{
	ssize_t n;

	if (fbuf_reserve(&w->out, first ? first : 1) < 0)
		return -ENOMEM;
	for (;;) {
		n = fn(w, arg, w->out.data, w->out.cap);
		if (n != -ENOSPC)
			break;
		if (w->out.cap >= WORKER_OUT_MAX)
			return -EFBIG;
		if (fbuf_reserve(&w->out, w->out.cap * 2) < 0)
			return -ENOMEM;
	}
	if (n < 0)
		return (int)n;
	w->out.len = (size_t)n;
	return 0;
}

int worker_copy_host(struct worker_ctx *w)
{
	if (fbuf_reserve(&w->out, w->host.len + 1) < 0)
		return -ENOMEM;
	memcpy(w->out.data, w->host.data, w->host.len);
	w->out.len = w->host.len;
	return 0;
}

int worker_reader_cgroup(struct worker_ctx *w, pid_t pid, int c, char *out, size_t size)
{
	const char *p;
	int err;

	if (c < 0 || c > CG_NCTRL)
		return -EINVAL;
	if (!w->reader_valid || w->reader_pid != pid) {
		err = ident_resolve(w, pid, &w->reader);
		if (err < 0)
			return err;
		w->reader_pid = pid;
		w->reader_valid = true;
	}
	p = w->reader.path[c];
	if (p[0] == IDENT_TOO_LONG && c < CG_NCTRL)
		return reader_cgroup(pid, &w->layout, (enum cg_ctrl)c, out, size);
	if (p[0] != '/')
		return -ENOENT;
	if (strlen(p) >= size)
		return -ENAMETOOLONG;
	strcpy(out, p);
	return 0;
}

struct mem_fill {
	int root_fd;
	int version;
	const char *path;
};

static int fill_memory(void *ctx, void *value, size_t size, size_t *len)
{
	struct mem_fill *f = ctx;
	struct cg_memory m;
	int err;

	err = cg_read_memory(f->root_fd, f->version, f->path, &m);
	if (err < 0)
		return err;
	if (size < sizeof(m))
		return -ENOSPC;
	memcpy(value, &m, sizeof(m));
	*len = sizeof(m);
	return 0;
}

int snap_memory(struct worker_ctx *w, const char *path, struct cg_memory *out)
{
	const struct cg_hier *h = &w->layout.ctrl[CG_MEMORY];
	struct mem_fill f = {w->root_fd[CG_MEMORY], h->version, path};
	char label[64];
	struct snap_key key;
	size_t len = 0;
	int err;

	snap_hash(path, strlen(path), &key);
	key.h2 ^= (uint64_t)h->version; /* the same path in two hierarchies is two cgroups */
	snap_label(label, sizeof(label), "memory", path);
	err = snap_get(&w->shm, SNAP_MEM, &key, label, worker_ttl_ns(w), fill_memory, &f, out,
	               sizeof(*out), &len, &w->who);
	if (err < 0)
		return err;
	return len == sizeof(*out) ? 0 : -EIO;
}
