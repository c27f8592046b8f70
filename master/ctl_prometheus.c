/*
 * The Prometheus text format of a "metrics" reply (see ctl_prometheus.h and
 * cmd_metrics in control.c for the records). Families are written whole, in
 * a fixed order, each after its HELP and TYPE lines; a figure the daemon did
 * not send (an older one) leaves its family out rather than showing 0.
 * Values come from a peer: only plain decimal numbers are written.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "master/ctl_client.h"
#include "master/ctl_prometheus.h"

#define HIST_MAX 256 /* buckets a histogram may have: the master keeps 128 */

struct reply {
	struct record *recs;
	int n;
};

static bool is_count(const char *s)
{
	if (!s || !*s || strlen(s) > 20)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static const struct record *first_of(const struct reply *r, const char *kind)
{
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->recs[i].kind, kind) == 0)
			return &r->recs[i];
	return NULL;
}

/* A label value as the format wants it: backslash, quote and newline escaped. */
static void label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One figure of the record of kind (a single one, as master or cache), if sent. */
static void scalar(FILE *out, const struct reply *r, const char *kind, const char *key,
                   const char *name, const char *type, const char *help)
{
	const struct record *rec = first_of(r, kind);
	const char *v = rec ? record_get(rec, key) : NULL;

	if (!is_count(v))
		return;
	family(out, name, type, help);
	fprintf(out, "%s %s\n", name, v);
}

/* One figure of each record of kind, labelled label="the record's key_label". */
static void labelled(FILE *out, const struct reply *r, const char *kind, const char *key_label,
                     const char *label, const char *key, const char *name, const char *type,
                     const char *help)
{
	bool any = false;

	for (int i = 0; i < r->n; i++) {
		const struct record *rec = &r->recs[i];
		const char *l = record_get(rec, key_label), *v = record_get(rec, key);

		if (strcmp(rec->kind, kind) != 0 || !l || !is_count(v))
			continue;
		if (!any)
			family(out, name, type, help);
		any = true;
		fprintf(out, "%s{%s=\"", name, label);
		label_value(out, l);
		fprintf(out, "\"} %s\n", v);
	}
}

/* Seconds from a whole number of units per second, as a plain decimal ("0.000004", "1"). */
static void seconds(FILE *out, uint64_t v, uint64_t per_s, int digits)
{
	uint64_t frac = v % per_s;
	char buf[32];
	int n;

	if (!frac) {
		fprintf(out, "%llu", (unsigned long long)(v / per_s));
		return;
	}
	n = snprintf(buf, sizeof(buf), "%0*llu", digits, (unsigned long long)frac);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	fprintf(out, "%llu.%s", (unsigned long long)(v / per_s), buf);
}

/* A comma-separated list of counts; the number of them, or -1 if one is not a count. */
static int count_list(const char *s, uint64_t *v, int max)
{
	int n = 0;

	while (s && *s) {
		char *end;

		if (n == max || *s < '0' || *s > '9')
			return -1;
		v[n++] = strtoull(s, &end, 10);
		if (*end != ',' && *end != '\0')
			return -1;
		s = *end ? end + 1 : end;
	}
	return n;
}

/*
 * The latency histogram of each file: cumulative buckets ending at each
 * bound the master keeps, then +Inf, _sum and _count. A file whose counts do
 * not match the bounds (one more than them: the last bucket has none) makes
 * the whole reply suspect.
 */
static int histograms(FILE *out, const struct reply *r, bool write)
{
	static const char name[] = "lxcfs_request_duration_seconds";
	const struct record *b = first_of(r, "buckets");
	uint64_t le[HIST_MAX], hist[HIST_MAX + 1];
	int nle;
	bool any = false;

	if (!b)
		return 0; /* a daemon without histograms */
	nle = count_list(record_get(b, "le_us"), le, HIST_MAX);
	if (nle <= 0)
		return -EPROTO;
	for (int i = 1; i < nle; i++)
		if (le[i] <= le[i - 1])
			return -EPROTO;
	for (int i = 0; i < r->n; i++) {
		const struct record *rec = &r->recs[i];
		const char *file = record_get(rec, "name"), *sum = record_get(rec, "sum_ns");
		uint64_t cum = 0;

		if (strcmp(rec->kind, "file") != 0)
			continue;
		if (!file || !is_count(sum) ||
		    count_list(record_get(rec, "hist"), hist, HIST_MAX + 1) != nle + 1)
			return -EPROTO;
		if (!write)
			continue;
		if (!any)
			family(out, name, "histogram",
			       "Time from the master reading a request of the file from the kernel "
			       "to the reply being written, by the buckets the master keeps (four "
			       "per power of two).");
		any = true;
		for (int k = 0; k <= nle; k++) {
			cum += hist[k];
			fprintf(out, "%s_bucket{file=\"", name);
			label_value(out, file);
			fputs("\",le=\"", out);
			if (k < nle)
				seconds(out, le[k], 1000000, 6);
			else
				fputs("+Inf", out);
			fprintf(out, "\"} %llu\n", (unsigned long long)cum);
		}
		fprintf(out, "%s_sum{file=\"", name);
		label_value(out, file);
		fputs("\"} ", out);
		seconds(out, strtoull(sum, NULL, 10), 1000000000, 9);
		fprintf(out, "\n%s_count{file=\"", name);
		label_value(out, file);
		fprintf(out, "\"} %llu\n", (unsigned long long)cum);
	}
	return 0;
}

