/*
 * Whole-file reads of kernel-generated files (/proc, cgroupfs), which must be
 * read in one go: their content is generated per read.
 */
#ifndef LXCFS_PROCFS_H
#define LXCFS_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

/* A growable buffer owned by the caller; starts empty (all zero). */
struct fbuf {
	char *data;
	size_t len;
	size_t cap;
};

/*
 * Read all of path (relative to dirfd, or absolute) into b, growing it as
 * needed, NUL-terminated. Returns the length or -errno.
 */
ssize_t procfs_read(int dirfd, const char *path, struct fbuf *b);

/* Make room for at least want bytes. Returns 0 or -ENOMEM. */
int fbuf_reserve(struct fbuf *b, size_t want);

#endif
