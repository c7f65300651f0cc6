#!/usr/bin/env bash
# Memory over time at 1000 req/s against nginx on loopback: RSS after 5 min
# (or at 1/4 of a shorter run) and at the end, and the growth between them.
#   scripts/soak.sh [SECONDS]    default 120 (the 2-minute variant); 3600 for the hour
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/bench-lib.sh"
seconds=${1:-120}
early=$(( seconds >= 600 ? 300 : seconds / 4 ))
bin=${SLOPROBER_BIN:-$root/target/release/sloprober}
[ -x "$bin" ] || cargo build --release --quiet --manifest-path "$root/Cargo.toml"
dir=$(mktemp -d)
nginx_port=$(free_port); metrics_port=$(free_port)
nginx_pid=$(start_nginx "$dir/nginx" "$nginx_port")
trap 'kill $nginx_pid ${prober_pid:-} 2>/dev/null || true; rm -rf "$dir"' EXIT
wait_port "$nginx_port"
bench_config "$dir/soak.yaml" "http://127.0.0.1:$nginx_port" "executor: constant-arrival-rate, rate: 1000, duration: ${seconds}s, pre_allocated_vus: 50, max_vus: 200"
"$bin" daemon --config "$dir/soak.yaml" --listen "127.0.0.1:$metrics_port" --log-level warn &
prober_pid=$!
wait_port "$metrics_port"
# What could explain growth: VUs allocated and open file descriptors (connections).
state() { echo "$(rss_kib "$prober_pid") $(curl -s "127.0.0.1:$metrics_port/metrics" | awk '/^sloprober_vus_max\{/ {s += $2} END {print s + 0}') $(ls "/proc/$prober_pid/fd" | wc -l)"; }
sleep "$early"
read -r rss_early vus_early fds_early < <(state)
sleep $(( seconds - early ))
read -r rss_end vus_end fds_end < <(state)
reqs=$(curl -s "127.0.0.1:$metrics_port/metrics" | awk '/^sloprober_http_reqs_total\{/ {s += $2} END {print s}')
python3 - "$seconds" "$early" "$rss_early" "$rss_end" "$reqs" "$vus_early" "$vus_end" "$fds_early" "$fds_end" <<'PY'
import sys
seconds, early, a, b, reqs, va, vb, fa, fb = map(float, sys.argv[1:])
print(f"soak: {reqs:.0f} requests in {seconds:.0f} s ({reqs/seconds:.0f}/s); RSS {a/1024:.1f} MiB at {early:.0f} s, "
      f"{b/1024:.1f} MiB at {seconds:.0f} s: growth {100*(b-a)/a:+.2f} % (VUs allocated {va:.0f} -> {vb:.0f}, "
      f"open fds {fa:.0f} -> {fb:.0f})")
PY
