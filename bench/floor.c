/*
 * floor: the FUSE floor.
 *
 * The smallest useful FUSE server: libfuse3 low-level API, one thread,
 * fuse_session_loop, exposing proc/meminfo (and any other file named with
 * -F, at the same path under the mount as on the host: proc/pressure/cpu,
 * sys/devices/system/cpu/online) from a buffer captured once at start. It renders nothing,
 * reads no cgroup, resolves no reader: every READ is a memcpy into the reply.
 * Its read latency is therefore what any FUSE server pays for the kernel
 * round trip alone (request queueing, waking the server, the two copies,
 * waking the reader), and the bench table divides every other target's p50
 * by it.
 *
 * Files are opened with direct_io and without keep_cache, as lxcfs must (its
 * contents change on every read, so the page cache may not serve them), and
 * with noflush so close() costs no FLUSH round trip. Entry and attribute
 * timeouts are 0.5 s, so path lookups mostly hit the dentry cache like they
 * do for a long-running lxcfs.
 *
 * Usage: floor [-f] [-F PATH]... MOUNTPOINT
 *   -f       accepted for symmetry with lxcfs; floor always runs in the
 *            foreground
 *   -F PATH  also serve PATH (relative, e.g. proc/stat, proc/pressure/io,
 *            sys/devices/system/cpu/online) with the content of /PATH
 *            captured at start; a bare NAME means proc/NAME
 * Lookups scan a table of at most FLOOR_MAX_NODES entries: with the 0.5 s
 * entry timeout they are rare next to reads, and cost nothing next to a
 * FUSE round trip.
 * SIGTERM or SIGINT ends the loop and unmounts.
 */
#define FUSE_USE_VERSION 35

#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_TIMEOUT   0.5
#define FLOOR_MAX_NODES 64 /* the root, directories and files together */

/*
 * The served tree: node i has inode i + 1, node 0 is the root. Built once in
 * main() before the session starts, read-only afterwards.
 */
struct floor_node {
	char *name;        /* one path component; "" for the root */
	fuse_ino_t parent; /* inode of the directory holding it */
	int is_dir;
	char *data; /* a file's content, captured at start */
	size_t len;
};

static struct floor_node floor_nodes[FLOOR_MAX_NODES];
static size_t floor_nnodes = 1; /* the root */
static time_t floor_start;

static struct floor_node *floor_node(fuse_ino_t ino)
{
	return ino >= 1 && ino <= floor_nnodes ? &floor_nodes[ino - 1] : NULL;
}

/* Read the file at PATH whole. /proc files report st_size 0, so grow as we go. */
static int floor_capture(struct floor_node *f, const char *path)
{
	size_t cap = 4096, len = 0;
	char *buf, *nbuf;
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		if (len == cap) {
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				err = -ENOMEM;
				goto out_free;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	f->data = buf;
	f->len = len;
	return 0;

out_free:
	free(buf);
out_close:
	close(fd);
	return err;
}

/* The child of directory PARENT named NAME (NAME_LEN bytes), or 0. */
static fuse_ino_t floor_child(fuse_ino_t parent, const char *name, size_t name_len)
{
	size_t i;

	for (i = 1; i < floor_nnodes; i++)
		if (floor_nodes[i].parent == parent && strlen(floor_nodes[i].name) == name_len &&
		    memcmp(floor_nodes[i].name, name, name_len) == 0)
			return i + 1;
	return 0;
}

static fuse_ino_t floor_new_node(fuse_ino_t parent, const char *name, size_t name_len, int is_dir)
{
	struct floor_node *n;

	if (floor_nnodes == FLOOR_MAX_NODES)
		return 0;
	n = &floor_nodes[floor_nnodes];
	n->name = strndup(name, name_len);
	if (!n->name)
		return 0;
	n->parent = parent;
	n->is_dir = is_dir;
	return ++floor_nnodes;
}

/*
 * Serve REL (relative to the mount, e.g. "proc/pressure/cpu") with the
 * content of /REL captured now, creating its directories. A bare name
 * ("meminfo") means proc/NAME. Serving a path twice is a no-op. Returns 0 or
 * -errno (-EINVAL for a malformed path, -ENOSPC past FLOOR_MAX_NODES).
 */
static int floor_add(const char *rel)
{
	char path[PATH_MAX];
	const char *p, *slash;
	fuse_ino_t dir = 1, ino;
	struct floor_node *n;
	size_t len;
	int err;

	if (!strchr(rel, '/'))
		snprintf(path, sizeof(path), "proc/%s", rel);
	else if (snprintf(path, sizeof(path), "%s", rel) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (p = path;; p = slash + 1) {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		ino = floor_child(dir, p, len);
		if (!slash)
			break;
		if (!ino)
			ino = floor_new_node(dir, p, len, 1);
		if (!ino)
			return -ENOSPC;
		if (!floor_node(ino)->is_dir)
			return -ENOTDIR;
		dir = ino;
	}
	if (ino)
		return floor_node(ino)->is_dir ? -EISDIR : 0;
	ino = floor_new_node(dir, p, len, 0);
	if (!ino)
		return -ENOSPC;
	n = floor_node(ino);
	memmove(path + 1, path, strlen(path) + 1);
	path[0] = '/';
	err = floor_capture(n, path);
	if (err) {
		free(n->name);
		floor_nnodes--;
	}
	return err;
}

static int floor_stat(fuse_ino_t ino, struct stat *st)
{
	const struct floor_node *n = floor_node(ino);

	if (!n)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_atime = st->st_mtime = st->st_ctime = floor_start;
	if (n->is_dir || ino == 1) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = n->len;
	}
	return 0;
}

static void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	fuse_ino_t ino;

	ino = floor_child(parent, name, strlen(name));
	if (!ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.attr_timeout = FLOOR_TIMEOUT;
	e.entry_timeout = FLOOR_TIMEOUT;
	floor_stat(ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void floor_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int err;

	(void)fi; /* no per-handle state anywhere in the floor */
	err = floor_stat(ino, &st);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, FLOOR_TIMEOUT);
}

/* Append one entry to a readdir buffer; *len grows even past size, which
 * tells the caller the buffer is full. */
static void floor_dirent(fuse_req_t req, char *buf, size_t size, size_t *len, const char *name,
                         fuse_ino_t ino)
{
	struct stat st = {.st_ino = ino};
	size_t need;

	need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	if (*len + need <= size)
		fuse_add_direntry(req, buf + *len, size - *len, name, &st, *len + need);
	*len += need;
}

/* Directories are tiny: build the whole listing on every call and reply
 * with the slice the kernel asked for. */
static void floor_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                          struct fuse_file_info *fi)
{
	const struct floor_node *n = floor_node(ino);
	char buf[4096];
	size_t len = 0, i;

	(void)fi;
	if (!n || !(n->is_dir || ino == 1)) {
		fuse_reply_err(req, n ? ENOTDIR : ENOENT);
		return;
	}
	floor_dirent(req, buf, sizeof(buf), &len, ".", ino);
	floor_dirent(req, buf, sizeof(buf), &len, "..", ino == 1 ? 1 : n->parent);
	for (i = 1; i < floor_nnodes; i++)
		if (floor_nodes[i].parent == ino)
			floor_dirent(req, buf, sizeof(buf), &len, floor_nodes[i].name, i + 1);
	if (len > sizeof(buf))
		len = sizeof(buf); /* FLOOR_MAX_NODES short names fit; never hit */

	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, buf + off, len - off < size ? len - off : size);
}

