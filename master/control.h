/*
 * The control socket: <runtime-dir>/lxcfs/control.sock, mode 0600, root only
 * (SO_PEERCRED). Protocol version 1, one request per connection:
 *
 *   request:  "LXCFS-CTL/1 <command> [args]\n"          (at most 16 KiB)
 *   reply:    "LXCFS/1 OK\n" then records, then "END\n"
 *             "LXCFS/1 ERR <message>\n"
 *   record:   "<kind> key=value key=value ...\n", values %-escaped (ctl_escape)
 *
 * The master never blocks on a client: requests are read and replies written
 * as the socket allows, and a client that stalls is dropped.
 */
#ifndef LXCFS_CONTROL_H
#define LXCFS_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "master/master.h"

#define CTL_PROTO_REQ   "LXCFS-CTL/1"
#define CTL_PROTO_REPLY "LXCFS/1"
#define CTL_SOCKET_NAME "lxcfs/control.sock"

int control_open(struct master *m);
void control_close(struct master *m);
void control_on_listen(struct master *m);
void control_on_conn(struct master *m, int idx, unsigned events);
/* Drop connections that stalled. Returns true while any is open. */
bool control_tick(struct master *m);

/*
 * A streaming reply (upgrade, restart-worker, scale): progress lines as
 * "progress msg=..." records while the operation runs, then a "result"
 * record and END. conn is the id the command handler was given.
 */
void control_progress(struct master *m, int conn, const char *line);
void control_finish(struct master *m, int conn, bool ok, const char *line);

/*
 * Is the snapshot entry labelled "kind path" about cgroup cg (cglen bytes,
 * no trailing '/' but for "/") or one below it? A label keeps only the end
 * of a long path ("kind ...end"): such an entry is a yes when its visible end
 * continues cg's own end (8 bytes of it at least, then a '/' or the end),
 * and unsure otherwise, as cg may lie in the part cut off.
 */
enum { CTL_CG_NO, CTL_CG_YES, CTL_CG_UNSURE };
int ctl_cgroup_match(const char *label, const char *cg, size_t cglen);

/* Escape a value for a record: bytes outside [!-~] and '%' '=' as %XX. */
void ctl_escape(const char *in, char *out, size_t size);
/* Undo ctl_escape in place. */
void ctl_unescape(char *s);

#endif
