// Property-based tests (fast-check) over the public API: whatever is passed, the result is
// either right or a TypeError/RangeError, never a crash, a hang or another kind of error.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import * as b from '../lib';
import * as ref from './support/reference';

const RUNS = 300;
let casesRun = 0;
// A fixed seed keeps CI reproducible; BETANMF_FUZZ_SEED=random (or a number) explores further.
const seedEnv = process.env.BETANMF_FUZZ_SEED;
fc.configureGlobal({ seed: seedEnv === 'random' ? Date.now() | 0 : Number(seedEnv ?? 20261128) });

/** Runs fn; passes when it returns or throws TypeError/RangeError. Returns the value or undefined. */
function tolerant<T>(fn: () => T): T | undefined {
  casesRun++;
  try {
    return fn();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) {
      assert.match(e.message, /^[\w.[\]]+: expected .+, received .+/s, `message shape: ${e.message}`);
      return undefined;
    }
    throw e;
  }
}

const dims = fc.integer({ min: 0, max: 6 });
const dtype = fc.constantFrom<b.DType>('float32', 'float64');
const beta = fc.oneof(
  fc.constantFrom(0, 1, 2, 0.5, 1.5, 3, -0.5, NaN, Infinity, -Infinity, 1e308, -1e308, 5e-324),
  fc.double({ noNaN: false }),
  fc.constantFrom('2' as unknown as number, null as unknown as number, undefined as unknown as number, {} as unknown as number),
);

type Storage = 'plain' | 'offset' | 'shared' | 'resizable';
const storage = fc.constantFrom<Storage>('plain', 'offset', 'shared', 'resizable');

/** A typed array of `length` holding values, in one of several kinds of buffer. */
function floatArray(kind: Storage, dt: b.DType, values: number[]): Float32Array | Float64Array {
  const C = dt === 'float32' ? Float32Array : Float64Array;
  const bytes = C.BYTES_PER_ELEMENT;
  const n = values.length;
  let arr: Float32Array | Float64Array;
  if (kind === 'offset') arr = new C(new ArrayBuffer((n + 3) * bytes), 2 * bytes, n);
  else if (kind === 'shared') arr = new C(new SharedArrayBuffer(Math.max(n, 1) * bytes), 0, n);
  else if (kind === 'resizable') {
    const rab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(n * bytes, { maxByteLength: (n + 8) * bytes });
    arr = new C(rab, 0, n);
  } else arr = new C(n);
  arr.set(values);
  return arr;
}

function matrixOf(kind: Storage, dt: b.DType, rows: number, cols: number, seed: number): b.Matrix {
  const values = Array.from({ length: rows * cols }, (_, i) => 0.2 + ((seed * 31 + i * 17) % 97) / 50);
  return b.matrix(floatArray(kind, dt, values), rows, cols);
}

