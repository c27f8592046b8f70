/*
 * lxcfs-ctl upgrade --all: the whole daemon replaced by the installed build
 * (lxcfs --takeover, takeover.h), from the operator's command line.
 */
#ifndef LXCFS_CTL_TAKEOVER_H
#define LXCFS_CTL_TAKEOVER_H

/*
 * Start binary (NULL: the lxcfs installed beside lxcfs-ctl) with --takeover
 * and the running master's command line, and wait until it serves. Returns
 * lxcfs-ctl's exit code.
 */
int ctl_upgrade_all(const char *socket_path, const char *binary, const char *worker_binary);

#endif
