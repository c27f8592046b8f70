/*
 * sys/devices/system/cpu passed through: LOOKUP, GETATTR, READDIR, READLINK
 * and file reads of the host's tree, answered by a worker straight to the
 * kernel. The generated lists (online, possible, present, offline) are the
 * master's static nodes and are never asked here. Everything is read-only:
 * files show the host's read bits only.
 *
 * The cpuN directories are the reader's container's: those of CPUs it cannot
 * use (cpu_sys_view's dirs) are absent, LOOKUP answering ENOENT and READDIR
 * leaving them out, as on a host with only the container's CPUs (glibc counts
 * them when it cannot read possible, and tools walk them). The kernel shares
 * its dentries between readers, so a cpuN entry is given no entry timeout: each
 * path walk through it asks again with its own reader's pid, and a dentry
 * another container looked up is dropped for a reader that must not see it.
 * An ENOENT is not cached either (an error reply, not a negative entry). The
 * other nodes keep the timeout of the whole mount: below a cpuN directory
 * everything is the host's, reached only through it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/fuse_reply.h"
#include "shm/log.h"
#include "shm/sysfs_node.h"
#include "workers/files.h"
#include "workers/sysfs.h"
#include "workers/worker.h"

/* Entries and attributes may be cached this long, as for every other node. */
#define SYSFS_VALID_NSEC 500000000u

