/*
 * The FUSE protocol as the master speaks it, read straight from the session
 * fd (<linux/fuse.h> is the stable wire ABI). Everything that a static table
 * can answer is answered here; rendering a file goes to a worker. Request
 * payloads come from the kernel but are still length-checked before use.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "master/loop.h"
#include "master/master.h"
#include "master/pagecache.h"
#include "master/pool.h"
#include "master/stats.h"
#include "master/tenant.h"
#include "master/tree.h"
#include "shm/content.h"
#include "shm/fuse_reply.h"
#include "shm/log.h"
#include "shm/sysfs_node.h"

/* 0.5 s, as upstream mounts with entry_timeout and attr_timeout. */
#define VALID_SEC  0
#define VALID_NSEC 500000000u

#define OUR_MAX_PAGES 256 /* 1 MiB reads: a 256-CPU cpuinfo in one request */

/*
 * Passthrough, from protocol 7.40 (kernel 6.9), which <linux/fuse.h> of older
 * distributions lacks. The wire layout is fixed: FUSE_PASSTHROUGH is bit 5 of
 * flags2, max_stack_depth the first word after flags2 in fuse_init_out, and
 * backing_id the word after open_flags in fuse_open_out.
 */
#define PT_INIT_FLAG2       (1u << 5) /* FUSE_PASSTHROUGH >> 32 */
#define PT_FOPEN            (1u << 7) /* FOPEN_PASSTHROUGH */
#define PT_IOC_BACKING_OPEN _IOW(229, 1, struct pt_backing_map)

struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

_Static_assert(offsetof(struct fuse_init_out, unused) == 36, "max_stack_depth's place");
_Static_assert(offsetof(struct fuse_open_out, padding) == 12, "backing_id's place");

/*
 * The backing file of our passthrough opens: a sysfs attribute, which has no
 * mmap (kernfs_fop_mmap: ENODEV without KERNFS_HAS_MMAP). procfs cannot serve:
 * its s_stack_depth is FILESYSTEM_MAX_STACK_DEPTH, so fuse_backing_open()
 * refuses it with ELOOP.
 */
#define PT_BACKING_PATH LX_SYSFS_ROOT "/online"

/* Never 0 and never short of what a read returns (see shm_header.size_hint). */
static uint64_t size_hint(struct master *m, enum lx_file f)
{
	uint32_t s = f < LX_FILE_MAX ? atomic_load(&m->shm.hdr->size_hint[f]) : 0;

	return s < 4096 ? 4096 : s;
}

