/*
 * --enable-io-accounting, the master's side: it runs the helper
 * "lxcfs-worker --io-accounting" (workers/io_accounting.c), which turns the
 * kernel's v1 blkio statistics on for every disk; the master itself never
 * touches cgroupfs.
 */
#ifndef LXCFS_IOACCT_H
#define LXCFS_IOACCT_H

#include "master/master.h"

/*
 * Start the helper now and again every IOACCT_RESCAN_NS (disks added later),
 * each run reaped from the loop: the loop never waits for one.
 */
void ioacct_start(struct master *m);

/*
 * At exit: wait (at most a second) for a helper still running, then run the
 * exit pass (cgroups a killed helper left; the log line on what stays on).
 */
void ioacct_stop(struct master *m);

#endif
