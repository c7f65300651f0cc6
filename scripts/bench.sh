#!/usr/bin/env bash
# sloprober side by side with wrk and oha on one machine, one target (nginx on
# 127.0.0.1: 1 worker, keep-alive, small static body). Every row alternates the
# tools (A B A B ...) and compares medians as ratios. Prints a table.
#   scripts/bench.sh                 all rows (about 10 minutes, plus oha's install)
#   BENCH_DURATION=10 BENCH_REPS=3   seconds per run, runs per tool
#   BENCH_SOAK_SECONDS=120           the memory-growth row (3600 for the full hour)
#   BENCH_SMOKE=1                    every row, each about a second (CI runs this to keep
#                                    the script working; its figures mean nothing)
#   SLOPROBER_BIN=path               measure this build instead of building target/release
#   BENCH_CARGO_PROFILE=dev          build the criterion bench in this profile (default bench)
# Not part of .ci/run: it is long, and its figures depend on the machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/bench-lib.sh"
duration=${BENCH_DURATION:-10}
reps=${BENCH_REPS:-3}
soak_seconds=${BENCH_SOAK_SECONDS:-120}
# The stall run's length and when the stall starts; how long 10,000 VUs run.
stall_seconds=10 stall_at=4 vus_seconds=20 criterion_args=()
if [ "${BENCH_SMOKE:-0}" = 1 ]; then
  duration=1 reps=1 soak_seconds=8 stall_seconds=4 stall_at=1 vus_seconds=3
  criterion_args=(--warm-up-time 1 --measurement-time 1)
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

for tool in wrk nginx /usr/bin/time curl pgrep; do
  command -v "$tool" >/dev/null || { as_root apt-get update -qq; DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk nginx time curl procps >/dev/null; break; }
done
if ! command -v oha >/dev/null && [ "${BENCH_INSTALL_OHA:-1}" = 1 ]; then
  echo "== installing oha (cargo install oha --locked, about 6 minutes; cached in ~/.cargo/bin)" >&2
  cargo install oha --locked --quiet >&2 || echo "oha did not install; its rows are skipped" >&2
fi
have_oha=$(command -v oha >/dev/null && echo 1 || echo 0)
if [ -n "${SLOPROBER_BIN:-}" ]; then
  bin=$SLOPROBER_BIN
else
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin=$root/target/release/sloprober
fi
bench_start
mkdir -p "$root/target/bench"
results=$root/target/bench/results.jsonl
: > "$results"

# Each run appends one JSON line: {row, tool, rps, requests, cpu, ...}.
# Runs a command (its output in $work/cmd.out) and prints its user+system CPU seconds.
timed() {
  /usr/bin/time -f "%U %S" -o "$work/time" "$@" > "$work/cmd.out" 2> "$work/cmd.err" || true
  tail -n 1 "$work/time" | awk '{print $1 + $2}'
}

