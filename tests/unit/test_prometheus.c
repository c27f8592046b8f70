/*
 * lxcfs-ctl stats --prometheus: the master's latency buckets end where the
 * next begins (so the le bounds it sends are exact), and a metrics reply is
 * written as cumulative histograms with +Inf, _sum and _count, label values
 * escaped; a reply whose histograms do not match its buckets writes nothing.
 * The integration test t_prometheus.sh reads the real thing with a parser.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "master/ctl_prometheus.h"
#include "master/stats.h"

static void test_bucket_bounds(void)
{
	uint64_t prev = 0;
	unsigned bad = 0;

	/* Every latency lands in a bucket that ends after it and starts at the previous end. */
	for (uint64_t us = 0; us < (1u << 20); us++) {
		unsigned b = stats_bucket(us);
		uint64_t hi = stats_bucket_upper_us(b), lo = b ? stats_bucket_upper_us(b - 1) : 0;

		bad += !(us < hi && us >= lo);
	}
	CHECK(bad == 0);
	for (unsigned b = 0; b + 1 < STATS_BUCKETS; b++) {
		uint64_t hi = stats_bucket_upper_us(b);

		bad += hi <= prev;
		prev = hi;
	}
	CHECK(bad == 0);
	CHECK_EQ_U64(stats_bucket_upper_us(0), 1);
	CHECK_EQ_U64(stats_bucket_upper_us(7), 8);
	CHECK_EQ_U64(stats_bucket_upper_us(8), 10);
	CHECK_EQ_U64(stats_bucket_upper_us(STATS_BUCKETS - 1), 0); /* the overflow: +Inf */
	/* The largest bounded bucket and beyond. */
	CHECK(stats_bucket(stats_bucket_upper_us(STATS_BUCKETS - 2)) == STATS_BUCKETS - 1);
	CHECK(stats_bucket(UINT64_MAX / 2) == STATS_BUCKETS - 1);
}

/* prom_write of body into a string (malloc'd); *rc its answer. */
static char *render(const char *body, int *rc)
{
	char *copy = strdup(body), *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	*rc = prom_write(f, copy);
	fclose(f);
	free(copy);
	return text;
}

static void test_histogram(void)
{
	int rc;
	char *t = render("master pid=7 version=1.2.3%20abc start_time_s=100 workers=2\n"
	                 "worker_exits crashes=1 hangs=2 start_failures=0 planned=5\n"
	                 "worker id=0 pid=8 state=ready served=10 errors=0 inflight=1 restarts=0\n"
	                 "worker id=1 pid=0 state=dead served=3 errors=1 inflight=0 restarts=4\n"
	                 "buckets le_us=1,2,500000\n"
	                 "file name=proc/meminfo requests=10 errors=0 from_master=0 "
	                 "sum_ns=1500000001 hist=1,2,3,4\n"
	                 "file name=a\"b\\c requests=0 errors=0 from_master=0 sum_ns=0 hist=0,0,0,0\n"
	                 "END\n",
	                 &rc);

	CHECK(rc == 0);
	CHECK(strstr(t, "# TYPE lxcfs_request_duration_seconds histogram\n") != NULL);
	CHECK(strstr(t, "lxcfs_request_duration_seconds_bucket{file=\"proc/meminfo\",le=\"0.000001\"} 1\n") != NULL);
	CHECK(strstr(t, "lxcfs_request_duration_seconds_bucket{file=\"proc/meminfo\",le=\"0.000002\"} 3\n") != NULL);
	CHECK(strstr(t, "lxcfs_request_duration_seconds_bucket{file=\"proc/meminfo\",le=\"0.5\"} 6\n") != NULL);
	CHECK(strstr(t, "lxcfs_request_duration_seconds_bucket{file=\"proc/meminfo\",le=\"+Inf\"} 10\n") != NULL);
	CHECK(strstr(t, "lxcfs_request_duration_seconds_sum{file=\"proc/meminfo\"} 1.500000001\n") != NULL);
	CHECK(strstr(t, "lxcfs_request_duration_seconds_count{file=\"proc/meminfo\"} 10\n") != NULL);
	/* A label value with a quote and a backslash, escaped. */
	CHECK(strstr(t, "lxcfs_requests_total{file=\"a\\\"b\\\\c\"} 0\n") != NULL);
	CHECK(strstr(t, "lxcfs_info{version=\"1.2.3\",build=\"abc\"} 1\n") != NULL);
	CHECK(strstr(t, "lxcfs_worker_exits_total{reason=\"hang\"} 2\n") != NULL);
	CHECK(strstr(t, "lxcfs_worker_deaths_total 3\n") != NULL);
	CHECK(strstr(t, "lxcfs_worker_ready{worker=\"1\"} 0\n") != NULL);
	CHECK(strstr(t, "lxcfs_worker_restarts_total{worker=\"1\"} 4\n") != NULL);
	/* What the daemon did not send is left out, not shown as 0. */
	CHECK(strstr(t, "lxcfs_cache_hits_total") == NULL);
	free(t);
}

static void test_refused(void)
{
	int rc;
	char *t;

	/* One count too few for the buckets. */
	t = render("master pid=7\nbuckets le_us=1,2\n"
	           "file name=proc/stat requests=1 errors=0 from_master=0 sum_ns=1 hist=1,0\nEND\n",
	           &rc);
	CHECK(rc == -EPROTO && t && !*t);
	free(t);
	/* Bounds that do not grow. */
	t = render("master pid=7\nbuckets le_us=2,2\n"
	           "file name=proc/stat requests=1 errors=0 from_master=0 sum_ns=1 hist=1,0,0\nEND\n",
	           &rc);
	CHECK(rc == -EPROTO && t && !*t);
	free(t);
	/* Not a number. */
	t = render("master pid=7\nbuckets le_us=1,2\n"
	           "file name=proc/stat requests=1 errors=0 from_master=0 sum_ns=1 hist=1,x,0\nEND\n",
	           &rc);
	CHECK(rc == -EPROTO);
	free(t);
	/* No master record: not a metrics reply. */
	t = render("cache hits=1\nEND\n", &rc);
	CHECK(rc == -EPROTO);
	free(t);
}

static void test_down(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	prom_write_down(f);
	fclose(f);
	CHECK_STR(text, "# HELP lxcfs_up 1: an lxcfs answered on the control socket.\n"
	                "# TYPE lxcfs_up gauge\nlxcfs_up 0\n");
	free(text);
}

int main(void)
{
	test_bucket_bounds();
	test_histogram();
	test_refused();
	test_down();
	return check_report("test_prometheus");
}
