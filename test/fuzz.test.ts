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

type Storage = 'plain' | 'offset' | 'shared' | 'resizable' | 'detached';
const storage = fc.constantFrom<Storage>('plain', 'offset', 'shared', 'resizable', 'detached');

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
  const m = b.matrix(floatArray(kind === 'detached' ? 'plain' : kind, dt, values), rows, cols);
  if (kind === 'detached') structuredClone(m.data.buffer, { transfer: [m.data.buffer] }); // a matrix whose buffer went elsewhere
  return m;
}

/**
 * Values whose inspection runs user code: getters that throw, Proxy traps, revoked proxies.
 * Generated as a marker ({ hostile: n }) and made inside the property: fast-check itself
 * inspects the values it generates.
 */
const hostileMarker = fc.integer({ min: 0, max: 5 }).map((n) => ({ hostile: n }));
function unwrap(v: unknown): unknown {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { hostile?: unknown }).hostile === 'number'
    ? hostile((v as { hostile: number }).hostile) : v;
}
function hostile(which: number): unknown {
  const bomb = (what: string) => () => { throw new Error(`${what} ran`); };
  switch (which % 6) {
    case 0: {
      const o = {};
      for (const k of ['rows', 'cols', 'dtype', 'data', 'constructor', 'pos', 'neg', 'out', 'length']) Object.defineProperty(o, k, { get: bomb(`getter ${k}`) });
      return o;
    }
    case 1: return new Proxy({}, { get: bomb('get trap'), has: bomb('has trap'), getPrototypeOf: bomb('prototype trap'), ownKeys: bomb('keys trap'), getOwnPropertyDescriptor: bomb('descriptor trap') });
    case 2: { const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy; }
    case 3: return new Proxy(new Float64Array(4), {});
    case 4: return new Proxy(b.zeros(2, 2), {});
    default: return new Proxy([[1, 2], [3, 4]], {});
  }
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
      hostileMarker,
    );
    const dim = fc.oneof(fc.integer({ min: -3, max: 12 }), fc.double(), fc.constant(undefined), fc.string(), fc.constant(2 ** 31));
    fc.assert(
      fc.property(data, dim, dim, (d, r, c) => {
        const m = tolerant(() => b.matrix(unwrap(d) as never, r as never, c as never));
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
        const usable = kind !== 'detached'; // a matrix over a detached buffer is a TypeError (even an empty one)
        const valid = usable && (typeof bt === 'number' && Number.isFinite(bt) && mismatch === 0 || mismatch === 5);
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
    const junk = fc.oneof(fc.anything(), fc.constant(b.zeros(2, 2)), fc.constant(b.zeros(2, 3, 'float32')), fc.constant({ pos: b.zeros(2, 2), neg: 3 }),
      hostileMarker, fc.constant('detached'));
    const junkValue = (v: unknown) => (v === 'detached' ? matrixOf('detached', 'float64', 2, 2, 1) : unwrap(v));
    fc.assert(
      fc.property(junk, junk, junk, fc.anything(), (p0, q0, r0, opts) => {
        const [p, q, r] = [p0, q0, r0].map(junkValue);
        tolerant(() => b.muUpdate(p as never, q as never, r as never, opts as never));
        try {
          tolerant(() => b.updateGradW(p as never, q as never, r as never));
        } catch (e) {
          // { pos, neg } pairs are read by name: the caller's own getter there may throw.
          assert.match((e as Error).message, /^getter (pos|neg) ran$/);
        }
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

  it('hostile arguments (throwing getters, Proxy traps, revoked proxies) get our TypeError, never theirs', () => {
    const X = matrixOf('plain', 'float64', 2, 2, 1), W = matrixOf('plain', 'float64', 2, 2, 2);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 7 }), (which, where) => {
        const h = hostile(which);
        const calls: Array<() => unknown> = [
          () => b.gradientH(h as never, W, X, 1), () => b.gradientHMu(X, W, h as never, 1), () => b.muUpdate(X, h as never, W),
          () => b.updateGradW(h as never, X, W), () => b.gradientW(X, W, X, 1, { out: h as never }),
          () => b.muUpdateH(X, W, X, 1, 0, { out: h as never }), () => b.betaDivergence(X, W, X, h as never),
          () => new b.BetaNMF({ nComponents: 2, maxIter: 1 }).fitSync(h as never),
        ];
        try {
          calls[where]();
        } catch (e) {
          // updateGradW's pairs and muUpdateH's out group are read by name (grad.pos, out.H): a
          // getter there is the caller's own code and may throw its own error.
          if (which % 6 === 0 && (where === 3 || where === 5) && / ran$/.test((e as Error).message)) return;
          assert.ok(e instanceof TypeError || e instanceof RangeError, `${(e as Error).message}`);
          assert.doesNotMatch((e as Error).message, / ran$|incompatible receiver|revoked/);
          assert.match((e as Error).message, /^[\w.[\]]+: expected .+, received .+/s);
        }
        casesRun++;
      }),
      { numRuns: RUNS },
    );
  });

  it('overlapping views as outputs: the result equals separate memory, or a RangeError for overlapping outputs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), dtype,
        fc.constantFrom(0.5, 1, 1.5, 2), fc.array(fc.integer({ min: 0, max: 24 }), { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 3 }),
        (N, F, K, dt, bt, offsets, kernel) => {
          const X = matrixOf('plain', dt, N, F, 1), W = matrixOf('plain', dt, F, K, 2);
          const C = dt === 'float32' ? Float32Array : Float64Array;
          const pool = new C(N * K + 30);
          const values = matrixOf('plain', dt, N, K, 3).data;
          pool.set(values, 12);
          const H = b.matrix(pool.subarray(12, 12 + N * K), N, K);
          const view = (o: number) => b.matrix(pool.subarray(o, o + N * K), N, K);
          const fresh = () => b.matrix(new C(values), N, K);
          const [o1, o2, o3] = offsets;
          casesRun++;
          let got: number[][] | undefined, want: number[][];
          try {
            if (kernel === 0) {
              want = [b.muUpdateH(X, W, fresh(), bt, 1e-9).H.data].map((d) => Array.from(d));
              got = [b.muUpdateH(X, W, H, bt, 1e-9, { out: { H: view(o1), pos: view(o2) } }).H.data].map((d) => Array.from(d));
            } else if (kernel === 1) {
              const r = b.gradientHMu(X, W, fresh(), bt);
              want = [Array.from(r.pos.data), Array.from(r.neg.data)];
              const g = b.gradientHMu(X, W, H, bt, { out: { pos: view(o1), neg: view(o2) } });
              got = [Array.from(g.pos.data), Array.from(g.neg.data)];
            } else if (kernel === 2) {
              // Inputs and the output all views of one buffer: the result of the inputs as they were.
              const copy = (m: b.Matrix) => b.matrix(new C(m.data), N, K);
              const [f, p, n] = [H, view(o2), view(o3)];
              want = [Array.from(b.muUpdate(copy(f), copy(p), copy(n), 1e-9).data)];
              got = [Array.from(b.muUpdate(f, p, n, 1e-9, { out: view(o1) }).data)];
            } else {
              const grad = fresh(), old = matrixOf('plain', dt, N, K, 4), nw = matrixOf('plain', dt, N, K, 5);
              want = [Array.from(b.updateGradW(grad, old, nw).data)];
              pool.set(grad.data, 12);
              got = [Array.from(b.updateGradW(H, old, nw, { out: view(o1) }).data)];
            }
          } catch (e) {
            assert.ok(e instanceof RangeError && /memory separate from/.test(e.message), `${e}`);
            return;
          }
          assert.deepEqual(got, want);
        }),
      { numRuns: RUNS },
    );
  });

  it('async calls with an argument transferred while they run: the sync result, or an Error naming the detached output', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 4 }), dtype,
        fc.constantFrom(0, 1, 1.5, 2), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 2 }), async (N, F, K, dt, bt, victim, kernel) => {
          const X = matrixOf('plain', dt, N, F, 1), W = matrixOf('plain', dt, F, K, 2), H = matrixOf('plain', dt, N, K, 3);
          const out = { pos: b.zeros(kernel === 1 ? F : N, K, dt), neg: b.zeros(kernel === 1 ? F : N, K, dt) };
          const sync = kernel === 0 ? b.gradientHMu(X, W, H, bt) : kernel === 1 ? b.gradientWMu(X, W, H, bt) : b.muUpdateH(X, W, H, bt, 1e-9);
          const pending = kernel === 0 ? b.gradientHMuAsync(X, W, H, bt, { out }) : kernel === 1 ? b.gradientWMuAsync(X, W, H, bt, { out })
            : b.muUpdateHAsync(X, W, H, bt, 1e-9, { out });
          const target = [X, W, H, out.pos, out.neg][victim];
          structuredClone(target.data.buffer, { transfer: [target.data.buffer] });
          casesRun++;
          try {
            const r = await pending;
            assert.ok(victim < 3, 'resolved although an output was detached');
            assert.deepEqual(Array.from(r.pos.data), Array.from(sync.pos.data));
            assert.deepEqual(Array.from(r.neg.data), Array.from(sync.neg.data));
          } catch (e) {
            assert.ok(victim >= 3, `${e}`);
            assert.match((e as Error).message, /^\w+: options\.out\.(pos|neg): its buffer was detached/);
          }
        }),
      { numRuns: RUNS / 5 },
    );
  });
});
