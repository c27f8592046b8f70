#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workers/cg_fs.h"
#include "workers/cgroup.h"
#include "workers/procfs.h"

unsigned long cg_files_read;

/*
 * The next component of the path at *p, which moves past it: its start, with
 * its length in *len, or NULL at the end. *err is -ENAMETOOLONG, -EINVAL for
 * "." and ".." (never up and out of the hierarchy, whatever the path says),
 * or 0.
 */
static const char *cg_next_name(const char **p, size_t *len, int *err)
{
	const char *s = *p, *slash;

	*err = 0;
	while (*s == '/')
		s++;
	*p = s;
	if (!*s)
		return NULL;
	slash = strchrnul(s, '/');
	*len = (size_t)(slash - s);
	*p = slash;
	if (*len > NAME_MAX)
		*err = -ENAMETOOLONG;
	else if (s[0] == '.' && (*len == 1 || (*len == 2 && s[1] == '.')))
		*err = -EINVAL;
	return s;
}

int cg_walk(int root_fd, const char *path, int version, cg_visit_fn visit, void *arg,
            unsigned *depth)
{
	const char *p = path;
	unsigned d = 0;
	int dirfd, ret;

	if (root_fd < 0 || !path || path[0] != '/')
		return -EINVAL;
	dirfd = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	for (;;) {
		char name[NAME_MAX + 1];
		const char *comp;
		size_t len;
		int next;

		if (visit) {
			ret = visit(dirfd, version, arg);
			if (ret < 0)
				goto fail;
		}
		comp = cg_next_name(&p, &len, &ret);
		if (!comp)
			break;
		if (ret < 0)
			goto fail;
		memcpy(name, comp, len);
		name[len] = '\0';
		next = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			/* A file where a directory should be: no such cgroup either. */
			ret = errno == ENOTDIR ? -ENOENT : -errno;
			goto fail;
		}
		close(dirfd);
		dirfd = next;
		d++;
	}
	if (depth)
		*depth = d;
	return dirfd;
fail:
	close(dirfd);
	return ret;
}

/* Every component a name: no "." or "..", none longer than NAME_MAX. */
static bool cg_path_plain(const char *p)
{
	size_t len;
	int err;

	while (cg_next_name(&p, &len, &err))
		if (err < 0)
			return false;
	return true;
}

int cg_open(int root_fd, const char *path)
{
	/*
	 * One lookup by the kernel, confined below root_fd and never through a
	 * link or onto another mount: a snapshot refresh opens a cgroup per read
	 * on dense hosts, and the component walk costs two syscalls per level.
	 */
	struct open_how how = {
	    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
	               RESOLVE_NO_XDEV,
	};
	const char *rel = path;
	long fd;

	if (root_fd < 0 || !path || path[0] != '/' || !cg_path_plain(path))
		return cg_walk(root_fd, path, 0, NULL, NULL, NULL); /* its errors */
	while (*rel == '/')
		rel++;
	fd = syscall(SYS_openat2, root_fd, *rel ? rel : ".", &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	if (errno == ENOENT)
		return -ENOENT;
	/*
	 * No openat2 (before 5.6), a rename race (EAGAIN), a link or a mount on
	 * the way: the walk gives the answer it always gave.
	 */
	return cg_walk(root_fd, path, 0, NULL, NULL, NULL);
}

int cg_life(int dirfd, uint64_t *life)
{
	struct stat st;

	if (fstat(dirfd, &st) < 0)
		return -errno;
	*life = (uint64_t)st.st_ino;
	return 0;
}

ssize_t cg_read_small(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n;
	int fd, err;

	cg_files_read++;
	do {
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, buf, size);
	} while (n < 0 && errno == EINTR);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	if ((size_t)n == size)
		return -EFBIG;
	return n;
}

ssize_t cg_read_text(int dirfd, const char *name, struct fbuf *b)
{
	cg_files_read++;
	return procfs_read(dirfd, name, b);
}

int cg_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

size_t cg_trim(const char *text, size_t len)
{
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	return len;
}
