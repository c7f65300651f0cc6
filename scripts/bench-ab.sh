#!/usr/bin/env bash
# Two sloprober builds side by side, interleaved (old, new, old, new, ...) on
# the hot-path rows of scripts/bench.sh: the closed model (req/s, CPU per 100k
# requests), constant-arrival-rate at 50 % and 90 % of wrk's max (rate kept,
# sends within 1 ms of schedule, CPU), and RSS with 10,000 VUs. For a change
# that touches the hot path, run it with the previous build as OLD.
#
#   scripts/bench-ab.sh OLD_BIN NEW_BIN
#   BENCH_DURATION=10 BENCH_REPS=3   seconds per run, runs per build
#   BENCH_SMOKE=1                    each row about a second (the test suite runs this)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
. "$root/scripts/bench-lib.sh"
[ $# -eq 2 ] || { echo "usage: $0 OLD_BIN NEW_BIN" >&2; exit 64; }
old=$1 new=$2
duration=${BENCH_DURATION:-10}
reps=${BENCH_REPS:-3}
vus_seconds=20
if [ "${BENCH_SMOKE:-0}" = 1 ]; then
  duration=1 reps=1 vus_seconds=3
fi
for tool in nginx wrk; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install nginx wrk)" >&2; exit 69; }
done
bench_start
results=$work/results.jsonl

run() { # build row config
  local build=$1 row=$2 config=$3 bin
  bin=${!build}
  rm -rf "$work/out"
  /usr/bin/time -f "%U %S" -o "$work/time" "$bin" run --config "$config" --profile bench --no-progress --out "$work/out" \
    > /dev/null 2> "$work/err" || true
  python3 - "$build" "$row" "$work/time" "$work"/out/*/bench-summary.json >> "$results" <<'PY'
import json, sys
build, row, time_file, path = sys.argv[1:5]
cpu = sum(float(x) for x in open(time_file).read().split()[-2:])
s = json.load(open(path))
reqs = s["metrics"]["http_reqs"]
n = reqs.get("values", reqs)["count"]  # k6-shaped summaries (version 2) and older ones
lag = s.get("schedule_lag", {})
print(json.dumps({"build": build, "row": row, "rps": n / s["duration_seconds"], "cpu_per_100k": cpu / max(n, 1) * 1e5,
                  "within_1ms": lag.get("within_1ms_ratio")}))
PY
}

echo "== wrk's max, 50 connections" >&2
wrk -t2 -c50 -d"${duration}s" "$target/" > "$work/wrk.txt"
wrk_max=$(awk '/Requests\/sec/ {print int($2)}' "$work/wrk.txt")

echo "== closed model, 50 VUs, ${duration}s x $reps per build" >&2
bench_config "$work/closed.yaml" "$target" "executor: constant-vus, vus: 50, duration: ${duration}s"
for _ in $(seq 1 "$reps"); do
  run old closed "$work/closed.yaml"
  run new closed "$work/closed.yaml"
done

for share in 50 90; do
  rate=$((wrk_max * share / 100))
  echo "== constant-arrival-rate at $share % of wrk's max ($rate/s)" >&2
  bench_config "$work/open$share.yaml" "$target" "executor: constant-arrival-rate, rate: $rate, duration: ${duration}s, pre_allocated_vus: 200, max_vus: 2000"
  for _ in $(seq 1 "$reps"); do
    run old "open$share" "$work/open$share.yaml"
    run new "open$share" "$work/open$share.yaml"
  done
  echo "{\"row\": \"open$share\", \"rate\": $rate}" >> "$results"
done

echo "== RSS with 10,000 VUs minus 1 VU (think time 1s, demo target)" >&2
start_demo_target "$new"
port=$demo_port
rss() { # build vus
  local bin=${!1} vus=$2 pid
  {
    echo "target: {base_url: \"http://127.0.0.1:$port\", headers: {Authorization: \"Bearer demo-key\"}, timeout: 30s}"
    echo "daemon: {on_end: hold, profile: bench}"
    echo "scenarios: {bench: {sleep: 1s, requests: [{name: health, path: /health}], profiles: {bench: {executor: constant-vus, vus: $vus, duration: 1h}}}}"
  } > "$work/vus.yaml"
  "$bin" daemon --config "$work/vus.yaml" --listen "127.0.0.1:0" --log-level warn &
  pid=$!
  sleep "$vus_seconds"
  echo "$(rss_kib "$pid") $(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
# RSS follows how many connections the first wave of 10,000 requests opens,
# which varies from run to run: interleaved pairs, with the descriptors open.
for _ in $(seq "$reps"); do
  for build in old new; do
    read -r idle _ <<< "$(rss "$build" 1)"
    read -r full fds <<< "$(rss "$build" 10000)"
    echo "{\"build\": \"$build\", \"row\": \"vus10000\", \"rss_mib\": $(( (full - idle) / 1024 )), \"fds\": $fds}" >> "$results"
  done
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rates = {r["row"]: r["rate"] for r in rows if "rate" in r}
def med(row, build, key):
    values = [r[key] for r in rows if r.get("row") == row and r.get("build") == build and r.get(key) is not None]
    return statistics.median(values) if values else None
def line(what, row, key, fmt, scale=1.0):
    o, n = med(row, "old", key), med(row, "new", key)
    if o is None or n is None:
        return
    ratio = f"{n / o:.3f}x" if o else "-"
    print(f"| {what:<38} | {fmt.format(o * scale):>12} | {fmt.format(n * scale):>12} | {ratio:>7} |")
print("| row (median of runs)                   |          old |          new | new/old |")
print("|---|---|---|---|")
line("closed req/s, 50 VUs", "closed", "rps", "{:,.0f}")
line("closed CPU s per 100k requests", "closed", "cpu_per_100k", "{:.3f}")
for share in (50, 90):
    row = f"open{share}"
    line(f"arrival {share} %: req/s (asked {rates.get(row, 0):,})", row, "rps", "{:,.0f}")
    line(f"arrival {share} %: sends within 1 ms", row, "within_1ms", "{:.2f} %", 100)
    line(f"arrival {share} %: CPU s per 100k", row, "cpu_per_100k", "{:.3f}")
line("RSS MiB, 10,000 VUs minus 1 VU", "vus10000", "rss_mib", "{:.0f}")
line("  descriptors open then", "vus10000", "fds", "{:,.0f}")
PY
