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
# One closing line for the whole suite.
awk '/^test result:/ { p += $4; f += $6 } END { printf "\nsloprober: %d passed, %d failed\n", p, f }' "$log"
