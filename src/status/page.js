// The live status page: reads status.json (same origin, relative, so it
// works behind a path prefix) every refresh_seconds and draws the SLO table,
// the requests table, charts of the recent evaluations with uPlot (embedded
// in the page) and each request's last failures. Answers are put in the page
// as text, never as markup: a target's answer cannot run script here.
(function () {
  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
  const $ = (id) => document.getElementById(id);
  const width = () => Math.max(320, Math.min(1100, document.body.clientWidth - 40));
  let plots = [];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else if (k.startsWith('data-')) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const child of children) node.append(child === null || child === undefined ? '' : child);
    return node;
  }
  const percent = (r) => (r === null || r === undefined ? '-' : (r * 100).toFixed(2) + '%');
  const ms = (v) => (v === null || v === undefined ? '-' : v < 1 ? (v * 1000).toFixed(0) + 'µs' : v < 1000 ? v.toFixed(1) + 'ms' : (v / 1000).toFixed(2) + 's');
  const num = (v, digits) => (v === null || v === undefined ? '-' : v.toFixed(digits));

  function verdict(slo) {
    if (slo.no_data) return ['nodata', 'no data'];
    return slo.passed ? ['pass', 'pass'] : ['fail', 'fail'];
  }
  // Failing SLOs first, then those without data, then the passing ones; the config's order within each.
  const rank = (slo) => (slo.no_data ? 1 : slo.passed ? 2 : 0);
  // A rate threshold's observed value is a fraction, shown as the percentage the rest of the page uses.
  function observedText(slo) {
    if (slo.observed === null) return 'no data';
    if (slo.unit === 'ms') return ms(slo.observed);
    if (/^\s*rate/.test(slo.threshold)) return percent(slo.observed);
    return String(slo.observed);
  }

  function sloTable(doc) {
    const holder = $('slos');
    holder.replaceChildren();
    if (!doc.slos || doc.slos.length === 0) {
      holder.append(el('p', {}, 'No thresholds in this profile.'));
      return;
    }
    const table = el('table', { id: 'slo-table' },
      el('tr', {}, ...['SLO', 'threshold', 'observed', 'SLI (good / objective)', 'burn rate', 'verdict'].map((h) => el('th', {}, h))));
    const sorted = doc.slos.map((slo, i) => [slo, i]).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]).map(([slo]) => slo);
    for (const slo of sorted) {
      const [cls, text] = verdict(slo);
      const sli = slo.sli ? percent(slo.sli.good_ratio) + ' / ' + percent(slo.sli.objective_ratio) : '-';
      const observed = observedText(slo);
      const burn = slo.burn_rate === null || slo.burn_rate === undefined ? '-' : slo.burn_rate.toFixed(2) + '×';
      table.append(el('tr', { 'data-slo': slo.slo, 'data-passed': String(slo.passed) },
        el('td', {}, slo.slo), el('td', {}, el('code', {}, slo.metric + ' ' + slo.threshold)), el('td', {}, observed),
        el('td', {}, sli), el('td', { title: 'bad fraction / allowed bad fraction over ' + doc.over }, burn),
        el('td', { class: cls }, text)));
    }
    holder.append(table);
  }

  function requestTable(doc) {
    const table = el('table', { id: 'request-table' },
      el('tr', {}, ...['scenario', 'request', 'requests', 'req/s', 'failed', 'p(50)', 'p(95)', 'p(99)', 'VUs'].map((h) => el('th', {}, h))));
    for (const scenario of doc.scenarios) {
      for (const request of scenario.requests) {
        table.append(el('tr', { 'data-request': scenario.name + '/' + request.name },
          el('td', {}, scenario.name), el('td', {}, request.name), el('td', {}, String(request.count)),
          el('td', {}, num(request.per_second, 1)), el('td', {}, percent(request.failed_ratio)),
          el('td', {}, ms(request.p50_ms)), el('td', {}, ms(request.p95_ms)), el('td', {}, ms(request.p99_ms)),
          el('td', {}, String(scenario.vus))));
      }
    }
    const spans = el('table', { id: 'span-table' },
      el('tr', {}, ...['scenario', 'span', 'count', 'p(50)', 'p(95)', 'p(99)'].map((h) => el('th', {}, h))));
    for (const scenario of doc.scenarios) {
      for (const span of scenario.spans) {
        spans.append(el('tr', {}, el('td', {}, scenario.name), el('td', {}, span.name), el('td', {}, String(span.count)),
          el('td', {}, ms(span.p50_ms)), el('td', {}, ms(span.p95_ms)), el('td', {}, ms(span.p99_ms))));
      }
    }
    const executors = el('table', { id: 'executor-table' },
      el('tr', {}, ...['scenario', 'executor', 'VUs', 'VUs max', 'iterations since start', 'dropped since start', 'setup'].map((h) => el('th', {}, h))));
    for (const scenario of doc.scenarios) {
      const setup = scenario.setup_failure
        ? el('td', { class: 'fail', 'data-setup': 'failing' }, 'failing, no load until it passes: ' + scenario.setup_failure)
        : el('td', {}, '-');
      executors.append(el('tr', { 'data-scenario': scenario.name }, el('td', {}, scenario.name), el('td', {}, scenario.executor), el('td', {}, String(scenario.vus)),
        el('td', {}, String(scenario.vus_max)), el('td', {}, String(scenario.iterations)),
        el('td', { class: scenario.dropped_iterations > 0 ? 'fail' : '' }, String(scenario.dropped_iterations)), setup));
    }
    $('requests').replaceChildren(table, el('h3', {}, 'Iterations and groups'), spans, el('h3', {}, 'Executors'), executors);
  }

  // Wall-clock time of day (UTC, as the rest of the page), spaced so that labels never overlap.
  const timeAxis = { space: 90, values: (u, splits) => splits.map((v) => new Date(v * 1000).toISOString().slice(11, 19)) };

  // `format` writes the y axis' values; a series marked `reference` (a
  // threshold) is drawn but does not stretch the axis beyond 1.5 times the data.
  function draw(holder, title, unit, t, series, format) {
    const box = el('div', { class: 'chart', 'data-chart': title });
    holder.append(box);
    const points = series.length ? series[0].values.filter((v) => v !== null && v !== undefined).length : 0;
    box.dataset.points = String(points);
    if (t.length === 0 || points === 0) {
      box.textContent = title + ': no data yet';
      return;
    }
    const data = series.filter((s) => !s.reference).flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
    const top = Math.max(...data, 0);
    const references = series.filter((s) => s.reference).map((s) => s.values[0]).filter((v) => v <= top * 1.5);
    const upper = Math.max(top, ...references) * 1.1 || 1;
    const opts = {
      title: title, width: width(), height: 220,
      scales: { y: { range: () => [0, upper] } },
      axes: [timeAxis, { label: unit, size: 60, values: format ? (u, splits) => splits.map(format) : undefined }],
      series: [{}].concat(series.map((s, i) => ({
        label: s.label, stroke: s.stroke || palette[i % palette.length],
        width: s.dash ? 1.5 : 2, dash: s.dash ? [6, 4] : undefined,
      }))),
    };
    plots.push(new uPlot(opts, [t].concat(series.map((s) => s.values)), box));
  }

  function charts(doc) {
    for (const plot of plots) plot.destroy();
    plots = [];
    const holder = $('charts');
    holder.replaceChildren();
    const t = doc.history.t;
    doc.scenarios.forEach((scenario, s) => {
      const h = doc.history.scenarios[s];
      const section = el('section', { class: 'scenario' }, el('h3', {}, 'Scenario ' + scenario.name + ' · ' + scenario.executor));
      holder.append(section);
      draw(section, scenario.name + ': requests per second', 'req/s', t,
        scenario.requests.map((r, i) => ({ label: r.name, values: h.requests[i].per_second })));
      draw(section, scenario.name + ': VUs', 'VUs', t, [{ label: 'VUs', values: h.vus }]);
      scenario.requests.forEach((request, i) => {
        const lines = ['p50_ms', 'p95_ms', 'p99_ms'].map((k) => ({ label: k.slice(0, 3), values: h.requests[i][k] }));
        for (const threshold of request.latency_thresholds) {
          lines.push({ label: threshold.label, values: t.map(() => threshold.ms), stroke: '#000', dash: true, reference: true });
        }
        draw(section, scenario.name + '/' + request.name + ': latency (ms)', 'ms', t, lines);
      });
      draw(section, scenario.name + ': failed share of requests', '% failed', t,
        scenario.requests.map((r, i) => ({ label: r.name, values: h.requests[i].failed_ratio })),
        (v) => +(v * 100).toFixed(2) + '%');
    });
  }

  function failures(doc) {
    const holder = $('failures');
    holder.replaceChildren();
    let any = false;
    for (const scenario of doc.scenarios) {
      for (const request of scenario.requests) {
        if (!request.recent_failures || request.recent_failures.length === 0) continue;
        any = true;
        const table = el('table', { class: 'failures' },
          el('tr', {}, ...['time', 'reason', 'status', 'latency', 'answer'].map((h) => el('th', {}, h))));
        for (const f of request.recent_failures) {
          table.append(el('tr', { 'data-reason': f.reason },
            el('td', {}, f.at.replace('T', ' ').replace('Z', ' UTC')), el('td', { class: 'fail' }, f.reason),
            el('td', {}, f.status === null ? '-' : String(f.status)), el('td', {}, ms(f.latency_ms)),
            el('td', {}, f.answer === null ? el('span', { class: 'nodata' }, 'no answer' + (f.error ? ': ' + f.error : '')) : el('pre', {}, f.answer))));
        }
        holder.append(el('details', { open: true, 'data-request': scenario.name + '/' + request.name },
          el('summary', {}, scenario.name + '/' + request.name + ': ' + request.failures_since_start +
            ' failed since start, the last ' + request.recent_failures.length + ' below'), table));
      }
    }
    if (!any) holder.append(el('p', {}, 'No request has failed since the start.'));
  }

  function render(doc) {
    const head = $('verdict');
    if (!doc.scenarios) {
      head.textContent = 'starting: the first figures come within ' + (doc.refresh_seconds || 5) + ' s';
      return;
    }
    head.className = doc.passed ? 'pass' : 'fail';
    head.textContent = doc.slos.length === 0 ? 'running' : doc.passed ? 'every SLO passing' : 'SLO failing';
    $('facts').textContent = doc.mode + ' · profile ' + doc.profile + ' · config ' + doc.config + ' · figures over ' + doc.over +
      ' (' + doc.covered_seconds.toFixed(0) + ' s covered) · updated ' + doc.updated;
    sloTable(doc);
    requestTable(doc);
    charts(doc);
    failures(doc);
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    if (doc.history.t.length > 0) document.body.dataset.drawn = 'true';
  }

  async function refresh() {
    let wait = 5;
    try {
      const answer = await fetch('status.json', { cache: 'no-store' });
      if (!answer.ok) throw new Error('status.json: HTTP ' + answer.status);
      const doc = await answer.json();
      wait = doc.refresh_seconds || wait;
      $('error').textContent = '';
      render(doc);
    } catch (e) {
      $('error').textContent = 'cannot read the status: ' + e.message + '; retrying';
    }
    setTimeout(refresh, wait * 1000);
  }
  refresh();
})();
