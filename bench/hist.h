/*
 * hist.h: the latency histogram of the bench clients (readlat, denseread).
 *
 * Log-linear: values below HIST_SUB are exact, above that each power of two
 * is split into HIST_SUB buckets (under 0.8 % error). Fixed size, no
 * allocation, so a reader can count into it on the timed path, and several
 * processes can share one through a MAP_SHARED mapping (with atomic adds).
 * Values are nanoseconds; quantiles come out in microseconds.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>
#include <time.h>

#define HIST_SUB_BITS 7
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

static inline uint64_t hist_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* Values below HIST_SUB are exact; above, keep the top HIST_SUB_BITS + 1 bits. */
static inline unsigned int hist_bucket(uint64_t v)
{
	unsigned int msb, shift;

	if (v < HIST_SUB)
		return v;
	msb = 63 - __builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB + ((v >> shift) - HIST_SUB);
}

/* The middle of a bucket's range, the value we report for it. */
static inline uint64_t hist_bucket_value(unsigned int idx)
{
	unsigned int group, shift;
	uint64_t low;

	if (idx < HIST_SUB)
		return idx;
	group = idx / HIST_SUB;
	shift = group - 1;
	low = (uint64_t)(idx % HIST_SUB + HIST_SUB) << shift;
	return low + ((1ull << shift) >> 1);
}

/* Smallest bucket value v with at least q of all TOTAL samples <= v, in µs
 * (nearest rank). 0 when there are no samples. */
static inline double hist_quantile_us(const uint64_t *hist, uint64_t total, double q)
{
	uint64_t want, seen = 0;
	unsigned int i;

	if (!total)
		return 0.0;
	want = (uint64_t)(q * total);
	if ((double)want < q * total || want < 1)
		want++;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= want)
			return hist_bucket_value(i) / 1000.0;
	}
	return 0.0;
}

#endif
