// betanmf/queue against a real Redis: queued jobs equal local fits, progress, cancel, a worker
// killed mid-job, sharded fits equal to the single-process solver (also with a shard's worker
// killed), bad inputs failing once with the CLI's line, and the .npy row reads shards use.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BetaNMF, matrix, syntheticSpectrogram, type Matrix } from '../lib';
import { readNpySync as readMatrix, writeNpySync as writeNpy } from '../lib/io';
import { FitQueue, readNpyRows, startWorker, type FitSummary, type JobProgress, type RunningWorker } from '../lib/queue';
import { FileStorage } from '../lib/queue/storage';
import { addon } from '../lib/native';
import { findRedis, redisRequired } from './support/redis';

const bin = path.join(__dirname, '..', 'bin', 'betanmf.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-queue-'));
let redisUrl = '';
let stopRedis = () => {};

let unique = 0;
function queueName(): string {
  return `test-${process.pid}-${Date.now().toString(36)}-${unique++}`;
}

function cli(...args: string[]) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, BETANMF_DEVICE: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - t0 };
}

/** A CLI worker in a child process (so it can be killed with SIGKILL); quick stall detection. */
function childWorker(queue: string, concurrency = 1): ChildProcess {
  return spawn(process.execPath, [bin, 'worker', '--redis', redisUrl, '--queue', queue, '--concurrency', String(concurrency),
    '--lock-duration', '1000', '--stalled-interval', '300'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BETANMF_NUM_THREADS: '1' } });
}

function maxAbsRel(a: Matrix, b: Matrix): number {
  assert.equal(a.rows, b.rows, `${a.rows}x${a.cols} vs ${b.rows}x${b.cols}`);
  assert.equal(a.cols, b.cols, `${a.rows}x${a.cols} vs ${b.rows}x${b.cols}`);
  let scale = 0, diff = 0;
  for (let i = 0; i < a.data.length; i++) {
    scale = Math.max(scale, Math.abs(b.data[i]));
    diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
  }
  return diff / scale;
}

function float64(m: Matrix): Matrix {
  return matrix(Float64Array.from(m.data), m.rows, m.cols);
}

