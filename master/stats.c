#include <stddef.h>

#include "master/stats.h"

static struct file_stats files[LX_FILE_MAX];

unsigned stats_bucket(uint64_t us)
{
	unsigned e, b;

	if (us < 4)
		return (unsigned)us;
	e = 63 - (unsigned)__builtin_clzll(us);
	b = 4 * (e - 1) + (unsigned)((us >> (e - 2)) & 3);
	return b < STATS_BUCKETS ? b : STATS_BUCKETS - 1;
}

double stats_bucket_mid(unsigned b)
{
	unsigned e, sub;
	double lo, width;

	if (b < 4)
		return b + 0.5;
	e = b / 4 + 1;
	sub = b % 4;
	width = (double)(1ULL << (e - 2));
	lo = (double)(1ULL << e) + sub * width;
	return lo + width / 2;
}

uint64_t stats_bucket_upper_us(unsigned b)
{
	unsigned e;

	if (b >= STATS_BUCKETS - 1)
		return 0;
	if (b < 4)
		return b + 1;
	e = b / 4 + 1;
	/* Buckets 4(e-1)..4(e-1)+3 split [2^e, 2^(e+1)) in quarters: b ends after b % 4 + 1. */
	return (1ULL << e) + (uint64_t)(b % 4 + 1) * (1ULL << (e - 2));
}

void stats_note(unsigned file, uint64_t ns, int error, int by_master)
{
	struct file_stats *s;

	if (file >= LX_FILE_MAX)
		return;
	s = &files[file];
	s->reqs++;
	s->errors += error != 0;
	s->by_master += by_master != 0;
	s->sum_ns += ns;
	s->hist[stats_bucket(ns / 1000)]++;
}

const struct file_stats *stats_of(unsigned file)
{
	return file < LX_FILE_MAX ? &files[file] : NULL;
}

double stats_quantile_us(const struct file_stats *s, double q)
{
	uint64_t total = 0, want, seen = 0;

	for (unsigned b = 0; b < STATS_BUCKETS; b++)
		total += s->hist[b];
	if (!total)
		return 0;
	want = (uint64_t)(q * (double)total);
	if (want >= total)
		want = total - 1;
	for (unsigned b = 0; b < STATS_BUCKETS; b++) {
		seen += s->hist[b];
		if (seen > want)
			return stats_bucket_mid(b);
	}
	return stats_bucket_mid(STATS_BUCKETS - 1);
}
