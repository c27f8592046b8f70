#!/usr/bin/env bash
# lxcfs-ctl stats --prometheus is what a Prometheus scraper reads.
#
# A container reads its meminfo 50 times; a worker is SIGKILLed (a crash)
# and another restarted by lxcfs-ctl (a planned exit). Then stats
# --prometheus is read by a real parser of the text format (Debian's
# python3-prometheus-client; promtool check metrics as well where a package
# installed it): every family has HELP and TYPE and an lxcfs_ name; each
# file's latency histogram has cumulative buckets in growing le order ending
# with +Inf, which equals its _count, equal to the file's requests; the
# figures agree with lxcfs-ctl --json stats and status (meminfo requests, the
# worker slots, one crash and one planned exit, deaths counting the crash);
# the cache and shared memory figures are there. With no daemon it exits 3
# and still prints, parseably, lxcfs_up 0. --prometheus with --json, or on
# another command, is a usage error.
# run_all: once
. "$(dirname "$0")/lib.sh"

[ "$LXCFS_IMPL" = upstream ] && skip "upstream lxcfs has no control socket"

CTL=$LXCFS_BUILD/lxcfs-ctl

# The parser: Debian's package, installed when missing (TEST_PKGS has it).
if ! "$PYTHON" -c 'import prometheus_client.parser' 2>/dev/null; then
	log "installing python3-prometheus-client"
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-prometheus-client; } >&2 ||
		fail "cannot install python3-prometheus-client"
fi

start_lxcfs --workers 2
make_container ct1 mem=256M
in_container ct1 sh -c 'for i in $(seq 50); do cat /proc/meminfo >/dev/null || exit 1; done' ||
	fail "reading meminfo in ct1"

ctl_json()
{
	timeout 10 "$CTL" --runtime-dir "$RUNDIR" --json "$@"
}

# A crash: worker 0 SIGKILLed; the pool replaces it.
victim=$(ctl_json workers | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["worker"][0]["pid"])')
kill -KILL "$victim"
ready2()
{
	[ "$(lxcfs_ctl_workers | grep -c ' ready$')" = 2 ] && ! lxcfs_ctl_workers | grep -q "^$victim "
}
wait_for 10 ready2 || fail "worker $victim not replaced: $(lxcfs_ctl_workers | tr '\n' ' ')"
# A planned exit: worker 1 restarted.
timeout 30 "$CTL" --runtime-dir "$RUNDIR" restart-worker 1 >&2 || fail "lxcfs-ctl restart-worker 1"
in_container ct1 cat /proc/meminfo >/dev/null || fail "reading meminfo in ct1"

timeout 10 "$CTL" --runtime-dir "$RUNDIR" stats --prometheus >"$TEST_TMP/metrics.prom" 2>"$TEST_TMP/err" ||
	fail "lxcfs-ctl stats --prometheus: exit $?: $(cat "$TEST_TMP/err")"
[ -s "$TEST_TMP/err" ] && fail "lxcfs-ctl stats --prometheus wrote on stderr: $(cat "$TEST_TMP/err")"
ctl_json stats >"$TEST_TMP/stats.json" || fail "lxcfs-ctl --json stats"
ctl_json status >"$TEST_TMP/status.json" || fail "lxcfs-ctl --json status"
log "stats --prometheus: $(wc -l <"$TEST_TMP/metrics.prom") lines, $(grep -c '^# TYPE' "$TEST_TMP/metrics.prom") families"

if command -v promtool >/dev/null; then
	out=$(promtool check metrics <"$TEST_TMP/metrics.prom" 2>&1) || fail "promtool check metrics: $out"
	log "ok: promtool check metrics: ${out:-no complaint}"
fi

cat >"$TEST_TMP/check.py" <<'EOF'
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
stats = json.load(open(sys.argv[2]))
status = json.load(open(sys.argv[3]))
bad = []
fams = {f.name: f for f in text_string_to_metric_families(text)}

def samples(name, suffix="", **labels):
    f = fams.get(name)
    if f is None:
        return []
    return [s for s in f.samples if s.name == name + suffix and
            all(s.labels.get(k) == v for k, v in labels.items())]

