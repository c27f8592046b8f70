/*
 * lxcfs-ctl's side of the control socket (protocol in control.h).
 */
#ifndef LXCFS_CTL_CLIENT_H
#define LXCFS_CTL_CLIENT_H

/* lxcfs-ctl's exit codes besides 0 (done), 1 (refused or stopped) and 2 (usage). */
#define EXIT_NO_DAEMON 3
#define EXIT_PROTOCOL  4

/* Connect to the socket at path (5 s timeouts). Returns the fd or -errno. */
int ctl_connect(const char *path);

/* Send one request; return the whole reply (malloc'd, NUL-terminated) or NULL. */
char *ctl_roundtrip(int fd, const char *cmd);

/* ctl_connect, ctl_roundtrip and close: the reply, or NULL when none. */
char *ctl_request(const char *path, const char *cmd);

#endif
