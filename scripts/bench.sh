#!/usr/bin/env bash
# Firewatch benchmarks (issue targets in README "Performance"): start-to-ready time, idle
# RSS, Alertmanager intake throughput and latency (new and duplicate payloads), and the
# incident list page with 100,000 incidents, the text-format parser, the cost of evaluating
# 1,000 SLOs, and the dashboard with 50 SLOs and 30 days of history. Loopback only; stops
# by itself.
#   scripts/bench.sh            # everything (~15 minutes plus the release build)
#   scripts/bench.sh slo        # only the SLO evaluation and dashboard benchmarks
#   scripts/bench.sh intake     # only intake at scale: realistic notifications joining 8
#                               # large groups on a store growing for 5 minutes (rate and
#                               # latency every 30 s, and the rate of each second: its
#                               # spread, first minute against last), then the same paced
#                               # at the target 50,000 alerts/s,
#                               # one group per notification, re-sent alerts, and a
#                               # mixed run with readers polling the list and dashboard,
#                               # the grouped run with hashed (Alertmanager-like)
#                               # fingerprints on a store growing for 5 minutes, 30 s
#                               # with hashed and 30 s with in-order fingerprints (what
#                               # the hashes cost), and 30 s with hashed ones paced at
#                               # 50,000 alerts/s, then one group
#                               # per notification and re-sent notifications, each for
#                               # 30 s unpaced and for 5 minutes paced at 50,000 alerts/s;
#                               # RSS, database size and bytes per alert after each
#   FIREWATCH_BIN=/tmp/old-firewatch scripts/bench.sh intake   # the same against another build
#   INTAKE_SECONDS=60 scripts/bench.sh intake   # a shorter growing-store run
#   scripts/bench.sh abuse      # a legitimate webhook client paced at 2,000 alerts/s, alone
#                               # and then beside wrong sign-ins, invented methods, 300
#                               # stalled bodies and 300 idle connections: its latency and
#                               # the server's RSS, connections and /metrics size
#   scripts/bench.sh wal        # what a commit writes: the WAL's pages by table and index
#                               # after 12 s of grouped intake (default, then hashed
#                               # fingerprints; needs python3)
#   scripts/bench.sh soak       # an hour of bounded mixed load (paced intake that opens and
#                               # resolves incidents, pages and API polled, retention at
#                               # 10 minutes): RSS, open files and database size each minute
#   SOAK_SECONDS=600 scripts/bench.sh soak      # a shorter soak
#   scripts/bench.sh postgres   # SQLite (one server) beside PostgreSQL (two replicas on one
#                               # temporary database): grouped intake at 64 connections,
#                               # and paced at the target rate (10,000 alerts/s), then the
#                               # incident list and dashboard; new incidents and re-sent
#                               # alerts, likewise; PG_SECONDS (60),
#                               # PG_DURABLE=1 for PostgreSQL's default commit flushing
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin firewatch --example loadgen --example parse_bench --example slo_bench \
  --example abuse
# FIREWATCH_BIN=/path/to/an/older/firewatch runs the same benchmarks against another
# build (before/after comparisons in one sitting).
BIN=${FIREWATCH_BIN:-target/release/firewatch}
LOAD=target/release/examples/loadgen
DIR=$(mktemp -d)
PORT=${PORT:-18181}
TOKEN=bench-webhook-token-0123456789
export FIREWATCH__STORAGE__DATA_DIR="$DIR" FIREWATCH__SERVER__LISTEN="127.0.0.1:$PORT" \
       FIREWATCH__ALERTMANAGER__WEBHOOK_TOKEN="$TOKEN" FIREWATCH__AUTH__ANONYMOUS_READ=true \
       FIREWATCH__LOG__LEVEL=warn
DASH=$(mktemp -d)
cleanup() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null
  [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null
  rm -rf "$DIR" "$DASH"
}
trap cleanup EXIT

MODE=${1:-all}

