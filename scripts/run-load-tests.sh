#!/usr/bin/env bash
# The k6 suite's entry point, on sloprober:
#   scripts/run-load-tests.sh [smoke|load|stress] [gateway|assessment|search|all] [local|<env>]
# Exit code: 0 every threshold passed, 99 a threshold failed, 64 bad arguments or config.
#
# local without BASE_URL starts the built-in demo target. Any other environment
# needs BASE_URL (and API_KEY). Reports go to test-results/<timestamp>/.
# Overrides: SLOPROBER_BIN, SLOPROBER_CONFIG, RESULTS_DIR, DEMO_PORT (0: any free port).
set -euo pipefail

test_type=${1:-smoke}
service=${2:-all}
environment=${3:-local}
root=$(cd "$(dirname "$0")/.." && pwd)
config=${SLOPROBER_CONFIG:-$root/config/aivo.yaml}
results=${RESULTS_DIR:-$root/test-results}

case "$test_type" in
  smoke|load|stress) ;;
  *) echo "usage: $0 [smoke|load|stress] [service|all] [local|<env>]" >&2; exit 64 ;;
esac

bin=${SLOPROBER_BIN:-}
if [ -z "$bin" ]; then
  bin=$root/target/release/sloprober
  [ -x "$bin" ] || cargo build --release --quiet --manifest-path "$root/Cargo.toml" >&2
fi

scenario_args=()
[ "$service" = all ] || scenario_args=(--scenario "$service")

if [ "$environment" = local ] && [ -z "${BASE_URL:-}" ]; then
  port=${DEMO_PORT:-8080}
  export API_KEY=${API_KEY:-demo-key}
  demo_log=$(mktemp)
  "$bin" --log-format json demo-target --listen "127.0.0.1:$port" 2>"$demo_log" &
  demo_pid=$!
  trap 'kill "$demo_pid" 2>/dev/null || true; rm -f "$demo_log"' EXIT
  # The address it logs is the one it bound (DEMO_PORT=0: a free port).
  addr=
  for _ in $(seq 1 100); do
    addr=$(sed -n 's/.*"listen":"\([0-9.:]*\)".*/\1/p' "$demo_log" | head -1)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "the demo target did not start:" >&2; cat "$demo_log" >&2; exit 1; }
  export BASE_URL=http://$addr
elif [ -z "${BASE_URL:-}" ]; then
  echo "BASE_URL is required for environment \"$environment\"" >&2
  exit 64
fi

echo "== $test_type test of $service against $BASE_URL ($environment)" >&2
status=0
"$bin" run --config "$config" --profile "$test_type" "${scenario_args[@]}" --out "$results" || status=$?
exit "$status"