describe('betanmf/queue (Redis)', function () {
  this.timeout(60000);
  const X = float64(syntheticSpectrogram(240, 30, { components: 4, seed: 5 }));
  const xPath = path.join(tmp, 'X.npy');
  writeNpy(xPath, X);
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async function () {
    const redis = await findRedis();
    if (!redis) {
      if (redisRequired()) throw new Error('no Redis reachable and no redis-server to start (CI must run these tests)');
      console.log('    (skipped: no Redis at REDIS_URL or 127.0.0.1:6379, and no redis-server binary)');
      this.skip();
    }
    redisUrl = redis!.url;
    stopRedis = redis!.stop;
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  after(() => {
    stopRedis();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A queue and an in-process worker on a fresh queue name, removed after the test. */
  async function setup(concurrency = 1): Promise<{ q: FitQueue; w: RunningWorker; name: string }> {
    const name = queueName();
    const q = new FitQueue({ connection: redisUrl, queue: name });
    const w = await startWorker({ connection: redisUrl, queue: name, concurrency, lockDuration: 2000, stalledInterval: 500 });
    cleanups.push(async () => {
      await w.close();
      await q.obliterate();
      await q.close();
    });
    return { q, w, name };
  }

  it('a queued fit writes what the local fit computes, and wait() gives the fit --json summary', async () => {
    const { q } = await setup();
    const options = { nComponents: 4, beta: 1, maxIter: 25, seed: 7 };
    const out = path.join(tmp, 'fit1');
    const job = await q.submitFit({ input: xPath, out, options });
    const summary = await job.wait();
    const local = await new BetaNMF(options).fit(X);
    assert.deepEqual(readMatrix(path.join(out, 'W.npy')).data, local.W!.data);
    assert.deepEqual(readMatrix(path.join(out, 'H.npy')).data, local.H!.data);
    const r = cli('fit', xPath, '-k', '4', '-b', '1', '--max-iter', '25', '--seed', '7', '--out', path.join(tmp, 'fit1cli'), '--json');
    assert.equal(r.code, 0, r.err);
    const cliSummary = JSON.parse(r.out) as FitSummary;
    assert.deepEqual(Object.keys(summary).sort(), Object.keys(cliSummary).sort());
    assert.deepEqual({ ...summary, seconds: 0 }, { ...cliSummary, seconds: 0 });
    const history = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8'));
    assert.equal(history.seed, 7);
    assert.equal(history.history.length, 26);
  });

  it('reports progress after every epoch, and a transform equals the local one', async () => {
    const { q } = await setup();
    const job = await q.submitFit({ input: xPath, out: path.join(tmp, 'fit2'), options: { nComponents: 3, maxIter: 12, tol: 0, seed: 1, costEvery: 4 } });
    const seen: JobProgress[] = [];
    job.on('progress', (p: JobProgress) => seen.push(p));
    await job.wait();
    assert.deepEqual(seen.map((p) => p.epoch), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.deepEqual(seen.filter((p) => p.cost !== undefined).map((p) => p.epoch), [4, 8, 12]);
    assert.ok(seen.every((p) => p.maxIter === 12));

    const Y = float64(syntheticSpectrogram(50, 30, { components: 3, seed: 9 }));
    const yPath = path.join(tmp, 'Y.npy'), hOut = path.join(tmp, 'Hy.npy');
    writeNpy(yPath, Y);
    const t = await q.submitTransform({ input: yPath, w: path.join(tmp, 'fit2', 'W.npy'), out: hOut, options: { seed: 4, maxIter: 30 } });
    const s = await t.wait();
    assert.equal(s.rows, 50);
    const W = readMatrix(path.join(tmp, 'fit2', 'W.npy'));
    const local = await new BetaNMF({ nComponents: 3, init: 'custom', W, fixed: ['W'], seed: 4, maxIter: 30 }).transform(Y);
    assert.deepEqual(readMatrix(hOut).data, local.data);
  });

  it('weights, fixed components and penalties travel with a job (paths to the files): the local results', async () => {
    const { q } = await setup();
    const weights = matrix(Float64Array.from({ length: X.rows * X.cols }, (_, i) => (i % 6 === 0 ? 0 : 1)), X.rows, X.cols);
    const mPath = path.join(tmp, 'M.npy'), wPath = path.join(tmp, 'W0.npy');
    writeNpy(mPath, weights);
    const W0 = matrix(Float64Array.from({ length: X.cols * 4 }, (_, i) => 0.1 + (i % 7) / 7), X.cols, 4);
    writeNpy(wPath, W0);
    const options = { nComponents: 4, beta: 1, maxIter: 15, seed: 3, alphaH: 0.05, l1Ratio: 0.5, fixedComponents: [0, 2] };
    const out = path.join(tmp, 'fit-weighted');
    await (await q.submitFit({ input: xPath, out, options, weights: mPath, wInit: wPath })).wait();
    const local = await new BetaNMF({ ...options, W: W0 }).fit(X, { weights });
    assert.deepEqual(readMatrix(path.join(out, 'W.npy')).data, local.W.data);
    assert.deepEqual(readMatrix(path.join(out, 'H.npy')).data, local.H.data);
    const hOut = path.join(tmp, 'H-weighted.npy');
    await (await q.submitTransform({ input: xPath, w: path.join(out, 'W.npy'), out: hOut, weights: mPath, options: { beta: 1, seed: 2 } })).wait();
    const H = await new BetaNMF({ nComponents: 4, beta: 1, seed: 2, init: 'custom', W: local.W, fixed: ['W'] }).transform(X, { weights });
    assert.deepEqual(readMatrix(hOut).data, H.data);
    // Where they cannot apply, said at submission.
    await assert.rejects(q.submitFit({ input: xPath, out, options: { nComponents: 4, fixedComponents: [0] } }), /fixedComponents: expected W given/);
    await assert.rejects(q.submitFit({ input: xPath, out, options: { nComponents: 4 }, weights: mPath, shards: 2 }), /weights: expected undefined for a sharded fit/);
    await assert.rejects(q.submitFit({ input: xPath, out, options: { nComponents: 4, alphaW: 1 }, shards: 2 }), /alphaW: expected 0 for a sharded fit/);
  });

  it('cancel stops a running fit (through its AbortSignal) and a waiting one', async () => {
    const { q } = await setup(1);
    const big = float64(syntheticSpectrogram(2000, 60, { components: 5, seed: 3 }));
    const bigPath = path.join(tmp, 'big.npy');
    writeNpy(bigPath, big);
    const running = await q.submitFit({ input: bigPath, out: path.join(tmp, 'cancel1'), options: { nComponents: 5, maxIter: 100000, tol: 0 } });
    const waiting = await q.submitFit({ input: bigPath, out: path.join(tmp, 'cancel2'), options: { nComponents: 5, maxIter: 10 } });
    await new Promise<void>((resolve) => running.on('progress', (p: JobProgress) => p.epoch >= 2 && resolve()));
    const t0 = Date.now();
    assert.equal(await running.cancel(), true);
    assert.equal(await waiting.cancel(), true);
    await assert.rejects(running.wait(), /^Error: cancelled$/);
    await assert.rejects(waiting.wait(), /^Error: cancelled$/);
    assert.ok(Date.now() - t0 < 5000, `cancel took ${Date.now() - t0} ms`);
    assert.ok(!fs.existsSync(path.join(tmp, 'cancel1', 'W.npy')));
    const states = Object.fromEntries((await q.jobs()).map((j) => [j.id, j.state]));
    assert.equal(states[running.id], 'failed');
    assert.equal(await running.cancel(), false); // already finished
  });

  it('bad inputs fail the job once, with the line the CLI prints', async () => {
    const { q } = await setup();
    const missing = path.join(tmp, 'missing.npy');
    const garbage = path.join(tmp, 'garbage.npy');
    fs.writeFileSync(garbage, 'not a matrix');
    // The CLI's exit code says whose mistake it is (2: the command line names no such file; 1: the data or the fit fails).
    for (const [input, extra, options, code] of [
      [missing, [], { nComponents: 2, seed: 1 }, 2],
      [garbage, [], { nComponents: 2, seed: 1 }, 1],
      [xPath, ['--init', 'nndsvd'], { nComponents: 40, init: 'nndsvd', seed: 1 }, 1],
    ] as const) {
      const r = cli('fit', input, '-k', String(options.nComponents), ...extra, '--out', path.join(tmp, 'bad'));
      assert.equal(r.code, code, r.err);
      assert.match(r.err, /^betanmf: [^\n]+\n$/);
      const job = await q.submitFit({ input, out: path.join(tmp, 'bad'), options });
      await assert.rejects(job.wait(), (err: Error) => {
        assert.equal(`betanmf: ${err.message}\n`, r.err);
        return true;
      });
    }
    const failed = (await q.jobs()).filter((j) => j.state === 'failed');
    assert.equal(failed.length, 3);
    assert.deepEqual(failed.map((j) => j.attempts), [1, 1, 1]); // no retries
    // Options are checked where they are submitted, as BetaNMF checks them.
    await assert.rejects(q.submitFit({ input: xPath, out: tmp, options: { nComponents: 0 } }), RangeError);
    await assert.rejects(q.submitFit({ input: xPath, out: tmp, options: { nComponents: 2, beta: 'kl' as never } }), TypeError);
    await assert.rejects(q.submitFit({ input: xPath, out: tmp, options: { nComponents: 2 }, shards: 0 }), RangeError);
    await assert.rejects(q.submitFit({ input: xPath, out: tmp, options: { nComponents: 2, init: 'nndsvd' }, shards: 2 }), /init/);
  });

  it('an unreachable Redis is one line and exit 1 within seconds', () => {
    for (const args of [['jobs'], ['submit', 'fit', xPath, '-k', '2', '--out', path.join(tmp, 'unreachable')], ['worker'], ['cancel', '12']]) {
      const r = cli(...args, '--redis', 'redis://127.0.0.1:1');
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.err, /^betanmf: cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)\n$/);
      assert.ok(r.ms < 5000, `${r.ms} ms`);
    }
  });

  it('the CLI submits, waits, lists and cancels', async () => {
    const name = queueName();
    const worker = childWorker(name, 2);
    const q = new FitQueue({ connection: redisUrl, queue: name });
    cleanups.push(async () => {
      worker.kill('SIGKILL');
      await q.obliterate();
      await q.close();
    });
    const out = path.join(tmp, 'clifit');
    const r = cli('submit', 'fit', xPath, '-k', '3', '--seed', '2', '--max-iter', '20', '--out', out, '--redis', redisUrl, '--queue', name, '--wait', '--json');
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out) as FitSummary;
    assert.equal(s.iterations, 20);
    assert.match(r.err, /epoch 20\/20 {2}cost/);
    const local = await new BetaNMF({ nComponents: 3, seed: 2, maxIter: 20 }).fit(X);
    assert.deepEqual(readMatrix(path.join(out, 'W.npy')).data, local.W!.data);
    const id = cli('submit', 'transform', xPath, '--w', path.join(out, 'W.npy'), '--out', path.join(tmp, 'cliH.npy'), '--redis', redisUrl, '--queue', name);
    assert.match(id.out, /^\S+\n$/);
    const jobs = cli('jobs', '--redis', redisUrl, '--queue', name, '--json');
    const list = JSON.parse(jobs.out) as { id: string; name: string }[];
    assert.ok(list.some((j) => j.id === id.out.trim() && j.name === 'transform'));
    const text = cli('jobs', '--redis', redisUrl, '--queue', name);
    assert.match(text.out, /^ID\s+KIND\s+STATE\s+EPOCH\s+WORKER/);
    const c = cli('cancel', 'no-such-job', '--redis', redisUrl, '--queue', name);
    assert.equal(c.code, 1);
    assert.equal(c.err, `betanmf: no job no-such-job in queue ${name}\n`);
  });

  it('SIGTERM lets the running job finish before the worker exits', async () => {
    const name = queueName();
    const worker = childWorker(name);
    const q = new FitQueue({ connection: redisUrl, queue: name });
    cleanups.push(async () => {
      worker.kill('SIGKILL');
      await q.obliterate();
      await q.close();
    });
    const job = await q.submitFit({ input: xPath, out: path.join(tmp, 'term'), options: { nComponents: 3, maxIter: 3000, tol: 0, seed: 3, costEvery: 1000 } });
    await new Promise<void>((resolve) => job.on('progress', () => resolve()));
    const exited = new Promise<number | null>((resolve) => worker.on('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    const s = await job.wait();
    assert.equal(s.iterations, 3000);
    assert.equal(await exited, 0);
  });

  it('a worker killed (SIGKILL) mid-job: another worker runs the job again, with the same result', async () => {
    const name = queueName();
    const workers = [childWorker(name), childWorker(name)];
    const q = new FitQueue({ connection: redisUrl, queue: name });
    cleanups.push(async () => {
      workers.forEach((w) => w.kill('SIGKILL'));
      await q.obliterate();
      await q.close();
    });
    const options = { nComponents: 3, maxIter: 4000, tol: 0, seed: 11, costEvery: 1000 };
    const job = await q.submitFit({ input: xPath, out: path.join(tmp, 'killed'), options });
    await new Promise<void>((resolve) => job.on('progress', (p: JobProgress) => p.epoch > 50 && resolve()));
    const runner = (await q.jobs()).find((j) => j.id === job.id)!.worker!;
    const victim = workers.find((w) => runner.endsWith(`:${w.pid}`))!;
    assert.ok(victim, `worker ${runner}`);
    victim.kill('SIGKILL');
    const s = await job.wait();
    const info = (await q.jobs()).find((j) => j.id === job.id)!;
    assert.notEqual(info.worker, runner);
    const local = await new BetaNMF(options).fit(X);
    assert.equal(s.cost, local.cost);
    assert.deepEqual(readMatrix(path.join(tmp, 'killed', 'W.npy')).data, local.W!.data);
    assert.deepEqual(readMatrix(path.join(tmp, 'killed', 'H.npy')).data, local.H!.data);
  });

  describe('sharded fits', () => {
    for (const [solver, beta] of [['mu_batch', 1], ['mu_batch', 0.5], ['gsg_mu', 2], ['gsag_mu', 2]] as const) {
      it(`--shards 2 equals the single-process ${solver} fit to 1e-9 (β = ${beta}, float64)`, async () => {
        const { q } = await setup(3);
        const options = { nComponents: 4, beta, solver, maxIter: 30, batchSize: 50, sagMemory: 3, seed: 13, costEvery: 5, tol: 1e-6 };
        const out = path.join(tmp, `shard-${solver}-${beta}`);
        const job = await q.submitFit({ input: xPath, out, options, shards: 2, checkpointEvery: 4 });
        const seen: number[] = [];
        job.on('progress', (p: JobProgress) => seen.push(p.epoch));
        const s = await job.wait();
        const local = await new BetaNMF({ ...options, shuffle: false }).fit(X);
        assert.equal(s.iterations, local.nIter);
        assert.ok(Math.abs(s.cost - local.cost!) <= 1e-9 * local.cost!, `cost ${s.cost} vs ${local.cost}`);
        const eW = maxAbsRel(readMatrix(path.join(out, "W.npy")), local.W!);
        assert.ok(eW < 1e-9, `W ${eW}`);
        assert.ok(maxAbsRel(readMatrix(path.join(out, 'H.npy')), local.H!) < 1e-9);
        const history = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8')) as { history: { epoch: number; cost?: number }[] };
        assert.deepEqual(history.history.map((h) => h.epoch), local.history.map((h) => h.epoch));
        history.history.forEach((h, i) => assert.equal(h.cost === undefined, local.history[i].cost === undefined));
        assert.ok(seen.includes(local.nIter));
        assert.ok(!fs.existsSync(path.join(out, `.betanmf-${job.id}`)), 'checkpoints removed');
      });
    }

    it('asg_mu over shards (local epochs, W averaged) decreases the cost like the single-process solver', async () => {
      const { q } = await setup(4);
      const options = { nComponents: 4, beta: 1, solver: 'asg_mu' as const, maxIter: 20, batchSize: 40, seed: 3, tol: 0 };
      const s = await (await q.submitFit({ input: xPath, out: path.join(tmp, 'asg'), options, shards: 3 })).wait();
      const local = await new BetaNMF({ ...options, shuffle: false }).fit(X);
      assert.ok(s.cost < local.history[0].cost! / 5, `${s.cost}`);
      assert.ok(s.cost < 1.5 * local.cost!, `sharded ${s.cost} vs single ${local.cost}`);
    });

    it('a shard whose worker is killed is taken over from its checkpoint: the same result', async () => {
      const name = queueName();
      const workers = [childWorker(name, 2), childWorker(name, 2), childWorker(name, 2)];
      const q = new FitQueue({ connection: redisUrl, queue: name });
      cleanups.push(async () => {
        workers.forEach((w) => w.kill('SIGKILL'));
        await q.obliterate();
        await q.close();
      });
      const options = { nComponents: 4, beta: 1, maxIter: 600, seed: 17, tol: 0, costEvery: 50 };
      const out = path.join(tmp, 'shard-killed');
      const job = await q.submitFit({ input: xPath, out, options, shards: 2, checkpointEvery: 7 });
      await new Promise<void>((resolve) => job.on('progress', (p: JobProgress) => p.epoch >= 20 && resolve()));
      const runner = (await q.jobs()).find((j) => j.id === `${job.id}-shard-1`)!.worker!;
      const victim = workers.find((w) => runner.endsWith(`:${w.pid}`))!;
      victim.kill('SIGKILL');
      const s = await job.wait();
      assert.notEqual((await q.jobs()).find((j) => j.id === `${job.id}-shard-1`)!.worker, runner);
      const local = await new BetaNMF({ ...options, shuffle: false }).fit(X);
      assert.equal(s.iterations, 600);
      assert.ok(Math.abs(s.cost - local.cost!) <= 1e-9 * local.cost!, `cost ${s.cost} vs ${local.cost}`);
      assert.ok(maxAbsRel(readMatrix(path.join(out, 'W.npy')), local.W!) < 1e-9);
      assert.ok(maxAbsRel(readMatrix(path.join(out, 'H.npy')), local.H!) < 1e-9);
    });

    it('an asag_mu shard taken over from its checkpoint carries its SAG gain: the same result as without the kill', async () => {
      const name = queueName();
      const workers = [childWorker(name, 2), childWorker(name, 2), childWorker(name, 2)];
      const q = new FitQueue({ connection: redisUrl, queue: name });
      cleanups.push(async () => {
        workers.forEach((w) => w.kill('SIGKILL'));
        await q.obliterate();
        await q.close();
      });
      const options = { nComponents: 4, beta: 1, solver: 'asag_mu' as const, sagMemory: 5, batchSize: 40, maxIter: 400, seed: 19, tol: 0, costEvery: 50 };
      const killed = path.join(tmp, 'asag-killed'), whole = path.join(tmp, 'asag-whole');
      const job = await q.submitFit({ input: xPath, out: killed, options, shards: 2, checkpointEvery: 7 });
      await new Promise<void>((resolve) => job.on('progress', (p: JobProgress) => p.epoch >= 20 && resolve()));
      const runner = (await q.jobs()).find((j) => j.id === `${job.id}-shard-1`)!.worker!;
      workers.find((w) => runner.endsWith(`:${w.pid}`))!.kill('SIGKILL');
      const s = await job.wait();
      assert.notEqual((await q.jobs()).find((j) => j.id === `${job.id}-shard-1`)!.worker, runner);
      const t = await (await q.submitFit({ input: xPath, out: whole, options, shards: 2, checkpointEvery: 7 })).wait();
      assert.equal(s.cost, t.cost);
      assert.deepEqual(readMatrix(path.join(killed, 'W.npy')).data, readMatrix(path.join(whole, 'W.npy')).data);
    });

    it('a failing shard fails the whole fit once, with its line', async () => {
      const { q } = await setup(3);
      const neg = path.join(tmp, 'neg.npy');
      const Xn = float64(X);
      Xn.data[5 * 30 + 2] = -1;
      writeNpy(neg, Xn);
      const job = await q.submitFit({ input: neg, out: path.join(tmp, 'negout'), options: { nComponents: 2, seed: 1 }, shards: 2 });
      const r = cli('fit', neg, '-k', '2', '--out', path.join(tmp, 'negcli'));
      await assert.rejects(job.wait(), (err: Error) => {
        assert.equal(`betanmf: ${err.message}\n`, r.err);
        return true;
      });
    });
  });

  describe('.npy row reads', () => {
    const f64Path = () => path.join(tmp, 'rows-float64.npy');

    it('readNpyRows reads rows at their offsets, as readMatrix reads them', async () => {
      const f32 = matrix(Float32Array.from({ length: 7 * 5 }, (_, i) => i / 3), 7, 5);
      const f64 = float64(f32);
      for (const m of [f32, f64]) {
        const file = path.join(tmp, `rows-${m.dtype}.npy`);
        writeNpy(file, m);
        const part = await readNpyRows(file, 2, 6);
        assert.equal(part.dtype, m.dtype);
        assert.deepEqual(part.data, m.data.subarray(2 * 5, 6 * 5));
        assert.equal((await readNpyRows(file, 3, 3)).rows, 0);
        await assert.rejects(readNpyRows(file, 5, 8), RangeError);
      }
      const ints = path.join(tmp, 'ints.npy');
      const head = '{\'descr\': \'<i2\', \'fortran_order\': False, \'shape\': (2, 3), }';
      const pad = 64 - ((10 + head.length + 1) % 64);
      const header = Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from([(head.length + pad + 1) & 255, 0]),
        Buffer.from(head + ' '.repeat(pad) + '\n', 'latin1')]);
      fs.writeFileSync(ints, Buffer.concat([header, Buffer.from(new Int16Array([1, -2, 3, 4, 5, 600]).buffer)]));
      assert.deepEqual(Array.from((await readNpyRows(ints, 1, 2)).data), [4, 5, 600]);
      assert.deepEqual(Array.from(readMatrix(ints).data), [1, -2, 3, 4, 5, 600]);
      // Big-endian and float16 rows convert as readNpy converts them.
      const be = path.join(tmp, 'be.npy');
      const beHead = '{\'descr\': \'>f8\', \'fortran_order\': False, \'shape\': (3, 2), }';
      const bePad = 64 - ((10 + beHead.length + 1) % 64);
      const beData = Buffer.alloc(6 * 8);
      [0.5, -1, 2.25, 3, 1e-300, 7].forEach((v, i) => beData.writeDoubleBE(v, 8 * i));
      fs.writeFileSync(be, Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from([(beHead.length + bePad + 1) & 255, 0]),
        Buffer.from(beHead + ' '.repeat(bePad) + '\n', 'latin1'), beData]));
      assert.deepEqual(Array.from((await readNpyRows(be, 1, 3)).data), [2.25, 3, 1e-300, 7]);
      assert.deepEqual(Array.from((await readNpyRows(be, 1, 3)).data), Array.from(readMatrix(be).data.subarray(2)));
      // Errors are readNpy's: the same DataFileError line, the same Node error for a missing file.
      const bad = path.join(tmp, 'bad-rows.npy');
      fs.writeFileSync(bad, 'not a matrix');
      await assert.rejects(readNpyRows(bad, 0, 1), (err: Error) => {
        assert.throws(() => readMatrix(bad), { name: err.name, message: err.message });
        return err.name === 'DataFileError';
      });
      await assert.rejects(readNpyRows(path.join(tmp, 'nope.npy'), 0, 1), { code: 'ENOENT' });
      // Storage says it as the CLI does.
      await assert.rejects(new FileStorage().readRows(path.join(tmp, 'nope.npy'), 0, 1), /^DataFileError: .*nope\.npy: no such file$/);
      const l = await new FileStorage().layout(f64Path());
      assert.deepEqual([l.rows, l.cols, l.type], [7, 5, 'f8']);
    });

    it('rows written at offsets form one .npy that readMatrix loads; writes are atomic', async () => {
      const st = new FileStorage();
      const file = path.join(tmp, 'assembled.npy'), t = path.join(tmp, '.assembled.tmp');
      await st.create(t, 5, 2, 'float64');
      await st.writeRows(t, 3, matrix(new Float64Array([7, 8, 9, 10]), 2, 2));
      await st.writeRows(t, 0, matrix(new Float64Array([1, 2, 3, 4, 5, 6]), 3, 2));
      assert.ok(!fs.existsSync(file));
      await st.publish(t, file);
      assert.deepEqual(Array.from(readMatrix(file).data), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      await st.write(file, matrix(new Float64Array([1]), 1, 1));
      assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes('assembled')), ['assembled.npy']);
    });
  });
});

