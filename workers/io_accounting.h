/*
 * --enable-io-accounting's helper (io_accounting.c): "lxcfs-worker
 * --io-accounting start|exit", run by the master, which never touches
 * cgroupfs itself.
 */
#ifndef LXCFS_IO_ACCOUNTING_H
#define LXCFS_IO_ACCOUNTING_H

/*
 * start: turn the kernel's v1 blkio statistics on for every disk that does
 * not count yet, setting no limit; exit: remove what a helper killed midway
 * left, and log what stays on. Returns the process's exit status.
 */
int io_accounting_main(const char *mode);

#endif
