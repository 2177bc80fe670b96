#!/usr/bin/env bash
# Browser test of the UI: starts a real firewatch, drives Debian's headless Chromium with
# playwright-core, checks the incident workflow on a laptop and a phone viewport and writes
# screenshots to tests/ui/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin firewatch
cd tests/ui
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
  npm ci --no-audit --no-fund
fi
# The binary cargo just built, wherever the target directory is (CARGO_TARGET_DIR).
TARGET_DIR=$(cd ../.. && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
FIREWATCH_BIN="$TARGET_DIR/debug/firewatch" CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" \
  node --test --test-concurrency=1 ui.test.mjs
