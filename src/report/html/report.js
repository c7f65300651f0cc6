// Draws the run report's charts from the JSON embedded in the page, with
// uPlot (embedded too): nothing is fetched. One chart per series group,
// each a <div class="chart" data-chart="..."> the tests look for.
(function () {
  const data = JSON.parse(document.getElementById('run-data').textContent);
  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
  const width = () => Math.min(1100, document.body.clientWidth - 40);

  function draw(holder, title, unit, seconds, series) {
    const box = document.createElement('div');
    box.className = 'chart';
    box.dataset.chart = title;
    holder.appendChild(box);
    if (seconds.length === 0) {
      box.textContent = title + ': no data';
      return;
    }
    const opts = {
      title: title,
      width: width(),
      height: 240,
      scales: { x: { time: false } },
      axes: [{ label: 'seconds' }, { label: unit }],
      series: [{ label: 's' }].concat(series.map((s, i) => ({
        label: s.label,
        stroke: s.stroke || palette[i % palette.length],
        width: s.dash ? 1.5 : 2,
        dash: s.dash ? [6, 4] : undefined,
        spanGaps: false,
      }))),
    };
    new uPlot(opts, [seconds].concat(series.map((s) => s.values)), box);
    box.dataset.points = String(series[0].values.filter((v) => v !== null && v !== undefined).length);
  }

  const charts = document.getElementById('charts');
  for (const scenario of data.scenarios) {
    const section = document.createElement('section');
    section.className = 'scenario';
    const heading = document.createElement('h3');
    heading.textContent = 'Scenario ' + scenario.name;
    section.appendChild(heading);
    charts.appendChild(section);
    // The run's last, partial second (a few ms) would show as a spike in every rate: left out.
    const points = scenario.points.filter((p, i) => i === 0 || p.interval_seconds >= 0.5);
    const t = points.map((p) => p.t);
    const col = (f) => points.map(f);
    draw(section, scenario.name + ': VUs', 'VUs', t, [{ label: 'VUs', values: col((p) => p.vus) }]);
    draw(section, scenario.name + ': requests per second', 'req/s', t, [
      { label: 'requests/s', values: col((p) => p.requests_per_second) },
    ]);
    for (const request of scenario.requests) {
      const lines = [0, 1, 2].map((k) => ({
        label: ['p50', 'p95', 'p99'][k],
        values: col((p) => (p.request_ms && p.request_ms[request.name] ? p.request_ms[request.name][k] : null)),
      }));
      for (const threshold of request.thresholds) {
        lines.push({ label: threshold.label, values: t.map(() => threshold.ms), stroke: '#000', dash: true });
      }
      draw(section, scenario.name + '/' + request.name + ': latency (ms)', 'ms', t, lines);
    }
    const reasons = [...new Set(points.flatMap((p) => Object.keys(p.failed_by_reason || {})))].sort();
    draw(section, scenario.name + ': failed requests per second by reason', 'failed/s', t,
      reasons.length ? reasons.map((r) => ({ label: r, values: col((p) => ((p.failed_by_reason || {})[r] || 0) / (p.interval_seconds || 1)) }))
        : [{ label: 'failed', values: col(() => 0) }]);
    draw(section, scenario.name + ': failed checks and dropped iterations per second', 'per s', t, [
      { label: 'failed checks', values: col((p) => p.checks_failed / (p.interval_seconds || 1)) },
      { label: 'dropped iterations', values: col((p) => p.dropped_iterations / (p.interval_seconds || 1)) },
    ]);
  }
  document.body.dataset.drawn = 'true';
})();