void fuse_measure_host(struct master *m)
{
	static char buf[1 << 16];

	/* Once at start: the host's files bound what a container's view holds. */
	for (uint64_t ino = 1; tree_get(ino); ino++) {
		const struct tree_node *n = tree_get(ino);
		size_t total = 0;
		ssize_t r;
		int fd;

		if (!n->host_path)
			continue;
		fd = open(n->host_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			total += (size_t)r;
		close(fd);
		shm_note_size(&m->shm, n->file, total);
	}
}

static void fill_attr(struct master *m, const struct tree_node *n, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = n->ino;
	a->mode = n->mode;
	a->nlink = S_ISDIR(n->mode) ? 2 : 1;
	a->size = S_ISDIR(n->mode) ? 0 : size_hint(m, n->file);
	a->blocks = (a->size + 511) / 512;
	a->blksize = 4096;
	a->atime = a->mtime = a->ctime = m->start_ns / 1000000000ULL;
}

static void reply(struct master *m, uint64_t unique, const void *buf, size_t len)
{
	int err = fuse_reply_buf(m->fuse_fd, unique, buf, len);

	if (err < 0 && err != -ENOENT)
		log_msg("reply to request %llu: %s", (unsigned long long)unique, strerror(-err));
}

static void reply_err(struct master *m, uint64_t unique, int error)
{
	int err = fuse_reply_err(m->fuse_fd, unique, error);

	if (err < 0 && err != -ENOENT)
		log_msg("reply to request %llu: %s", (unsigned long long)unique, strerror(-err));
}

/*
 * Register the backing file of passthrough opens, once the kernel has taken
 * our INIT reply (process_init_reply() runs within our write and sets
 * fc->passthrough). Needs CAP_SYS_ADMIN (fuse_backing_open()); without it,
 * files are opened as before and private mappings stay possible.
 *
 * The id belongs to the connection, not to this process: a master that takes
 * the connection over must go on with the same id. While a file opened with
 * it is open, an open of that inode without FOPEN_PASSTHROUGH
 * (fuse_file_io_open) or with another backing file
 * (fuse_inode_uncached_io_start) fails, and the reader gets EIO.
 */
static void backing_register(struct master *m)
{
	struct pt_backing_map map;
	int fd, id;

	fd = open(PT_BACKING_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_msg("open %s for passthrough: %s: mmap of our files stays possible",
		        PT_BACKING_PATH, strerror(errno));
		return;
	}
	memset(&map, 0, sizeof(map));
	map.fd = fd;
	id = ioctl(m->fuse_fd, PT_IOC_BACKING_OPEN, &map);
	if (id <= 0)
		log_msg("FUSE_DEV_IOC_BACKING_OPEN of %s: %s: mmap of our files stays possible",
		        PT_BACKING_PATH, id < 0 ? strerror(errno) : "no id");
	else
		m->backing_id = id;
	atomic_store(&m->shm.hdr->backing_id, m->backing_id);
	close(fd); /* the kernel keeps its own reference */
}

static void do_init(struct master *m, const struct fuse_in_header *h, const void *arg, size_t len)
{
	const struct fuse_init_in *in = arg;
	struct fuse_init_out out;
	size_t outlen = sizeof(out);

	/* The first fields of fuse_init_in are fixed across all versions. */
	if (len < 16) {
		reply_err(m, h->unique, -EINVAL);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.major = FUSE_KERNEL_VERSION;
	out.minor = FUSE_KERNEL_MINOR_VERSION;
	if (in->major < 7) {
		log_msg("kernel FUSE protocol %u.%u is too old", in->major, in->minor);
		reply_err(m, h->unique, -EPROTO);
		return;
	}
	if (in->major > 7) {
		/* The kernel will ask again with our major. */
		reply(m, h->unique, &out, FUSE_COMPAT_INIT_OUT_SIZE);
		return;
	}
	if (in->minor < out.minor)
		out.minor = in->minor;
	m->proto_minor = out.minor;
	out.max_readahead = in->max_readahead;
	/*
	 * Not FUSE_ASYNC_READ: it only makes page-cache readahead asynchronous
	 * (fuse_send_readpages), and an asynchronous readahead holds the file
	 * until our reply is processed, so its RELEASE can come after the same
	 * reader's next OPEN and make that open look shared (pagecache.h).
	 * Synchronous, the reader waits in the request instead of on the page.
	 */
	out.flags = in->flags & (FUSE_MAX_PAGES | FUSE_PARALLEL_DIROPS);
	/*
	 * Passthrough, only to refuse mmap: fuse_file_mmap() hands the mapping of
	 * a passthrough file to its backing file, and ours has no mmap. Without
	 * it, MAP_PRIVATE maps the inode's page cache, which every reader shares.
	 * max_stack_depth 1: our files can back nothing, and we can still be
	 * the lower layer of an overlay.
	 */
	if (len >= sizeof(*in) && (in->flags & FUSE_INIT_EXT) && (in->flags2 & PT_INIT_FLAG2)) {
		out.flags |= FUSE_INIT_EXT;
		out.flags2 = PT_INIT_FLAG2;
		out.unused[0] = 1; /* max_stack_depth */
	}
	out.max_write = 4096;
	out.max_pages = OUR_MAX_PAGES;
	out.time_gran = 1;
	if (out.minor < 23)
		outlen = FUSE_COMPAT_22_INIT_OUT_SIZE;
	m->initialized = true;
	/* Once per mount: a master taking the connection over finds it done. */
	atomic_store(&m->shm.hdr->proto_minor, m->proto_minor);
	atomic_store(&m->shm.hdr->fuse_ready, 1);
	log_debug("FUSE protocol %u.%u (kernel %u.%u)", out.major, out.minor, in->major, in->minor);
	reply(m, h->unique, &out, outlen);
	if (out.flags2 & PT_INIT_FLAG2)
		backing_register(m);
}

/* Hand a request on the passed-through tree to a worker. */
static void dispatch_node(struct master *m, const struct fuse_in_header *h, enum lx_op op,
			  uint64_t nodeid, const char *name, uint64_t offset, uint32_t size)
{
	struct lx_req req;

	memset(&req, 0, sizeof(req));
	req.unique = h->unique;
	req.op = (uint16_t)op;
	req.file = LX_FILE_SYSFS;
	req.nodeid = nodeid;
	req.offset = offset;
	req.size = size;
	req.pid = h->pid;
	req.uid = h->uid;
	req.gid = h->gid;
	req.t_dispatch_ns = now_ns();
	if (name)
		snprintf(req.name, sizeof(req.name), "%s", name);
	pool_dispatch(m->pool, &req);
}

static void do_lookup(struct master *m, const struct fuse_in_header *h, const char *name,
                      size_t len)
{
	const struct tree_node *n;
	struct fuse_entry_out out;

	if (len == 0 || memchr(name, '\0', len) == NULL) {
		reply_err(m, h->unique, -EINVAL);
		return;
	}
	n = tree_lookup(h->nodeid, name);
	if (!n && sysfs_is_node(h->nodeid)) {
		if (strlen(name) > LX_NAME_MAX) {
			reply_err(m, h->unique, -ENAMETOOLONG);
			return;
		}
		dispatch_node(m, h, LX_OP_LOOKUP, h->nodeid, name, 0, 0);
		return;
	}
	if (!n) {
		reply_err(m, h->unique, -ENOENT);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.nodeid = n->ino;
	out.entry_valid = VALID_SEC;
	out.entry_valid_nsec = VALID_NSEC;
	out.attr_valid = VALID_SEC;
	out.attr_valid_nsec = VALID_NSEC;
	fill_attr(m, n, &out.attr);
	reply(m, h->unique, &out, sizeof(out));
}

static void do_getattr(struct master *m, const struct fuse_in_header *h)
{
	const struct tree_node *n = tree_get(h->nodeid);
	struct fuse_attr_out out;

	if (!n && (h->nodeid & LX_INO_DYNAMIC)) {
		dispatch_node(m, h, LX_OP_GETATTR, h->nodeid, NULL, 0, 0);
		return;
	}
	if (!n) {
		reply_err(m, h->unique, -ENOENT);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.attr_valid = VALID_SEC;
	out.attr_valid_nsec = VALID_NSEC;
	fill_attr(m, n, &out.attr);
	reply(m, h->unique, &out, sizeof(out));
}

/* An i_size no text of file f reaches: the size hint and a page to spare. */
static uint64_t pc_size_bound(struct master *m, enum lx_file f)
{
	return (size_hint(m, f) + 4095) / 4096 * 4096 + 4096;
}

/*
 * Raise the kernel's i_size of nodeid to size: FUSE_NOTIFY_STORE of one zero
 * byte at size - 1 (fuse_notify_store() raises i_size to the end of what it
 * stores, through fuse_write_update_attr()). The store locks the page of that
 * byte, which a page-cache read in flight would hold until we answer it:
 * callers make sure no file of the node is open, so none can be. The byte
 * lies past every text (a cached page holds zeros there), and the opener's
 * fuse_open() drops the page with all others right after our reply.
 */
static int notify_raise_size(struct master *m, uint64_t nodeid, uint64_t size)
{
	struct fuse_notify_store_out st = {.nodeid = nodeid, .offset = size - 1, .size = 1};
	struct fuse_out_header oh = {.error = FUSE_NOTIFY_STORE, .unique = 0};
	char zero = 0;
	struct iovec iov[3] = {
	    {.iov_base = &oh, .iov_len = sizeof(oh)},
	    {.iov_base = &st, .iov_len = sizeof(st)},
	    {.iov_base = &zero, .iov_len = 1},
	};
	ssize_t w;

	oh.len = (uint32_t)(sizeof(oh) + sizeof(st) + 1);
	do
		w = writev(m->fuse_fd, iov, 3);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		log_msg("raise i_size of node %llu: FUSE_NOTIFY_STORE: %s",
		        (unsigned long long)nodeid, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * Answer an OPEN: fh for a file (0 for a folder, which holds no content).
 * read(2), pread(2) and readv(2) reach us with the reader's pid, so the text
 * is the reader's; what goes through the page cache instead is handled in
 * pagecache.h. A reply the kernel no longer waits for (an interrupted open)
 * gets no RELEASE: its handle goes back at once.
 */
static void reply_open(struct master *m, uint64_t unique, const struct tree_node *n, bool dir,
                       uint64_t fh)
{
	struct fuse_open_out out;
	struct pc_node *pc = NULL;
	bool size_ok = true;
	int err;

	memset(&out, 0, sizeof(out));
	if (!dir) {
		out.fh = fh;
		out.open_flags = FOPEN_DIRECT_IO | FOPEN_NOFLUSH;
		pc = n && n->ino < PC_NODES ? &m->pc[n->ino] : NULL;
		if (pc && m->backing_id > 0) {
			out.open_flags |= PT_FOPEN;
			out.padding = (uint32_t)m->backing_id; /* backing_id */
		}
		if (pc && pc_open_needs_raise(pc))
			size_ok = notify_raise_size(m, n->ino, pc_size_bound(m, n->file)) == 0;
	}
	err = fuse_reply_buf(m->fuse_fd, unique, &out, sizeof(out));
	if (err < 0) {
		if (err != -ENOENT)
			log_msg("reply to open %llu: %s", (unsigned long long)unique,
			        strerror(-err));
		if (!dir)
			tenant_release(m, fh);
		return;
	}
	if (pc)
		pc_opened(pc, fh, size_ok);
}

/* A handle charged to container key (0: unknown) for an open of node nodeid. */
static void open_finish(struct master *m, uint64_t unique, uint64_t nodeid, pid_t pid,
                        const char *what, uint64_t key, const struct cont_paths *paths)
{
	int64_t fh = tenant_open(m, key, paths, pid, what, nodeid);

	if (fh < 0)
		reply_err(m, unique, (int)fh);
	else
		reply_open(m, unique, tree_get(nodeid), false, (uint64_t)fh);
}

void fuse_open_resolved(struct master *m, const struct lx_req *req, uint64_t key)
{
	open_finish(m, req->unique, req->nodeid, (pid_t)req->pid, req->name, key, NULL);
}

static void do_open(struct master *m, const struct fuse_in_header *h, const void *arg, size_t len,
                    bool dir)
{
	const struct tree_node *n = tree_get(h->nodeid);
	const struct fuse_open_in *in = arg;
	struct cont_paths paths;
	struct sysfs_node sn;
	const char *what;
	struct lx_req req;
	uint64_t key;
	mode_t mode;
	int err;

	if (len < sizeof(*in)) {
		reply_err(m, h->unique, -EINVAL);
		return;
	}
	if (n) {
		mode = n->mode;
		what = n->name;
	} else if ((h->nodeid & LX_INO_DYNAMIC) && sysfs_node_get(&m->shm, h->nodeid, &sn) == 0) {
		/* A passed-through node has no tree entry: it is named by its path. */
		mode = sn.mode;
		what = sn.path;
		if (S_ISLNK(mode)) {
			reply_err(m, h->unique, -ELOOP);
			return;
		}
	} else {
		reply_err(m, h->unique, -ENOENT);
		return;
	}
	if (dir != !!S_ISDIR(mode)) {
		reply_err(m, h->unique, dir ? -ENOTDIR : -EISDIR);
		return;
	}
	if ((in->flags & O_ACCMODE) != O_RDONLY || (in->flags & O_TRUNC)) {
		reply_err(m, h->unique, -EACCES);
		return;
	}
	if (dir) {
		reply_open(m, h->unique, n, true, 0);
		return;
	}
	/*
	 * The open is charged to the reader's container. A reader the identity
	 * cache knows costs one stat of its /proc entry; a new one goes to a
	 * worker first, which reads /proc as it would for the read to follow.
	 */
	err = ident_peek_container(&m->shm, (pid_t)h->pid, &key, &paths);
	if (err == -ENOENT) {
		memset(&req, 0, sizeof(req));
		req.unique = h->unique;
		req.op = LX_OP_RESOLVE;
		req.file = (uint16_t)(n ? n->file : LX_FILE_SYSFS);
		req.nodeid = h->nodeid;
		req.pid = h->pid;
		req.uid = h->uid;
		req.gid = h->gid;
		req.t_dispatch_ns = now_ns();
		snprintf(req.name, sizeof(req.name), "%.*s", (int)sizeof(req.name) - 1, what);
		pool_dispatch(m->pool, &req);
		return;
	}
	open_finish(m, h->unique, h->nodeid, (pid_t)h->pid, what, err == 0 ? key : 0,
	            err == 0 ? &paths : NULL);
}

static void do_release(struct master *m, const struct fuse_in_header *h, const void *arg,
                       size_t len, bool dir)
{
	const struct fuse_release_in *in = arg;

	if (len >= sizeof(*in) && !dir) {
		tenant_release(m, in->fh);
		if (h->nodeid < PC_NODES && tree_get(h->nodeid))
			pc_released(&m->pc[h->nodeid]);
	}
	reply_err(m, h->unique, 0);
}

static void do_readdir(struct master *m, const struct fuse_in_header *h, const void *arg,
                       size_t len)
{
	const struct fuse_read_in *in = arg;
	const struct tree_node *dir = tree_get(h->nodeid);
	char buf[4096];
	size_t used = 0, max;

	if (len < sizeof(*in)) {
		reply_err(m, h->unique, -EINVAL);
		return;
	}
	if (sysfs_is_node(h->nodeid)) {
		dispatch_node(m, h, LX_OP_READDIR, h->nodeid, NULL, in->offset, in->size);
		return;
	}
	if (!dir || !S_ISDIR(dir->mode)) {
		reply_err(m, h->unique, -ENOTDIR);
		return;
	}
	max = in->size < sizeof(buf) ? in->size : sizeof(buf);
	/* Offsets: 0 ".", 1 "..", then the children; each entry carries the next one. */
	for (uint64_t i = in->offset;; i++) {
		const struct tree_node *child = NULL;
		const char *name;
		uint64_t ino;
		unsigned type = DT_DIR;
		struct fuse_dirent *d;
		size_t nlen, reclen;

		if (i == 0) {
			name = ".";
			ino = dir->ino;
		} else if (i == 1) {
			name = "..";
			ino = dir->parent;
		} else {
			child = tree_child(dir->ino, (unsigned)(i - 2));
			if (!child || i > 1u << 20)
				break;
			name = child->name;
			ino = child->ino;
			type = S_ISDIR(child->mode) ? DT_DIR : DT_REG;
		}
		nlen = strlen(name);
		reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nlen);
		if (used + reclen > max)
			break;
		d = (struct fuse_dirent *)(buf + used);
		memset(d, 0, reclen);
		d->ino = ino;
		d->off = i + 1;
		d->namelen = (uint32_t)nlen;
		d->type = type;
		memcpy(d->name, name, nlen);
		used += reclen;
	}
	reply(m, h->unique, buf, used);
}

static void do_statfs(struct master *m, const struct fuse_in_header *h)
{
	struct fuse_statfs_out out;

	memset(&out, 0, sizeof(out));
	out.st.bsize = 4096;
	out.st.frsize = 4096;
	out.st.namelen = 255;
	reply(m, h->unique, &out, sizeof(out));
}

static void do_access(struct master *m, const struct fuse_in_header *h, const void *arg, size_t len)
{
	const struct tree_node *n = tree_get(h->nodeid);
	const struct fuse_access_in *in = arg;
	struct sysfs_node sn;
	mode_t mode;

	if (len < sizeof(*in)) {
		reply_err(m, h->unique, -EINVAL);
		return;
	}
	if (n)
		mode = n->mode;
	else if ((h->nodeid & LX_INO_DYNAMIC) && sysfs_node_get(&m->shm, h->nodeid, &sn) == 0)
		mode = sn.mode;
	else if (h->nodeid & LX_INO_DYNAMIC)
		mode = S_IFREG | 0444; /* evicted from the path table: read-only, as all of it */
	else {
		reply_err(m, h->unique, -ENOENT);
		return;
	}
	reply_err(m, h->unique, tree_access(mode, h->uid, h->gid, in->mask));
}

int fuse_serve_content(struct master *m, const struct lx_req *req)
{
	struct iovec iov[OUR_MAX_PAGES + 2];
	uint32_t chain, clen;
	size_t bytes;
	int n, err;

	err = content_get(&m->shm, req->fh, &chain, &clen);
	if (err < 0)
		return err;
	n = content_iov(&m->shm, chain, clen, req->offset, req->size, iov,
	                (int)(sizeof(iov) / sizeof(iov[0])), &bytes);
	if (n < 0) {
		log_msg("content of handle %#llx does not check out: re-rendering",
		        (unsigned long long)req->fh);
		return -ENODATA;
	}
	err = fuse_reply_iov(m->fuse_fd, req->unique, 0, iov, n);
	if (err < 0 && err != -ENOENT)
		log_msg("reply to read %llu: %s", (unsigned long long)req->unique, strerror(-err));
	m->served_by_master++;
	stats_note(req->file, now_ns() - req->t_dispatch_ns, 0, 1);
	return 0;
}

static void do_read(struct master *m, const struct fuse_in_header *h, const void *arg, size_t len)
{
	const struct fuse_read_in *in = arg;
	const struct tree_node *n = tree_get(h->nodeid);
	struct lx_req req;
	bool pagecache;

	if (len < sizeof(*in)) {
		reply_err(m, h->unique, -EINVAL);
		return;
	}
	if (!n && !(h->nodeid & LX_INO_DYNAMIC)) {
		reply_err(m, h->unique, -ENOENT);
		return;
	}
	if (n && n->file == LX_FILE_NONE) {
		reply_err(m, h->unique, -EISDIR);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.unique = h->unique;
	req.fh = in->fh;
	req.offset = in->offset;
	req.size = in->size > OUR_MAX_PAGES * 4096u ? OUR_MAX_PAGES * 4096u : in->size;
	req.pid = h->pid;
	req.uid = h->uid;
	req.gid = h->gid;
	req.op = LX_OP_READ;
	req.file = (uint16_t)(n ? n->file : LX_FILE_SYSFS);
	req.nodeid = h->nodeid;
	req.t_dispatch_ns = now_ns();

	/*
	 * A read for the page cache is answered only when no other reader could
	 * see the page (pagecache.h); refused, the reader gets EINVAL, the errno
	 * sendfile(2) callers fall back to read(2) on. It gets the text its
	 * handle holds, so that every page it reads agrees with the i_size the
	 * first one left.
	 */
	pagecache =
	    n && n->ino < PC_NODES && pc_read_is_pagecache(in->read_flags, in->offset, in->size);
	if (pagecache && !pc_read_allowed(&m->pc[n->ino], in->fh)) {
		reply_err(m, h->unique, -EINVAL);
		return;
	}

	/* Offset 0 renders afresh, as upstream does; later offsets continue that render. */
	if (req.offset > 0 || pagecache) {
		int err = fuse_serve_content(m, &req);

		if (err == 0)
			return;
		if (err == -ESTALE) {
			reply_err(m, h->unique, -EBADF);
			return;
		}
	}
	pool_dispatch(m->pool, &req);
}

void fuse_fallback_read(struct master *m, const struct lx_req *req, const char *why)
{
	const struct tree_node *n = NULL;
	static char buf[1 << 20];
	uint32_t chain, old;
	ssize_t len = 0;
	int fd;

	if (req->op == LX_OP_SAMPLE)
		return; /* nobody waits for a sample */
	if (req->op == LX_OP_RESOLVE) {
		/* The open goes on, charged to the readers no worker could place. */
		fuse_open_resolved(m, req, 0);
		return;
	}
	if (req->op != LX_OP_READ || req->file == LX_FILE_SYSFS) {
		/* No host text stands in for a directory listing or a sysfs node. */
		log_msg("request %llu on the cpu tree by pid %u failed: %s",
			(unsigned long long)req->unique, req->pid, why);
		reply_err(m, req->unique, -EIO);
		return;
	}
	m->fallbacks++;
	for (uint64_t ino = 1; (n = tree_get(ino)) != NULL; ino++)
		if (n->file == req->file)
			break;
	log_msg("read %llu of %s by pid %u answered with host content: %s",
	        (unsigned long long)req->unique, n ? n->host_path : "?", req->pid, why);
	if (!n || !n->host_path) {
		reply_err(m, req->unique, -EIO);
		return;
	}
	/* Published like a render, so that later offsets of this open agree with it. */
	if (req->offset > 0 && fuse_serve_content(m, req) == 0)
		return;
	fd = open(n->host_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r;

		while (len < (ssize_t)sizeof(buf) &&
		       (r = read(fd, buf + len, sizeof(buf) - (size_t)len)) > 0)
			len += r;
		close(fd);
	}
	if (fd < 0 || len <= 0) {
		log_msg("read of %s: %s", n->host_path, strerror(errno));
		reply_err(m, req->unique, -EIO);
		return;
	}
	if (content_store(&m->shm, buf, (size_t)len, &chain) == 0) {
		if (content_publish(&m->shm, req->fh, chain, &old) < 0) {
			content_free(&m->shm, chain);
		} else {
			tenant_charge(m, req->fh, (int32_t)content_chain_chunks(&m->shm, chain));
			if (old)
				tenant_charge(m, req->fh, -(int32_t)content_free(&m->shm, old));
		}
		if (fuse_serve_content(m, req) == 0)
			return;
	}
	if (req->offset >= (uint64_t)len) {
		reply(m, req->unique, NULL, 0);
		return;
	}
	reply(m, req->unique, buf + req->offset,
	      (size_t)len - req->offset < req->size ? (size_t)len - req->offset : req->size);
}

#define READ_BUF (1 << 20) /* >= the kernel's minimum plus max_write */

/* Drain /dev/fuse: every request the kernel has queued, then back to the loop. */
static void on_fuse(struct master *m, int idx, unsigned events)
{
	static char *buf;

	(void)idx;
	(void)events;
	if (!buf && !(buf = malloc(READ_BUF))) {
		log_err("malloc of the request buffer failed: exiting");
		m->stopping = true;
		m->exit_code = 1;
		return;
	}
	/* Completions first: the workers they free are the ones new requests can go to. */
	pool_harvest(m->pool);
	for (;;) {
		ssize_t n = read(m->fuse_fd, buf, READ_BUF);

		if (n < 0) {
			if (errno == EAGAIN)
				return;
			if (errno == EINTR ||
			    errno == ENOENT) /* ENOENT: interrupted before we read it */
				continue;
			if (errno == ENODEV) {
				log_info("%s was unmounted: exiting", m->cli->mountpoint);
				m->stopping = true;
				return;
			}
			log_err("read /dev/fuse: %s", strerror(errno));
			m->stopping = true;
			return;
		}
		fuse_handle(m, buf, (size_t)n);
	}
}

#ifndef FUSE_NOTIFY_RESEND
#define FUSE_NOTIFY_RESEND 7 /* kernel 6.9, protocol 7.40 */
#endif

/*
 * Have the kernel queue again every request that was read from the
 * connection and not answered (fuse_resend: the processing lists of every
 * open of /dev/fuse go back to pending, their unique marked as resent): what
 * a dead master had read, and what workers were rendering, which they may
 * still answer (a reply to the old unique is then refused, harmlessly).
 * Every request we take twice is idempotent but OPEN, whose first answer
 * never reached the kernel.
 */
void fuse_resend(struct master *m)
{
	struct fuse_out_header oh = {.len = sizeof(oh), .error = FUSE_NOTIFY_RESEND};

	if (write(m->fuse_fd, &oh, sizeof(oh)) == (ssize_t)sizeof(oh))
		return;
	/* Before 6.9: requests the previous master held are lost (README). */
	log_err("FUSE_NOTIFY_RESEND: %s: requests the previous master had read and not "
	        "answered are lost (kernel 6.9 or later queues them again)",
	        strerror(errno));
}

void fuse_adopt(struct master *m)
{
	struct shm *s = &m->shm;

	m->initialized = atomic_load(&s->hdr->fuse_ready) != 0;
	m->proto_minor = atomic_load(&s->hdr->proto_minor);
	m->backing_id = atomic_load(&s->hdr->backing_id);
	/*
	 * What is open on each file, from the handle table. Whether a page-cache
	 * read lowered i_size since is not known: assume it, so that none is
	 * answered before every file the old master knew of is closed.
	 */
	memset(m->pc, 0, sizeof(m->pc));
	for (uint32_t i = 0; i < s->nhandles; i++) {
		uint32_t node = atomic_load(&s->handles[i].node);

		if (atomic_load(&s->handles[i].tenant) && node < PC_NODES && tree_get(node))
			m->pc[node].nopen++;
	}
	for (int n = 0; n < PC_NODES; n++)
		m->pc[n].lowered = m->pc[n].nopen > 0;
	fuse_resend(m);
}

int fuse_serve(struct master *m)
{
	loop_on(m, EV_FUSE, on_fuse);
	return master_watch(m, m->fuse_fd, EV(EV_FUSE, 0));
}

/*
 * fsync(2) as on the kernel's own files: EINVAL for a /proc file and for any
 * folder (no ->fsync), 0 for a sysfs file (noop_fsync). Never ENOSYS:
 * fuse_fsync() would set fc->no_fsync and answer 0 for every file from then
 * on; any other answer reaches the caller as it is.
 */
static int fsync_answer(uint32_t opcode, uint64_t nodeid)
{
	const struct tree_node *n = tree_get(nodeid);
	bool sysfs_file = (n && n->parent == LX_INO_CPU_DIR) || (nodeid & LX_INO_DYNAMIC);

	if (opcode == FUSE_FSYNC && sysfs_file)
		return 0;
	return -EINVAL;
}

void fuse_handle(struct master *m, const void *buf, size_t len)
{
	const struct fuse_in_header *h = buf;
	const char *arg = (const char *)buf + sizeof(*h);
	size_t alen;

	if (len < sizeof(*h) || h->len != len) {
		log_msg("malformed request from the kernel (%zu bytes): ignored", len);
		return;
	}
	alen = len - sizeof(*h);
	if (!m->initialized && h->opcode != FUSE_INIT) {
		reply_err(m, h->unique, -EIO);
		return;
	}
	switch (h->opcode) {
	case FUSE_INIT:
		do_init(m, h, arg, alen);
		break;
	case FUSE_LOOKUP:
		do_lookup(m, h, arg, alen);
		break;
	case FUSE_GETATTR:
		do_getattr(m, h);
		break;
	case FUSE_OPEN:
		do_open(m, h, arg, alen, false);
		break;
	case FUSE_OPENDIR:
		do_open(m, h, arg, alen, true);
		break;
	case FUSE_READ:
		do_read(m, h, arg, alen);
		break;
	case FUSE_READDIR:
		do_readdir(m, h, arg, alen);
		break;
	case FUSE_RELEASE:
		do_release(m, h, arg, alen, false);
		break;
	case FUSE_RELEASEDIR:
		do_release(m, h, arg, alen, true);
		break;
	case FUSE_FLUSH:
		reply_err(m, h->unique, 0);
		break;
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
		reply_err(m, h->unique, fsync_answer(h->opcode, h->nodeid));
		break;
	case FUSE_STATFS:
		do_statfs(m, h);
		break;
	case FUSE_READLINK:
		if (h->nodeid & LX_INO_DYNAMIC)
			dispatch_node(m, h, LX_OP_READLINK, h->nodeid, NULL, 0, 0);
		else
			reply_err(m, h->unique, -EINVAL);
		break;
	case FUSE_ACCESS:
		do_access(m, h, arg, alen);
		break;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
	case FUSE_NOTIFY_REPLY:
		break; /* no reply expected */
	case FUSE_DESTROY:
		m->stopping = true;
		reply_err(m, h->unique, 0);
		break;
	case FUSE_WRITE:
		reply_err(m, h->unique, -EBADF);
		break;
	case FUSE_SETATTR:
	case FUSE_CREATE:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_LINK:
	case FUSE_SYMLINK:
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
	case FUSE_FALLOCATE:
	case FUSE_COPY_FILE_RANGE:
		reply_err(m, h->unique, -EPERM);
		break;
	default:
		reply_err(m, h->unique, -ENOSYS);
		break;
	}
}

const struct pool_hooks fuse_pool_hooks = {
    .fallback = fuse_fallback_read,
    .resolved = fuse_open_resolved,
};
