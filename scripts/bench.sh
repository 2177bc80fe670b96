#!/usr/bin/env bash
# Firewatch benchmarks (issue targets in README "Performance"): start-to-ready time, idle
# RSS, Alertmanager intake throughput and latency (new and duplicate payloads), and the
# incident list page with 100,000 incidents, the text-format parser, the cost of evaluating
# 1,000 SLOs, and the dashboard with 50 SLOs and 30 days of history. Loopback only; stops
# by itself.
#   scripts/bench.sh            # full run (~4 minutes plus the release build)
#   scripts/bench.sh slo        # only the SLO evaluation and dashboard benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin firewatch --example loadgen --example parse_bench --example slo_bench
BIN=target/release/firewatch
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

if [ "${1:-all}" != slo ]; then
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