static void master_families(FILE *out, const struct reply *r)
{
	const struct record *m = first_of(r, "master");
	const char *ver = record_get(m, "version"), *ttl;
	const struct record *cache = first_of(r, "cache");
	char vbuf[256], *build;

	family(out, "lxcfs_up", "gauge", "1: an lxcfs answered on the control socket.");
	fputs("lxcfs_up 1\n", out);
	if (ver) {
		snprintf(vbuf, sizeof(vbuf), "%s", ver);
		build = strchr(vbuf, ' ');
		if (build)
			*build++ = '\0';
		family(out, "lxcfs_info", "gauge", "The serving master's version and build.");
		fputs("lxcfs_info{version=\"", out);
		label_value(out, vbuf);
		fputs("\",build=\"", out);
		label_value(out, build ? build : "");
		fputs("\"} 1\n", out);
	}
	scalar(out, r, "master", "start_time_s", "lxcfs_start_time_seconds", "gauge",
	       "When the serving master started, in seconds since the epoch: its request "
	       "counters start from 0 then.");
	scalar(out, r, "master", "workers", "lxcfs_workers", "gauge",
	       "Workers the pool is set to run.");
	scalar(out, r, "master", "virtualization", "lxcfs_virtualization_enabled", "gauge",
	       "1: containers see their own figures; 0: host content for everyone (SIGUSR2).");
	scalar(out, r, "master", "served_by_master", "lxcfs_served_by_master_total", "counter",
	       "Reads the master answered from the text kept for the open file, without a worker.");
	scalar(out, r, "master", "fallbacks", "lxcfs_fallbacks_total", "counter",
	       "Reads answered with the host's file because no worker could answer them.");
	scalar(out, r, "master", "redispatched", "lxcfs_redispatched_total", "counter",
	       "Requests handed to another worker after theirs died or missed its deadline.");
	scalar(out, r, "master", "log_dropped", "lxcfs_log_dropped_total", "counter",
	       "Log lines dropped because the log socket's queue was full.");
	scalar(out, r, "master", "chunks_in_use", "lxcfs_shm_chunks_in_use", "gauge",
	       "Shared memory chunks holding open files' text.");
	scalar(out, r, "master", "chunks_total", "lxcfs_shm_chunks_capacity", "gauge",
	       "Shared memory chunks for open files' text (--content-mib).");
	scalar(out, r, "master", "handles_in_use", "lxcfs_shm_handles_in_use", "gauge",
	       "Open files of all readers.");
	scalar(out, r, "master", "handles_total", "lxcfs_shm_handles_capacity", "gauge",
	       "Files that may be open at once (--max-handles).");
	scalar(out, r, "master", "shm_bytes", "lxcfs_shm_bytes", "gauge",
	       "Size of the shared memory region (address space; only pages in use are resident).");
	ttl = cache ? record_get(cache, "ttl_ms") : NULL;
	if (is_count(ttl)) {
		family(out, "lxcfs_cache_ttl_seconds", "gauge",
		       "How old cached cgroup values may be (--cache-ttl-ms).");
		fputs("lxcfs_cache_ttl_seconds ", out);
		seconds(out, strtoull(ttl, NULL, 10), 1000, 3);
		fputc('\n', out);
	}
}

static void worker_families(FILE *out, const struct reply *r)
{
	static const struct {
		const char *key, *reason;
	} ends[] = {{"crashes", "crash"},
	            {"hangs", "hang"},
	            {"start_failures", "start_failure"},
	            {"planned", "planned"}};
	const struct record *ex = first_of(r, "worker_exits");
	bool any = false;
	uint64_t deaths = 0;

	labelled(out, r, "worker", "id", "worker", "served", "lxcfs_worker_requests_total",
	         "counter", "Requests answered by the workers of each worker slot.");
	labelled(out, r, "worker", "id", "worker", "errors", "lxcfs_worker_errors_total", "counter",
	         "Requests answered with an error by the workers of each worker slot.");
	labelled(out, r, "worker", "id", "worker", "inflight", "lxcfs_worker_inflight", "gauge",
	         "Requests a worker holds now.");
	labelled(out, r, "worker", "id", "worker", "restarts", "lxcfs_worker_restarts_total",
	         "counter", "Workers started again in each slot after one ended.");
	for (int i = 0; i < r->n; i++) {
		const struct record *rec = &r->recs[i];
		const char *id = record_get(rec, "id"), *st = record_get(rec, "state");

		if (strcmp(rec->kind, "worker") != 0 || !is_count(id) || !st)
			continue;
		if (!any)
			family(out, "lxcfs_worker_ready", "gauge",
			       "1: the worker of the slot takes requests; 0: starting, draining "
			       "or dead.");
		any = true;
		fprintf(out, "lxcfs_worker_ready{worker=\"%s\"} %d\n", id, strcmp(st, "ready") == 0);
	}
	if (!ex)
		return;
	any = false;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		const char *v = record_get(ex, ends[i].key);

		if (!is_count(v))
			continue;
		if (!any)
			family(out, "lxcfs_worker_exits_total", "counter",
			       "How workers ended: crash (a signal or an exit lxcfs did not ask "
			       "for, the OOM killer's included), hang (killed for a missed "
			       "deadline), start_failure (never ready), planned (stopped after a "
			       "drain: upgrade, restart-worker, scale, SIGUSR1).");
		any = true;
		fprintf(out, "lxcfs_worker_exits_total{reason=\"%s\"} %s\n", ends[i].reason, v);
		if (strcmp(ends[i].reason, "planned") != 0)
			deaths += strtoull(v, NULL, 10);
	}
	if (any) {
		family(out, "lxcfs_worker_deaths_total", "counter",
		       "Workers that ended unplanned (crash, hang, start_failure): the figure "
		       "to alert on; upgrades and scaling leave it alone.");
		fprintf(out, "lxcfs_worker_deaths_total %llu\n", (unsigned long long)deaths);
	}
}

