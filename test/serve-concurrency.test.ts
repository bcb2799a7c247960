// Issue 24 item 1: a fitted model serves concurrently. Transforms (and inverseTransform) only read
// the model, so any number may run at once; fit and partialFit are exclusive among themselves;
// a transform running while a fit or partialFit runs uses the last complete W (the one the model
// had when the transform started), never a half-updated one.
import { strict as assert } from 'node:assert';
import * as b from '../lib';

const F = 96, K = 12;
const X = b.syntheticSpectrogram(1500, F, { components: K, seed: 21 });
const rows = (i: number, n: number) => new b.Matrix(X.data.slice(i * F, (i + n) * F), n, F);
const quiet = { onWarning: () => {} };

/** model.transform with W fixed to `W`, on a model of its own: the reference for "uses W". */
function transformWith(W: b.Matrix, Xr: b.Matrix, options: b.BetaNMFOptions): Promise<b.Matrix> {
  return new b.BetaNMF({ ...options, nComponents: W.cols, W, init: 'custom', fixed: ['W'], ...quiet }).transform(Xr);
}

describe('a fitted model serves concurrently (issue 24, item 1)', () => {
  const options = { nComponents: K, beta: 1, maxIter: 20, tol: 0, seed: 21 };
  let model: b.BetaNMF;
  before(async () => {
    model = await new b.BetaNMF({ ...options, ...quiet }).fit(X);
  });

  it('(rule) concurrent transforms on one model all resolve, each to what it gives alone', async () => {
    const parts = [[0, 1], [10, 7], [40, 64], [200, 3], [300, 250]];
    const alone: b.Matrix[] = [];
    for (const [i, n] of parts) alone.push(await model.transform(rows(i, n)));
    const together = await Promise.all(parts.map(([i, n]) => model.transform(rows(i, n))));
    together.forEach((H, j) => assert.deepEqual(H.data, alone[j].data));
  });

  it('(rule) transformSync, inverseTransform and the cost getters work while an async transform runs', async () => {
    const pending = model.transform(rows(0, 1000));
    const H = model.transformSync(rows(5, 2));
    assert.deepEqual(H.data, (await transformWith(model.W!, rows(5, 2), options)).data);
    assert.equal(model.inverseTransform(H).rows, 2);
    assert.equal(typeof model.cost, 'number');
    await pending;
  });

  it('(rule) a transform while a fit runs uses the last complete W; the fit then replaces W whole', async () => {
    const m = await new b.BetaNMF({ ...options, ...quiet }).fit(X);
    const W0 = m.W!.clone();
    const ref = await transformWith(W0, rows(7, 5), options);
    let during: Promise<b.Matrix> | undefined;
    const fit = m.fit(rows(0, 1200), {
      onEpoch: ({ epoch }) => {
        // Mid-fit: the model's W is still the last complete one.
        if (epoch === 5) during = m.transform(rows(7, 5));
      },
    });
    await fit;
    assert.ok(during, 'the transform started during the fit');
    assert.deepEqual((await during).data, ref.data);
    assert.notDeepEqual(m.W!.data, W0.data, 'the fit changed W');
    assert.deepEqual((await m.transform(rows(7, 5))).data, (await transformWith(m.W!, rows(7, 5), options)).data);
  });

  it('(rule) a partialFit of a model without W does not show its starting W before it completes', async () => {
    const m = new b.BetaNMF({ ...options, ...quiet });
    let done = false, early = false;
    const pf = m.partialFit(rows(0, 1500)).then(() => void (done = true));
    while (!done) {
      if (m.W !== undefined && !done) early = true;
      await new Promise((r) => setImmediate(r));
    }
    await pf;
    assert.ok(m.W);
    assert.equal(early, false, 'model.W was set (to the random start) while the partialFit ran');
  });

  it('(rule) a fit may start while transforms run (they keep the W they started with)', async () => {
    const m = await new b.BetaNMF({ ...options, ...quiet }).fit(X);
    const W0 = m.W!.clone();
    const t = m.transform(rows(0, 800));
    await m.fit(rows(0, 600));
    assert.deepEqual((await t).data, (await transformWith(W0, rows(0, 800), options)).data);
  });

  it('fit and partialFit stay exclusive: a second one while one runs is an Error', async () => {
    const m = new b.BetaNMF({ ...options, ...quiet });
    const first = m.fit(X);
    await assert.rejects(m.fit(X), /a fit, partialFit or save of this model is still running/);
    await assert.rejects(m.partialFit(rows(0, 100)), /a fit, partialFit or save of this model is still running/);
    assert.throws(() => m.fitSync(X), /a fit, partialFit or save of this model is still running/);
    await first;
  });
});
