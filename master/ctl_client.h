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

/* A reply's record split into its kind and key=value pairs (see control.h). */
#define RECORD_FIELDS 48 /* a record with more is cut (the master record has 24) */

struct record {
	char *kind;
	char **key, **val; /* n of each, values unescaped */
	int n;
};

/* Split line in place; the pointers go to room (2 * RECORD_FIELDS of them). */
void record_parse(char *line, struct record *r, char **room);

/* The value of key in r, or NULL. */
const char *record_get(const struct record *r, const char *key);

#endif
