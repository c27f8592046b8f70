#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "workers/procfs.h"

int fbuf_reserve(struct fbuf *b, size_t want)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (want <= b->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

ssize_t procfs_read(int dirfd, const char *path, struct fbuf *b)
{
	int fd, err;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	b->len = 0;
	for (;;) {
		ssize_t n;

		err = fbuf_reserve(b, b->len + 4096);
		if (err < 0)
			goto out;
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	b->data[b->len] = '\0';
	err = 0;
out:
	close(fd);
	return err < 0 ? err : (ssize_t)b->len;
}
