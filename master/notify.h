/*
 * The service manager's readiness protocol (systemd's sd_notify, whose wire
 * format is a datagram of NAME=value lines on the socket named by
 * $NOTIFY_SOCKET). It lets a Type=notify unit order container runtimes after
 * the moment lxcfs serves, and follow the master across a standby taking
 * over or lxcfs --takeover (MAINPID=, with NotifyAccess=all).
 */
#ifndef LXCFS_NOTIFY_H
#define LXCFS_NOTIFY_H

/*
 * Send the state lines fmt makes, if $NOTIFY_SOCKET names a socket. Never
 * blocks and never fails the caller: the manager may be gone, or not there.
 */
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
