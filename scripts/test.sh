#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real tools the tests
# check against (apt needs root or sudo), checks formatting, lints with
# clippy (warnings are errors), runs every test including those behind the
# `external-tools` feature, and smoke-runs the benchmark scripts.
# A fresh clone on 2 cores, crates downloaded and apt packages installed:
# 17 to 27 minutes in all (2026-12-04), about 4 in clippy (every dependency
# compiles once per profile: clippy's, then the tests').
set -euo pipefail
cd "$(dirname "$0")/.."
logs=target/test-logs
mkdir -p "$logs"

bash scripts/install-test-tools.sh
command -v rustfmt >/dev/null || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings (a fresh clone compiles every dependency first: minutes on 2 cores)"
cargo clippy --locked --all-targets --features external-tools -- -D warnings
echo "== cargo test --features external-tools"
cargo test --locked --features external-tools 2>&1 | tee "$logs/cargo-test.txt"

# The benchmark scripts, every row for about a second against nginx on
# loopback, with the test build (no release build just for this): they keep
# working. Their figures are not checked (this machine is shared and noisy,
# and a debug build is slow): only that every row is measured. The tables go
# to target/test-logs/.
echo "== scripts/bench.sh smoke (table: $logs/bench-smoke.txt)"
bench_log=$logs/bench-smoke.txt
BENCH_SMOKE=1 BENCH_INSTALL_OHA=0 SLOPROBER_BIN=target/debug/sloprober BENCH_CARGO_PROFILE=dev \
  bash scripts/bench.sh > "$bench_log"
python3 - "$bench_log" <<'PY'
import sys
table = open(sys.argv[1]).read()
rows = ["req/s, 50 VUs (vs wrk)", "CPU s per 100k requests", "https req/s, 50 VUs (vs wrk)", "arrival rate at 50 % of wrk max",
        "sends within 1 ms of schedule (50 %)", "arrival rate at 90 % of wrk max", "RSS, 10,000 VUs minus idle",
        "vs fixed 10 ms", "vs fixed 100 ms", "vs fixed 300 ms", "p99 with a 1.4 s stall", "p99 with /metrics scraped 1/s",
        "/metrics render, 20 x 10 requests", "memory growth at 1000 req/s"]
missing = [row for row in rows if row not in table]
if missing or "criterion bench failed" in table:
    sys.exit(f"bench smoke: rows missing or failed: {missing or ['/metrics render']}")
print(f"bench smoke: all {len(rows)} rows measured")
PY
echo "== scripts/bench-ab.sh smoke (table: $logs/bench-ab-smoke.txt)"
ab_log=$logs/bench-ab-smoke.txt
BENCH_SMOKE=1 bash scripts/bench-ab.sh target/debug/sloprober target/debug/sloprober > "$ab_log"
for row in "closed req/s, 50 VUs" "arrival 90 %: sends within 1 ms" "RSS MiB, 10,000 VUs minus 1 VU"; do
  grep -q "$row" "$ab_log" || { echo "bench-ab smoke: row missing: $row" >&2; exit 1; }
done
echo "bench-ab smoke: all rows measured"
# One closing line for the whole suite.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "\nsloprober: %d passed, %d failed, %d ignored\n", p, f, i }' "$logs/cargo-test.txt"
