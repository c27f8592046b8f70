#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "shm/snap.h"
#include "shm/sysfs_node.h"

uint64_t sysfs_nodeid(const char *path)
{
	struct snap_key k;

	snap_hash(path, strlen(path), &k);
	return LX_INO_DYNAMIC | (k.h1 & (LX_INO_DYNAMIC - 1));
}

int sysfs_node_get(const struct shm *s, uint64_t nodeid, struct sysfs_node *out)
{
	struct snap_key k;
	size_t len = 0;

	if (nodeid == LX_INO_CPU_DIR) {
		memset(out, 0, sizeof(*out));
		out->mode = S_IFDIR | 0555;
		return 0;
	}
	if (!(nodeid & LX_INO_DYNAMIC))
		return -ENOENT;
	snap_hash(&nodeid, sizeof(nodeid), &k);
	if (snap_peek(s, SNAP_PATH, &k, out, sizeof(*out), &len) < 0 || len != sizeof(*out))
		return -ENOENT;
	if (memchr(out->path, '\0', sizeof(out->path)) == NULL ||
	    (!S_ISDIR(out->mode) && !S_ISREG(out->mode) && !S_ISLNK(out->mode)))
		return -ENOENT;
	return 0;
}