/* The host path of a node: LX_SYSFS_ROOT "/" path, under w->host_root. */
static int host_path(const struct worker_ctx *w, const char *path, char *out, size_t size)
{
	int n = snprintf(out, size, "%s%s%s%s", w->host_root ? w->host_root : "", LX_SYSFS_ROOT,
			 path[0] ? "/" : "", path);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void fill_attr(uint64_t nodeid, const struct stat *st, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = nodeid;
	if (S_ISDIR(st->st_mode))
		a->mode = S_IFDIR | 0555;
	else if (S_ISLNK(st->st_mode))
		a->mode = S_IFLNK | 0777;
	else
		a->mode = S_IFREG | (st->st_mode & 0444);
	a->nlink = (uint32_t)st->st_nlink;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->blksize = 4096;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
}

/* Write a reply; a failed write is logged here, never answered twice. Returns 0. */
static int reply(const struct lx_req *req, const void *buf, size_t len)
{
	int err = fuse_reply_buf(WORKER_FUSE_FD, req->unique, buf, len);

	/* ENOENT: the kernel no longer waits for it. */
	if (err < 0 && err != -ENOENT)
		log_msg("reply to request %llu: %s", (unsigned long long)req->unique,
			strerror(-err));
	return 0;
}

static bool name_ok(const char *name)
{
	size_t len = strnlen(name, LX_NAME_MAX + 1);

	return len > 0 && len <= LX_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

/* "cpuN" with N a CPU number: one of the per-CPU directories of the tree's root. */
static bool cpu_dir_name(const char *name, unsigned *cpu)
{
	unsigned v = 0;
	const char *p;

	if (strncmp(name, "cpu", 3) != 0 || !name[3] || (name[3] == '0' && name[4]))
		return false;
	for (p = name + 3; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned)(*p - '0');
		if (v >= CPUSET_MAX)
			return false;
	}
	*cpu = v;
	return true;
}

/*
 * The cpuN directories the reader of req may see, into dirs; false when it
 * sees the host's (virtualization off, or its CPUs cannot be told: the
 * online list falls back to the host's then too).
 */
static bool reader_cpu_dirs(struct worker_ctx *w, const struct lx_req *req, struct cpuset *dirs)
{
	static struct cpu_sys_view view; /* 5 KiB; one request at a time */

	if (cpu_sys_view_of(w, (pid_t)req->pid, &view) < 0)
		return false;
	*dirs = view.dirs;
	return true;
}

/* Whether name in the tree's root is hidden from req's reader. */
static bool cpu_dir_hidden(struct worker_ctx *w, const struct lx_req *req, const char *name)
{
	static struct cpuset dirs;
	unsigned cpu;

	return cpu_dir_name(name, &cpu) && reader_cpu_dirs(w, req, &dirs) &&
	       !cpuset_has(&dirs, cpu);
}

static int do_lookup(struct worker_ctx *w, const struct lx_req *req, struct lx_cmp *cmp)
{
	struct sysfs_node parent, child;
	struct fuse_entry_out out;
	char host[PATH_MAX];
	struct snap_key key;
	struct stat st;
	uint64_t nodeid;
	int n;

	if (!name_ok(req->name))
		return -ENOENT;
	if (sysfs_node_get(&w->shm, req->nodeid, &parent) < 0)
		return -ENOENT;
	if (!S_ISDIR(parent.mode))
		return -ENOTDIR;
	if (parent.path[0] == '\0' && cpu_dir_hidden(w, req, req->name))
		return -ENOENT;
	memset(&child, 0, sizeof(child));
	n = snprintf(child.path, sizeof(child.path), "%s%s%s", parent.path,
		     parent.path[0] ? "/" : "", req->name);
	if (n < 0 || (size_t)n >= sizeof(child.path))
		return -ENAMETOOLONG;
	if (host_path(w, child.path, host, sizeof(host)) < 0)
		return -ENAMETOOLONG;
	if (fstatat(AT_FDCWD, host, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	child.mode = st.st_mode;
	nodeid = sysfs_nodeid(child.path);
	/* Known before the kernel can ask about it. */
	snap_hash(&nodeid, sizeof(nodeid), &key);
	if (snap_put(&w->shm, SNAP_PATH, &key, child.path, &child, sizeof(child), &w->who) < 0)
		return -EAGAIN;

	memset(&out, 0, sizeof(out));
	out.nodeid = nodeid;
	/* A cpuN directory is asked about again at each walk: see the header. */
	out.entry_valid_nsec = parent.path[0] == '\0' && cpu_dir_name(req->name, &(unsigned){0})
	                           ? 0
	                           : SYSFS_VALID_NSEC;
	out.attr_valid_nsec = SYSFS_VALID_NSEC;
	fill_attr(nodeid, &st, &out.attr);
	cmp->bytes = sizeof(out);
	return reply(req, &out, sizeof(out));
}

static int do_getattr(struct worker_ctx *w, const struct lx_req *req, struct lx_cmp *cmp)
{
	struct fuse_attr_out out;
	struct sysfs_node node;
	char host[PATH_MAX];
	struct stat st;

	if (sysfs_node_get(&w->shm, req->nodeid, &node) < 0)
		return -ENOENT;
	if (host_path(w, node.path, host, sizeof(host)) < 0)
		return -ENAMETOOLONG;
	if (fstatat(AT_FDCWD, host, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	memset(&out, 0, sizeof(out));
	out.attr_valid_nsec = SYSFS_VALID_NSEC;
	fill_attr(req->nodeid, &st, &out.attr);
	cmp->bytes = sizeof(out);
	return reply(req, &out, sizeof(out));
}

static int do_readlink(struct worker_ctx *w, const struct lx_req *req, struct lx_cmp *cmp)
{
	struct sysfs_node node;
	char host[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	if (sysfs_node_get(&w->shm, req->nodeid, &node) < 0)
		return -ENOENT;
	if (!S_ISLNK(node.mode))
		return -EINVAL;
	if (host_path(w, node.path, host, sizeof(host)) < 0)
		return -ENAMETOOLONG;
	n = readlink(host, target, sizeof(target));
	if (n < 0)
		return -errno;
	cmp->bytes = (uint32_t)n;
	return reply(req, target, (size_t)n);
}

/* Append one entry to w->out if it fits. */
static bool dirent_add(struct worker_ctx *w, size_t *used, size_t max, const char *name,
		       uint64_t ino, unsigned type, uint64_t next)
{
	size_t nlen = strlen(name), reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nlen);
	struct fuse_dirent *d;

	if (*used + reclen > max)
		return false;
	d = (struct fuse_dirent *)(w->out.data + *used);
	memset(d, 0, reclen);
	d->ino = ino;
	d->off = next;
	d->namelen = (uint32_t)nlen;
	d->type = type;
	memcpy(d->name, name, nlen);
	*used += reclen;
	return true;
}

/* The inode of a node's parent: the tree's root has the static "system/cpu" dir's. */
static uint64_t parent_ino(const char *path)
{
	char parent[SYSFS_PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (path[0] == '\0')
		return LX_INO_CPU_DIR - 1;
	if (!slash)
		return LX_INO_CPU_DIR;
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
	return sysfs_nodeid(parent);
}

/* The inode of a generated list of the tree's root, or 0 for a passed-through name. */
static uint64_t generated_ino(const char *name)
{
	static const struct {
		const char *name;
		uint64_t ino;
	} lists[] = {
	    {"online", LX_INO_CPU_ONLINE},
	    {"possible", LX_INO_CPU_POSSIBLE},
	    {"present", LX_INO_CPU_PRESENT},
	    {"offline", LX_INO_CPU_OFFLINE},
	};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (strcmp(name, lists[i].name) == 0)
			return lists[i].ino;
	return 0;
}

/*
 * Offsets: 0 ".", 1 "..", then the host directory's entries in the order it
 * lists them (stable for sysfs); each entry carries the offset of the next.
 * Hidden cpuN directories keep their offsets, unlisted: a reader's offsets
 * stay valid whatever another reader sees.
 */
static int do_readdir(struct worker_ctx *w, const struct lx_req *req, struct lx_cmp *cmp)
{
	static struct cpuset dirs;
	struct sysfs_node node;
	char host[PATH_MAX], child[SYSFS_PATH_MAX + LX_NAME_MAX + 2];
	size_t used = 0, max = req->size < 65536 ? req->size : 65536;
	uint64_t self = req->nodeid, pos = 2;
	bool full = false, filter = false;
	struct dirent *e;
	unsigned cpu;
	DIR *dir;

	if (sysfs_node_get(&w->shm, req->nodeid, &node) < 0)
		return -ENOENT;
	if (!S_ISDIR(node.mode))
		return -ENOTDIR;
	if (host_path(w, node.path, host, sizeof(host)) < 0)
		return -ENAMETOOLONG;
	dir = opendir(host);
	if (!dir)
		return -errno;
	if (fbuf_reserve(&w->out, max) < 0) {
		closedir(dir);
		return -ENOMEM;
	}
	if (node.path[0] == '\0')
		filter = reader_cpu_dirs(w, req, &dirs);
	if (req->offset == 0)
		full = !dirent_add(w, &used, max, ".", self, DT_DIR, 1);
	if (!full && req->offset <= 1)
		full = !dirent_add(w, &used, max, "..", parent_ino(node.path), DT_DIR, 2);
	while (!full && (e = readdir(dir)) != NULL) {
		uint64_t ino;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (pos++ < req->offset)
			continue;
		if (filter && cpu_dir_name(e->d_name, &cpu) && !cpuset_has(&dirs, cpu))
			continue;
		ino = node.path[0] == '\0' ? generated_ino(e->d_name) : 0;
		if (!ino) {
			snprintf(child, sizeof(child), "%s%s%s", node.path, node.path[0] ? "/" : "",
				 e->d_name);
			ino = sysfs_nodeid(child);
		}
		full = !dirent_add(w, &used, max, e->d_name, ino, e->d_type, pos);
	}
	closedir(dir);
	cmp->bytes = (uint32_t)used;
	return reply(req, w->out.data, used);
}

int sysfs_serve(struct worker_ctx *w, const struct lx_req *req, struct lx_cmp *cmp)
{
	switch (req->op) {
	case LX_OP_LOOKUP:
		return do_lookup(w, req, cmp);
	case LX_OP_GETATTR:
		return do_getattr(w, req, cmp);
	case LX_OP_READDIR:
		return do_readdir(w, req, cmp);
	case LX_OP_READLINK:
		return do_readlink(w, req, cmp);
	default:
		return -ENOSYS;
	}
}

int file_sysfs(struct worker_ctx *w, uint64_t nodeid)
{
	struct sysfs_node node;
	char host[PATH_MAX];
	ssize_t n;

	if (sysfs_node_get(&w->shm, nodeid, &node) < 0)
		return -ENOENT;
	if (!S_ISREG(node.mode))
		return -EISDIR;
	if (host_path(w, node.path, host, sizeof(host)) < 0)
		return -ENAMETOOLONG;
	/* Attributes are generated per read: one whole read, as for /proc. */
	n = procfs_read(AT_FDCWD, host, &w->host);
	if (n < 0)
		return (int)n;
	return worker_copy_host(w);
}
