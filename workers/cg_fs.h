/*
 * The primitives every cgroupfs reader shares: walking down a cgroup path
 * from a hierarchy root without following links or leaving the hierarchy,
 * one-read file access (cgroupfs generates a file per read), and the number
 * format the kernel writes.
 */
#ifndef LXCFS_CG_FS_H
#define LXCFS_CG_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Called at each level of a walk, root first; a negative return stops it. */
typedef int (*cg_visit_fn)(int dirfd, int version, void *arg);

/*
 * Walk from root_fd down path (absolute within the hierarchy), calling visit
 * (if any) at each level, root and leaf included. Returns the leaf's O_PATH
 * fd (the caller closes it) with *depth its components below the root, or
 * -EINVAL (bad path, "." or ".."), -ENOENT (no such cgroup), -errno.
 */
int cg_walk(int root_fd, const char *path, int version, cg_visit_fn visit, void *arg,
            unsigned *depth);

/* cg_walk without a visitor. */
int cg_open(int root_fd, const char *path);

/*
 * Which life of a cgroup the directory open at dirfd is: its inode number.
 * cgroupfs (kernfs) numbers each directory it makes with a 64-bit id that
 * only grows within a hierarchy and is never given again while the system
 * runs (on v2 it is the cgroup id): a cgroup removed and made again at the
 * same path, as a restarted container's is, has a larger one. An fstat() of
 * a descriptor the caller holds anyway: about a microsecond. 0 or -errno.
 */
int cg_life(int dirfd, uint64_t *life);

/*
 * Read file name in dirfd with one read(). Returns the length, -errno, or
 * -EFBIG when the text filled the buffer (it may have been cut). Counts
 * toward cg_files_read.
 */
ssize_t cg_read_small(int dirfd, const char *name, char *buf, size_t size);

struct fbuf;

/*
 * Read file name in dirfd whole into b, however long (seq_files of many
 * lines). Returns the length or -errno. Counts toward cg_files_read.
 */
ssize_t cg_read_text(int dirfd, const char *name, struct fbuf *b);

/* Decimal digits only: no sign, no blanks, no overflow. 0 or -EINVAL. */
int cg_parse_u64(const char *s, size_t len, uint64_t *out);

/* The length of text without trailing newlines and blanks. */
size_t cg_trim(const char *text, size_t len);

#endif
