#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real tools the tests
# check against (apt needs root or sudo), checks formatting, lints with
# clippy (warnings are errors), runs every test (the `tools` test binary
# too, with the `external-tools` feature), and smoke-runs the benchmark
# scripts. Prints each phase's time at the end; docs/development.md has the
# measured figures.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=target/test-logs
mkdir -p "$logs"

phases=()
phase_start=$SECONDS
phase_name=""
# Starts a phase: ends the one before and notes how long it took.
phase() {
  if [ -n "$phase_name" ]; then
    phases+=("$(printf '%-44s %4d s' "$phase_name" $((SECONDS - phase_start)))")
  fi
  phase_name=$1
  phase_start=$SECONDS
  [ -n "$phase_name" ] && echo "== $phase_name"
  return 0
}

phase "install test tools (scripts/install-test-tools.sh)"
bash scripts/install-test-tools.sh
command -v rustfmt >/dev/null || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

phase "cargo fmt --check"
cargo fmt --all -- --check

phase "cargo clippy -D warnings"
cargo clippy --locked --all-targets --features external-tools -- -D warnings

phase "cargo test --features external-tools"
cargo test --locked --features external-tools 2>&1 | tee "$logs/cargo-test.txt"

# The benchmark scripts, every row for about a second against nginx on
# loopback, with the test build (no release build just for this): they keep
# working. Their figures are not judged (this machine is shared and noisy,
# and a debug build is slow): only that every row is measured. The tables go
# to target/test-logs/.
phase "scripts/bench.sh smoke ($logs/bench-smoke.txt)"
bench_log=$logs/bench-smoke.txt
BENCH_SMOKE=1 BENCH_INSTALL_OHA=0 SLOPROBER_BIN=target/debug/sloprober BENCH_CARGO_PROFILE=dev \
  bash scripts/bench.sh > "$bench_log"
python3 - "$bench_log" <<'PY'
import sys
table = open(sys.argv[1]).read()
rows = ["req/s, 50 VUs (vs wrk)", "CPU s per 100k requests", "https req/s, 50 VUs (vs wrk)", "arrival rate at 50 % of wrk max",
        "sends within 1 ms of schedule (50 %)", "arrival rate at 90 % of wrk max", "RSS, 10,000 VUs minus idle",
        "vs fixed 10 ms", "vs fixed 100 ms", "vs fixed 300 ms", "p99 with a 1.4 s stall", "p99 with /metrics scraped 1/s",
        "/metrics render, 20 x 10 requests", "memory growth at 1000 req/s", "CPU per iteration, parallel block of 3 (50 VUs)",
        "RSS, 2,000 VUs thinking 1 s, against k6"]
missing = [row for row in rows if row not in table]
if missing or "criterion bench failed" in table:
    sys.exit(f"bench smoke: rows missing or failed: {missing or ['/metrics render']}")
print(f"bench smoke: all {len(rows)} rows measured")
PY

phase "scripts/bench-ab.sh smoke ($logs/bench-ab-smoke.txt)"
ab_log=$logs/bench-ab-smoke.txt
BENCH_SMOKE=1 bash scripts/bench-ab.sh target/debug/sloprober target/debug/sloprober > "$ab_log"
for row in "closed req/s, 50 VUs" "arrival 90 %: sends within 1 ms" "RSS MiB, 10,000 VUs minus 1 VU"; do
  grep -q "$row" "$ab_log" || { echo "bench-ab smoke: row missing: $row" >&2; exit 1; }
done
echo "bench-ab smoke: all rows measured"
phase ""

echo
echo "phases:"
printf '  %s\n' "${phases[@]}" | tee "$logs/phases.txt"
printf '  %-44s %4d s\n' "all" "$SECONDS" | tee -a "$logs/phases.txt"
# One closing line for the whole suite.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "\nsloprober: %d passed, %d failed, %d ignored\n", p, f, i }' "$logs/cargo-test.txt"
