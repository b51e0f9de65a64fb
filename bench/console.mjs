// Figures of the operator console, printed (never pass/fail):
//  - its size: every file as served, identity, gzip and brotli;
//  - time to first render of the inbox with 10,000 entries in the database
//    (navigation start to the first entry on screen; median of 5 in
//    headless chromium);
//  - the requests one inbox page view makes.
//
//   node bench/console.mjs [path/to/switchboard]   (default build-tests/switchboard)
// Needs Debian's chromium and playwright-core (deploy/dev.sh test installs
// both; SB_PLAYWRIGHT_CORE / SB_CHROMIUM override where they are).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { request } from 'node:http';
import net from 'node:net';
import path from 'node:path';

const require = createRequire(import.meta.url);
const tools = process.env.SB_TOOLS_DIR || path.join(homedir(), '.cache/switchboard/tools');
const { chromium } = require(process.env.SB_PLAYWRIGHT_CORE || path.join(tools, 'playwright/node_modules/playwright-core'));
const binary = process.argv[2] || 'build-tests/switchboard';
const TOKEN = 'bench-console-token';
const ENTRIES = 10000;
const RUNS = 5;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(base, child) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`switchboard exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('switchboard did not answer /healthz');
}

async function post(base, pathname, body) {
  const r = await fetch(base + pathname, {
    method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${pathname}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

async function seed(base) {
  const customers = [];
  for (let i = 0; i < 50; i++) {
    customers.push((await post(base, '/api/crm/customers', { name: `Customer ${i}`, phone: `+4420794${String(60000 + i)}` })).id);
  }
  let next = 0;
  const start = Date.UTC(2026, 0, 1);
  async function worker() {
    while (next < ENTRIES) {
      const i = next++;
      await post(base, '/api/crm/calls/log', {
        customer_id: customers[i % customers.length], direction: i % 3 ? 'inbound' : 'outbound',
        duration_seconds: (i * 37) % 900, notes: `bench call ${i}`,
        occurred_at: new Date(start + i * 60000).toISOString(),
      });
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
}

/// Every file of console/ as served (the page at / is index.html).
async function sizes(base) {
  const all = ['/', ...readdirSync(new URL('../console/', import.meta.url)).filter((f) => f !== 'index.html').map((f) => `/console/${f}`)];
  const total = { identity: 0, gzip: 0, br: 0 };
  for (const f of all) {
    for (const coding of ['identity', 'gzip', 'br']) total[coding] += await encodedSize(base + f, coding);
  }
  return { files: all.length, ...total };
}

/// Bytes on the wire (node:http does not decode, unlike fetch).
function encodedSize(url, coding) {
  return new Promise((resolve, reject) => {
    request(url, { headers: { 'Accept-Encoding': coding } }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; });
      res.on('end', () => resolve(n));
    }).on('error', reject).end();
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-console-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(binary, [`--db.url=sqlite:${dir}/bench.db`, `--http.listen=127.0.0.1:${port}`, '--log.level=warning'], {
    env: { PATH: process.env.PATH, SWITCHBOARD_HTTP_TOKEN: TOKEN }, stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitHealthy(base, child);
    const seeded = Date.now();
    await seed(base);
    console.log(`seeded ${ENTRIES} entries in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);
    const size = await sizes(base);
    console.log(`console size: ${size.files} files, ${size.identity} bytes, gzip ${size.gzip} bytes, brotli ${size.br} bytes`);

    const browser = await chromium.launch({ executablePath: process.env.SB_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
    const times = [];
    let requests = [];
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext();
      await context.addInitScript((t) => sessionStorage.setItem('switchboard.token', t), TOKEN);
      const page = await context.newPage();
      const seen = [];
      page.on('request', (r) => seen.push(`${r.method()} ${new URL(r.url()).pathname}`));
      await page.goto(`${base}/#/inbox`);
      await page.locator('.entry').first().waitFor();
      const ms = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        return performance.now() - nav.startTime;
      });
      times.push(ms);
      await page.waitForLoadState('networkidle').catch(() => {});
      if (run === 0) requests = seen;
      await context.close();
    }
    await browser.close();
    console.log(`inbox first render with ${ENTRIES} entries: median ${median(times).toFixed(0)} ms of ${RUNS} (${times.map((t) => t.toFixed(0)).join(', ')})`);
    const byRoute = new Map();
    for (const r of requests) {
      const key = r.replace(/\/\d+$/, '/{id}');
      byRoute.set(key, (byRoute.get(key) || 0) + 1);
    }
    const listed = [...byRoute].map(([k, n]) => (n > 1 ? `${k} x${n}` : k)).join(', ');
    console.log(`requests of one inbox page view: ${requests.length} (${listed})`);
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
