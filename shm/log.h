/*
 * Logging for the master and the workers: one line per event on stderr,
 * prefixed with who speaks ("lxcfs", "worker 3"). Debug lines only with -d.
 */
#ifndef LXCFS_LOG_H
#define LXCFS_LOG_H

#include <stdbool.h>

void log_init(const char *who, bool debug);
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool log_debug_on;

#endif
