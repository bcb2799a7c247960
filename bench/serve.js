#!/usr/bin/env node
// Load test of serving (issue 24): one-row transform requests against a KL model (F=513, K=40).
//   node bench/serve.js [--quick] [--seconds 10] [--iters 50] [--memory-requests 100000] [--only http|library|memory]
// - HTTP: autocannon against `betanmf serve` (a child process) at 1, 16, 64 and 256 keep-alive
//   connections, batched (--max-batch 64) and unbatched (--max-batch 1), JSON bodies; .npy at 64.
// - library: createBatcher at 1, 16, 64 and 256 concurrent callers, and model.transform one call
//   at a time (the unbatched baseline: a model runs one transform at a time).
// - memory: the server's RSS after warm-up and after --memory-requests more requests.
// Latencies are measured per response (p50/p95/p99 in ms). Needs dist/ (npm run build:ts).
'use strict';
const { parseArgs } = require('node:util');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const b = require('../dist');
const { formatNpy } = require('../dist/npy-buffer');

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    iters: { type: 'string', default: '50' },
    'memory-requests': { type: 'string', default: '100000' },
    only: { type: 'string' },
  },
});
const seconds = Number(opt.seconds ?? (opt.quick ? 3 : 10));
const iters = Number(opt.iters);
const [F, K, N] = [513, 40, 3000];
const bin = path.join(__dirname, '..', 'bin', 'betanmf.js');

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
function summary(lat, count, secs) {
  lat.sort((x, y) => x - y);
  return { reqPerS: Math.round(count / secs), p50: +pct(lat, 0.5).toFixed(2), p95: +pct(lat, 0.95).toFixed(2), p99: +pct(lat, 0.99).toFixed(2) };
}
const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

async function startServer(dir, maxBatch) {
  const child = spawn(process.execPath, [bin, 'serve', dir, '--port', '0', '--max-batch', String(maxBatch), '--max-iter', String(iters),
    '--max-queue', '100000'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  return { child, url, stop: () => new Promise((r) => { child.removeAllListeners('exit'); child.on('exit', r); child.kill('SIGTERM'); }) };
}

/** autocannon for `secs` (or `amount` requests): requests/s and per-response latency percentiles. */
function load(url, connections, body, type, { secs, amount } = {}) {
  return new Promise((resolve, reject) => {
    const lat = [];
    let errors = 0;
    const t0 = performance.now();
    const inst = autocannon({
      url: `${url}/v1/transform`, method: 'POST', headers: { 'content-type': type }, body, connections, pipelining: 1,
      ...(amount ? { amount } : { duration: secs }),
    }, (err, res) => {
      if (err) return reject(err);
      const s = summary(lat, res.requests.total, (performance.now() - t0) / 1000);
      resolve({ ...s, non2xx: res.non2xx, errors: res.errors + errors });
    });
    inst.on('response', (_client, status, _bytes, ms) => {
      if (status === 200) lat.push(ms);
      else errors++;
    });
  });
}

async function main() {
  const X = b.syntheticSpectrogram(N, F, { components: K, seed: 1 });
  const model = await new b.BetaNMF({ nComponents: K, beta: 1, maxIter: 30, seed: 1 }).fit(X);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-bench-serve-'));
  await model.save(path.join(dir, 'model'));
  const row = (i) => new b.Matrix(X.data.slice(i * F, (i + 1) * F), 1, F);
  const json = JSON.stringify({ rows: row(7).toArray() });
  const npy = formatNpy(row(7));
  const info = { F, K, beta: 1, iterations: iters, cpu: os.cpus()[0].model, cores: os.cpus().length, loadavg: os.loadavg().map((x) => +x.toFixed(1)), seconds };
  console.log(JSON.stringify({ bench: 'serve', ...info }));

  if (!opt.only || opt.only === 'library') {
    // Unbatched baseline: one model, one transform at a time (fixed iterations, as the batcher).
    const fixed = new b.BetaNMF({ nComponents: K, beta: 1, tol: 0, maxIter: iters, W: model.W, init: 'custom', fixed: ['W'], onWarning: () => {} });
    let lat = [], n = 0, t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const t = performance.now();
      await fixed.transform(row(n++ % N));
      lat.push(performance.now() - t);
    }
    console.log(JSON.stringify({ library: 'model.transform, one at a time', callers: 1, ...summary(lat, n, (performance.now() - t0) / 1000) }));
    for (const callers of [1, 16, 64, 256]) {
      const batcher = b.createBatcher(model, { maxBatch: 64, maxDelayMs: 1, maxIter: iters, maxQueue: 100000 });
      lat = [];
      n = 0;
      t0 = performance.now();
      const end = t0 + seconds * 1000;
      await Promise.all(Array.from({ length: callers }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          await batcher.transform(row(n++ % N));
          lat.push(performance.now() - t);
        }
      }));
      const st = batcher.stats();
      console.log(JSON.stringify({ library: 'createBatcher maxBatch 64', callers, ...summary(lat, n, (performance.now() - t0) / 1000),
        rowsPerBatch: +(st.rows / st.batches).toFixed(1) }));
      await batcher.close();
    }
  }

  if (!opt.only || opt.only === 'http') {
    for (const maxBatch of [64, 1]) {
      const s = await startServer(path.join(dir, 'model'), maxBatch);
      await load(s.url, 16, json, 'application/json', { secs: 1 }); // warm-up
      for (const connections of [1, 16, 64, 256]) {
        const r = await load(s.url, connections, json, 'application/json', { secs: seconds });
        console.log(JSON.stringify({ http: maxBatch > 1 ? 'batched' : 'unbatched', maxBatch, body: 'json', connections, ...r }));
      }
      const r = await load(s.url, 64, npy, 'application/x-npy', { secs: seconds });
      console.log(JSON.stringify({ http: maxBatch > 1 ? 'batched' : 'unbatched', maxBatch, body: 'npy', connections: 64, ...r }));
      await s.stop();
    }
  }

  if (!opt.only || opt.only === 'memory') {
    const total = Number(opt['memory-requests']);
    const s = await startServer(path.join(dir, 'model'), 64);
    await load(s.url, 64, json, 'application/json', { amount: 20000 }); // warm-up
    const warm = rssOf(s.child.pid);
    const samples = [];
    for (let done = 0; done < total; done += total / 5) {
      await load(s.url, 64, json, 'application/json', { amount: total / 5 });
      samples.push(+rssOf(s.child.pid).toFixed(1));
    }
    console.log(JSON.stringify({ memory: 'server RSS MiB', afterWarmup20k: +warm.toFixed(1), requests: total, samples }));
    await s.stop();
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
