#!/usr/bin/env bash
# Runs every Firewatch test: formatting, lints, the dependency policy (cargo-deny), unit
# and integration tests (with a real Alertmanager) on SQLite and again on PostgreSQL (a
# temporary server), and the browser test of the UI in headless Chromium.
# Installs what the tests need when it is missing (Debian packages, npm packages).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v promtool >/dev/null || need+=(prometheus)
/usr/bin/python3 -c "import aiosmtpd" 2>/dev/null || need+=(python3-aiosmtpd)
command -v chromium >/dev/null || need+=(chromium)
command -v pdfinfo >/dev/null && command -v pdftotext >/dev/null || need+=(poppler-utils)
command -v node >/dev/null || need+=(nodejs npm)
# PostgreSQL: the storage backend's test pass and the healing checks (started in
# temporary folders).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v openssl >/dev/null || need+=(openssl)  # the TLS test's certificates
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "==> cargo deny (licences, banned and duplicate crates, sources; deny.toml)"
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny@0.20.2
cargo deny --log-level error check licenses bans sources
echo "==> cargo test"
cargo test --all-targets --locked
echo "==> integration tests on PostgreSQL (storage.backend = \"postgres\", a temporary server)"
eval "$(scripts/postgres-server.sh start)"
trap 'scripts/postgres-server.sh stop "$FW_PG_DIR"' EXIT
FIREWATCH_TEST_POSTGRES="$FW_PG" cargo test --locked --test it
scripts/postgres-server.sh stop "$FW_PG_DIR"
trap - EXIT
echo "==> browser test (headless Chromium)"
scripts/ui-test.sh
