#!/usr/bin/env node
// Scaling-out numbers for README "Scaling out": the per-epoch cost of the shard exchange at
// F=513, K=40; one process of 2 threads against 2 shard processes of 1 thread; transform jobs
// per second. Needs Redis (REDIS_URL or 127.0.0.1:6379) and a build (npm run build).
//   node bench/shards.js [--n 20000] [--epochs 10]
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BetaNMF, syntheticSpectrogram, setNumThreads } = require('../dist/index.js');
const { writeNpySync: writeNpy } = require('../dist/io.js');
const { FitQueue, startWorker } = require('../dist/queue/index.js');

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const redis = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const bin = path.join(__dirname, '..', 'bin', 'betanmf.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-shards-'));
const [F, K] = [513, 40];
const N = arg('n', 20000), epochs = arg('epochs', 10);

function workers(queue, count, threads, concurrency) {
  return Array.from({ length: count }, () => spawn(process.execPath, [bin, 'worker', '--redis', redis, '--queue', queue,
    '--concurrency', String(concurrency)], { stdio: 'ignore', env: { ...process.env, BETANMF_NUM_THREADS: String(threads) } }));
}

/** Seconds per epoch of a sharded fit: the mean over epochs 1..E from the coordinator's history. */
async function shardedEpoch(q, input, shards, maxIter) {
  const out = path.join(tmp, `out-${shards}-${Date.now()}`);
  const job = await q.submitFit({ input, out, shards, options: { nComponents: K, beta: 1, maxIter, tol: 0, costEvery: 1000, seed: 1, dtype: 'float32' } });
  await job.wait();
  const h = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8')).history;
  return (h[h.length - 1].seconds - h[1].seconds) / (h.length - 2);
}

async function main() {
  const tiny = path.join(tmp, 'tiny.npy'), big = path.join(tmp, 'big.npy');
  writeNpy(tiny, syntheticSpectrogram(64, F, { components: 8, seed: 1 }));
  const X = syntheticSpectrogram(N, F, { components: 20, seed: 2 });
  writeNpy(big, X);
  const results = {};

  // 1. The exchange alone: shards of 32 rows, where an epoch's compute is negligible.
  {
    const queue = `bench-${process.pid}-x`;
    const ws = workers(queue, 2, 1, 2);
    const q = new FitQueue({ connection: redis, queue });
    for (const S of [1, 2]) results[`exchange_ms_per_epoch_S${S}`] = 1000 * (await shardedEpoch(q, tiny, S, 200));
    results.bytes_up_per_shard_per_epoch = 2 * F * K * 4; // float32 parts
    results.bytes_down_per_shard_per_epoch = F * K * 4;
    await q.obliterate();
    await q.close();
    ws.forEach((w) => w.kill('SIGTERM'));
  }

  // 2. One process with 2 threads against 2 shard processes of 1 thread each (mu_batch, KL, float32).
  {
    setNumThreads(2);
    const m = await new BetaNMF({ nComponents: K, beta: 1, maxIter: epochs, tol: 0, costEvery: 1000, seed: 1, shuffle: false }).fit(X);
    results.local_2threads_ms_per_epoch = (1000 * (m.history[m.history.length - 1].seconds - m.history[1].seconds)) / (m.history.length - 2);
    const queue = `bench-${process.pid}-s`;
    const ws = workers(queue, 3, 1, 1); // one job per process: the coordinator and two shards
    const q = new FitQueue({ connection: redis, queue });
    results.sharded_2x1thread_ms_per_epoch = 1000 * (await shardedEpoch(q, big, 2, epochs));
    results.sharded_1x1thread_ms_per_epoch = 1000 * (await shardedEpoch(q, big, 1, epochs));
    await q.obliterate();
    await q.close();
    ws.forEach((w) => w.kill('SIGTERM'));
  }

  // 3. Transform jobs per second (200×513 against W of K=40, 20 iterations), by worker concurrency.
  {
    const Y = path.join(tmp, 'Y.npy'), W = path.join(tmp, 'W.npy');
    writeNpy(Y, syntheticSpectrogram(200, F, { components: 8, seed: 3 }));
    const model = await new BetaNMF({ nComponents: K, maxIter: 5, seed: 1 }).fit(syntheticSpectrogram(400, F, { components: 8, seed: 3 }));
    writeNpy(W, model.W);
    for (const concurrency of [1, 4]) {
      setNumThreads(concurrency === 1 ? 2 : 1);
      const queue = `bench-${process.pid}-t${concurrency}`;
      const w = await startWorker({ connection: redis, queue, concurrency });
      const q = new FitQueue({ connection: redis, queue });
      const count = 100, t0 = performance.now();
      const jobs = [];
      for (let i = 0; i < count; i++) jobs.push(await q.submitTransform({ input: Y, w: W, out: path.join(tmp, `H${i}.npy`), options: { maxIter: 20, tol: 0, seed: i } }));
      await Promise.all(jobs.map((j) => j.wait()));
      results[`transform_jobs_per_s_concurrency${concurrency}`] = count / ((performance.now() - t0) / 1000);
      await w.close();
      await q.obliterate();
      await q.close();
    }
  }
  results.shape = { N, F, K, epochs };
  process.stdout.write(JSON.stringify(results, null, 1) + '\n');
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
