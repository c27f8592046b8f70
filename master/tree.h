/*
 * The mount's directory tree: fixed at build time, answered by the master
 * from this table without asking a worker.
 */
#ifndef LXCFS_TREE_H
#define LXCFS_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "shm/proto.h"

struct tree_node {
	uint64_t ino;
	uint64_t parent;
	const char *name;
	mode_t mode;           /* type and permissions */
	enum lx_file file;     /* LX_FILE_NONE for directories */
	const char *host_path; /* the host file, served when no worker can render */
};

#define TREE_ROOT_INO 1

const struct tree_node *tree_get(uint64_t ino);
const struct tree_node *tree_lookup(uint64_t parent, const char *name);

/* The n-th child of dir (0-based), or NULL past the last. */
const struct tree_node *tree_child(uint64_t dir, unsigned n);

/* The mount-relative path of a file ("proc/meminfo"), or NULL. */
const char *tree_file_path(enum lx_file f, char *buf, size_t size);

/*
 * access(2) of a root-owned node of mode by uid/gid for mask (R_OK, W_OK,
 * X_OK): 0 or -EACCES, as the kernel's generic_permission() answers.
 */
int tree_access(mode_t mode, uint32_t uid, uint32_t gid, uint32_t mask);


#endif