static void cache_families(FILE *out, const struct reply *r)
{
	static const struct {
		const char *key, *name, *help;
	} c[] = {
	    {"hits", "lxcfs_cache_hits_total", "Cached values used while fresh."},
	    {"misses", "lxcfs_cache_misses_total", "Values not in the cache: read and stored."},
	    {"stale", "lxcfs_cache_stale_total", "Cached values found older than the bound."},
	    {"refreshes", "lxcfs_cache_refreshes_total", "Values read from the kernel and stored."},
	    {"evictions", "lxcfs_cache_evictions_total",
	     "Cached entries replaced by another key's."},
	    {"waits", "lxcfs_cache_waits_total",
	     "Reads that waited for another worker refreshing the same entry."},
	    {"live", "lxcfs_cache_live_reads_total",
	     "Values read and not stored (--cache-ttl-ms 0, or no room)."},
	    {"cgroupfs_reads", "lxcfs_cgroupfs_reads_total", "Cgroupfs files read by the workers."},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		scalar(out, r, "cache", c[i].key, c[i].name, "counter", c[i].help);
	labelled(out, r, "table", "name", "table", "entries", "lxcfs_snapshot_entries", "gauge",
	         "Entries in each table of the shared snapshot.");
	labelled(out, r, "table", "name", "table", "capacity", "lxcfs_snapshot_capacity", "gauge",
	         "Entries each table of the shared snapshot can hold.");
}

static void file_families(FILE *out, const struct reply *r)
{
	labelled(out, r, "file", "name", "file", "requests", "lxcfs_requests_total", "counter",
	         "Requests of each file answered (reads, and lookups below sys/devices/system/cpu).");
	labelled(out, r, "file", "name", "file", "errors", "lxcfs_request_errors_total", "counter",
	         "Requests of each file answered with an error.");
	labelled(out, r, "file", "name", "file", "from_master", "lxcfs_requests_from_master_total",
	         "counter",
	         "Reads of each file the master answered from the text kept for the open file.");
}

int prom_write(FILE *out, char *body)
{
	struct reply r = {0};
	size_t nlines = 1, npairs = 0, used = 0;
	char **ptrs, *save = NULL, *line, *room[2 * RECORD_FIELDS];
	int rc = -EPROTO;

	for (const char *p = body; *p; p++) {
		nlines += *p == '\n';
		npairs += *p == '=';
	}
	r.recs = calloc(nlines, sizeof(*r.recs));
	ptrs = calloc(2 * npairs + 1, sizeof(*ptrs));
	if (!r.recs || !ptrs) {
		rc = -ENOMEM;
		goto out;
	}
	for (line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct record rec;

		if (strcmp(line, "END") == 0)
			break;
		record_parse(line, &rec, room);
		if (!rec.kind)
			continue;
		r.recs[r.n] = rec;
		r.recs[r.n].key = ptrs + used;
		memcpy(r.recs[r.n].key, rec.key, sizeof(char *) * (size_t)rec.n);
		r.recs[r.n].val = ptrs + used + (size_t)rec.n;
		memcpy(r.recs[r.n].val, rec.val, sizeof(char *) * (size_t)rec.n);
		used += 2 * (size_t)rec.n;
		r.n++;
	}
	/* Checked whole first: a reply that does not hold together writes nothing. */
	if (!first_of(&r, "master") || histograms(out, &r, false) < 0)
		goto out;
	master_families(out, &r);
	worker_families(out, &r);
	cache_families(out, &r);
	file_families(out, &r);
	histograms(out, &r, true);
	rc = 0;
out:
	free(r.recs);
	free(ptrs);
	return rc;
}

void prom_write_down(FILE *out)
{
	family(out, "lxcfs_up", "gauge", "1: an lxcfs answered on the control socket.");
	fputs("lxcfs_up 0\n", out);
}
