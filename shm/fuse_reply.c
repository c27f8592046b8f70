#include <errno.h>
#include <linux/fuse.h>
#include <sys/uio.h>

#include "shm/fuse_reply.h"

#define REPLY_MAX_IOV 1024

int fuse_reply_iov(int fd, uint64_t unique, int error, const struct iovec *iov, int iovcnt)
{
	struct iovec v[REPLY_MAX_IOV];
	struct fuse_out_header out = {.unique = unique, .error = error};
	size_t len = sizeof(out);
	ssize_t n;

	if (error || iovcnt < 0)
		iovcnt = 0;
	if (iovcnt > REPLY_MAX_IOV - 1)
		return -E2BIG;
	v[0].iov_base = &out;
	v[0].iov_len = sizeof(out);
	for (int i = 0; i < iovcnt; i++) {
		v[i + 1] = iov[i];
		len += iov[i].iov_len;
	}
	out.len = (uint32_t)len;
	do
		n = writev(fd, v, iovcnt + 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return 0;
}
