/*
 * Reader keys and the container they resolve to (ident_key.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "shm/ident_key.h"

int proc_key_of(int dirfd, const char *path, pid_t pid, struct proc_key *k)
{
	struct stat st;

	if (fstatat(dirfd, path, &st, path[0] ? 0 : AT_EMPTY_PATH) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	memset(k, 0, sizeof(*k));
	k->pid = pid;
	k->ino = st.st_ino;
	k->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
	return 0;
}

uint64_t ident_container_key(const struct cont_paths *p)
{
	struct snap_key k;

	/*
	 * The paths alone (NUL-padded to their full size, so the bytes are
	 * canonical): a container restarted under the same name is the same
	 * tenant, however its seen_ns differs.
	 */
	snap_hash(p->path, sizeof(p->path), &k);
	return k.h1 ? k.h1 : 1;
}

int ident_peek_container(const struct shm *s, pid_t pid, uint64_t *key, struct cont_paths *p)
{
	struct cont_paths paths;
	struct pid_value pv;
	struct proc_key rk;
	struct snap_key sk;
	char path[32];
	size_t len;
	int err;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	err = proc_key_of(AT_FDCWD, path, pid, &rk);
	if (err < 0)
		return err;
	snap_hash(&rk, sizeof(rk), &sk);
	if (snap_peek(s, SNAP_PID, &sk, &pv, sizeof(pv), &len) < 0 || len != sizeof(pv))
		return -ENOENT;
	snap_hash(&pv.init, sizeof(pv.init), &sk);
	if (snap_peek(s, SNAP_CONT, &sk, &paths, sizeof(paths), &len) < 0 || len != sizeof(paths))
		return -ENOENT;
	/* Values in shm are untrusted: every path must end inside its buffer. */
	for (int c = 0; c < IDENT_NPATHS; c++)
		paths.path[c][IDENT_PATH_MAX] = '\0';
	*key = ident_container_key(&paths);
	if (p)
		*p = paths;
	return 0;
}
