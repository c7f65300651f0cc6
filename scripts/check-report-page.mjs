// Opens a sloprober HTML page in headless Chromium and reports what a
// person would see, as JSON on stdout: console errors, every request the
// page made that did not stay on the page's own origin (file:// or
// 127.0.0.1), each chart with its data points and the coloured (series)
// pixels on its canvas, and the SLO table's rows (verdict, observed value). A screenshot
// goes to the path given.
//   node scripts/check-report-page.mjs URL SCREENSHOT.png   (needs target/browser-check)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'target/browser-check', 'package.json'));
const { chromium } = require('playwright-core');
const [url, screenshot] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-background-networking'],
});
const report = { console_errors: [], foreign_requests: [], charts: [], slos: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') report.console_errors.push(m.text()); });
  page.on('pageerror', (e) => report.console_errors.push('page error: ' + e.message));
  await page.route('**/*', (route) => {
    const target = route.request().url();
    if (target.startsWith('file://') || target.startsWith('http://127.0.0.1') || target.startsWith('data:')) return route.continue();
    report.foreign_requests.push(target);
    return route.abort();
  });
  await page.goto(url);
  await page.waitForSelector('body[data-drawn="true"]', { timeout: 15000 });
  report.charts = await page.evaluate(() => [...document.querySelectorAll('.chart')].map((box) => {
    const canvas = box.querySelector('canvas');
    let seriesPixels = 0;
    if (canvas) {
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      // Series are drawn in colours; axes, grid and threshold lines in greys and black.
      for (let i = 0; i < data.length; i += 4) {
        const hi = Math.max(data[i], data[i + 1], data[i + 2]);
        const lo = Math.min(data[i], data[i + 1], data[i + 2]);
        if (hi - lo > 60 && data[i + 3] > 200) seriesPixels++;
      }
    }
    return { title: box.dataset.chart, points: Number(box.dataset.points || 0), series_pixels: seriesPixels };
  }));
  report.slos = await page.evaluate(() => [...document.querySelectorAll('#slos tr[data-slo]')].map((row) => ({
    slo: row.dataset.slo, passed: row.dataset.passed === 'true', observed: row.children[2] ? row.children[2].innerText : '',
  })));
  report.text = await page.evaluate(() => document.body.innerText);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