describe("the sharded coordinator's W step, addon.combineShards (no Redis needed)", () => {
  const [N, F, K] = [60, 12, 3];
  const X = float64(syntheticSpectrogram(N, F, { components: K, seed: 2 }));
  const start = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => 0.5 + ((i * 7919 + seed * 104729) % 1000) / 1000);

  /** One epoch of a single-process fit: its summed W parts (the epoch left open) and its W after the epoch. */
  function epoch(solver: 'mu_batch' | 'gsg_mu', beta: number, gamma: number) {
    const W0 = start(F * K, 1);
    const fit = new addon.Fit({ X: X.data, W: W0, H: start(N * K, 2), N, F, K, dtype: 'float64', beta, solver, batchSize: 20, eps: 1e-10,
      gamma, forget: 1, vFloor: 2 ** -23, updateH: true, updateW: true, shuffle: 'none', positive: false });
    try {
      fit.run(false, { snapshot: true, ends: false });
      const parts = new Float64Array(2 * F * K);
      fit.read('gradPos', parts.subarray(0, F * K));
      fit.read('gradNeg', parts.subarray(F * K));
      assert.ok(fit.restore());
      fit.run(false, {});
      const W = new Float64Array(F * K);
      fit.read('W', W);
      return { W0, parts, W };
    } finally {
      fit.dispose();
    }
  }

  for (const [solver, beta, gamma] of [['mu_batch', 0.5, 1 / 1.5], ['mu_batch', 1, 1], ['gsg_mu', 3, 0.5]] as const) {
    it(`is the single-process solver's own step: ${solver}, γ = ${gamma.toFixed(3)}, bit for bit`, () => {
      const { W0, parts, W } = epoch(solver, beta, gamma);
      const next = W0.slice();
      // Shard 0 holds the parts; shard 1 sends none (gsg: no first batch), which changes nothing.
      addon.combineShards({ F, K, solver, eps: 1e-10, gamma }, next, [parts, new Float64Array(0)]);
      assert.deepEqual(next, W);
      assert.notDeepEqual(next, W0);
    });
  }

  it('sums the parts in shard order and averages local Ws by rows (float32 in, computed in double, rounded once)', () => {
    const W = Float32Array.from([1, 2]), a = Float32Array.from([1, 1, 3, 6]), b = Float32Array.from([1, 3, 1, 2]);
    addon.combineShards({ F: 1, K: 2, solver: 'mu_batch', eps: 0, gamma: 1 }, W, [a, b]);
    assert.deepEqual(Array.from(W), [2, 4]); // W ⊙ (3+1)/(1+1), W ⊙ (6+2)/(1+3)
    const avg = Float64Array.from([0, 0]);
    addon.combineShards({ F: 1, K: 2, solver: 'asg_mu', eps: 0, gamma: 1, rows: [1, 3] }, avg, [Float64Array.from([4, 8]), Float64Array.from([8, 4])]);
    assert.deepEqual(Array.from(avg), [7, 5]);
  });

  it('gsag_mu carries its SAG state between calls: the same W as one call after another with a fresh copy of it', () => {
    const spec = { F, K, solver: 'gsag_mu', eps: 1e-10, gamma: 1, forget: 0.25, averageTargets: true };
    const state = new Float64Array(3 * F * K + 1), W = start(F * K, 3);
    const parts = [start(2 * F * K, 4), start(2 * F * K, 5)];
    addon.combineShards(spec, W, [parts[0], new Float64Array(0)], state);
    assert.equal(state[3 * F * K], 1); // the gain of the first batch
    const copy = state.slice(), W2 = W.slice(), W3 = W.slice();
    addon.combineShards(spec, W, [parts[1], new Float64Array(0)], state);
    addon.combineShards(spec, W2, [parts[1], new Float64Array(0)], copy);
    assert.deepEqual(W, W2);
    assert.ok(state[3 * F * K] >= 0.25 && state[3 * F * K] <= 1);
    addon.combineShards(spec, W3, [parts[1], new Float64Array(0)], new Float64Array(3 * F * K + 1)); // the state forgotten
    assert.notDeepEqual(W3, W);
  });

  it('wrong arguments are TypeError or RangeError naming them', () => {
    const W = new Float64Array(F * K);
    const spec = { F, K, solver: 'mu_batch', eps: 1e-10, gamma: 1 };
    assert.throws(() => addon.combineShards(spec, W, [new Float64Array(F * K)]), (e: Error) => e instanceof RangeError && /parts\[0\]: expected 2·F·K or 0 elements, received 36/.test(e.message));
    assert.throws(() => addon.combineShards(spec, W, [new Float32Array(2 * F * K)]), (e: Error) => e instanceof TypeError && /parts\[0\]: expected a host array of W's dtype/.test(e.message));
    assert.throws(() => addon.combineShards({ ...spec, solver: 'nope' }, W, []), (e: Error) => e instanceof RangeError && /solver: unknown solver 'nope'/.test(e.message));
    assert.throws(() => addon.combineShards({ ...spec, solver: 'gsag_mu' }, W, [], new Float64Array(3)), (e: Error) => e instanceof RangeError && /state: expected a Float64Array of 3·F·K \+ 1/.test(e.message));
    assert.throws(() => addon.combineShards({ ...spec, solver: 'asg_mu' }, W, [W]), (e: Error) => e instanceof TypeError && /rows: expected an array/.test(e.message));
    assert.throws(() => addon.combineShards(spec, new Float64Array(3), []), (e: Error) => e instanceof RangeError && /W: expected a host array of F×K = 36 elements/.test(e.message));
  });
});