describe('fuzz: the public API never crashes', () => {
  after(() => console.log(`      (${casesRun} fuzz cases run)`));

  it('matrix() on arbitrary data and dimensions', () => {
    const data = fc.oneof(
      fc.float32Array({ maxLength: 12 }),
      fc.float64Array({ maxLength: 12 }),
      fc.int32Array({ maxLength: 12 }),
      fc.uint8Array({ maxLength: 12 }),
      fc.array(fc.array(fc.oneof(fc.double(), fc.string()), { maxLength: 4 }), { maxLength: 4 }),
      fc.anything(),
    );
    const dim = fc.oneof(fc.integer({ min: -3, max: 12 }), fc.double(), fc.constant(undefined), fc.string(), fc.constant(2 ** 31));
    fc.assert(
      fc.property(data, dim, dim, (d, r, c) => {
        const m = tolerant(() => b.matrix(d as never, r as never, c as never));
        if (m) {
          assert.equal(m.data.length, m.rows * m.cols);
          assert.ok(m.dtype === 'float32' || m.dtype === 'float64');
        }
      }),
      { numRuns: 3 * RUNS },
    );
  });

  it('kernels on random shapes, dtypes, β, storage and mismatches match the reference or throw cleanly', () => {
    fc.assert(
      fc.property(dims, dims, dims, dtype, dtype, beta, storage, fc.integer({ min: 0, max: 5 }), fc.integer(), (N, F, K, dt, dt2, bt, kind, mismatch, seed) => {
        const X = matrixOf(kind, dt, N, F, seed);
        // One operand may be off in shape or dtype.
        const W = matrixOf(kind, mismatch === 1 ? dt2 : dt, mismatch === 2 ? F + 1 : F, K, seed + 1);
        const H = matrixOf('plain', dt, mismatch === 3 ? N + 1 : N, K, seed + 2);
        const ops: (() => unknown)[] = [
          () => b.gradientH(X, W, H, bt), () => b.gradientWMu(X, W, H, bt), () => b.muUpdateH(X, W, H, bt, 1e-10),
          () => b.betaDivergence(X, W, H, bt), () => b.gradientW(X, W, H, bt, { out: mismatch === 4 ? b.zeros(F, K + 1, dt) : undefined }),
        ];
        const results = ops.map(tolerant);
        const valid = typeof bt === 'number' && Number.isFinite(bt) && mismatch === 0 || mismatch === 5;
        if (!valid || typeof bt !== 'number' || !Number.isFinite(bt)) return;
        // Valid calls: compare with the reference where the numbers are tame.
        assert.ok(results.every((r) => r !== undefined), 'a valid call threw');
        if (Math.abs(bt) > 4) return;
        const p = ref.hParts(X.toArray(), W.toArray(), H.toArray(), bt);
        const g = results[0] as b.Matrix;
        const want = ref.minus(p.neg, p.pos);
        const finite = (xs: number[]) => xs.filter(Number.isFinite).map(Math.abs);
        const scale = Math.max(1, ...finite(p.pos.flat()), ...finite(p.neg.flat()));
        const tol = (dt === 'float32' ? 1e-3 : 1e-9) * scale;
        g.toArray().forEach((row, i) =>
          row.forEach((v, j) => {
            // Where V = 0 the seed's formulas give ±Infinity or NaN (inf − inf); any non-finite value agrees.
            if (!Number.isFinite(want[i][j])) assert.ok(!Number.isFinite(v) || Math.abs(v) > 1e30, `${v} vs ${want[i][j]}`);
            else assert.ok(Math.abs(v - want[i][j]) <= tol, `${v} vs ${want[i][j]}`);
          }),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('elementwise kernels and the solver on junk', () => {
    const junk = fc.oneof(fc.anything(), fc.constant(b.zeros(2, 2)), fc.constant(b.zeros(2, 3, 'float32')), fc.constant({ pos: b.zeros(2, 2), neg: 3 }));
    fc.assert(
      fc.property(junk, junk, junk, fc.anything(), (p, q, r, opts) => {
        tolerant(() => b.muUpdate(p as never, q as never, r as never, opts as never));
        tolerant(() => b.updateGradW(p as never, q as never, r as never));
        tolerant(() => new b.BetaNMF(opts as never));
      }),
      { numRuns: RUNS },
    );
    const nmfOpts = fc.record({
      nComponents: fc.oneof(fc.integer({ min: -1, max: 4 }), fc.double()),
      beta: fc.oneof(fc.double({ min: -2, max: 4, noNaN: true }), fc.constantFrom('frobenius', 'itakura-saito', NaN)),
      solver: fc.constantFrom('mu_batch', 'asg_mu', 'gsg_mu', 'asag_mu', 'gsag_mu', 'nope'),
      batchSize: fc.integer({ min: -1, max: 9 }),
      maxIter: fc.integer({ min: 0, max: 3 }),
      sagMemory: fc.integer({ min: 0, max: 3 }),
    }, { requiredKeys: [] });
    fc.assert(
      fc.property(nmfOpts, dims, dims, fc.boolean(), (o, N, F, zeros) => {
        const X = matrixOf('plain', 'float64', N, F, 3);
        if (zeros && X.data.length) X.data[0] = 0;
        const m = tolerant(() => new b.BetaNMF({ ...o, seed: 1 } as b.BetaNMFOptions).fitSync(X));
        if (m) for (const f of [m.W!, m.H!]) assert.ok(f.data.every((v) => Number.isFinite(v) && v >= 0));
      }),
      { numRuns: RUNS },
    );
  });
});
