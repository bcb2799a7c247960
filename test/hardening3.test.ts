// Hardening, round three (issue 27, items 4–12): models loaded unchecked, a restarted Redis,
// files deleted or mixed, hangs, and messages. Each test covers the class of its reproduction.
// CLI tests spawn the compiled package (dist/, built by `npx tsc -p tsconfig.json`).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BetaNMF, matrix, syntheticSpectrogram, writeNpySync, type Matrix } from '../lib';

const bin = path.join(__dirname, '..', 'bin', 'betanmf.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-h3-'));

function cli(args: string[], timeout = 120000) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout, env: { ...process.env, BETANMF_DEVICE: '' } });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

/** cli() without blocking the event loop (for commands that need this process's queue worker). */
async function cliAsync(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, BETANMF_DEVICE: '' } });
  let [out, err] = ['', ''];
  child.stdout.on('data', (b) => { out += b; });
  child.stderr.on('data', (b) => { err += b; });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, out, err };
}

const X = syntheticSpectrogram(60, 12, { components: 3, seed: 5 });
const xNpy = path.join(tmp, 'X.npy');
writeNpySync(xNpy, X);

/** A folder's entries, recursively (relative paths, sorted). */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('hardening 3: a folder holding files we did not write is never replaced, hidden ones included (item 6)', function () {
  this.timeout(120000);

  for (const hidden of [['.git', 'HEAD'], ['.notes'], ['.cache', '.x', 'y']]) {
    it(`save({ overwrite: true }) and fit --force keep a folder holding ${hidden[0]}`, async () => {
      const model = new BetaNMF({ nComponents: 2, maxIter: 2, seed: 1 });
      await model.fit(X);
      for (const how of ['save', 'cli'] as const) {
        const dir = path.join(tmp, `hidden-${how}-${hidden[0].slice(1)}`);
        if (how === 'save') await model.save(dir);
        else assert.equal(cli(['fit', xNpy, '-k', '2', '--max-iter', '2', '--out', dir, '--no-progress']).code, 0);
        const file = path.join(dir, ...hidden);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, 'not ours');
        const before = tree(dir);
        if (how === 'save') {
          await assert.rejects(model.save(dir, { overwrite: true }), new RegExp(`holds other files \\(${hidden[0].replace('.', '\\.')}\\)`));
        } else {
          const r = cli(['fit', xNpy, '-k', '2', '--max-iter', '2', '--out', dir, '--force', '--no-progress']);
          assert.equal(r.code, 2, r.err);
          assert.match(r.err, new RegExp(`holds other files \\(${hidden[0].replace('.', '\\.')}\\)`));
        }
        assert.deepEqual(tree(dir), before);
        assert.equal(fs.readFileSync(file, 'utf8'), 'not ours');
      }
    });
  }
});

describe('hardening 3: inputs that are not regular files are refused up front, nothing blocks (item 8)', function () {
  this.timeout(120000);
  const fifo = (name: string) => {
    const file = path.join(tmp, name);
    if (!fs.existsSync(file)) assert.equal(spawnSync('mkfifo', [file]).status, 0, 'mkfifo');
    return file;
  };
  const notRegular = /is not a regular file \(a pipe, socket or device\)/;

  it('the readers refuse a FIFO (no writer) at once: readNpy, readNpyLayout, readNpyRows, readNpySync, readCsv', async () => {
    const { readNpy, readNpyLayout, readNpyRows, readNpySync, readCsv, DataFileError } = await import('../lib/io');
    const npy = fifo('pipe.npy'), csv = fifo('pipe.csv');
    for (const read of [() => readNpy(npy), () => readNpyLayout(npy), () => readNpyRows(npy, 0, 1), async () => readNpySync(npy), () => readCsv(csv)]) {
      await assert.rejects(read(), (e: Error) => e instanceof DataFileError && notRegular.test(e.message));
    }
  });

  it('betanmf fit / transform / --weights / --w-init on a FIFO exit 2 at once with one line', () => {
    const npy = fifo('pipe2.npy');
    const W = path.join(tmp, 'W-ok.npy');
    writeNpySync(W, matrix(new Float32Array(12 * 2).fill(0.5), 12, 2));
    for (const args of [['fit', npy, '-k', '2', '--out', path.join(tmp, 'fifo-out')],
      ['fit', xNpy, '-k', '2', '--weights', npy, '--out', path.join(tmp, 'fifo-out')],
      ['fit', xNpy, '-k', '2', '--w-init', npy, '--out', path.join(tmp, 'fifo-out')],
      ['transform', npy, '--w', W, '--out', path.join(tmp, 'fifo-H.npy')],
      ['transform', xNpy, '--w', npy, '--out', path.join(tmp, 'fifo-H.npy')]]) {
      const t0 = Date.now();
      const r = cli(args, 20000);
      assert.equal(r.signal, null, `${args.join(' ')}: hung`);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, notRegular);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.ok(Date.now() - t0 < 15000);
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'fifo-out')));
  });
});

