// createBatcher: concurrent requests coalesced into one native transform per batch, each
// request's H independent of its batch-mates, bad requests refused alone, abort, backpressure, close.
import { strict as assert } from 'node:assert';
import * as b from '../lib';

const F = 96, K = 12;
const X = b.syntheticSpectrogram(600, F, { components: K, seed: 5 });
const quiet = { onWarning: () => {} };
const rows = (i: number, n = 1, dtype: b.DType = 'float32'): b.Matrix => {
  const d = X.data.slice(i * F, (i + n) * F);
  return new b.Matrix(dtype === 'float64' ? Float64Array.from(d) : Float32Array.from(d), n, F);
};

async function fitted(options: b.BetaNMFOptions = {}): Promise<b.BetaNMF> {
  return new b.BetaNMF({ nComponents: K, beta: 1, maxIter: 15, tol: 0, seed: 5, ...quiet, ...options }).fit(X);
}

/** Largest |a − b| over the largest |a| (a request's H against its reference). */
function relDiff(a: b.Matrix, ref: b.Matrix): number {
  let d = 0, m = 0;
  for (let i = 0; i < ref.data.length; i++) {
    d = Math.max(d, Math.abs(a.data[i] - ref.data[i]));
    m = Math.max(m, Math.abs(ref.data[i]));
  }
  return d / m;
}

