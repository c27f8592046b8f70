/*
 * The worker's side of the shared snapshot: host files, reader cgroups and
 * cgroup values, each read from cgroupfs or /proc only when the shared copy
 * is older than the freshness bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "workers/cg_misc.h"
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

/* The minimum limits over a cgroup and its ancestors, as kept per cgroup. */
struct mem_limits {
	uint64_t limit;
	uint64_t swap_limit;
};

static int snap_limits(struct worker_ctx *w, const char *path, struct mem_limits *out);

/* path's parent ("/a/b" -> "/a", "/a" -> "/"), or false for the root. */
static bool parent_of(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash || strcmp(path, "/") == 0)
		return false;
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= size)
		return false;
	memcpy(out, path, len);
	out[len] = '\0';
	return true;
}

/*
 * Lower *limit and *swap_limit to those of path's ancestors, kept once for all
 * their descendants in the snapshot. The root has no ancestor. 0 or -errno.
 */
static int min_with_ancestors(struct worker_ctx *w, const char *path, uint64_t *limit,
			      uint64_t *swap_limit)
{
	char parent[PATH_MAX];
	struct mem_limits up;
	int err;

	if (!parent_of(path, parent, sizeof(parent)))
		return 0;
	err = snap_limits(w, parent, &up);
	if (err < 0)
		return err;
	*limit = up.limit < *limit ? up.limit : *limit;
	*swap_limit = up.swap_limit < *swap_limit ? up.swap_limit : *swap_limit;
	return 0;
}

struct limits_fill {
	struct worker_ctx *w;
	const char *path;
};

static int fill_limits(void *ctx, void *value, size_t size, size_t *len)
{
	struct limits_fill *f = ctx;
	const struct cg_hier *h = &f->w->layout.ctrl[CG_MEMORY];
	struct mem_limits l;
	int err;

	if (size < sizeof(l))
		return -ENOSPC;
	err = cg_read_memory_limits(f->w->root_fd[CG_MEMORY], h->version, f->path, &l.limit,
				    &l.swap_limit);
	/* Up one level: shared by every sibling, read once per bound for all of them. */
	if (err == 0)
		err = min_with_ancestors(f->w, f->path, &l.limit, &l.swap_limit);
	if (err < 0)
		return err;
	memcpy(value, &l, sizeof(l));
	*len = sizeof(l);
	return 0;
}

void snap_cgroup_key(const struct worker_ctx *w, const char *kind, enum cg_ctrl c,
                     const char *path, struct snap_key *key)
{
	char buf[PATH_MAX + 16];
	int n = snprintf(buf, sizeof(buf), "%s:%d:%s", kind, w->layout.ctrl[c].version, path);

	snap_hash(buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : strlen(buf), key);
}

ssize_t snap_cgroup(struct worker_ctx *w, enum snap_table_id t, const char *kind, enum cg_ctrl c,
                    const char *path, snap_fill_fn fill, void *ctx, void *out, size_t size)
{
	char label[64];
	struct snap_key key;
	size_t len = 0;
	int err;

	snap_cgroup_key(w, kind, c, path, &key);
	snap_label(label, sizeof(label), kind, path);
	err = snap_get(&w->shm, t, &key, label, worker_value_ttl_ns(w), fill, ctx, out, size, &len,
	               &w->who);
	return err < 0 ? err : (ssize_t)len;
}

int snap_cgroup_exact(struct worker_ctx *w, enum snap_table_id t, const char *kind, enum cg_ctrl c,
                      const char *path, snap_fill_fn fill, void *ctx, void *out, size_t size)
{
	ssize_t n = snap_cgroup(w, t, kind, c, path, fill, ctx, out, size);

	if (n < 0)
		return (int)n;
	return (size_t)n == size ? 0 : -EIO;
}

static int snap_limits(struct worker_ctx *w, const char *path, struct mem_limits *out)
{
	return snap_cgroup_exact(w, SNAP_MEM, "limits", CG_MEMORY, path, fill_limits,
	                         &(struct limits_fill){w, path}, out, sizeof(*out));
}

struct mem_fill {
	struct worker_ctx *w;
	const char *path;
};

static int fill_memory(void *ctx, void *value, size_t size, size_t *len)
{
	struct mem_fill *f = ctx;
	const struct cg_hier *h = &f->w->layout.ctrl[CG_MEMORY];
	struct cg_memory m;
	int err;

	if (size < sizeof(m))
		return -ENOSPC;
	err = cg_read_memory_here(f->w->root_fd[CG_MEMORY], h->version, f->path, &m);
	if (err == 0 && !cg_memory_limits_final(&m))
		err = min_with_ancestors(f->w, f->path, &m.limit, &m.swap_limit);
	if (err < 0)
		return err;
	memcpy(value, &m, sizeof(m));
	*len = sizeof(m);
	return 0;
}

int snap_memory(struct worker_ctx *w, const char *path, struct cg_memory *out)
{
	return snap_cgroup_exact(w, SNAP_MEM, "memory", CG_MEMORY, path, fill_memory,
	                         &(struct mem_fill){w, path}, out, sizeof(*out));
}

_Static_assert(sizeof(struct cg_vmstat) <= SNAP_MEM_VALUE, "cg_vmstat outgrew its table");

struct vmstat_fill {
	struct worker_ctx *w;
	const char *path;
};

static int fill_vmstat(void *ctx, void *value, size_t size, size_t *len)
{
	struct vmstat_fill *f = ctx;
	const struct cg_hier *h = &f->w->layout.ctrl[CG_MEMORY];
	struct cg_vmstat v;
	int err;

	if (size < sizeof(v))
		return -ENOSPC;
	err = cg_read_vmstat(f->w->root_fd[CG_MEMORY], h->version, f->path, &v);
	if (err < 0)
		return err;
	memcpy(value, &v, sizeof(v));
	*len = sizeof(v);
	return 0;
}

int snap_vmstat(struct worker_ctx *w, const char *path, struct cg_vmstat *out)
{
	return snap_cgroup_exact(w, SNAP_MEM, "vmstat", CG_MEMORY, path, fill_vmstat,
	                         &(struct vmstat_fill){w, path}, out, sizeof(*out));
}

struct procs_fill {
	struct worker_ctx *w;
	const char *path;
	pid_t reader;
};

static int fill_procs(void *ctx, void *value, size_t size, size_t *len)
{
	struct procs_fill *f = ctx;
	const struct cg_hier *h = &f->w->layout.ctrl[CG_CPU];
	struct cg_task_states st;
	int err;

	if (size < sizeof(st))
		return -ENOSPC;
	err = cg_count_states(f->w->root_fd[CG_CPU], h->version, f->path, f->reader, &st);
	if (err < 0)
		return err;
	memcpy(value, &st, sizeof(st));
	*len = sizeof(st);
	return 0;
}

int snap_procs(struct worker_ctx *w, const char *path, pid_t reader, struct cg_task_states *out)
{
	return snap_cgroup_exact(w, SNAP_MEM, "procs", CG_CPU, path, fill_procs,
	                         &(struct procs_fill){w, path, reader}, out, sizeof(*out));
}
