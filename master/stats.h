/*
 * Per-file request statistics, kept by the master (it outlives every worker):
 * requests, errors, and a latency histogram from the moment the master read a
 * request from the kernel to the moment its reply was written.
 */
#ifndef LXCFS_STATS_H
#define LXCFS_STATS_H

#include <stdint.h>

#include "shm/proto.h"

/* Log-linear microsecond buckets: four per power of two, up to ~2^31 µs. */
#define STATS_BUCKETS 128

struct file_stats {
	uint64_t reqs;
	uint64_t errors;
	uint64_t by_master; /* answered from kept content, no worker */
	uint64_t sum_ns;    /* of every latency noted: a histogram's _sum */
	uint64_t hist[STATS_BUCKETS];
};

void stats_note(unsigned file, uint64_t ns, int error, int by_master);
const struct file_stats *stats_of(unsigned file);

/* The q-quantile (0..1) of a file's latencies in µs; 0 with no samples. */
double stats_quantile_us(const struct file_stats *s, double q);

/*
 * Where bucket b ends: every latency counted in it is below this many µs.
 * 0 for the last bucket, which takes everything longer (no bound).
 */
uint64_t stats_bucket_upper_us(unsigned b);

/* Exposed for tests. */
unsigned stats_bucket(uint64_t us);
double stats_bucket_mid(unsigned b);

#endif
