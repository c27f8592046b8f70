/*
 * Replacing the whole daemon without unmounting: `lxcfs --takeover [options]
 * MOUNTPOINT`, started beside the lxcfs serving MOUNTPOINT (same runtime
 * dir), possibly another build with another shared memory layout.
 *
 * Over the running master's control socket, one connection:
 *
 *   new -> old  "LXCFS-CTL/1 takeover <pid> <layout> <mountpoint>"
 *   old -> new  "LXCFS/1 OK" and "takeover pid=<pid> mount=<path>", with the
 *               /dev/fuse file attached (SCM_RIGHTS); or "LXCFS/1 ERR <why>"
 *               (another takeover under way, another mount point, stopping)
 *   new         creates its own region, starts its own workers on that file
 *               and waits until they are ready; if they are not, "abort"
 *   new -> old  "freeze": the old master stops reading /dev/fuse and stops
 *               its standby, lets its workers finish what they hold, and
 *               answers "frozen" with its state attached (handover.h)
 *   new         takes the state in, starts reading /dev/fuse and has the
 *               kernel queue again what the old one read and did not answer
 *   new -> old  "done": the old master stops its workers and exits, leaving
 *               the mount, the pidfile and the socket path to the new one,
 *               which then takes them and starts its own standby
 *
 * Until "done", the old master can go back to serving: on "abort", or when
 * the connection drops (the new daemon died), it reads /dev/fuse again, has
 * the kernel queue again what the new one may have read, and restarts its
 * standby. Readers only ever wait, for the few milliseconds between freeze
 * and the new master's first read.
 */
#ifndef LXCFS_TAKEOVER_H
#define LXCFS_TAKEOVER_H

#include <stddef.h>
#include <sys/types.h>

#include "master/master.h"

/*
 * Old master: the control connection fd asked for a takeover (args: what
 * follows the command). Returns 0 when the session is open (it owns fd from
 * then on), or -errno with msg for the refusal (the caller replies ERR).
 */
int takeover_accept(struct master *m, int fd, char *args, char *msg, size_t size);

/* New daemon's side of one takeover. */
struct takeover {
	int fd;        /* the session */
	pid_t old_pid; /* the master being replaced */
	int old_pidfd;
};

/*
 * Ask the master serving at our runtime dir: its /dev/fuse file becomes
 * m->fuse_fd. Returns 0, or -errno with msg (no daemon, refused).
 */
int takeover_connect(struct master *m, struct takeover *t, char *msg, size_t size);

/* Freeze the old master; *state gets its handover fd. 0 or -errno with msg. */
int takeover_freeze(struct takeover *t, int *state, char *msg, size_t size);

/* Tell the old master to go, and wait until it has. 0 or -errno with msg. */
int takeover_done(struct takeover *t, char *msg, size_t size);

/* Give up: the old master goes on serving. */
void takeover_abort(struct takeover *t);

#endif