static void floor_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct floor_node *n = floor_node(ino);

	if (!n || n->is_dir || ino == 1) {
		fuse_reply_err(req, n ? EISDIR : ENOENT);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	/* lxcfs content changes per read and per reader: the page cache must
	 * never answer for it, so the floor pays the same READ round trips. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void floor_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	const struct floor_node *f = floor_node(ino);

	(void)fi;
	if (!f || f->is_dir || ino == 1) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (off < 0 || (size_t)off >= f->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, f->data + off, f->len - off < size ? f->len - off : size);
}

static const struct fuse_lowlevel_ops floor_ops = {
    .lookup = floor_lookup,
    .getattr = floor_getattr,
    .readdir = floor_readdir,
    .open = floor_open,
    .read = floor_read,
};

static void floor_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-f] [-F PATH]... MOUNTPOINT\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	const char *mountpoint;
	int opt, err, ret = 1;
	size_t i;

	floor_nodes[0].name = "";
	floor_nodes[0].is_dir = 1;
	while ((opt = getopt(argc, argv, "fF:h")) != -1) {
		switch (opt) {
		case 'f':
			break;
		case 'F':
			err = floor_add(optarg);
			if (err) {
				fprintf(stderr, "floor: -F %s: %s\n", optarg, strerror(-err));
				return 1;
			}
			break;
		default:
			floor_usage(argv[0]);
		}
	}
	if (optind != argc - 1)
		floor_usage(argv[0]);
	mountpoint = argv[optind];

	/* meminfo is always served: it is what the bench compares first. */
	err = floor_add("proc/meminfo");
	if (err) {
		fprintf(stderr, "floor: capture /proc/meminfo: %s\n", strerror(-err));
		return 1;
	}
	floor_start = time(NULL);

	if (fuse_opt_add_arg(&args, argv[0]) || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, "fsname=floor,subtype=floor,allow_other")) {
		fprintf(stderr, "floor: fuse_opt_add_arg: out of memory\n");
		return 1;
	}
	se = fuse_session_new(&args, &floor_ops, sizeof(floor_ops), NULL);
	if (!se) {
		fprintf(stderr, "floor: fuse_session_new failed\n");
		goto out_args;
	}
	/* libfuse's handlers make SIGTERM/SIGINT end fuse_session_loop, after
	 * which we unmount: the harness stops us with a plain kill. */
	if (fuse_set_signal_handlers(se)) {
		fprintf(stderr, "floor: fuse_set_signal_handlers failed\n");
		goto out_session;
	}
	if (fuse_session_mount(se, mountpoint)) {
		fprintf(stderr, "floor: fuse_session_mount %s failed\n", mountpoint);
		goto out_signals;
	}

	/* 0, -errno, or the number of the signal that ended it: a stop. */
	ret = fuse_session_loop(se) < 0 ? 1 : 0;

	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	fuse_opt_free_args(&args);
	for (i = 1; i < floor_nnodes; i++) {
		free(floor_nodes[i].name);
		free(floor_nodes[i].data);
	}
	return ret;
}