# A fresh server on an empty store: serve_fresh DIR PORT
serve_fresh() {
  FIREWATCH__STORAGE__DATA_DIR="$1" FIREWATCH__SERVER__LISTEN="127.0.0.1:$2" $BIN serve & PID=$!
  until curl -fs "http://127.0.0.1:$2/readyz" >/dev/null 2>&1; do sleep 0.01; done
}
# RSS, database size and bytes per stored alert: footprint DIR
footprint() {
  local alerts
  alerts=$(curl -fs "http://127.0.0.1:$IPORT/metrics" | awk '/^firewatch_alerts_received_total/ {s+=$2} END {print s+0}')
  local bytes
  bytes=$(du -sb "$1" | cut -f1)
  echo "  footprint: RSS $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$PID/status) \
($(awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {printf "%.1f MB allocated, %.1f MB of the binary and files", a/1024, f/1024}' /proc/$PID/status)), \
store $(awk -v b="$bytes" 'BEGIN {printf "%.0f MB", b/1e6}') for $alerts alerts received \
($(awk -v b="$bytes" -v n="$alerts" 'BEGIN {if (n > 0) printf "%.0f", b/n; else print "-"}') bytes per alert)"
  # CPU seconds each kind of thread ran, and waited for a core, since the server started.
  curl -fs "http://127.0.0.1:$IPORT/metrics" | awk '
    /^firewatch_thread_cpu_seconds_total/ {split($1, k, "\""); run[k[2]] = $2}
    /^firewatch_thread_cpu_wait_seconds_total/ {split($1, k, "\""); wait[k[2]] = $2}
    END {printf "  threads (CPU s / s waiting for a core, since start): writer %.1f / %.1f, checkpoint %.1f / %.1f, HTTP workers %.1f / %.1f\n",
      run["db_writer"], wait["db_writer"], run["db_checkpoint"], wait["db_checkpoint"], run["http_worker"], wait["http_worker"]}'
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
# RSS (MB), open file descriptors and database bytes of the server: vitals DIR
vitals() {
  printf 'RSS %s MB, %s open files, database %s MB' \
    "$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status)" \
    "$(ls /proc/$PID/fd | wc -l)" \
    "$(du -sb "$1" | awk '{printf "%.1f", $1/1e6}')"
}

if [ "$MODE" = abuse ]; then
  APORT=$((PORT + 3))
  A=$(mktemp -d); serve_fresh "$A" "$APORT"
  echo "== abuse: a legitimate webhook client (8 connections, 200 notifications/s of 10 alerts)"
  echo "alone, 30 s:"
  target/release/examples/loadgen intake --url "http://127.0.0.1:$APORT" --token "$TOKEN" \
    --connections 8 --seconds 30 --workload realistic --rate 200 --prefix alone
  echo "  $(vitals "$A")"
  echo "beside 8 wrong-password clients, 4 invented-method clients, 300 stalled bodies and 300 idle connections, 60 s:"
  # From 127.0.0.2: another client than the legitimate one for the per-address limits.
  target/release/examples/abuse --url "http://127.0.0.1:$APORT" --seconds 65 --logins 8 --methods 4 \
    --stalled 300 --idle 300 --from 127.0.0.2 > "$A.abuse" &
  ABUSE=$!
  ( while kill -0 $ABUSE 2>/dev/null; do
      awk '/VmRSS/ {print $2}' /proc/$PID/status
      ls /proc/$PID/fd | wc -l >&2
      sleep 1
    done ) > "$A.rss" 2> "$A.fds" &
  sleep 3
  target/release/examples/loadgen intake --url "http://127.0.0.1:$APORT" --token "$TOKEN" \
    --connections 8 --seconds 60 --workload realistic --rate 200 --prefix abused --report-every 20
  wait $ABUSE || true
  cat "$A.abuse"
  peak=$(sort -n "$A.rss" | tail -1); conns=$(sort -n "$A.fds" | tail -1)
  echo "  during abuse: peak RSS $(awk -v k="$peak" 'BEGIN {printf "%.1f", k/1024}') MB, peak open files $conns"
  echo "  /metrics after abuse: $(curl -fs "http://127.0.0.1:$APORT/metrics" | wc -c) bytes"
  sleep 12
  echo "  12 s later: $(vitals "$A")"
  stop; rm -rf "$A" "$A.abuse" "$A.rss" "$A.fds"
  exit 0
fi

if [ "$MODE" = wal ]; then
  # What a commit writes: 12 s of grouped intake on a fresh store, the WAL copied after
  # 11 s (once intake stops, the next commit starts it again), then its frames by table
  # and index, named on the stopped server's database.
  WPORT=$((PORT + 5))
  for fps in default hex; do
    W=$(mktemp -d); serve_fresh "$W" "$WPORT"
    echo "== grouped intake, $fps fingerprints, 12 s, then the WAL's pages by b-tree:"
    $LOAD intake --url "http://127.0.0.1:$WPORT" --token "$TOKEN" --connections 64 --seconds 12 \
      --workload grouped --fingerprints "$fps" --prefix "wal-$fps" &
    LPID=$!
    sleep 11
    cp "$W/firewatch.db-wal" "$W.wal"
    wait "$LPID"
    stop
    python3 scripts/wal_pages.py "$W/firewatch.db" "$W.wal"
    rm -rf "$W" "$W.wal"
  done
  exit 0
fi

if [ "$MODE" = soak ]; then
  SPORT=$((PORT + 4))
  SECS=${SOAK_SECONDS:-3600}
  S=$(mktemp -d)
  FIREWATCH__RETENTION__RESOLVED_INCIDENTS=10m FIREWATCH__JOBS__RETENTION="0 * * * * *" \
    serve_fresh "$S" "$SPORT"
  echo "== soak for $SECS s: 100 notifications/s of 10 realistic alerts (half open a group, half"
  echo "   resolve the group opened 3,000 groups earlier), 4 readers each requesting the incident"
  echo "   list, the dashboard or the API every 250 ms; resolved incidents deleted after 10 minutes"
  target/release/examples/loadgen intake --url "http://127.0.0.1:$SPORT" --token "$TOKEN" \
    --connections 16 --seconds "$SECS" --workload cycle --lag 3000 --rate 100 \
    --report-every 300 > "$S.intake" &
  INTAKE=$!
  target/release/examples/loadgen poll --url "http://127.0.0.1:$SPORT/incidents" \
    --url "http://127.0.0.1:$SPORT/" --url "http://127.0.0.1:$SPORT/api/v1/incidents?status=all" \
    --url "http://127.0.0.1:$SPORT/api/v1/slos" --clients 4 --seconds "$SECS" --every-ms 250 \
    > "$S.poll" &
  POLLER=$!
  t=0
  while kill -0 $INTAKE 2>/dev/null; do
    sleep 60; t=$((t + 60))
    echo "  ${t}s: $(vitals "$S")"
  done
  wait $POLLER || true
  cat "$S.intake" "$S.poll"
  stop; rm -rf "$S" "$S.intake" "$S.poll"
  exit 0
fi

if [ "$MODE" = postgres ]; then
  # SQLite (one server) and PostgreSQL (two replicas on one database) side by side: the
  # grouped intake at 64 connections, then the incident list and dashboard on the store
  # it left. PostgreSQL runs with synchronous_commit = off, which promises what SQLite's
  # synchronous = NORMAL does (a crash of the machine may lose the last commits, never
  # corrupts); PG_DURABLE=1 keeps PostgreSQL's default (every commit flushed).
  SECS=${PG_SECONDS:-60}
  IPORT=$((PORT + 2)); JPORT=$((PORT + 4))
  PGMODE=bench; [ -n "${PG_DURABLE:-}" ] && PGMODE=durable
  eval "$(scripts/postgres-server.sh start "$PGMODE")"
  trap 'cleanup; [ -n "${JPID:-}" ] && kill "$JPID" 2>/dev/null; scripts/postgres-server.sh stop "$FW_PG_DIR"' EXIT
  psql "$FW_PG" -qc "CREATE DATABASE bench"
  reads() {
    for path in "api/v1/incidents?status=all" "incidents" ""; do
      $LOAD get --url "http://127.0.0.1:$1/$path" --requests 300
    done
  }
  echo "== SQLite, one server: new alerts joining 8 large groups, $SECS s, 64 connections"
  I=$(mktemp -d); serve_fresh "$I" "$IPORT"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds "$SECS" \
    --workload grouped --fingerprints hex --prefix sq
  echo "the same paced at 10,000 alerts/s (1,000 notifications/s), $SECS s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds "$SECS" \
    --workload grouped --fingerprints hex --prefix sqpaced --rate 1000
  echo "reads on the store it left:"; reads "$IPORT"
  footprint "$I"
  echo "one new group (a new incident) per notification, 20 s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds 20 \
    --workload realistic --prefix sqnew
  stop; rm -rf "$I"
  echo "== PostgreSQL, two replicas on one database: the same, 32 connections to each"
  export FIREWATCH__STORAGE__BACKEND=postgres FIREWATCH__STORAGE__URL="$FW_PG dbname=bench"
  I=$(mktemp -d); serve_fresh "$I" "$IPORT"
  FIREWATCH__STORAGE__DATA_DIR="$I" FIREWATCH__SERVER__LISTEN="127.0.0.1:$JPORT" $BIN serve & JPID=$!
  until curl -fs "http://127.0.0.1:$JPORT/readyz" >/dev/null 2>&1; do sleep 0.01; done
  $LOAD intake --url "http://127.0.0.1:$IPORT" --url "http://127.0.0.1:$JPORT" --token "$TOKEN" \
    --connections 64 --seconds "$SECS" --workload grouped --fingerprints hex --prefix pg
  echo "reads on the store it left (replica 1):"; reads "$IPORT"
  echo "  RSS: replica 1 $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$PID/status), \
replica 2 $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$JPID/status); database \
$(psql "$FW_PG dbname=bench" -tAc "SELECT pg_size_pretty(pg_database_size('bench'))")"
  echo "the same paced at the target, 10,000 alerts/s (1,000 notifications/s; latency from each"
  echo "request's scheduled time), $SECS s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --url "http://127.0.0.1:$JPORT" --token "$TOKEN" \
    --connections 64 --seconds "$SECS" --workload grouped --fingerprints hex --prefix pgpaced \
    --rate 1000
  echo "one new group (a new incident) per notification, 20 s, then paced at 10,000 alerts/s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --url "http://127.0.0.1:$JPORT" --token "$TOKEN" \
    --connections 64 --seconds 20 --workload realistic --prefix pgnew
  $LOAD intake --url "http://127.0.0.1:$IPORT" --url "http://127.0.0.1:$JPORT" --token "$TOKEN" \
    --connections 64 --seconds 20 --workload realistic --prefix pgnewpaced --rate 1000
  echo "the same notifications re-sent to both, 20 s, then paced at 10,000 alerts/s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --url "http://127.0.0.1:$JPORT" --token "$TOKEN" \
    --connections 64 --seconds 20 --workload realistic --duplicates --prefix pgdup
  $LOAD intake --url "http://127.0.0.1:$IPORT" --url "http://127.0.0.1:$JPORT" --token "$TOKEN" \
    --connections 64 --seconds 20 --workload realistic --duplicates --prefix pgdup --rate 1000
  kill "$JPID"; wait "$JPID" 2>/dev/null || true; JPID=
  stop; rm -rf "$I"
  exit 0
fi

if [ "$MODE" = all ] || [ "$MODE" = intake ]; then
  IPORT=$((PORT + 2))
  SECS=${INTAKE_SECONDS:-300}
  echo "== intake at scale (realistic notifications of 10 alerts, about 9 KB each, 64 connections)"
  I=$(mktemp -d); serve_fresh "$I" "$IPORT"
  echo "new alerts joining 8 large groups, store growing for $SECS s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds "$SECS" \
    --workload grouped --report-every 30
  footprint "$I"
  echo "mixed: the same intake while 4 clients poll the incident list and the dashboard:"
  $LOAD poll --url "http://127.0.0.1:$IPORT/incidents" --url "http://127.0.0.1:$IPORT/" \
    --url "http://127.0.0.1:$IPORT/api/v1/incidents?status=all" --clients 4 --seconds 30 &
  POLL=$!
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds 30 \
    --workload grouped --prefix mixed
  wait $POLL
  footprint "$I"
  stop; rm -rf "$I"
  I=$(mktemp -d); serve_fresh "$I" "$IPORT"
  echo "the grouped intake paced at the target, 50,000 alerts/s (5,000 notifications/s; latency"
  echo "from each request's scheduled time, so a server falling behind shows), store growing"
  echo "for $SECS s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds "$SECS" \
    --workload grouped --rate 5000 --prefix target --report-every 30
  footprint "$I"
  stop; rm -rf "$I"
  I=$(mktemp -d); serve_fresh "$I" "$IPORT"
  echo "new alerts joining 8 large groups with fingerprints like Alertmanager's (hashes: every"
  echo "new alert lands on a random page of the fingerprint index), store growing for $SECS s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds "$SECS" \
    --workload grouped --fingerprints hex --prefix hex --report-every 30
  footprint "$I"
  stop; rm -rf "$I"
  I=$(mktemp -d); serve_fresh "$I" "$IPORT"
  echo "what the random fingerprints cost: 30 s with hashed ones, then 30 s on a fresh store"
  echo "with fingerprints in the order they are sent (not what Alertmanager sends: every new"
  echo "alert lands at the end of the index):"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds 30 \
    --workload grouped --fingerprints hex --prefix hex30
  footprint "$I"
  stop; rm -rf "$I"
  I=$(mktemp -d); serve_fresh "$I" "$IPORT"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds 30 \
    --workload grouped --fingerprints seq --prefix seq30
  footprint "$I"
  stop; rm -rf "$I"
  I=$(mktemp -d); serve_fresh "$I" "$IPORT"
  echo "the same paced at 50,000 alerts/s (5,000 notifications/s; latency from each request's"
  echo "scheduled time, so a server falling behind shows), 30 s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds 30 \
    --workload grouped --fingerprints hex --prefix paced --rate 5000
  stop; rm -rf "$I"
  I=$(mktemp -d); serve_fresh "$I" "$IPORT"
  echo "one new group per notification:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds 30 --workload realistic
  footprint "$I"
  echo "the same notifications re-sent:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds 30 --workload realistic --duplicates
  stop; rm -rf "$I"
  I=$(mktemp -d); serve_fresh "$I" "$IPORT"
  echo "one new group per notification paced at 50,000 alerts/s, store growing for $SECS s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds "$SECS" \
    --workload realistic --prefix newpaced --rate 5000 --report-every 30
  footprint "$I"
  echo "re-sent notifications paced at 50,000 alerts/s on that store, $SECS s:"
  $LOAD intake --url "http://127.0.0.1:$IPORT" --token "$TOKEN" --connections 64 --seconds "$SECS" \
    --workload realistic --duplicates --prefix duppaced --rate 5000 --report-every 30
  footprint "$I"
  stop; rm -rf "$I"
  [ "$MODE" = intake ] && exit 0
fi

if [ "$MODE" != slo ]; then
# Start to ready: from exec to the first 200 on /readyz (fresh database).
start=$(date +%s%N)
$BIN serve & PID=$!
until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do sleep 0.002; done
ready=$(( ($(date +%s%N) - start) / 1000000 ))
echo "start to ready: ${ready} ms"
sleep 2
echo "idle RSS: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$PID/status)"

$LOAD intake --url "http://127.0.0.1:$PORT" --token "$TOKEN" --connections 64 --seconds 10 --alerts 10
$LOAD intake --url "http://127.0.0.1:$PORT" --token "$TOKEN" --connections 64 --seconds 10 --alerts 10 --duplicates
# The same 64 connections paced at the 20,000 alerts/s target (2,000 payloads of 10).
$LOAD intake --url "http://127.0.0.1:$PORT" --token "$TOKEN" --connections 64 --seconds 10 --alerts 10 --rate 2000
echo "RSS after load: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$PID/status)"

# Fill up to 100,000 incidents (one per group), then time the list page and API.
have=$(curl -fs "http://127.0.0.1:$PORT/metrics" | awk '/^firewatch_incidents\{/ {s+=$2} END {print s+0}')
if [ "$have" -lt 100000 ]; then
  $LOAD intake --url "http://127.0.0.1:$PORT" --token "$TOKEN" --connections 64 --seconds 300 --alerts 1 \
     --prefix fill --total $((100000 - have)) >/dev/null
fi
have=$(curl -fs "http://127.0.0.1:$PORT/metrics" | awk '/^firewatch_incidents\{/ {s+=$2} END {print s+0}')
echo "incidents in the database: $have"
$LOAD get --url "http://127.0.0.1:$PORT/incidents?status=open" --requests 200
$LOAD get --url "http://127.0.0.1:$PORT/incidents?status=all&severity=P2" --requests 200
$LOAD get --url "http://127.0.0.1:$PORT/api/v1/incidents?status=open&limit=50" --requests 200
$LOAD get --url "http://127.0.0.1:$PORT/" --requests 200
echo "firewatch status against this server (5 runs):"
for i in 1 2 3 4 5; do /usr/bin/time -f "  %e s" $BIN status --url "http://127.0.0.1:$PORT" >/dev/null 2>>/dev/stderr || true; done
echo "server-side latency of those pages (firewatch_http_request_duration_seconds):"
curl -fs "http://127.0.0.1:$PORT/metrics" | grep -E 'http_request_duration_seconds_(sum|count)\{method="GET",route="(/incidents|/|/api/v1/incidents)"\}'

echo "Prometheus text-format parser:"
target/release/examples/parse_bench 50
fi

echo "SLO evaluation, 1,000 SLOs on the built-in scraper (4 days of 30 s rows, 30 days of rollups):"
target/release/examples/slo_bench 1000 4 20

# Dashboard and SLO page with 50 SLOs and 30 days of history.
target/release/examples/slo_bench dashboard "$DASH" 50
DPORT=$((PORT + 1))
FIREWATCH__STORAGE__DATA_DIR="$DASH/data" FIREWATCH__SERVER__LISTEN="127.0.0.1:$DPORT" \
  FIREWATCH__LOG__LEVEL=error $BIN serve --config "$DASH/firewatch.toml" & DPID=$!
until curl -fs "http://127.0.0.1:$DPORT/api/v1/slos" | grep -q '"status"'; do sleep 0.2; done
$LOAD get --url "http://127.0.0.1:$DPORT/" --requests 200
$LOAD get --url "http://127.0.0.1:$DPORT/?slo=svc-7-latency" --requests 200
$LOAD get --url "http://127.0.0.1:$DPORT/slos/svc-7-latency" --requests 200
echo "server-side time of those pages (sum and count):"
curl -fs "http://127.0.0.1:$DPORT/metrics" | grep -E 'http_request_duration_seconds_(sum|count)\{method="GET",route="(/|/slos/\{name\})"\}'
