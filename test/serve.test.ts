// The HTTP server (serveModel, `betanmf serve`) with a real client over the loopback, on an
// ephemeral port: answers equal the library's, every error path, metrics, drain on SIGTERM.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as b from '../lib';
import { formatNpy, parseNpy } from '../lib/npy-buffer';

const F = 80, K = 10;
const X = b.syntheticSpectrogram(400, F, { components: K, seed: 11 });
const row = (i: number, n = 1) => new b.Matrix(X.data.slice(i * F, (i + n) * F), n, F);
const root = path.join(__dirname, '..');
const bin = path.join(root, 'bin', 'betanmf.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-serve-'));

const post = (url: string, body: string | Buffer, type = 'application/json') =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': type }, body });
const json = (m: b.Matrix) => JSON.stringify({ rows: m.toArray() });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits until `n` requests wait in the queue (a slow machine may take a while to deliver them). */
async function queued(read: () => Promise<number> | number, n: number): Promise<void> {
  for (let i = 0; i < 2000 && (await read()) < n; i++) await sleep(5);
  assert.equal(await read(), n);
}

async function hOf(res: Response): Promise<b.Matrix> {
  assert.equal(res.status, 200, await res.clone().text());
  if (res.headers.get('content-type') === 'application/x-npy') return parseNpy('H', Buffer.from(await res.arrayBuffer()));
  return b.matrix(((await res.json()) as { rows: number[][] }).rows);
}

