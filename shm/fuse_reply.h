/*
 * Replies to the kernel through the shared /dev/fuse file. The master and the
 * workers write replies on the same open file: each reply is one writev, so
 * replies never interleave.
 */
#ifndef LXCFS_FUSE_REPLY_H
#define LXCFS_FUSE_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * Send a reply: error (0 or -errno) and, on success, the payload iovecs (at
 * most 1022 of them). Returns 0, or -errno. -ENOENT means the kernel no longer
 * waits for this unique (interrupted, or already answered): harmless.
 */
int fuse_reply_iov(int fd, uint64_t unique, int error, const struct iovec *iov, int iovcnt);

static inline int fuse_reply_err(int fd, uint64_t unique, int error)
{
	return fuse_reply_iov(fd, unique, error, NULL, 0);
}

static inline int fuse_reply_buf(int fd, uint64_t unique, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	return fuse_reply_iov(fd, unique, 0, &iov, len ? 1 : 0);
}

#endif
