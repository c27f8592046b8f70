/*
 * Pressure files and I/O figures through the shared snapshot, like the
 * memory and CPU values: read from cgroupfs only when the shared copy is
 * older than the freshness bound.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "shm/layout.h"
#include "workers/cg_misc.h"
#include "workers/snapshot.h"
#include "workers/worker.h"

/* SNAP_PSI value: a pressure file's text, or the error saying it has none. */
struct psi_value {
	int32_t err; /* 0, or -ENOENT / -EOPNOTSUPP: no such file for this cgroup */
	uint32_t len;
	char text[SNAP_PSI_VALUE - 8];
};

_Static_assert(sizeof(struct psi_value) <= SNAP_PSI_VALUE, "pressure text outgrew its table");

struct psi_fill {
	struct worker_ctx *w;
	const char *path, *name;
};

static int fill_psi(void *ctx, void *value, size_t size, size_t *len)
{
	struct psi_fill *f = ctx;
	struct psi_value *v = value;
	ssize_t n;

	if (size < sizeof(*v))
		return -ENOSPC;
	n = cg_read_file(f->w->unified_fd, f->path, f->name, &f->w->host);
	/* No file (no PSI per cgroup, or the root): kept too, so it is not looked for each time. */
	if (n == -ENOENT || n == -EOPNOTSUPP) {
		v->err = (int32_t)n;
		v->len = 0;
	} else if (n < 0) {
		return (int)n;
	} else if ((size_t)n > sizeof(v->text)) {
		return -ENOSPC;
	} else {
		v->err = 0;
		v->len = (uint32_t)n;
		memcpy(v->text, f->w->host.data, (size_t)n);
	}
	*len = offsetof(struct psi_value, text) + v->len;
	return 0;
}

ssize_t snap_pressure(struct worker_ctx *w, const char *path, const char *name)
{
	char key[PATH_MAX + 32], label[64];
	struct psi_value v;
	struct snap_key sk;
	size_t len = 0;
	int n, err;

	n = snprintf(key, sizeof(key), "%s:%s", name, path);
	if (n < 0 || (size_t)n >= sizeof(key))
		return -ENAMETOOLONG;
	snap_hash(key, (size_t)n, &sk);
	snap_label(label, sizeof(label), name, path);
	err = snap_get(&w->shm, SNAP_PSI, &sk, label, worker_value_ttl_ns(w), fill_psi,
	               &(struct psi_fill){w, path, name}, &v, sizeof(v), &len, &w->who);
	if (err == -ENOSPC) /* longer than any pressure file we know: read it live */
		return cg_read_file(w->unified_fd, path, name, &w->host);
	if (err < 0)
		return err;
	if (len < offsetof(struct psi_value, text) || v.len > sizeof(v.text) ||
	    len != offsetof(struct psi_value, text) + v.len || v.err > 0)
		return -EIO;
	if (v.err < 0)
		return v.err;
	if (fbuf_reserve(&w->host, (size_t)v.len + 1) < 0)
		return -ENOMEM;
	memcpy(w->host.data, v.text, v.len);
	w->host.data[v.len] = '\0';
	w->host.len = v.len;
	return (ssize_t)v.len;
}

/* SNAP_IO value: the devices a cgroup did I/O on, as many as fit. */
#define SNAP_IO_DEVS ((SNAP_IO_VALUE - 8) / sizeof(struct io_dev_stats))

struct io_value {
	uint32_t ndevs;
	uint32_t pad;
	struct io_dev_stats devs[SNAP_IO_DEVS];
};

_Static_assert(sizeof(struct io_value) <= SNAP_IO_VALUE, "io figures outgrew their table");

struct io_fill {
	struct worker_ctx *w;
	const char *path;
};

static int fill_io(void *ctx, void *value, size_t size, size_t *len)
{
	struct io_fill *f = ctx;
	struct io_value *v = value;
	size_t n = 0;
	int err;

	if (size < sizeof(*v))
		return -ENOSPC;
	/* -ENOSPC with more devices than fit: not kept, the caller reads them live. */
	err = cg_read_io(f->w->root_fd[CG_BLKIO], f->w->layout.ctrl[CG_BLKIO].version, f->path,
	                 v->devs, SNAP_IO_DEVS, &n);
	if (err < 0)
		return err;
	v->ndevs = (uint32_t)n;
	v->pad = 0;
	*len = offsetof(struct io_value, devs) + n * sizeof(v->devs[0]);
	return 0;
}

int snap_io(struct worker_ctx *w, const char *path, struct io_dev_stats *devs, size_t max,
            size_t *ndevs)
{
	struct io_value v;
	ssize_t n = snap_cgroup(w, SNAP_IO, "io", CG_BLKIO, path, fill_io,
	                        &(struct io_fill){w, path}, &v, sizeof(v));

	if (n < 0)
		return (int)n;
	if ((size_t)n < offsetof(struct io_value, devs) || v.ndevs > SNAP_IO_DEVS ||
	    (size_t)n != offsetof(struct io_value, devs) + v.ndevs * sizeof(v.devs[0]))
		return -EIO;
	if (v.ndevs > max)
		return -ENOSPC;
	memcpy(devs, v.devs, v.ndevs * sizeof(v.devs[0]));
	*ndevs = v.ndevs;
	return 0;
}