describe('serveModel over HTTP', () => {
  let model: b.BetaNMF;
  let s: b.ModelServer;
  before(async () => {
    // tol 0: model.transform runs maxIter iterations, as the batcher does.
    model = await new b.BetaNMF({ nComponents: K, beta: 1, maxIter: 20, tol: 0, seed: 11 }).fit(X);
    s = await b.serveModel(model, { port: 0, maxDelayMs: 2, maxBodyBytes: 64 * 1024 });
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });
  after(() => s?.close());

  it('POST /v1/transform with JSON rows: H equals model.transform of the same rows, bit for bit (float32 values)', async () => {
    for (const [i, n] of [[0, 1], [7, 3]]) {
      const H = await hOf(await post(`${s.url}/v1/transform`, json(row(i, n))));
      const ref = await model.transform(row(i, n));
      assert.deepEqual(Float32Array.from(H.data), ref.data);
    }
  });

  it('POST /v1/transform with .npy (float32 and float64): H in the same form and dtype', async () => {
    const ref = await model.transform(row(3, 2));
    for (const dtype of ['float32', 'float64'] as const) {
      const Xd = dtype === 'float32' ? row(3, 2) : new b.Matrix(Float64Array.from(row(3, 2).data), 2, F);
      const res = await post(`${s.url}/v1/transform`, formatNpy(Xd), 'application/x-npy');
      assert.equal(res.headers.get('content-type'), 'application/x-npy');
      const H = await hOf(res);
      assert.equal(H.dtype, dtype);
      assert.deepEqual(Float32Array.from(H.data), ref.data);
    }
  });

  it('concurrent clients are batched; each answer is its own rows\' (within the batcher\'s rounding bound)', async () => {
    const before = s.batcher.stats().batches;
    const answers = await Promise.all(Array.from({ length: 48 }, (_, i) => post(`${s.url}/v1/transform`, json(row(100 + i))).then(hOf)));
    assert.ok(s.batcher.stats().batches - before < 48, 'fewer native calls than requests');
    for (let i = 0; i < 48; i += 7) {
      const ref = await model.transform(row(100 + i));
      const scale = Math.max(...ref.data);
      ref.data.forEach((v, k) => assert.ok(Math.abs(v - answers[i].data[k]) <= 1e-4 * scale));
    }
  });

  it('POST /v1/inverse-transform: H·Wᵀ as model.inverseTransform, JSON and .npy', async () => {
    const H = await model.transform(row(5, 2));
    const ref = model.inverseTransform(H);
    assert.deepEqual(Float32Array.from((await hOf(await post(`${s.url}/v1/inverse-transform`, json(H)))).data), ref.data);
    assert.deepEqual((await hOf(await post(`${s.url}/v1/inverse-transform`, formatNpy(H), 'application/x-npy'))).data, ref.data);
  });

  it("bad input is a 400 with the library's message as JSON; the server goes on", async () => {
    const expectError = async (res: Response, status: number, message: string | RegExp) => {
      assert.equal(res.status, status);
      assert.equal(res.headers.get('content-type'), 'application/json');
      const body = (await res.json()) as { error: string };
      if (typeof message === 'string') assert.equal(body.error, message);
      else assert.match(body.error, message);
    };
    const wrong = row(0);
    const narrow = new b.Matrix(new Float32Array(3).fill(1), 1, 3);
    const message = async (Xb: b.Matrix) => (await model.transform(Xb).then(() => '', (e: Error) => e.message));
    await expectError(await post(`${s.url}/v1/transform`, json(narrow)), 400, await message(narrow));
    wrong.data[5] = -2;
    await expectError(await post(`${s.url}/v1/transform`, json(wrong)), 400, await message(wrong));
    wrong.data[5] = NaN;
    await expectError(await post(`${s.url}/v1/transform`, formatNpy(wrong), 'application/x-npy'), 400, await message(wrong));
    await expectError(await post(`${s.url}/v1/transform`, '{"rows": [[1, 2], [3]]}'), 400, /^data/);
    await expectError(await post(`${s.url}/v1/transform`, '{"rows": 3}'), 400, /^rows: expected a non-empty array of rows/);
    await expectError(await post(`${s.url}/v1/transform`, '{"rows": [[1'), 400, /^the body is not JSON/);
    await expectError(await post(`${s.url}/v1/transform`, Buffer.from('not npy'), 'application/x-npy'), 400, /^X: expected a 2-D float32 or float64/);
    await expectError(await post(`${s.url}/v1/inverse-transform`, json(row(0))), 400, /^H: expected 10 columns/);
    await expectError(await post(`${s.url}/v1/transform`, 'a,b', 'text/csv'), 415, /^Content-Type: expected application\/json or application\/x-npy/);
    await expectError(await fetch(`${s.url}/v2/transform`), 404, /^no route GET \/v2\/transform/);
    const wrongMethod = await fetch(`${s.url}/v1/transform`);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    await expectError(wrongMethod, 405, '/v1/transform takes POST, received GET');
    // Over maxBodyBytes (64 KiB): 413, and the connection is not reused.
    const big = await post(`${s.url}/v1/transform`, json(row(0, 200)));
    assert.equal(big.headers.get('connection'), 'close');
    await expectError(big, 413, /limit is 65536 bytes/);
    assert.equal((await hOf(await post(`${s.url}/v1/transform`, json(row(1))))).rows, 1);
  });

  it('a full queue is a 503 with Retry-After; GET /healthz; GET /metrics in the Prometheus text format', async () => {
    const small = await b.serveModel(model, { port: 0, maxDelayMs: 1000, maxQueue: 1 });
    try {
      const first = post(`${small.url}/v1/transform`, json(row(1)));
      await queued(() => small.batcher.stats().queued, 1);
      const full = await post(`${small.url}/v1/transform`, json(row(2)));
      assert.equal(full.status, 503);
      assert.equal(full.headers.get('retry-after'), '1');
      assert.match(((await full.json()) as { error: string }).error, /queue is full \(maxQueue = 1/);
      assert.equal((await first).status, 200);
      const health = await fetch(`${small.url}/healthz`);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const m = await fetch(`${small.url}/metrics`);
      assert.match(m.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
      const text = await m.text();
      for (const line of [
        'betanmf_http_requests_total{route="/v1/transform",code="200"} 1',
        'betanmf_http_requests_total{route="/v1/transform",code="503"} 1',
        'betanmf_http_errors_total 1',
        'betanmf_batch_rows_bucket{le="1"} 1',
        'betanmf_batch_rows_count 1',
        'betanmf_queue_requests 0',
        'betanmf_transform_requests_total{outcome="queueFull"} 1',
        'betanmf_http_request_duration_seconds_count{route="/v1/transform"} 2',
      ]) assert.ok(text.includes(`${line}\n`), `${line} in\n${text}`);
      // Every sample line is a name, optional labels and a number.
      for (const l of text.split('\n').filter((x) => x && !x.startsWith('#'))) assert.match(l, /^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/);
    } finally {
      await small.close();
    }
  });

  it('close() answers the requests in flight, then refuses and stops listening', async () => {
    const d = await b.serveModel(model, { port: 0, maxDelayMs: 10_000 });
    const inFlight = [1, 2, 3].map((i) => post(`${d.url}/v1/transform`, json(row(i))));
    await queued(() => d.batcher.stats().queued, 3);
    await d.close(); // does not wait out maxDelayMs
    for (const r of await Promise.all(inFlight)) assert.equal(r.status, 200);
    await assert.rejects(fetch(`${d.url}/healthz`));
  });
});

describe('betanmf serve (the command)', function () {
  this.timeout(120000);
  const dir = path.join(tmp, 'model');
  before(async function () {
    if (!fs.existsSync(path.join(root, 'dist', 'cli', 'serve.js'))) {
      // bin/betanmf.js runs dist/ (npm test builds it first with tsc).
      const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
    const model = await new b.BetaNMF({ nComponents: K, beta: 1, maxIter: 10, tol: 0, seed: 11 }).fit(X);
    await model.save(dir);
  });

  /** Starts the command; resolves with the child and the URL it printed. */
  function start(...args: string[]): Promise<{ child: ChildProcess; url: string; out: () => string; err: () => string }> {
    const child = spawn(process.execPath, [bin, 'serve', dir, '--port', '0', ...args], { env: { ...process.env, BETANMF_DEVICE: '' } });
    let out = '', err = '';
    child.stderr!.on('data', (c) => (err += c));
    return new Promise((resolve, reject) => {
      child.stdout!.on('data', (c) => {
        out += c;
        const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
        if (url) resolve({ child, url, out: () => out, err: () => err });
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code} before listening: ${err}`)));
    });
  }
  const exited = (child: ChildProcess) => new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

  it('prints the URL, answers as the library does, and on SIGTERM drains the requests in flight and exits 0', async () => {
    const { child, url, out, err } = await start('--max-delay-ms', '10000', '--max-batch', '8', '--threads', '1');
    assert.match(out(), new RegExp(`^betanmf serve: ${dir.replace(/[/\\.]/g, '\\$&')} \\(F=80, K=10, β=1\\) listening on http://127\\.0\\.0\\.1:\\d+\n$`));
    const model = await b.BetaNMF.load(dir);
    // 8 rows fill a batch at once (--max-batch 8), without waiting out --max-delay-ms.
    const H = await hOf(await post(`${url}/v1/transform`, json(row(4, 8))));
    assert.deepEqual(Float32Array.from(H.data), (await model.transform(row(4, 8))).data);
    const end = exited(child);
    const inFlight = [10, 11, 12].map((i) => post(`${url}/v1/transform`, json(row(i))));
    const depth = async () => Number(/^betanmf_queue_requests (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())![1]);
    await queued(depth, 3); // waiting out --max-delay-ms, until the signal
    child.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200]);
    assert.equal(await end, 0);
    assert.match(err(), /SIGTERM: answering the requests in flight/);
  });

  it('SIGINT drains too; bad flags are usage errors', async () => {
    const { child } = await start();
    const end = exited(child);
    child.kill('SIGINT');
    assert.equal(await end, 0);
    const r = spawnSync(process.execPath, [bin, 'serve', dir, '--max-batch', '0'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^betanmf: --max-batch: expected an integer ≥ 1, received 0/);
    const missing = spawnSync(process.execPath, [bin, 'serve', path.join(tmp, 'nothing')], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^betanmf: .*nothing/);
  });

  it("docs/serving.md's curl example runs as written", function () {
    const page = fs.readFileSync(path.join(root, 'docs', 'serving.md'), 'utf8');
    const block = /<!-- not run: [^\n]*test\/serve\.test\.ts[^\n]*-->\n```sh\n([\s\S]*?)\n```/.exec(page)?.[1];
    assert.ok(block, 'the curl block, marked as run by this test');
    if (spawnSync('curl', ['--version']).status !== 0) this.skip();
    const cwd = fs.mkdtempSync(path.join(tmp, 'docs-'));
    // `npx betanmf` is this package's bin, as in a project that installed it.
    const shim = path.join(cwd, 'bin');
    fs.mkdirSync(shim);
    fs.writeFileSync(path.join(shim, 'npx'), `#!/bin/sh\nshift\nexec "${process.execPath}" "${bin}" "$@"\n`, { mode: 0o755 });
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', block!], { cwd, encoding: 'utf8', timeout: 60000, env: { ...process.env, PATH: `${shim}:${process.env.PATH}` } });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /"rows":\[\[/);
  });
});
