/*
 * The standby master: a second lxcfs process that the serving master starts
 * from its own binary and command line (with --standby), holding the FUSE
 * connection, the shared memory and the workers' wake eventfd (child.h). It watches the master and, when the master dies (a crash, any
 * signal), stays stopped (SIGSTOP, a debugger) longer than STANDBY_STOPPED_MS
 * or stops turning its loop for STANDBY_HUNG_MS, kills what is left of it
 * and becomes the master itself (main.c). Readers meanwhile wait in the
 * kernel: nothing they asked for is lost (FUSE_NOTIFY_RESEND), and the
 * workers, which also hold the connection, keep the mount alive.
 *
 * The serving master starts a new standby whenever its standby ends, and
 * stops it first when it exits on purpose.
 */
#ifndef LXCFS_STANDBY_H
#define LXCFS_STANDBY_H

#include <stdbool.h>

#include "master/master.h"

#define STANDBY_STOPPED_MS 300
#define STANDBY_HUNG_MS    3000


/*
 * Master: start the standby (and start it again whenever it ends). argv is
 * the master's own command line (NULL: the one given before); the standby
 * gets it without --takeover and with --standby. Returns 0 or -errno.
 */
int standby_start(struct master *m, char **argv);

/* Master, exiting on purpose: stop the standby first, so it does not take over. */
void standby_stop(struct master *m);

/*
 * Standby: attach to the region on fd 4 and watch the master it names.
 * Returns 0 when it is time to take over (the master is gone), 1 when told
 * to exit (SIGTERM, SIGINT), -errno on a setup failure.
 */
int standby_watch(struct master *m);

#endif
