"""Prints scripts/bench.sh's results as a table of figures, ratios and goals."""
import os, json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
have_oha = sys.argv[2] == "1"
# A smoke run (about a second a row, often a debug build) measures every row
# but judges none: its figures say nothing about the goals.
smoke = os.environ.get("BENCH_SMOKE") == "1"


def runs(row, tool=None):
    return [r for r in rows if r["row"] == row and (tool is None or r.get("tool") == tool)]


def median(row, tool, key):
    values = [r[key] for r in runs(row, tool) if r.get(key) is not None]
    return statistics.median(values) if values else None


def cpu_per_100k(row, tool):
    values = [r["cpu"] / r["requests"] * 1e5 for r in runs(row, tool) if r.get("requests")]
    return statistics.median(values) if values else None


table = []


def add(figure, ours, others, ratio, goal, met):
    table.append((figure, ours, others, ratio, goal, "not judged" if smoke else "yes" if met else "NO"))


s_rps, w_rps = median("closed", "sloprober", "rps"), median("closed", "wrk", "rps")
o_rps = median("closed", "oha", "rps") if have_oha else None
if o_rps:
    add("req/s, 50 VUs (vs oha)", f"{s_rps:,.0f}", f"oha {o_rps:,.0f}", f"{s_rps / o_rps:.2f}x", ">= 1.0x", s_rps >= o_rps)
else:
    table.append(("req/s, 50 VUs (vs oha)", f"{s_rps:,.0f}", "oha not installed: skipped", "-", ">= 1.0x", "-"))
add("req/s, 50 VUs (vs wrk)", f"{s_rps:,.0f}", f"wrk {w_rps:,.0f}", f"{s_rps / w_rps:.2f}x", ">= 0.9x", s_rps >= 0.9 * w_rps)
s_cpu, w_cpu = cpu_per_100k("closed", "sloprober"), cpu_per_100k("closed", "wrk")
if have_oha:
    o_cpu = cpu_per_100k("closed", "oha")
    add("CPU s per 100k requests", f"{s_cpu:.2f}", f"oha {o_cpu:.2f}, wrk {w_cpu:.2f}", f"{s_cpu / o_cpu:.2f}x oha", "<= oha", s_cpu <= o_cpu)
else:
    table.append(("CPU s per 100k requests", f"{s_cpu:.2f}", f"wrk {w_cpu:.2f}", f"{s_cpu / w_cpu:.2f}x wrk", "<= oha", "-"))
t_rps, t_cpu = median("closed-allcores", "sloprober", "rps"), cpu_per_100k("closed-allcores", "sloprober")
if t_rps and o_rps:
    o_cpu = cpu_per_100k("closed", "oha")
    add(f"  same, SLOPROBER_VU_THREADS={os.cpu_count()}", f"{t_rps:,.0f} req/s, {t_cpu:.2f} CPU s/100k", f"oha {o_rps:,.0f}, {o_cpu:.2f}",
        f"{t_rps / o_rps:.2f}x, {t_cpu / o_cpu:.2f}x", ">= 1.0x, <= oha", t_rps >= o_rps and t_cpu <= o_cpu)
h_rps, hw_rps = median("https", "sloprober", "rps"), median("https", "wrk", "rps")
h_cpu, hw_cpu = cpu_per_100k("https", "sloprober"), cpu_per_100k("https", "wrk")
ho_rps = median("https", "oha", "rps") if have_oha else None
others = f"wrk {hw_rps:,.0f}" + (f", oha {ho_rps:,.0f}" if ho_rps else ", oha not installed")
add("https req/s, 50 VUs (vs wrk)", f"{h_rps:,.0f}", others, f"{h_rps / hw_rps:.2f}x", ">= 0.9x", h_rps >= 0.9 * hw_rps)
ho_cpu = cpu_per_100k("https", "oha") if have_oha else None
others = f"wrk {hw_cpu:.2f}" + (f", oha {ho_cpu:.2f}" if ho_cpu else "")
add("  https CPU s per 100k requests", f"{h_cpu:.2f}", others, f"{h_cpu / hw_cpu:.2f}x wrk", "<= oha" if ho_cpu else "-", ho_cpu is None or h_cpu <= ho_cpu)
for share in (50, 90):
    target = runs(f"open{share}-target")[0]["rate"]
    achieved = median(f"open{share}", "sloprober", "rps")
    within = median(f"open{share}", "sloprober", "within_1ms")
    add(f"arrival rate at {share} % of wrk max", f"{achieved:,.0f}/s of {target:,}/s", "", f"{achieved / target:.4f}", "within 1 %", abs(achieved / target - 1) <= 0.01)
    add(f"  sends within 1 ms of schedule ({share} %)", f"{within * 100:.2f} %", "", "", ">= 99 %", within >= 0.99)