def value(name, suffix="", **labels):
    s = samples(name, suffix, **labels)
    if len(s) != 1:
        bad.append("%s%s%s: %d samples" % (name, suffix, labels or "", len(s)))
        return float("nan")
    return s[0].value

for f in fams.values():
    if not f.name.startswith("lxcfs_"):
        bad.append("family %s lacks the lxcfs_ prefix" % f.name)
    if not f.documentation:
        bad.append("family %s has no HELP" % f.name)
    if f.type not in ("counter", "gauge", "histogram"):
        bad.append("family %s has type %s (no TYPE line?)" % (f.name, f.type))
# Every sample's family was declared by its own TYPE line (the parser makes an
# untyped family of any sample whose name it cannot place).
declared = {l.split()[2] for l in text.splitlines() if l.startswith("# TYPE ")}
for f in fams.values():
    base = f.name + ("_total" if f.type == "counter" else "")
    if f.name not in declared and base not in declared:
        bad.append("family %s was not declared" % f.name)

files = [r["name"] for r in stats["file"]]
for file in files:
    b = samples("lxcfs_request_duration_seconds", "_bucket", file=file)
    les = [s.labels["le"] for s in b]
    if not b or les[-1] != "+Inf":
        bad.append("%s: buckets %s... do not end with +Inf" % (file, les[:3]))
        continue
    bounds = [float(l) for l in les]
    counts = [s.value for s in b]
    if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
        bad.append("%s: le not growing" % file)
    if counts != sorted(counts):
        bad.append("%s: buckets not cumulative" % file)
    count = value("lxcfs_request_duration_seconds", "_count", file=file)
    total = value("lxcfs_requests", "_total", file=file)
    ssum = value("lxcfs_request_duration_seconds", "_sum", file=file)
    if counts[-1] != count or count != total:
        bad.append("%s: +Inf %d, _count %d, requests %d" % (file, counts[-1], count, total))
    if ssum < 0 or (count == 0) != (ssum == 0):
        bad.append("%s: _sum %s for %d requests" % (file, ssum, count))

by_file = {r["name"]: r for r in stats["file"]}
mem = value("lxcfs_requests", "_total", file="proc/meminfo")
if not 50 <= mem <= by_file["proc/meminfo"]["requests"]:
    bad.append("meminfo requests %d: read 50 times, stats says %d afterwards"
               % (mem, by_file["proc/meminfo"]["requests"]))
p50 = float(stats["file"][files.index("proc/meminfo")]["p50_us"])
b = samples("lxcfs_request_duration_seconds", "_bucket", file="proc/meminfo")
half = next(float(s.labels["le"]) for s in b if s.value > int(mem / 2))
if not p50 / 1e6 <= half * 1.01:
    bad.append("meminfo p50 %s us lies beyond the bucket holding half the requests (le %s)" % (p50, half))

ex = stats["worker_exits"]
for reason, key in (("crash", "crashes"), ("hang", "hangs"), ("start_failure", "start_failures"),
                    ("planned", "planned")):
    got = value("lxcfs_worker_exits", "_total", reason=reason)
    if got != ex[key]:
        bad.append("worker exits %s: %s, stats says %s" % (reason, got, ex[key]))
if value("lxcfs_worker_exits", "_total", reason="crash") < 1:
    bad.append("the SIGKILLed worker is not counted as a crash")
if value("lxcfs_worker_exits", "_total", reason="planned") < 1:
    bad.append("the restarted worker is not counted as a planned exit")
if value("lxcfs_worker_deaths", "_total") != ex["deaths"]:
    bad.append("deaths %s, stats says %s" % (value("lxcfs_worker_deaths", "_total"), ex["deaths"]))

slots = sorted(str(w["id"]) for w in status["worker"])
got = sorted(s.labels["worker"] for s in samples("lxcfs_worker_ready"))
if got != slots:
    bad.append("worker labels %s, status has %s" % (got, slots))
