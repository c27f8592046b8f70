/*
 * lxcfs-ctl stats --prometheus: the daemon's figures in the Prometheus text
 * exposition format (version 0.0.4), for a node-exporter textfile collector
 * or any scraper of that format.
 */
#ifndef LXCFS_CTL_PROMETHEUS_H
#define LXCFS_CTL_PROMETHEUS_H

#include <stdio.h>

/*
 * Write the records of a "metrics" reply (body: what follows the OK line, up
 * to END; changed in place) as metric families with HELP and TYPE lines,
 * every name prefixed lxcfs_. Returns 0, or -EPROTO when the reply lacks
 * what every daemon sends (the master record) or its histograms do not match
 * its buckets: nothing is written then.
 */
int prom_write(FILE *out, char *body);

/* No daemon answered: lxcfs_up 0, so that a scraper sees it down, not stale. */
void prom_write_down(FILE *out);

#endif
