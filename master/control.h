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

/*
 * Listen on the socket and take its events from the loop. Operations stream
 * their progress to the connection that asked for them: "progress msg=..."
 * records while they run, then a "result" record and END.
 */
int control_open(struct master *m);
void control_close(struct master *m);

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