if any(s.value != 1 for s in samples("lxcfs_worker_ready")):
    bad.append("a worker is not ready: %s" % samples("lxcfs_worker_ready"))
# The crashed worker's slot got a new one (a restart); the restarted one's
# replacement took another slot (a rolling replacement is no restart).
if sum(s.value for s in samples("lxcfs_worker_restarts", "_total")) < 1:
    bad.append("restarts: %s" % samples("lxcfs_worker_restarts", "_total"))
served = {str(w["id"]): w["served"] for w in status["worker"]}
for s in samples("lxcfs_worker_requests", "_total"):
    if s.value > served.get(s.labels["worker"], -1):
        bad.append("worker %s served %d, more than status says afterwards (%s)"
                   % (s.labels["worker"], s.value, served.get(s.labels["worker"])))

for name in ("lxcfs_cache_hits", "lxcfs_cache_misses", "lxcfs_cache_refreshes",
             "lxcfs_cache_evictions", "lxcfs_cgroupfs_reads"):
    value(name, "_total")
if value("lxcfs_cache_refreshes", "_total") > stats["cache"]["refreshes"]:
    bad.append("cache refreshes went backwards between two replies")
m = status["master"]
if value("lxcfs_shm_chunks_capacity") != m["chunks_total"]:
    bad.append("chunks capacity %s, status says %s" % (value("lxcfs_shm_chunks_capacity"), m["chunks_total"]))
if value("lxcfs_shm_bytes") != m["shm_bytes"]:
    bad.append("shm bytes differ from status")
h = status["handles"]
if value("lxcfs_shm_handles_capacity") != h["total"]:
    bad.append("handles capacity %s, status says %s" % (value("lxcfs_shm_handles_capacity"), h["total"]))
if value("lxcfs_shm_handles_in_use") > h["total"] or value("lxcfs_shm_chunks_in_use") > m["chunks_total"]:
    bad.append("more in use than there is")
tables = {s.labels["table"] for s in samples("lxcfs_snapshot_entries")}
if tables != {t["name"] for t in stats["table"]}:
    bad.append("snapshot tables %s" % sorted(tables))
if value("lxcfs_up") != 1 or value("lxcfs_info", version=m["version"].split()[0]) != 1:
    bad.append("lxcfs_up / lxcfs_info")

for b in bad:
    print("BAD", b)
print("ok %d families, %d samples; meminfo: %d requests, +Inf bucket %d"
      % (len(fams), sum(len(f.samples) for f in fams.values()), mem,
         samples("lxcfs_request_duration_seconds", "_bucket", file="proc/meminfo", le="+Inf")[0].value))
sys.exit(1 if bad else 0)
EOF
out=$("$PYTHON" "$TEST_TMP/check.py" "$TEST_TMP/metrics.prom" "$TEST_TMP/stats.json" "$TEST_TMP/status.json" 2>&1) ||
	fail "the exposition does not hold: $(grep -v '^ok' <<<"$out" | head -5 | tr '\n' ';')"
log "$out"

# Usage errors.
for args in "stats --prometheus --json" "--json stats --prometheus" "status --prometheus"; do
	# shellcheck disable=SC2086
	"$CTL" --runtime-dir "$RUNDIR" $args >/dev/null 2>&1
	rc=$?
	[ $rc = 2 ] || fail "lxcfs-ctl $args: exit $rc, expected 2"
done

destroy_container ct1
stop_lxcfs

# No daemon: exit 3, and a scraper still reads lxcfs_up 0.
"$CTL" --runtime-dir "$RUNDIR" stats --prometheus >"$TEST_TMP/down.prom" 2>"$TEST_TMP/err"
rc=$?
[ $rc = 3 ] || fail "stats --prometheus with no daemon: exit $rc, expected 3"
up=$("$PYTHON" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        print(s.name, s.value)' "$TEST_TMP/down.prom" 2>&1)
expect_eq "lxcfs_up 0.0" "$up" "stats --prometheus with no daemon"
grep -q "no lxcfs answers" "$TEST_TMP/err" || fail "no daemon: stderr says '$(cat "$TEST_TMP/err")'"
pass