describe('createBatcher', () => {
  let model: b.BetaNMF;
  before(async () => {
    model = await fitted();
  });

  it('a request alone is model.transform of its rows (tol 0: the same iterations) bit for bit', async () => {
    const batcher = b.createBatcher(model, { maxDelayMs: 0 });
    for (const [i, n] of [[0, 1], [17, 2], [40, 3]]) {
      const H = await batcher.transform(rows(i, n));
      const ref = await model.transform(rows(i, n));
      assert.equal(H.rows, n);
      assert.equal(H.cols, K);
      assert.deepEqual(H.data, ref.data);
    }
    await batcher.close();
  });

  it('coalesces concurrent requests into few native calls, rows and order kept', async () => {
    const batches: number[] = [];
    const batcher = b.createBatcher(model, { maxBatch: 16, maxDelayMs: 5, onBatch: (info) => batches.push(info.rows) });
    const out = await Promise.all(Array.from({ length: 64 }, (_, i) => batcher.transform(rows(i))));
    const s = batcher.stats();
    assert.equal(s.completed, 64);
    assert.equal(s.rows, 64);
    assert.ok(s.batches <= 8, `${s.batches} batches for 64 one-row requests at maxBatch 16`);
    assert.ok(batches.every((n) => n <= 16));
    // Each answer is its own request's (against the request alone, within the BLAS bound below).
    const alone = b.createBatcher(model, { maxDelayMs: 0 });
    for (let i = 0; i < 64; i += 9) assert.ok(relDiff(out[i], await alone.transform(rows(i))) < 1e-4);
    await Promise.all([batcher.close(), alone.close()]);
  });

  it("a request's H does not depend on its batch-mates: bit for bit while its rows fall in the same GEMM tiles, else within float rounding", async () => {
    // Reference: every request alone (batches of ≤ 3 rows are model.transform bit for bit).
    const sizes = [1, 2, 3, 1, 5, 1, 12, 1, 2, 7, 1, 1, 4, 1, 9, 1];
    let at = 0;
    const requests = sizes.map((n) => {
      const r = { i: at, n };
      at += n;
      return r;
    });
    const alone = b.createBatcher(model, { maxDelayMs: 0 });
    const ref: b.Matrix[] = [];
    for (const r of requests) ref.push(await alone.transform(rows(r.i, r.n)));
    for (const maxBatch of [3, 16, 64]) {
      // Different batch-mates: the requests in another order, with strangers between them.
      for (const order of [requests, [...requests].reverse()]) {
        const batcher = b.createBatcher(model, { maxBatch, maxDelayMs: 20 });
        const pending = order.flatMap((r, j) => [batcher.transform(rows(r.i, r.n)), batcher.transform(rows(300 + j, 1 + (j % 3)))]);
        const out = await Promise.all(pending);
        order.forEach((r, j) => {
          const H = out[2 * j], e = ref[requests.indexOf(r)];
          if (maxBatch === 3) assert.deepEqual(H.data, e.data, `request of ${r.n} rows in batches of ≤ 3 rows`);
          else assert.ok(relDiff(H, e) <= 1e-4, `request at ${r.i} (${r.n} rows), maxBatch ${maxBatch}: ${relDiff(H, e)}`);
        });
        await batcher.close();
      }
    }
    // The same batch twice: identical (no dependence on timing or threads).
    const twice: b.Matrix[][] = [];
    for (let k = 0; k < 2; k++) {
      const batcher = b.createBatcher(model, { maxBatch: 64, maxDelayMs: 20 });
      twice.push(await Promise.all(requests.map((r) => batcher.transform(rows(r.i, r.n)))));
      await batcher.close();
    }
    twice[0].forEach((H, j) => assert.deepEqual(H.data, twice[1][j].data));
    await alone.close();
  });

  it('float64 models: batch-mates change a request only at double rounding', async () => {
    const m64 = await fitted({ dtype: 'float64' });
    const alone = b.createBatcher(m64, { maxDelayMs: 0 });
    const batcher = b.createBatcher(m64, { maxBatch: 64, maxDelayMs: 20 });
    const out = await Promise.all(Array.from({ length: 40 }, (_, i) => batcher.transform(rows(i, 1, 'float64'))));
    for (let i = 0; i < 40; i += 3) {
      const e = await alone.transform(rows(i, 1, 'float64'));
      assert.equal(e.dtype, 'float64');
      assert.ok(relDiff(out[i], e) <= 1e-12, `${relDiff(out[i], e)}`);
    }
    await Promise.all([batcher.close(), alone.close()]);
  });

  it("a bad request is refused alone with model.transform's message; its batch-mates are answered", async () => {
    const bad = (f: (d: Float32Array) => void, n = 1, cols = F) => {
      const d = new Float32Array(n * cols).fill(0.5);
      f(d);
      return new b.Matrix(d, n, cols);
    };
    const cases: b.Matrix[] = [
      bad(() => {}, 1, F - 1), // wrong width
      bad((d) => (d[F + 3] = -1), 2), // negative
      bad((d) => (d[7] = NaN)), // NaN
      bad((d) => (d[2] = Infinity)), // infinite
      bad((d) => d.fill(0)), // all zeros
      new b.Matrix(new Float32Array(0), 0, F), // no rows
    ];
    const batcher = b.createBatcher(model, { maxBatch: 64, maxDelayMs: 20 });
    const good = [batcher.transform(rows(1)), batcher.transform(rows(2, 3))];
    for (const Xb of cases) {
      const expected = await model.transform(Xb).then(() => undefined, (e: Error) => e);
      assert.ok(expected instanceof RangeError, 'model.transform refuses it too');
      await assert.rejects(batcher.transform(Xb), (e: Error) => e instanceof RangeError && e.message === expected.message);
    }
    await assert.rejects(batcher.transform([[1, 2]] as unknown as b.Matrix), TypeError);
    good.push(batcher.transform(rows(5)));
    const H = await Promise.all(good);
    assert.deepEqual(H.map((h) => h.rows), [1, 3, 1]);
    const s = batcher.stats();
    assert.equal(s.refused, cases.length + 1);
    assert.equal(s.completed, 3);
    await batcher.close();
  });

  it('β ≤ 0: a zero entry is refused as model.transform refuses it', async () => {
    const is = await fitted({ beta: 0 });
    const Xz = rows(3);
    Xz.data[4] = 0;
    const expected = await is.transform(Xz).then(() => undefined, (e: Error) => e);
    assert.ok(expected instanceof RangeError);
    const batcher = b.createBatcher(is);
    await assert.rejects(batcher.transform(Xz), { message: expected.message });
    await batcher.close();
  });

  it('abort: a queued request leaves the queue; an aborted signal is refused at once', async () => {
    const batcher = b.createBatcher(model, { maxBatch: 64, maxDelayMs: 200 });
    const ac = new AbortController();
    const keep = batcher.transform(rows(1));
    const gone = batcher.transform(rows(2, 2), { signal: ac.signal });
    assert.equal(batcher.stats().queued, 2);
    ac.abort();
    await assert.rejects(gone, b.AbortError);
    assert.equal(batcher.stats().queued, 1);
    assert.equal(batcher.stats().queuedRows, 1);
    await assert.rejects(batcher.transform(rows(3), { signal: ac.signal }), b.AbortError);
    assert.equal((await keep).rows, 1);
    const s = batcher.stats();
    assert.equal(s.rows, 1, 'the aborted rows never ran');
    assert.equal(s.aborted, 2);
    await batcher.close();
  });

  it('maxQueue: requests beyond it are refused with QueueFullError, the queued ones still run', async () => {
    const batcher = b.createBatcher(model, { maxBatch: 64, maxDelayMs: 100, maxQueue: 3 });
    const queued = [1, 2, 3].map((i) => batcher.transform(rows(i)));
    await assert.rejects(batcher.transform(rows(4)), (e: Error) =>
      e instanceof b.QueueFullError && (e as b.QueueFullError).code === 'BETANMF_QUEUE_FULL' && /maxQueue = 3/.test(e.message));
    assert.equal((await Promise.all(queued)).length, 3);
    assert.equal(batcher.stats().queueFull, 1);
    await batcher.close();
  });

  it('close() finishes what is queued and refuses new requests; close({ cancel: true }) rejects the queued', async () => {
    const batcher = b.createBatcher(model, { maxDelayMs: 10_000 });
    const queued = [batcher.transform(rows(1)), batcher.transform(rows(2))];
    await batcher.close(); // does not wait out maxDelayMs
    assert.equal((await Promise.all(queued)).length, 2);
    await assert.rejects(batcher.transform(rows(1)), b.BatcherClosedError);

    const other = b.createBatcher(model, { maxDelayMs: 10_000 });
    const dropped = other.transform(rows(1));
    await other.close({ cancel: true });
    await assert.rejects(dropped, b.BatcherClosedError);
    assert.equal(other.stats().cancelled, 1);
    assert.equal(other.stats().batches, 0);
  });

  it('each batch uses the W the model has when it starts (a refit is seen whole)', async () => {
    const m = await fitted();
    const batcher = b.createBatcher(m, { maxDelayMs: 0 });
    const before = await batcher.transform(rows(8));
    await m.fit(X.data.length ? b.syntheticSpectrogram(300, F, { components: K, seed: 9 }) : X);
    const after = await batcher.transform(rows(8));
    assert.notDeepEqual(after.data, before.data);
    assert.deepEqual(after.data, (await m.transform(rows(8))).data);
    await batcher.close();
  });

  it('checks its arguments', () => {
    assert.throws(() => b.createBatcher({} as b.BetaNMF), TypeError);
    assert.throws(() => b.createBatcher(new b.BetaNMF({ nComponents: 2 })), /no W yet/);
    assert.throws(() => b.createBatcher(model, { maxBatch: 0 }), RangeError);
    assert.throws(() => b.createBatcher(model, { maxQueue: 1.5 }), RangeError);
    assert.throws(() => b.createBatcher(model, { maxDelayMs: -1 }), RangeError);
    assert.throws(() => b.createBatcher(model, { maxIter: '3' as unknown as number }), TypeError);
  });
});
