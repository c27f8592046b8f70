#ifndef LXCFS_PIDFILE_H
#define LXCFS_PIDFILE_H

/*
 * Create and lock the pidfile. The lock is what matters: a second instance on
 * the same pidfile fails here, before it touches any mount. Returns the fd
 * (kept open for the daemon's life), -EBUSY with *holder set when another
 * process holds it, or -errno.
 */
int pidfile_lock(const char *path, long *holder);
void pidfile_remove(const char *path, int fd);

#endif