describe('hardening 3: dispose, save and toJSON while a call runs are refused, never half done (item 11)', function () {
  this.timeout(120000);
  const big = syntheticSpectrogram(1500, 120, { components: 6, seed: 9 });
  const running = /BetaNMF: a fit, partialFit or save of this model is still running; await it \(or abort it through its signal\) first/;

  for (const call of ['fit', 'partialFit'] as const) {
    it(`during ${call}: dispose() and toJSON() throw, save() rejects and writes nothing; all work once it ends`, async () => {
      const model = new BetaNMF({ nComponents: 6, maxIter: 100000, tol: 0, seed: 3, onWarning: () => {} });
      const ac = new AbortController();
      const pending = call === 'fit' ? model.fit(big, { signal: ac.signal }) : model.partialFit(big, { signal: ac.signal });
      const dir = path.join(tmp, `during-${call}`);
      assert.throws(() => model.dispose(), running);
      assert.throws(() => model.toJSON(), running);
      assert.throws(() => JSON.stringify(model), running);
      await assert.rejects(model.save(dir), running);
      assert.ok(!fs.existsSync(dir), 'save wrote a folder during the call');
      if (call === 'fit') {
        await new Promise((r) => setTimeout(r, 300));
        assert.throws(() => model.dispose(), running, 'between slices too');
      }
      if (call !== 'partialFit') ac.abort(); // one partialFit is one epoch: let it end
      await pending.catch(() => {});
      // The aborted call left consistent factors; they save and load back whole.
      assert.ok(model.nIter > 0 && model.W, `${call} ran`);
      await model.save(dir);
      const back = await BetaNMF.load(dir);
      assert.deepEqual(Array.from(back.W!.toTypedArray()), Array.from(model.W!.toTypedArray()));
      assert.equal(back.nIter, model.nIter);
      model.dispose();
      assert.equal(model.W, undefined);
    });
  }

  it('during transform: save(), toJSON() and dispose() work (a transform only reads); it ends with the W it started with', async () => {
    const model = await new BetaNMF({ nComponents: 6, maxIter: 20, tol: 0, seed: 3, onWarning: () => {} }).fit(big);
    const alone = await model.transform(big);
    const pending = model.transform(big);
    const dir = path.join(tmp, 'during-transform');
    await model.save(dir);
    assert.equal((await BetaNMF.load(dir)).nIter, model.nIter);
    assert.ok(JSON.stringify(model).length > 0);
    model.dispose();
    assert.equal(model.W, undefined);
    assert.deepEqual(Array.from((await pending).toTypedArray()), Array.from(alone.toTypedArray()));
  });

  it('a fit started while save() writes is refused with the same message (save holds the model)', async () => {
    const model = new BetaNMF({ nComponents: 6, maxIter: 3, seed: 3 });
    await model.fit(big);
    const saving = model.save(path.join(tmp, 'saving'));
    await assert.rejects(model.fit(big), running);
    await saving;
    assert.ok(fs.existsSync(path.join(tmp, 'saving', 'W.npy')));
  });
});