idle, many = runs("vus1")[0], runs("vus10000")[0]
extra = (many["rss_kib"] - idle["rss_kib"]) / 1024
add("RSS, 10,000 VUs minus idle", f"{extra:.1f} MiB", f"({many['requests']:,.0f} requests in {many.get('seconds', 20)} s)", f"{extra * 1024 / 10000:.1f} KiB/VU", "<= 100 MB", extra * 1.048576 <= 100)
def cpu_per_iteration(row):
    values = [r["cpu"] / r["iterations"] for r in runs(row, "sloprober") if r.get("iterations")]
    return statistics.median(values) if values else None


one, three = cpu_per_iteration("single"), cpu_per_iteration("journey")
if one and three:
    add("CPU per iteration, 3-step journey with a capture", f"{three * 1e6:.1f} µs", f"one request {one * 1e6:.1f} µs", f"{three / one:.2f}x", "<= 3.3x", three / one <= 3.3)
parallel, one150 = cpu_per_iteration("parallel"), cpu_per_iteration("single150")
if one150 and parallel:
    add("CPU per iteration, parallel block of 3 (50 VUs)", f"{parallel * 1e6:.1f} µs", f"one request at 150 VUs {one150 * 1e6:.1f} µs", f"{parallel / one150:.2f}x", "<= 3.3x", parallel / one150 <= 3.3)
idle, many = runs("journeys1")[0], runs("journeys10000")[0]
extra = (many["rss_kib"] - idle["rss_kib"]) / 1024
add("RSS, 10,000 VUs in journeys (cookies, captures) minus idle", f"{extra:.1f} MiB", f"({many['requests']:,.0f} requests, {many['me_ok']:,.0f} cookie calls ok)", f"{extra * 1024 / 10000:.1f} KiB/VU", "<= 100 MB", extra * 1.048576 <= 100)
for k6_row in runs("vus2000-k6"):
    ratio = k6_row["k6_rss_kib"] / max(k6_row["rss_kib"], 1)
    add("RSS, 2,000 VUs thinking 1 s, against k6", f"{k6_row['rss_kib'] / 1024:.1f} MiB", f"k6 {k6_row['k6_rss_kib'] / 1024:.1f} MiB", f"1/{ratio:.1f}", "<= 1/20 of k6", ratio >= 20)
big = runs("big-bodies")[0]
big_rss = big["rss_kib"] / 1024
add("peak RSS, 200 MB answers, 4 VUs, status check only", f"{big_rss:.1f} MiB", f"curl one download {big['curl_rss_kib'] / 1024:.1f} MiB; {big['requests']:.0f} requests, {big['failed']:.0f} failed, {big['received'] / 1e6:,.0f} MB received", "", "< 50 MB", big_rss * 1.048576 < 50 and big["failed"] == 0)
for delay in (10, 100, 300):
    r = runs(f"delay{delay}")[0]
    worst = max(abs(r[k] - delay) for k in ("p50", "p95", "p99"))
    bound = max(0.01 * delay, 0.2)
    add(f"p50/p95/p99 vs fixed {delay} ms", f"{r['p50']:.2f}/{r['p95']:.2f}/{r['p99']:.2f} ms", "", f"worst {worst:.3f} ms", f"<= {bound:.1f} ms", worst <= bound)
s_stall, w_stall = runs("stall")[0], runs("stall-wrk")[0]
wrk_p99 = f"{w_stall['p99']:.0f} ms" if w_stall.get("p99") is not None else "n/a"
add("p99 with a 1.4 s stall (2000/s)", f"{s_stall['p99']:.0f} ms", f"wrk (uncorrected) {wrk_p99}", "", "reflects the stall", s_stall["p99"] >= 1000)
off, on = median("scrape-off", "sloprober", "p99"), median("scrape-on", "sloprober", "p99")
add("p99 with /metrics scraped 1/s", f"{on:.2f} ms", f"not scraped {off:.2f} ms", f"{on / off:.2f}x", "unchanged", on <= off * 1.1 + 0.1)
render = runs("render")[0]["criterion"]
UNITS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1000.0}
if render:
    estimate = render.split("[")[1].split()  # time:   [low unit mid unit high unit]
    render_ms = float(estimate[2]) * UNITS[estimate[3]]
    add("/metrics render, 20 x 10 requests", f"{render_ms:.3f} ms", "", "", "< 2 ms", render_ms < 2.0)
else:
    add("/metrics render, 20 x 10 requests", "criterion bench failed", "", "", "< 2 ms", False)
soak = runs("soak")[0]["text"]
growth = float(soak.split("growth ")[1].split(" %")[0])
add("memory growth at 1000 req/s", soak.split("; ")[1], "", f"{growth:+.2f} %", "< 5 %", growth < 5)

widths = [max(len(str(row[i])) for row in table + [("figure", "sloprober", "others", "ratio", "goal", "met")]) for i in range(6)]
def line(cells):
    return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
print(line(("figure", "sloprober", "others", "ratio", "goal", "met")))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for row in table:
    print(line(row))
if smoke:
    print("\nsmoke run: every row measured, none judged (about a second each; the goals need scripts/bench.sh)")