describe('queue commands on the command line (no Redis needed)', () => {
  const nowhere = ['--redis', 'redis://127.0.0.1:1'];

  it('submit fit takes every option fit takes (less the local --plot and --force), defined once', async () => {
    const { program } = await import('../lib/cli/main');
    const cli = program();
    const longs = (names: string[]) => {
      let c = cli;
      for (const n of names) c = c.commands.find((x) => x.name() === n)!;
      return new Map(c.options.map((o) => [o.long!, o.description]));
    };
    const fit = longs(['fit']), submitted = longs(['submit', 'fit']);
    assert.deepEqual([...fit.keys()].filter((o) => !submitted.has(o)), ['--plot']);
    // The model options are one definition (same words); --seed, --out, --force, --json and --no-progress say what differs.
    const own = ['--seed', '--out', '--force', '--json', '--no-progress'];
    for (const [o, description] of fit) if (submitted.has(o) && !own.includes(o)) assert.equal(submitted.get(o), description, o);
    const transform = longs(['transform']), submittedT = longs(['submit', 'transform']);
    assert.deepEqual([...transform.keys()].filter((o) => !submittedT.has(o)), ['--force']);
    // All of them parse (the command gets as far as Redis).
    const r = cli_(['submit', 'fit', 'X.npy', '-k', '2', '-o', 'out', '-b', 'kl', '-s', 'asg_mu', '--batch-size', '10', '--sag-memory', '2',
      '--max-iter', '3', '--tol', '0', '--cost-every', '1', '--init', 'nndsvd', '--seed', '3', '--device', 'cpu', '--dtype', 'float64', ...nowhere]);
    assert.match(r.err, /^betanmf: cannot reach Redis/);
  });

  it('unknown, missing and wrong options are the same one line, exit 2, as for fit and transform', () => {
    for (const [args, line] of [
      [['submit', 'fit', 'X.npy', '-n', '5', '-o', 'out'], "unknown option '-n' (Did you mean --components?) (see --help)"],
      [['submit', 'fit', 'X.npy', '-o', 'out'], "required option '-k, --components <K>' not specified (see betanmf submit fit --help)"],
      [['submit', 'fit', 'X.npy', '-k', '2'], "required option '-o, --out <DIR>' not specified (see betanmf submit fit --help)"],
      [['submit', 'transform', 'Y.npy', '-o', 'H.npy'], "required option '--w <FILE>' not specified (see betanmf submit transform --help)"],
      [['submit', 'fit', 'X.npy', '-k', '2', '-o', 'out', '-b', 'foo'], null],
      [['submit', 'fit', 'X.npy', '-k', '0', '-o', 'out'], null],
      [['worker', '--concurrency', '0'], '--concurrency: expected an integer ≥ 1, received 0'],
      [['jobs', '--concurency', '2'], null],
    ] as const) {
      const r = cli_([...args, ...nowhere]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^betanmf: [^\n]+\n$/, args.join(' '));
      if (line) assert.equal(r.err, `betanmf: ${line}\n`);
      if (args[0] === 'submit' && args[1] === 'fit' && !line) {
        // The same words as `betanmf fit` with the same mistake.
        const local = cli_(args.slice(1) as string[]);
        assert.equal(r.err, local.err);
      }
    }
  });

  function cli_(args: string[]) {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, BETANMF_DEVICE: '' } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }
});