describe('hardening 3: saved models are checked field by field on load, file and field named (item 4)', function () {
  this.timeout(120000);
  let json: ReturnType<BetaNMF['toJSON']>;
  let model: BetaNMF;
  before(async () => {
    model = await new BetaNMF({ nComponents: 3, maxIter: 5, seed: 4 }).fit(X);
    json = model.toJSON();
  });
  const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  const f32 = (n: number, v = 0.5) => new Float32Array(n).fill(v);
  const with1 = (i: number, v: number, n = 36) => { const a = f32(n); a[i] = v; return a; };
  const v1 = () => {
    const { W, H, ...rest } = json;
    void W;
    void H;
    return { ...rest, version: 1, W: { rows: 12, cols: 3, dtype: 'float32', data: Array.from(model.W!.toTypedArray()) },
      H: { rows: 60, cols: 3, dtype: 'float32', data: Array.from(model.H!.toTypedArray()) } };
  };
  const W = () => json.W as { dtype: string; shape: number[]; encoding: string; data: string };
  // [what, a change to the saved model, the message]: each a model that loaded before and failed later or wrongly.
  const cases: [string, () => object, RegExp][] = [
    ['W contradicting nComponents', () => ({ ...json, W: { ...W(), shape: [18, 2] } }), /W: expected 3 columns \(options\.nComponents\), received 18×2/],
    ['H contradicting nComponents', () => ({ ...json, options: { ...json.options, nComponents: 4 } }), /W: expected 4 columns \(options\.nComponents\), received 12×3/],
    ['NaN in W', () => ({ ...json, W: { ...W(), data: b64(with1(7, NaN)) } }), /W: expected finite values ≥ 0, received NaN at row 2, column 1/],
    ['negative in W', () => ({ ...json, W: { ...W(), data: b64(with1(0, -1)) } }), /W: expected finite values ≥ 0, received -1 at row 0, column 0/],
    ['Infinity in H', () => ({ ...json, H: { ...(json.H as object), data: b64(with1(5, Infinity, 180)) } }), /H: expected finite values ≥ 0, received Infinity/],
    ['junk base64', () => ({ ...json, W: { ...W(), data: '!'.repeat(W().data.length) } }), /W\.data: expected base64 text/],
    ['base64 with spaces inside', () => ({ ...json, W: { ...W(), data: W().data.slice(0, 8) + ' ' + W().data.slice(9) } }), /W\.data: expected base64 text/],
    ['non-integer shape', () => ({ ...json, W: { ...W(), shape: [12.5, 3] } }), /W\.shape: expected two integers ≥ 1/],
    ['version 1 of strings', () => { const o = v1(); o.W.data = o.W.data.map(String) as unknown as number[]; return o; }, /W\.data\[0\]: expected a number, received the string/],
    ['version 1 of the wrong length', () => { const o = v1(); o.H.data = o.H.data.slice(1); return o; }, /H\.data: expected 60×3 = 180 numbers, received 179/],
    ['version 1 with NaN', () => { const o = v1(); o.W.data[3] = NaN; return o; }, /W(: expected finite values ≥ 0, received NaN|\.data\[3\]: expected a number, received null)/], // JSON text has null
    ['history not an array', () => ({ ...json, history: {} }), /history: expected an array/],
    ['history entry without seconds', () => ({ ...json, history: [{ epoch: 0, cost: 1 }] }), /history\[0\]\.seconds: expected a finite number ≥ 0/],
    ['history past nIter', () => ({ ...json, history: [{ epoch: 99, seconds: 0 }] }), /history\[0\]\.epoch: expected an integer in \[0, nIter = 5\]/],
    ['nIter negative', () => ({ ...json, nIter: -2 }), /nIter: expected an integer ≥ 0/],
    ['fitted without W', () => ({ ...json, W: null }), /W: expected the fitted bases \(nIter is 5\), received null/],
    ['seed a string', () => ({ ...json, seed: '4' }), /seed: expected an integer in \[0, 2³²\)/],
    ['options missing', () => ({ ...json, options: null }), /options: expected an object/],
    ['options with a bad beta', () => ({ ...json, options: { ...json.options, beta: 'x' } }), /options\.beta/],
    ['options with an unknown solver', () => ({ ...json, options: { ...json.options, solver: 'sgd' } }), /options\.solver/],
    ['factor form a number', () => ({ ...json, H: 7 }), /H: expected a saved matrix/],
  ];

  for (const [what, change, message] of cases) {
    it(`fromJSON and load refuse ${what}`, async () => {
      const bad = change();
      for (const source of [bad, JSON.stringify(bad)]) {
        assert.throws(() => BetaNMF.fromJSON(source as never), (e: Error) => (e instanceof TypeError || e instanceof RangeError) &&
          /^json[.:]/.test(e.message) && message.test(e.message), what);
      }
      // The same object as a saved folder's model.json (factors inline) names the file.
      const dir = path.join(tmp, `bad-model-${what.replace(/\W+/g, '-')}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(bad));
      await assert.rejects(BetaNMF.load(dir), (e: Error) => e.message.startsWith(path.join(dir, 'model.json') + ': ') && message.test(e.message));
    });
  }

  it("load checks the .npy factors too: a W.npy contradicting nComponents, or holding NaN or negatives, names the file", async () => {
    const dir = path.join(tmp, 'npy-factors');
    await model.save(dir);
    const Wnpy = path.join(dir, 'W.npy');
    for (const [m, message] of [
      [matrix(f32(12 * 2), 12, 2), /W\.npy: expected W with 3 columns \(options\.nComponents in .*model\.json\), received 12×2/],
      [matrix(with1(4, NaN), 12, 3), /W\.npy: expected finite values ≥ 0, received NaN at row 1, column 1/],
      [matrix(with1(35, -0.25), 12, 3), /W\.npy: expected finite values ≥ 0, received -0\.25 at row 11, column 2/],
    ] as [Matrix, RegExp][]) {
      writeNpySync(Wnpy, m);
      await assert.rejects(BetaNMF.load(dir), (e: Error) => e instanceof RangeError && e.message.startsWith(Wnpy) && message.test(e.message));
    }
  });

  it('well-formed models still load: version 2, version 1, unfitted, saved folders', async () => {
    for (const source of [json, JSON.stringify(json), v1()]) {
      const back = BetaNMF.fromJSON(source as never);
      assert.deepEqual(Array.from(back.W!.toTypedArray()), Array.from(model.W!.toTypedArray()));
    }
    assert.equal(BetaNMF.fromJSON(new BetaNMF({ nComponents: 2, solver: 'asg_mu' }).toJSON()).W, undefined);
    const dir = path.join(tmp, 'good-model');
    await model.save(dir);
    assert.equal((await BetaNMF.load(dir)).nIter, 5);
  });
});

describe('hardening 3: bad values are usage errors (exit 2) found before any work (item 10)', function () {
  this.timeout(180000);
  const W = path.join(tmp, 'W10.npy');
  before(() => writeNpySync(W, matrix(new Float32Array(12 * 2).fill(0.5), 12, 2)));

  it("an empty file or folder path is refused by name, whichever command and option", () => {
    for (const args of [['fit', xNpy, '-k', '2', '--out', ''], ['fit', xNpy, '-k', '2', '--out', path.join(tmp, 'e1'), '--plot', ''],
      ['fit', xNpy, '-k', '2', '--out', path.join(tmp, 'e1'), '--weights', ''], ['transform', xNpy, '--w', '', '--out', path.join(tmp, 'e.npy')],
      ['transform', xNpy, '--w', W, '--out', ''], ['plot', path.join(tmp, 'nothing.json'), '--out', ''],
      ['submit', 'fit', xNpy, '-k', '2', '--out', '', '--redis', 'redis://127.0.0.1:1']]) {
      const r = cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^betanmf: --[\w-]+: expected a (file|folder) path, received an empty string\n$/, args.join(' '));
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'e1')));
  });

  it('--tol below 0 is exit 2 for fit and transform (it was exit 1, from the library)', () => {
    for (const args of [['fit', xNpy, '-k', '2', '--tol', '-1', '--out', path.join(tmp, 't1')], ['transform', xNpy, '--w', W, '--tol', '-0.5', '--out', path.join(tmp, 't.npy')]]) {
      const r = cli(args);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /^betanmf: --tol: expected a number ≥ 0, received -/);
    }
  });

  it('outputs where nothing can be created (/proc) are refused before the fit runs, nothing written', () => {
    for (const [args, message] of [
      [['fit', xNpy, '-k', '2', '--out', path.join(tmp, 'p1'), '--plot', '/proc/cost.svg'], /--plot \/proc\/cost\.svg: cannot create files in \/proc/],
      [['fit', xNpy, '-k', '2', '--out', '/proc/betanmf-out'], /--out \/proc\/betanmf-out: cannot create files in \/proc/],
      [['transform', xNpy, '--w', W, '--out', '/proc/H.npy'], /--out \/proc\/H\.npy: cannot create files in \/proc/],
    ] as [string[], RegExp][]) {
      const r = cli([...args, '--no-progress'].filter((a) => a !== '--no-progress' || args[0] === 'fit'));
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.doesNotMatch(r.err, /epoch|tmp/);
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'p1')), 'the fit folder was written although the plot could not be');
  });

  it('save() to a place where nothing can be created rejects before writing', async () => {
    const model = await new BetaNMF({ nComponents: 2, maxIter: 2, seed: 1 }).fit(X);
    await assert.rejects(model.save('/proc/betanmf-model'), /\/proc\/betanmf-model: cannot create files in \/proc/);
  });

  it('bench --shape too large says so (a RangeError about the size), not "Invalid typed array length"', () => {
    for (const shape of ['100000x100000x1000', '2000000x3000x10', '10x10x1000000000']) {
      const r = cli(['bench', '--shape', shape, '--iters', '1'], 60000);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, new RegExp(`^betanmf: --shape: expected (at most \\d+ values in one matrix|a problem that fits in memory), received ${shape}`));
      assert.doesNotMatch(r.err, /Invalid typed array/);
    }
  });
});

describe('hardening 3: the queue (Redis)', function () {
  this.timeout(120000);
  // eslint-disable-next-line @typescript-eslint/consistent-type-imports
  let Q: typeof import('../lib/queue');
  let url = '';
  let stop = () => {};
  const cleanups: (() => Promise<void> | void)[] = [];
  let unique = 0;
  const queueName = () => `h3-${process.pid}-${Date.now().toString(36)}-${unique++}`;

  before(async function () {
    const { findRedis, redisRequired } = await import('./support/redis');
    const redis = await findRedis();
    if (!redis) {
      if (redisRequired()) throw new Error('no Redis reachable and no redis-server to start (CI must run these tests)');
      this.skip();
    }
    [url, stop] = [redis!.url, redis!.stop];
    Q = await import('../lib/queue');
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  after(() => stop());

  async function setup(concurrency = 1, connection = url) {
    const name = queueName();
    const q = new Q.FitQueue({ connection, queue: name });
    cleanups.push(async () => {
      await q.obliterate();
      await q.close();
    });
    const start = async () => {
      const w = await Q.startWorker({ connection, queue: name, concurrency, lockDuration: 2000, stalledInterval: 500 });
      cleanups.push(() => w.close());
      return w;
    };
    return { q, name, start };
  }

  /** A redis-server of this test's own on a free port (FLUSHALL and restarts touch nobody else's data). */
  async function ownRedis(): Promise<{ url: string; port: number; kill: () => Promise<void>; start: () => Promise<void> }> {
    const net = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const { spawn } = await import('node:child_process');
    let server: ReturnType<typeof spawn> | undefined;
    const own = `redis://127.0.0.1:${port}`;
    const start = async () => {
      server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      for (let i = 0; i < 50; i++) {
        try {
          await Q.checkReachable(own, 500);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error('redis-server did not start');
    };
    const kill = async () => {
      const s = server;
      if (!s || s.exitCode !== null) return;
      await new Promise((r) => { s.once('exit', r); s.kill('SIGKILL'); });
    };
    await start();
    cleanups.push(kill);
    return { url: own, port, kill, start };
  }

  const wNpy = path.join(tmp, 'W-queue.npy');
  before(() => writeNpySync(wNpy, matrix(new Float32Array(12 * 2).fill(0.5), 12, 2)));

  const hasRedisServer = () => spawnSync('redis-server', ['--version']).status === 0;

  it('item 5: after a Redis restart without persistence reuses a job id, handles follow only their own job', async function () {
    if (!hasRedisServer()) this.skip();
    const r = await ownRedis();
    const { q, start } = await setup(1, r.url);
    const mine = await q.submitFit({ input: xNpy, out: path.join(tmp, 'restart-mine'), options: { nComponents: 2, maxIter: 5, seed: 1 } });
    const waiting = mine.wait().then(() => 'resolved', (e: Error) => e.message);
    await new Promise((res) => setTimeout(res, 300)); // the handle is waiting on its job's events
    spawnSync('redis-cli', ['-p', String(r.port), 'FLUSHALL']);
    const other = new Q.FitQueue({ connection: r.url, queue: q.name });
    cleanups.push(() => other.close());
    const theirs = await other.submitFit({ input: xNpy, out: path.join(tmp, 'restart-theirs'), options: { nComponents: 3, maxIter: 5, seed: 2 } });
    assert.equal(theirs.id, mine.id, 'the restarted Redis gave the same id again (the situation under test)');
    await assert.rejects(mine.cancel(), /is no longer the job submitted: its id now names another job/);
    await start();
    const s = await theirs.wait();
    assert.equal(s.components, 3);
    assert.match(await waiting, new RegExp(`job ${mine.id} in queue .* is no longer the job submitted.*submit it again`));
    await assert.rejects(mine.wait(), /is no longer the job submitted/);
    // A handle by id alone (no token) still follows whatever the id names.
    assert.equal(((await q.handle(mine.id).wait()) as { components: number }).components, 3);
  });

  it("item 5: a worker whose Redis goes away and comes back says so in one-line warnings, no ioredis traces", async function () {
    if (!hasRedisServer()) this.skip();
    const r = await ownRedis();
    const { spawn } = await import('node:child_process');
    const worker = spawn(process.execPath, [bin, 'worker', '--redis', r.url, '--queue', queueName()], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    worker.stderr!.on('data', (b) => { err += b; });
    await new Promise((res) => setTimeout(res, 1500));
    await r.kill();
    await new Promise((res) => setTimeout(res, 3000));
    await r.start();
    await new Promise((res) => setTimeout(res, 2500));
    worker.kill('SIGTERM');
    await new Promise((res) => worker.once('exit', res));
    assert.doesNotMatch(err, /Unhandled error event|\n\s+at /, err);
    const lines = err.trim().split('\n').filter(Boolean);
    assert.ok(lines.some((l) => /^betanmf worker: warning: Redis: ECONNREFUSED/.test(l)), err);
    assert.ok(lines.length <= 8, `${lines.length} lines:\n${err}`);
  });

  it('item 7: submit fit checks --out as fit does (no silent overwrite, never a folder with other files) before queueing', async () => {
    const { q, name, start } = await setup();
    const out = path.join(tmp, 'q-out');
    const first = await q.submitFit({ input: xNpy, out, options: { nComponents: 2, maxIter: 3, seed: 1 } });
    await start();
    await first.wait();
    const before = tree(out);
    await assert.rejects(q.submitFit({ input: xNpy, out, options: { nComponents: 2, seed: 1 } }), /already exists; pass overwrite \(--force\) to replace it/);
    await assert.rejects(q.submitFit({ input: xNpy, out, options: { nComponents: 2, seed: 1 }, shards: 2 }), /already exists/);
    const r = cli(['submit', 'fit', xNpy, '-k', '2', '--out', out, '--redis', url, '--queue', name]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^betanmf: --out .*q-out: already exists; pass --force to replace it/);
    fs.writeFileSync(path.join(out, '.notes'), 'mine');
    for (const args of [['--force'], []]) {
      const t = cli(['submit', 'fit', xNpy, '-k', '2', '--out', out, ...args, '--redis', url, '--queue', name]);
      assert.equal(t.code, 2, t.err);
      assert.match(t.err, /holds other files \(\.notes\)/);
    }
    await assert.rejects(q.submitFit({ input: xNpy, out, overwrite: true, options: { nComponents: 2 } }), /holds other files \(\.notes\)/);
    assert.deepEqual(tree(out), [...before, '.notes'].sort());
    assert.equal((await q.jobs()).length, 1, 'nothing else was queued');
    fs.rmSync(path.join(out, '.notes'));
    // With --force the folder is replaced whole.
    const again = await cliAsync(['submit', 'fit', xNpy, '-k', '3', '--max-iter', '2', '--out', out, '--force', '--wait', '--json', '--redis', url, '--queue', name]);
    assert.equal(again.code, 0, again.err);
    assert.equal(JSON.parse(again.out).components, 3);
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8')).components, 3);
  });

  it('item 7: the worker writes W.npy, H.npy and history.json whole into a sibling folder and renames it; a failed write leaves the old set', async () => {
    const { q, start } = await setup();
    const out = path.join(tmp, 'q-whole');
    await start();
    await (await q.submitFit({ input: xNpy, out, options: { nComponents: 2, maxIter: 3, seed: 1 } })).wait();
    const oldHistory = fs.readFileSync(path.join(out, 'history.json'), 'utf8');
    const oldW = fs.readFileSync(path.join(out, 'W.npy'));
    // A file appearing in --out while the job runs is never replaced: the job fails, the old set stays whole.
    const bigNpy = path.join(tmp, 'X-big.npy');
    writeNpySync(bigNpy, syntheticSpectrogram(2000, 100, { components: 4, seed: 6 }));
    const job = await q.submitFit({ input: bigNpy, out, overwrite: true, options: { nComponents: 3, maxIter: 400, tol: 0, seed: 2, costEvery: 100 } });
    await new Promise<void>((resolve) => job.on('progress', () => resolve()));
    fs.writeFileSync(path.join(out, 'notes.txt'), 'appeared meanwhile');
    await assert.rejects(job.wait(), /q-whole: the folder exists and holds other files \(notes\.txt\)/);
    assert.equal(fs.readFileSync(path.join(out, 'history.json'), 'utf8'), oldHistory);
    assert.deepEqual(fs.readFileSync(path.join(out, 'W.npy')), oldW);
    // The files arrive together: a reader polling --out never sees new W beside the old history.
    fs.rmSync(path.join(out, 'notes.txt'));
    const next = await q.submitFit({ input: xNpy, out, overwrite: true, options: { nComponents: 4, maxIter: 30, seed: 3 } });
    const seen = new Set<string>();
    let done = false;
    const watching = (async () => {
      while (!done) {
        try {
          // history, W, history again: with one swap in all, equal histories mean W came from the same folder.
          const k = () => JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8')).components;
          const { readNpySync } = await import('../lib/io');
          const [k1, w, k2] = [k(), readNpySync(path.join(out, 'W.npy')).cols, k()];
          if (k1 === k2) seen.add(`${w}/${k1}`);
        } catch { /* between the two renames */ }
        await new Promise((r) => setImmediate(r));
      }
    })();
    await next.wait();
    done = true;
    await watching;
    for (const pair of seen) assert.ok(pair === '2/2' || pair === '4/4', `mixed set seen: ${[...seen]}`);
    assert.deepEqual(fs.readdirSync(path.dirname(out)).filter((n) => n.startsWith('.q-whole')), [], 'no staging folder left');
  });

  it('item 9: a job whose data is not valid JSON fails once with the reason, and jobs lists it', async () => {
    const { q, name, start } = await setup();
    const job = await q.submitFit({ input: xNpy, out: path.join(tmp, 'junk'), options: { nComponents: 2, maxIter: 3, seed: 1 } });
    const { redisClient } = await import('../lib/queue/connection');
    const redis = redisClient(url);
    cleanups.push(() => void redis.disconnect());
    await redis.hset(`bull:${name}:${job.id}`, 'data', '{"kind": "fit", not json');
    await start();
    const t0 = Date.now();
    let info;
    while (Date.now() - t0 < 20000) {
      info = (await q.jobs()).find((j) => j.id === job.id);
      if (info?.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(info?.state, 'failed', JSON.stringify(info));
    assert.match(info!.failedReason!, /^job data is not valid JSON \(/);
    assert.equal(info!.attempts, 1);
    await assert.rejects(job.wait(), /job data is not valid JSON/);
    const r = cli(['jobs', '--redis', url, '--queue', name]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^${job.id}\\s+fit\\s+failed\\s.*job data is not valid JSON`, 'm'));
  });

  it('item 9: job data of the wrong shape, or a shard index the fit does not have, fails once with the reason', async () => {
    const { q, name, start } = await setup(3);
    const { redisClient } = await import('../lib/queue/connection');
    const redis = redisClient(url);
    cleanups.push(() => void redis.disconnect());
    const plain = await q.submitFit({ input: xNpy, out: path.join(tmp, 'shape1'), options: { nComponents: 2, maxIter: 3, seed: 1 } });
    const token = JSON.parse((await redis.hget(`bull:${name}:${plain.id}`, 'data'))!).token;
    await redis.hset(`bull:${name}:${plain.id}`, 'data', JSON.stringify({ kind: 'fit', input: 7, out: 'x', options: {}, token }));
    const sharded = await q.submitFit({ input: xNpy, out: path.join(tmp, 'shape2'), options: { nComponents: 2, maxIter: 3, seed: 1 }, shards: 2 });
    const shardKey = `bull:${name}:${sharded.id}-shard-1`;
    const data = JSON.parse((await redis.hget(shardKey, 'data'))!);
    await redis.hset(shardKey, 'data', JSON.stringify({ ...data, shard: 5 }));
    await start();
    await assert.rejects(plain.wait(), /job data: input: expected a path, received 7/);
    await assert.rejects(sharded.wait(), /job data: shard: expected an integer in \[0, 2\) \(the fit has 2 shards\), received 5/);
    const failed = (await q.jobs()).filter((j) => j.state === 'failed').map((j) => j.id);
    assert.ok(failed.includes(`${sharded.id}-shard-1`) && failed.includes(plain.id), failed.join(' '));
  });

  it('item 10: waiting on many jobs of one FitQueue prints no MaxListenersExceededWarning; jobs says when it shows only some', async () => {
    const { q, name, start } = await setup(2);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const handles = [];
      for (let i = 0; i < 14; i++) handles.push(await q.submitTransform({ input: xNpy, w: wNpy, out: path.join(tmp, `many-${i}.npy`), options: { maxIter: 2 } }));
      await start();
      await Promise.all(handles.map((h) => h.wait()));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    assert.ok(!warnings.includes('MaxListenersExceededWarning'), warnings.join(', '));
    assert.equal((await q.jobs({ perState: 5 })).length, 5);
    assert.equal((await q.jobs({ perState: Infinity })).length, 14);
    assert.equal((await q.jobCounts()).completed, 14);
    const r = cli(['jobs', '--redis', url, '--queue', name]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    assert.equal(r.out.trim().split('\n').length, 15);
    // Past the CLI's 200 per state, a line on stderr says what is left out, and --all lists them.
    const many = await setup();
    for (let i = 0; i < 203; i++) await many.q.submitTransform({ input: xNpy, w: wNpy, out: path.join(tmp, 'unused.npy') });
    const capped = cli(['jobs', '--redis', url, '--queue', many.name]);
    assert.equal(capped.code, 0, capped.err);
    assert.equal(capped.err, 'betanmf: showing the newest 200 of 203 waiting jobs; --all lists every job\n');
    assert.equal(capped.out.trim().split('\n').length, 201);
    const all = cli(['jobs', '--all', '--json', '--redis', url, '--queue', many.name]);
    assert.equal(all.err, '');
    assert.equal(JSON.parse(all.out).length, 203);
  });
});

describe('hardening 3: X with nothing observed says so (item 10)', () => {
  const quiet = { onWarning: () => {} };
  it('all NaN with missing nan, or every weight 0: "some observed entries", not "all zeros"', async () => {
    const nan = matrix([[NaN, NaN], [NaN, NaN]]);
    for (const fit of [(m: BetaNMF) => m.fitSync(nan), (m: BetaNMF) => m.fit(nan)]) {
      await assert.rejects(async () => fit(new BetaNMF({ nComponents: 1, missing: 'nan', ...quiet })),
        { name: 'RangeError', message: 'X: expected some observed entries, received only NaN (missing) entries' });
    }
    assert.throws(() => new BetaNMF({ nComponents: 1, ...quiet }).fitSync(matrix([[1, 2], [3, 4]]), { weights: matrix([[0, 0], [0, 0]]) }),
      { name: 'RangeError', message: 'X: expected some observed entries, received only entries of weight 0' });
    assert.throws(() => new BetaNMF({ nComponents: 1, ...quiet }).fitSync(matrix([[0, 0], [0, 0]])), /received all zeros/);
  });
});
