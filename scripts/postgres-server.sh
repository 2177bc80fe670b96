#!/usr/bin/env bash
# Starts a throw-away PostgreSQL (Debian's `postgresql` package) in a temporary folder on
# a free port, for the test suite's PostgreSQL pass and the benchmarks:
#   eval "$(scripts/postgres-server.sh start [test|bench|durable])"   # sets FW_PG_DIR and FW_PG
#   scripts/postgres-server.sh stop "$FW_PG_DIR"
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/fw-pg-XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1
    # The tests' server skips fsync (a throw-away); `start bench` keeps it and only defers
    # commit flushes (SQLite's synchronous = NORMAL promises the same), `start durable`
    # runs PostgreSQL's defaults. max_connections for many test apps with their pools.
    case "${2:-test}" in
      test) opts="-c fsync=off -c synchronous_commit=off -c full_page_writes=off" ;;
      bench) opts="-c synchronous_commit=off -c shared_buffers=256MB" ;;
      durable) opts="-c shared_buffers=256MB" ;;
      *) echo "usage: $0 start [test|bench|durable]" >&2; exit 2 ;;
    esac
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
      "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 $opts" \
      start >/dev/null
    echo "export FW_PG_DIR=$dir"
    echo "export FW_PG='host=127.0.0.1 port=$port user=postgres'"
    ;;
  stop)
    dir=${2:?usage: $0 stop DIR}
    as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
