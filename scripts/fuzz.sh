#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer through cargo-fuzz, nightly toolchain).
#
#   scripts/fuzz.sh                 # every target for 600 s each
#   scripts/fuzz.sh 60 webhook      # one target for a minute
#
# Corpora live in fuzz/corpus/<target> (seeded from the test fixtures, kept in the
# repository and minimised after each run); a crash lands in fuzz/artifacts/<target>/ and
# the script exits 1. Turn every crash into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-600}
shift || true
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz.sh: needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo +nightly fuzz list); fi

summary=()
failed=0
for t in "${targets[@]}"; do
  log=$(mktemp)
  echo "== $t for ${secs}s"
  if cargo +nightly fuzz run --release "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    outcome="no crash"
  else
    outcome="CRASH: see fuzz/artifacts/$t and $log"
    failed=1
    tail -40 "$log"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  # Keep the corpus small: only inputs that add coverage.
  cargo +nightly fuzz cmin --release "$t" >/dev/null 2>&1 || true
  files=$(find "fuzz/corpus/$t" -type f | wc -l)
  summary+=("$(printf '%-10s %12s executions %6s edges %6s corpus files  %s' "$t" "$runs" "$cov" "$files" "$outcome")")
  [ "$outcome" = "no crash" ] && rm -f "$log"
done
printf '%s\n' "" "fuzzing summary (${secs}s per target):" "${summary[@]}"
exit $failed