run_sloprober() { # row config [extra args...]; prints the summary JSON path
  local row=$1 config=$2; shift 2
  rm -rf "$work/out"
  # The summary's Trend columns this table reads (k6's default has no p(99)).
  grep -q '^metrics:' "$config" || echo 'metrics: {summary_trend_stats: [med, "p(95)", "p(99)"]}' >> "$config"
  local cpu
  cpu=$(timed "$bin" run --config "$config" --profile bench --no-progress --out "$work/out" "$@")
  local summary
  summary=$(ls "$work"/out/*/bench-summary.json)
  python3 - "$row" "$cpu" "$summary" >> "$results" <<'PY'
import json, sys
row, cpu, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
s = json.load(open(path))
m = {name: metric["values"] for name, metric in s["metrics"].items()}
d = m["http_req_duration"]
lag = s.get("schedule_lag", {})
print(json.dumps({"row": row, "tool": "sloprober", "requests": m["http_reqs"]["count"], "seconds": s["duration_seconds"],
    "iterations": m["iterations"]["count"],
    "rps": m["http_reqs"]["count"] / s["duration_seconds"], "cpu": cpu, "p50": d.get("med"), "p95": d.get("p(95)"),
    "p99": d.get("p(99)"), "within_1ms": lag.get("within_1ms_ratio"), "lag_p99": lag.get("p99_ms")}))
PY
}

run_wrk() { # row connections [seconds] [url]
  local row=$1 conns=$2 secs=${3:-$duration} url=${4:-$target} cpu
  cpu=$(timed wrk -t2 -c"$conns" -d"${secs}s" --latency "$url/")
  cp "$work/cmd.out" "$root/target/bench/wrk-$row.txt"
  python3 - "$row" "$cpu" "$work/cmd.out" >> "$results" <<'PY'
import json, re, sys
row, cpu, text = sys.argv[1], float(sys.argv[2]), open(sys.argv[3]).read()
def ms(v, unit): return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
p = {k: ms(v, u) for k, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
n = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
print(json.dumps({"row": row, "tool": "wrk", "requests": n, "rps": rps, "cpu": cpu, "p50": p.get("50"), "p99": p.get("99")}))
PY
}

run_oha() { # row connections [url, verified against nothing]
  local row=$1 conns=$2 url=${3:-$target} cpu
  cpu=$(timed oha -c "$conns" -z "${duration}s" --no-tui --output-format json --insecure "$url/")
  python3 - "$row" "$cpu" "$work/cmd.out" >> "$results" <<'PY'
import json, sys
row, cpu, o = sys.argv[1], float(sys.argv[2]), json.load(open(sys.argv[3]))
s = o["summary"]
n = sum(o.get("statusCodeDistribution", {}).values())
print(json.dumps({"row": row, "tool": "oha", "requests": n, "rps": s["requestsPerSec"], "cpu": cpu,
    "p50": o["latencyPercentiles"]["p50"] * 1000, "p99": o["latencyPercentiles"]["p99"] * 1000}))
PY
}

echo "== 1. closed model, 50 VUs/connections, ${duration}s x $reps, interleaved" >&2
bench_config "$work/closed.yaml" "$target" "executor: constant-vus, vus: 50, duration: ${duration}s"
for _ in $(seq 1 "$reps"); do
  run_sloprober closed "$work/closed.yaml"
  [ "$have_oha" = 1 ] && run_oha closed 50
  run_wrk closed 50
  # The same with a VU thread per core rather than the default one per two cores.
  SLOPROBER_VU_THREADS=$(nproc) run_sloprober closed-allcores "$work/closed.yaml"
done
wrk_max=$(python3 -c "
import json, statistics
r = [json.loads(l) for l in open('$results')]
print(statistics.median(x['rps'] for x in r if x['row'] == 'closed' and x['tool'] == 'wrk'))")

echo "== 1b. https (nginx, TLS, HTTP/1.1), closed model, 50 VUs/connections, ${duration}s x $reps, interleaved" >&2
# A self-signed certificate as openssl makes it (CA:TRUE), trusted by sloprober as its ca_file.
tls_dir=$work/tls
mkdir -p "$tls_dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$tls_dir/key.pem" -out "$tls_dir/cert.pem" 2>/dev/null
tls_port=$(free_port)
pids+=("$(start_nginx "$work/nginx-tls" "$tls_port" "$tls_dir")")
wait_port "$tls_port"
tls_target=https://localhost:$tls_port
bench_config "$work/https.yaml" "$tls_target" "executor: constant-vus, vus: 50, duration: ${duration}s"
sed -i "s|timeout: 30s}|timeout: 30s, tls: {ca_file: \"$tls_dir/cert.pem\"}}|" "$work/https.yaml"
for _ in $(seq 1 "$reps"); do
  run_sloprober https "$work/https.yaml"
  [ "$have_oha" = 1 ] && run_oha https 50 "$tls_target"
  run_wrk https 50 "$duration" "$tls_target"
done

echo "== 2. constant-arrival-rate at 50 % and 90 % of wrk's max (${wrk_max%.*}/s)" >&2
for share in 50 90; do
  rate=$(python3 -c "print(int($wrk_max * $share / 100))")
  bench_config "$work/open$share.yaml" "$target" "executor: constant-arrival-rate, rate: $rate, duration: ${duration}s, pre_allocated_vus: 200, max_vus: 2000"
  for _ in $(seq 1 "$reps"); do
    run_sloprober "open$share" "$work/open$share.yaml"
  done
  echo "{\"row\": \"open$share-target\", \"rate\": $rate}" >> "$results"
done

echo "== 3. latency accuracy against exact fixed delays" >&2
for delay in 10 100 300; do
  port=$(free_port)
  "$bin" demo-target --listen "127.0.0.1:$port" --fixed-delay "${delay}ms" 2>/dev/null &
  pids+=($!)
  wait_port "$port"
  bench_config "$work/delay$delay.yaml" "http://127.0.0.1:$port" "executor: constant-arrival-rate, rate: 200, duration: ${duration}s, pre_allocated_vus: 100, max_vus: 500"
  run_sloprober "delay$delay" "$work/delay$delay.yaml"
done

echo "== 4. server stalled 1.4 s (SIGSTOP) in a 2000/s arrival-rate run" >&2
stall() { sleep "$stall_at"; kill -STOP "${pids[0]}" $(pgrep -P "${pids[0]}"); sleep 1.4; kill -CONT "${pids[0]}" $(pgrep -P "${pids[0]}"); }
bench_config "$work/stall.yaml" "$target" "executor: constant-arrival-rate, rate: 2000, duration: ${stall_seconds}s, pre_allocated_vus: 500, max_vus: 5000"
stall & stalling=$!; run_sloprober stall "$work/stall.yaml"; wait "$stalling"
stall & stalling=$!; run_wrk stall-wrk 50 "$stall_seconds"; wait "$stalling"

echo "== 5. scraping /metrics every second during a 1000/s run" >&2
bench_config "$work/scrape.yaml" "$target" "executor: constant-arrival-rate, rate: 1000, duration: ${duration}s, pre_allocated_vus: 100, max_vus: 1000"
for _ in $(seq 1 "$reps"); do
  run_sloprober scrape-off "$work/scrape.yaml"
  mport=$(free_port)
  # One long-lived scraper, as Prometheus is: a curl process forked every
  # second would itself take CPU from the run on a 2-core machine.
  python3 - "$mport" "$duration" <<'PY' &
import sys, time, urllib.request
port, seconds = sys.argv[1], int(sys.argv[2])
time.sleep(1)
for _ in range(seconds):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        pass
    time.sleep(1)
PY
  scraping=$!
  run_sloprober scrape-on "$work/scrape.yaml" --listen "127.0.0.1:$mport"; wait "$scraping"
done

echo "== 6. memory with 10,000 VUs (think time 1s, demo target)" >&2
start_demo_target "$bin"
port=$demo_port
rss_for_vus() {
  local vus=$1 mport
  mport=$(free_port)
  {
    echo "target: {base_url: \"http://127.0.0.1:$port\", headers: {Authorization: \"Bearer demo-key\"}, timeout: 30s}"
    echo "daemon: {on_end: hold, profile: bench}"
    echo "scenarios: {bench: {sleep: 1s, requests: [{name: health, path: /health}], profiles: {bench: {executor: constant-vus, vus: $vus, duration: 1h}}}}"
  } > "$work/vus$vus.yaml"
  "$bin" daemon --config "$work/vus$vus.yaml" --listen "127.0.0.1:$mport" --log-level warn &
  local pid=$!
  sleep "$vus_seconds"
  local rss reqs
  rss=$(rss_kib "$pid")
  reqs=$(curl -s "127.0.0.1:$mport/metrics" | awk '/^sloprober_http_reqs_total\{/ {s += $2} END {print s}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "{\"row\": \"vus$vus\", \"rss_kib\": $rss, \"requests\": ${reqs:-0}, \"seconds\": $vus_seconds}" >> "$results"
}
rss_for_vus 1
rss_for_vus 10000

echo "== 6b. journeys: a three-step journey with one capture against one request, 50 VUs, interleaved" >&2
journey_config() { # file executor-settings [sleep] [target]: login (a cookie), a captured value, two steps that use it
  {
    echo "target: {base_url: \"${4:-$target}\", headers: {Authorization: \"Bearer demo-key\"}, timeout: 30s}"
    echo "daemon: {on_end: hold, profile: bench}"
    echo "scenarios:"
    echo "  bench:"
    [ -n "${3:-}" ] && echo "    sleep: $3"
    echo "    journeys:"
    echo "      three:"
    echo "        steps:"
    echo "          - {name: first, path: /, capture: {word: {regex: \"([a-z]+)\"}}}"
    echo "          - {name: second, path: \"/next?w={{ word }}\"}"
    echo "          - {name: third, path: \"/last/{{ word }}\", headers: {X-Word: \"{{ word }}\"}}"
    echo "    profiles:"
    echo "      bench: {$2}"
  } > "$1"
}
journey_config "$work/journey.yaml" "executor: constant-vus, vus: 50, duration: ${duration}s"
# A parallel block of three (k6's http.batch) with 50 VUs keeps 150 requests in
# flight: its CPU is compared with one request per iteration at 150 VUs, since
# CPU per request grows with the requests in flight on a 2-core machine.
sed 's/vus: 50,/vus: 150,/' "$work/closed.yaml" > "$work/closed150.yaml"
{
  echo "target: {base_url: \"$target\", headers: {Authorization: \"Bearer demo-key\"}, timeout: 30s}"
  echo "daemon: {on_end: hold, profile: bench}"
  echo "scenarios:"
  echo "  bench:"
  echo "    journeys:"
  echo "      batch:"
  echo "        steps:"
  echo "          - parallel: true"
  echo "            steps: [{name: first, path: /}, {name: second, path: /next}, {name: third, path: /last}]"
  echo "    profiles:"
  echo "      bench: {executor: constant-vus, vus: 50, duration: ${duration}s}"
} > "$work/parallel.yaml"
for _ in $(seq 1 "$reps"); do
  run_sloprober single "$work/closed.yaml"
  run_sloprober journey "$work/journey.yaml"
  run_sloprober single150 "$work/closed150.yaml"
  run_sloprober parallel "$work/parallel.yaml"
done

echo "== 6c. memory with 10,000 VUs playing a login journey (cookie jar, a capture; think time 1s, demo target)" >&2
rss_for_journeys() {
  local vus=$1 mport
  mport=$(free_port)
  {
    echo "target: {base_url: \"http://127.0.0.1:$port\", headers: {Authorization: \"Bearer demo-key\"}, timeout: 30s}"
    echo "daemon: {on_end: hold, profile: bench}"
    echo "scenarios:"
    echo "  bench:"
    echo "    sleep: 1s"
    echo "    journeys:"
    echo "      session:"
    echo "        steps:"
    echo "          - {name: login, method: POST, path: /api/v1/login, json: {username: \"u{{ vu }}\"}, capture: {user: {json_path: \$.user}}}"
    echo "          - {name: me, path: \"/api/v1/me?u={{ user }}\", checks: [{status: 200}]}"
    echo "    profiles:"
    echo "      bench: {executor: constant-vus, vus: $vus, duration: 1h}"
  } > "$work/journey$vus.yaml"
  "$bin" daemon --config "$work/journey$vus.yaml" --listen "127.0.0.1:$mport" --log-level warn &
  local pid=$!
  sleep "$vus_seconds"
  local rss reqs ok
  rss=$(rss_kib "$pid")
  reqs=$(curl -s "127.0.0.1:$mport/metrics" | awk '/^sloprober_http_reqs_total\{/ {s += $2} END {print s}')
  ok=$(curl -s "127.0.0.1:$mport/metrics" | awk '/^sloprober_http_reqs_total\{.*request="me".*status="200"/ {s += $2} END {print s}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "{\"row\": \"journeys$vus\", \"rss_kib\": $rss, \"requests\": ${reqs:-0}, \"me_ok\": ${ok:-0}, \"seconds\": $vus_seconds}" >> "$results"
}
rss_for_journeys 1
rss_for_journeys 10000

echo "== 6e. 2,000 VUs thinking 1 s, one connection each: sloprober's RSS against k6's (if k6 is installed)" >&2
k6_bin=$root/target/tools/k6/bin/k6
[ -x "$k6_bin" ] || k6_bin=$(command -v k6 || true)
if [ -n "$k6_bin" ]; then
  {
    echo "target: {base_url: \"http://127.0.0.1:$port\", headers: {Authorization: \"Bearer demo-key\"}, timeout: 30s}"
    echo "daemon: {on_end: hold, profile: bench}"
    echo "scenarios: {bench: {sleep: 1s, requests: [{name: health, path: /health}], profiles: {bench: {executor: constant-vus, vus: 2000, duration: 1h}}}}"
  } > "$work/vus2000.yaml"
  mport=$(free_port)
  "$bin" daemon --config "$work/vus2000.yaml" --listen "127.0.0.1:$mport" --log-level warn &
  pid=$!
  sleep "$vus_seconds"
  ours=$(rss_kib "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  cat > "$work/vus2000.js" <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 2000, duration: '$((vus_seconds + 2))s' };
export default function () { http.get('http://127.0.0.1:$port/health', { headers: { Authorization: 'Bearer demo-key' } }); sleep(1); }
JS
  K6_NO_USAGE_REPORT=true "$k6_bin" run --quiet "$work/vus2000.js" > /dev/null 2>&1 &
  pid=$!
  sleep "$vus_seconds"
  theirs=$(rss_kib "$pid")
  wait "$pid" 2>/dev/null || true
  echo "{\"row\": \"vus2000-k6\", \"rss_kib\": $ours, \"k6_rss_kib\": ${theirs:-0}}" >> "$results"
fi

echo "== 6d. 200 MB answers, 4 VUs, status check only: peak RSS, with curl's for one download" >&2
mkdir -p "$work/big"
truncate -s 200M "$work/big/big.bin"
big_port=$(free_port)
(cd "$work/big" && exec python3 -m http.server "$big_port" --bind 127.0.0.1 >/dev/null 2>&1) &
big_server=$!
wait_port "$big_port"
{
  echo "target: {base_url: \"http://127.0.0.1:$big_port\", timeout: 60s}"
  echo "scenarios: {bench: {requests: [{name: big, path: /big.bin, checks: [{status: 200}]}], profiles: {bench: {executor: per-vu-iterations, vus: 4, iterations: 2}}}}"
} > "$work/big.yaml"
/usr/bin/time -f "%M" -o "$work/big-rss" "$bin" run --config "$work/big.yaml" --profile bench --no-progress --out "$work/big-out" > /dev/null 2>&1 || true
big_summary=$(ls "$work"/big-out/*/bench-summary.json)
/usr/bin/time -f "%M" -o "$work/curl-rss" curl -s -o /dev/null "http://127.0.0.1:$big_port/big.bin"
kill "$big_server"; wait "$big_server" 2>/dev/null || true
python3 - "$(tail -n1 "$work/big-rss")" "$(tail -n1 "$work/curl-rss")" "$big_summary" >> "$results" <<'PY'
import json, sys
s = {name: metric["values"] for name, metric in json.load(open(sys.argv[3]))["metrics"].items()}
print(json.dumps({"row": "big-bodies", "rss_kib": int(sys.argv[1]), "curl_rss_kib": int(sys.argv[2]),
    "requests": s["http_reqs"]["count"], "failed": s.get("http_req_failed", {}).get("passes", 0),
    "received": s["data_received"]["count"]}))
PY

echo "== 7. /metrics render, 20 scenarios x 10 requests (criterion)" >&2
render=$(cargo bench --quiet --profile "${BENCH_CARGO_PROFILE:-bench}" --manifest-path "$root/Cargo.toml" --bench metrics_render -- --noplot "${criterion_args[@]}" 2>/dev/null | grep -A1 "render_20x10" | grep -o "time:.*" || true)
echo "{\"row\": \"render\", \"criterion\": \"${render}\"}" >> "$results"

echo "== 8. memory growth at 1000 req/s over ${soak_seconds}s" >&2
soak=$(SLOPROBER_BIN=$bin bash "$root/scripts/soak.sh" "$soak_seconds")
echo "{\"row\": \"soak\", \"text\": \"$soak\"}" >> "$results"

python3 "$root/scripts/bench_table.py" "$results" "$have_oha"
