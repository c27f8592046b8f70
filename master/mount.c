#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "master/mount.h"
#include "shm/log.h"

/*
 * A mount left by a daemon that died answers ENOTCONN; detach it so the new
 * instance can take its place without the operator's help.
 */
static void clear_stale_mount(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 || errno != ENOTCONN)
		return;
	if (umount2(path, MNT_DETACH) == 0)
		log_info("detached a stale mount at %s", path);
	else
		log_warn("umount2 of stale mount %s: %s", path, strerror(errno));
}

int mount_fuse(struct master *m)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	/* Never called: the master reads the session fd itself. */
	static const struct fuse_lowlevel_ops no_ops;
	struct fuse_session *se;
	int fd, flags;

	clear_stale_mount(m->cli->mountpoint);
	if (mkdir(m->cli->mountpoint, 0755) < 0 && errno != EEXIST) {
		log_err("mkdir %s: %s", m->cli->mountpoint, strerror(errno));
		return -errno;
	}
	if (fuse_opt_add_arg(&args, "lxcfs") || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, "allow_other,fsname=lxcfs,subtype=lxcfs") ||
	    (m->cli->fuse_opts &&
	     (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, m->cli->fuse_opts)))) {
		fuse_opt_free_args(&args);
		return -ENOMEM;
	}
	se = fuse_session_new(&args, &no_ops, sizeof(no_ops), NULL);
	fuse_opt_free_args(&args);
	if (!se) {
		log_err("fuse_session_new: invalid mount options");
		return -EINVAL;
	}
	if (fuse_session_mount(se, m->cli->mountpoint) != 0) {
		log_err("fuse_session_mount on %s failed", m->cli->mountpoint);
		fuse_session_destroy(se);
		return -EIO;
	}
	fd = fuse_session_fd(se);
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		log_err("fcntl O_NONBLOCK on /dev/fuse: %s", strerror(errno));
		fuse_session_unmount(se);
		fuse_session_destroy(se);
		return -errno;
	}
	m->session = se;
	m->fuse_fd = fd;
	return 0;
}

void mount_unmount(struct master *m)
{
	struct fuse_session *se = m->session;

	if (!se) {
		/* A connection taken over from another master: no session of ours. */
		if (m->fuse_fd >= 0 && umount2(m->cli->mountpoint, MNT_DETACH) < 0)
			log_warn("umount2 %s: %s", m->cli->mountpoint, strerror(errno));
		if (m->fuse_fd >= 0)
			close(m->fuse_fd);
		m->fuse_fd = -1;
		return;
	}
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	m->session = NULL;
	m->fuse_fd = -1;
}
