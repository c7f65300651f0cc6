#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then
# checks formatting, lints with clippy (warnings are errors) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Real Prometheus tools check what sloprober ships: promtool lints /metrics and
# runs the rule unit tests, amtool checks the Alertmanager example, and the
# end-to-end test runs prometheus and prometheus-alertmanager.
missing=()
for tool in promtool prometheus amtool prometheus-alertmanager; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing prometheus and prometheus-alertmanager (missing: ${missing[*]})"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null
fi
command -v rustfmt >/dev/null || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked 2>&1 | tee "$log"

# The benchmark script, every row for about a second against nginx on
# loopback: it keeps working. Its figures are not checked (this machine is
# shared and noisy); only that every row is measured and printed.
echo "== scripts/bench.sh smoke"
bench_log=$(mktemp)
trap 'rm -f "$log" "$bench_log"' EXIT
BENCH_SMOKE=1 BENCH_INSTALL_OHA=0 bash scripts/bench.sh > "$bench_log"
cat "$bench_log"
python3 - "$bench_log" <<'PY'
import sys
table = open(sys.argv[1]).read()
rows = ["req/s, 50 VUs (vs wrk)", "CPU s per 100k requests", "arrival rate at 50 % of wrk max",
        "sends within 1 ms of schedule (50 %)", "arrival rate at 90 % of wrk max", "RSS, 10,000 VUs minus idle",
        "vs fixed 10 ms", "vs fixed 100 ms", "vs fixed 300 ms", "p99 with a 1.4 s stall", "p99 with /metrics scraped 1/s",
        "/metrics render, 20 x 10 requests", "memory growth at 1000 req/s"]
missing = [row for row in rows if row not in table]
if missing or "criterion bench failed" in table:
    sys.exit(f"bench smoke: rows missing or failed: {missing or ['/metrics render']}")
PY
# The A/B script on the hot-path rows, one build against itself, about a
# second a row: it keeps working (its figures are not checked).
echo "== scripts/bench-ab.sh smoke"
ab_log=$(mktemp)
trap 'rm -f "$log" "$bench_log" "$ab_log"' EXIT
BENCH_SMOKE=1 bash scripts/bench-ab.sh target/release/sloprober target/release/sloprober > "$ab_log"
cat "$ab_log"
for row in "closed req/s, 50 VUs" "arrival 90 %: sends within 1 ms" "RSS MiB, 10,000 VUs minus 1 VU"; do
  grep -q "$row" "$ab_log" || { echo "bench-ab smoke: row missing: $row" >&2; exit 1; }
done
# One closing line for the whole suite.
awk '/^test result:/ { p += $4; f += $6 } END { printf "\nsloprober: %d passed, %d failed\n", p, f }' "$log"
