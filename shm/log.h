/*
 * Logging for the master and the workers: one line per event, prefixed with
 * who speaks ("lxcfs", "worker 3"), sent to one target chosen at start and
 * handed to every worker on its command line, so that all of them land in
 * the same place:
 *
 *   stderr    "lxcfs: ..." / "worker 3: ..." lines on fd 2
 *   syslog    RFC 3164-style datagrams to /dev/log, facility daemon, ident lxcfs
 *   journald  journald's native protocol on /run/systemd/journal/socket: MESSAGE,
 *             PRIORITY, SYSLOG_IDENTIFIER=lxcfs, SYSLOG_FACILITY, SYSLOG_PID, and
 *             LXCFS_WORKER=<slot> on a worker's lines
 *   auto      journald if its socket exists, else syslog if /dev/log exists, else stderr
 *
 * A log line never blocks the daemon: datagrams are sent without waiting, and
 * a line the target cannot take at once (queue full, socket gone) is counted
 * in log_dropped() and left; the next line that gets through is preceded by a
 * note of how many were lost. While the target's socket is missing or
 * refusing, lines go to stderr instead, and the socket is tried again at most
 * once a second.
 *
 * Priorities: log_err for failures (a setup step, a crashed worker), log_warn
 * for problems the daemon works around, log_info for the normal course of
 * events (start, signals, operations), log_debug only with -d. log_msg is
 * log_warn: most of its callers report a problem worked around.
 */
#ifndef LXCFS_LOG_H
#define LXCFS_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_target {
	LOG_TARGET_STDERR,
	LOG_TARGET_SYSLOG,
	LOG_TARGET_JOURNALD,
	LOG_TARGET_AUTO, /* resolved by log_open */
};

/* Who speaks and whether debug lines are wanted. Lines go to stderr until log_open. */
void log_init(const char *who, bool debug);

/* A --log value: 0, or -EINVAL for an unknown name. */
int log_target_parse(const char *name, enum log_target *out);
const char *log_target_name(enum log_target t);

/*
 * The target when --log is not given: stderr when someone reads it (a
 * terminal, a file, a pipe); journald when stderr is systemd's stream to the
 * journal (which would lose priorities and fields); auto when stderr is
 * /dev/null or closed, as an init script leaves it.
 */
enum log_target log_target_default(void);

/*
 * Send the lines of this process to target t (auto resolved now); worker is
 * the worker's slot, -1 in the master. A socket that cannot be reached now is
 * not an error: lines go to stderr until it can. Returns the target in use.
 */
enum log_target log_open(enum log_target t, int worker);

/* The target in use (what workers are told to use). */
enum log_target log_target_now(void);

/* Lines the target could not take, since start. */
uint64_t log_dropped(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool log_debug_on;

#endif
