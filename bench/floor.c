/*
 * floor: the FUSE floor.
 *
 * The smallest useful FUSE server: libfuse3 low-level API, one thread,
 * fuse_session_loop, exposing proc/meminfo (and any other flat /proc file
 * named with -F) from a buffer captured once at start. It renders nothing,
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
 * Usage: floor [-f] [-F NAME]... MOUNTPOINT
 *   -f       accepted for symmetry with lxcfs; floor always runs in the
 *            foreground
 *   -F NAME  also serve /proc/NAME (a flat name, no '/'), captured at start
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
#define FLOOR_INO_ROOT  1
#define FLOOR_INO_PROC  2
#define FLOOR_INO_FILE  3 /* first file; file i has inode FLOOR_INO_FILE + i */
#define FLOOR_MAX_FILES 32

struct floor_file {
	const char *name;
	char *data;
	size_t len;
};

static struct floor_file floor_files[FLOOR_MAX_FILES];
static size_t floor_nfiles;
static time_t floor_start;

/* Read /proc/NAME whole. /proc files report st_size 0, so grow as we go. */
static int floor_capture(struct floor_file *f, const char *name)
{
	char path[PATH_MAX];
	size_t cap = 4096, len = 0;
	char *buf, *nbuf;
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%s", name);
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
	f->name = name;
	f->data = buf;
	f->len = len;
	return 0;

out_free:
	free(buf);
out_close:
	close(fd);
	return err;
}

static int floor_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_atime = st->st_mtime = st->st_ctime = floor_start;
	if (ino == FLOOR_INO_ROOT || ino == FLOOR_INO_PROC) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	if (ino >= FLOOR_INO_FILE && ino < FLOOR_INO_FILE + floor_nfiles) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = floor_files[ino - FLOOR_INO_FILE].len;
		return 0;
	}
	return -ENOENT;
}

static void floor_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	fuse_ino_t ino = 0;
	size_t i;

	if (parent == FLOOR_INO_ROOT && strcmp(name, "proc") == 0) {
		ino = FLOOR_INO_PROC;
	} else if (parent == FLOOR_INO_PROC) {
		for (i = 0; i < floor_nfiles; i++) {
			if (strcmp(name, floor_files[i].name) == 0) {
				ino = FLOOR_INO_FILE + i;
				break;
			}
		}
	}
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
	char buf[4096];
	size_t len = 0, i;

	(void)fi;
	if (ino != FLOOR_INO_ROOT && ino != FLOOR_INO_PROC) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	floor_dirent(req, buf, sizeof(buf), &len, ".", ino);
	floor_dirent(req, buf, sizeof(buf), &len, "..", FLOOR_INO_ROOT);
	if (ino == FLOOR_INO_ROOT) {
		floor_dirent(req, buf, sizeof(buf), &len, "proc", FLOOR_INO_PROC);
	} else {
		for (i = 0; i < floor_nfiles; i++)
			floor_dirent(req, buf, sizeof(buf), &len, floor_files[i].name,
			             FLOOR_INO_FILE + i);
	}
	if (len > sizeof(buf))
		len = sizeof(buf); /* FLOOR_MAX_FILES short names fit; never hit */

	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, buf + off, len - off < size ? len - off : size);
}

static void floor_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == FLOOR_INO_ROOT || ino == FLOOR_INO_PROC) {
		fuse_reply_err(req, EISDIR);
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
	const struct floor_file *f;

	(void)fi;
	if (ino < FLOOR_INO_FILE || ino >= FLOOR_INO_FILE + floor_nfiles) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	f = &floor_files[ino - FLOOR_INO_FILE];
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
	fprintf(stderr, "usage: %s [-f] [-F NAME]... MOUNTPOINT\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	const char *mountpoint;
	int opt, err, ret = 1;
	size_t i;

	while ((opt = getopt(argc, argv, "fF:h")) != -1) {
		switch (opt) {
		case 'f':
			break;
		case 'F':
			if (strchr(optarg, '/') || floor_nfiles + 1 >= FLOOR_MAX_FILES) {
				fprintf(stderr, "floor: -F %s: flat /proc names only, at most %d\n",
				        optarg, FLOOR_MAX_FILES - 1);
				return 2;
			}
			for (i = 0; i < floor_nfiles; i++)
				if (strcmp(optarg, floor_files[i].name) == 0)
					break;
			if (i < floor_nfiles)
				break;
			err = floor_capture(&floor_files[floor_nfiles], optarg);
			if (err) {
				fprintf(stderr, "floor: capture /proc/%s: %s\n", optarg,
				        strerror(-err));
				return 1;
			}
			floor_nfiles++;
			break;
		default:
			floor_usage(argv[0]);
		}
	}
	if (optind != argc - 1)
		floor_usage(argv[0]);
	mountpoint = argv[optind];

	/* meminfo is always served: it is what the bench compares first. */
	for (i = 0; i < floor_nfiles; i++)
		if (strcmp(floor_files[i].name, "meminfo") == 0)
			break;
	if (i == floor_nfiles) {
		err = floor_capture(&floor_files[floor_nfiles], "meminfo");
		if (err) {
			fprintf(stderr, "floor: capture /proc/meminfo: %s\n", strerror(-err));
			return 1;
		}
		floor_nfiles++;
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
	for (i = 0; i < floor_nfiles; i++)
		free(floor_files[i].data);
	return ret;
}
