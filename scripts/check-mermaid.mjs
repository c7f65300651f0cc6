// Renders every ```mermaid block of Markdown files with the real Mermaid
// library in headless Chromium (as GitHub renders them in comments and step
// summaries) and fails when a block does not parse, draws no line, logs a
// console error or makes any request at all.
//   node scripts/check-mermaid.mjs FILE.md...   (needs target/browser-check: scripts/install-test-tools.sh)
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules = join(root, 'target/browser-check');
const require = createRequire(join(modules, 'package.json'));
const { chromium } = require('playwright-core');
const mermaidScript = join(modules, 'node_modules/mermaid/dist/mermaid.min.js');

const blocks = [];
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(/```mermaid\n([\s\S]*?)```/g)) blocks.push({ file, text: match[1] });
}
if (blocks.length === 0) {
  console.error('no mermaid blocks in ' + process.argv.slice(2).join(', '));
  process.exit(1);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-background-networking'],
});
const problems = [];
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  await page.route('**/*', (route) => { problems.push('request: ' + route.request().url()); return route.abort(); });
  await page.setContent('<!doctype html><html><body></body></html>');
  await page.addScriptTag({ content: readFileSync(mermaidScript, 'utf8') });
  const results = await page.evaluate(async (blocks) => {
    window.mermaid.initialize({ startOnLoad: false });
    const out = [];
    for (const [i, block] of blocks.entries()) {
      try {
        const { svg } = await window.mermaid.render('chart' + i, block.text);
        const holder = document.createElement('div');
        holder.innerHTML = svg;
        document.body.appendChild(holder);
        const lines = [...holder.querySelectorAll('g[class^="line-plot"] path')].filter((p) => (p.getAttribute('d') || '').includes('L'));
        const title = holder.querySelector('text')?.textContent || '';
        out.push({ file: block.file, lines: lines.length, title });
      } catch (e) {
        out.push({ file: block.file, error: String(e && e.message || e) });
      }
    }
    return out;
  }, blocks);
  for (const r of results) {
    if (r.error) problems.push(`${r.file}: does not render: ${r.error}`);
    else if (r.lines === 0) problems.push(`${r.file}: "${r.title}" drew no line`);
    else console.log(`rendered: ${r.file}: "${r.title}", ${r.lines} line(s)`);
  }
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`mermaid ok: ${blocks.length} chart(s)`);
