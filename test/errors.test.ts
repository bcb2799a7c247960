// Bad input never crashes: TypeError for a wrong kind of value, RangeError for a wrong shape
// or value, each message naming the argument, what was expected and what was received.
import { strict as assert } from 'node:assert';
import * as b from '../lib';

const X = b.matrix([[1, 2, 3], [4, 5, 6]]); // N=2, F=3
const W = b.matrix([[1, 2], [3, 4], [5, 6]]); // F×K, K=2
const H = b.matrix([[1, 2], [3, 4]]); // N×K

function throwsWith(fn: () => unknown, cls: typeof TypeError | typeof RangeError, ...parts: (string | RegExp)[]) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    const msg = (err as Error).message;
    for (const p of parts) assert.ok(typeof p === 'string' ? msg.includes(p) : p.test(msg), `"${msg}" lacks ${String(p)}`);
    return true;
  });
}

describe('errors: matrix()', () => {
  it('TypeError for integer typed arrays and other non-float data', () => {
    for (const data of [new Int32Array(4), new Uint8Array(4), new BigInt64Array(4), 'abc', 42, null, { length: 4 }]) {
      throwsWith(() => b.matrix(data as never, 2, 2), TypeError, 'data:', 'expected a Float32Array, Float64Array or number[][]', 'received');
    }
    throwsWith(() => b.matrix(new Int32Array(4) as never, 2, 2), TypeError, 'received Int32Array(4)');
  });

  it('RangeError when data.length ≠ rows·cols', () => {
    throwsWith(() => b.matrix(new Float64Array(5), 2, 3), RangeError, 'data:', 'length rows·cols = 2·3 = 6', 'received length 5');
    throwsWith(() => b.matrix(new Float32Array(7), 2), RangeError, 'rows:', 'divisor of data.length = 7', 'received 2');
  });

  it('RangeError for negative, fractional or huge dimensions; TypeError for non-numbers', () => {
    throwsWith(() => b.matrix(new Float64Array(0), -1, 0), RangeError, 'rows:', 'integer in [0,', 'received -1');
    throwsWith(() => b.matrix(new Float64Array(3), 1.5, 2), RangeError, 'rows:', 'received 1.5');
    throwsWith(() => b.matrix(new Float64Array(3), 1, NaN), RangeError, 'cols:', 'received NaN');
    throwsWith(() => b.matrix(new Float64Array(0), 2 ** 31, 0), RangeError, 'rows:');
    throwsWith(() => b.matrix(new Float64Array(4), '2' as never, 2), TypeError, 'rows:', 'received the string "2"');
    throwsWith(() => b.matrix(new Float64Array(4)), TypeError, 'rows:', 'received undefined');
    throwsWith(() => b.zeros(-2, 3), RangeError, 'rows:');
  });

  it('ragged or non-numeric nested arrays', () => {
    throwsWith(() => b.matrix([[1, 2], [3]]), RangeError, 'data[1]:', 'length 2', 'received length 1');
    throwsWith(() => b.matrix([[1, 'x' as never]]), TypeError, 'data[0][1]:', 'a number', 'received the string "x"');
    throwsWith(() => b.matrix([1, 2] as never), TypeError, 'data[0]:', 'an array of numbers', 'received 1');
    throwsWith(() => b.matrix([[1, 2]], 3), RangeError, 'rows:', 'received 3');
    throwsWith(() => b.matrix([[1, 2]], { dtype: 'int8' as never }), TypeError, 'dtype:', 'received the string "int8"');
  });
});

describe('errors: kernels', () => {
  const kernels: [string, (x: unknown, w: unknown, h: unknown, beta: unknown) => unknown][] = [
    ['gradientH', (x, w, h, beta) => b.gradientH(x as b.Matrix, w as b.Matrix, h as b.Matrix, beta as number)],
    ['gradientHMu', (x, w, h, beta) => b.gradientHMu(x as b.Matrix, w as b.Matrix, h as b.Matrix, beta as number)],
    ['gradientW', (x, w, h, beta) => b.gradientW(x as b.Matrix, w as b.Matrix, h as b.Matrix, beta as number)],
    ['gradientWMu', (x, w, h, beta) => b.gradientWMu(x as b.Matrix, w as b.Matrix, h as b.Matrix, beta as number)],
    ['muUpdateH', (x, w, h, beta) => b.muUpdateH(x as b.Matrix, w as b.Matrix, h as b.Matrix, beta as number)],
    ['betaDivergence', (x, w, h, beta) => b.betaDivergence(x as b.Matrix, w as b.Matrix, h as b.Matrix, beta as number)],
  ];

  for (const [name, k] of kernels) {
    it(`${name}: TypeError for a non-Matrix operand or a non-number β`, () => {
      throwsWith(() => k(X.data, W, H, 1), TypeError, 'X:', 'expected a Matrix', 'received Float64Array(6)');
      throwsWith(() => k(X, [[1, 2]], H, 1), TypeError, 'W:', 'received an array of length 1');
      throwsWith(() => k(X, W, null, 1), TypeError, 'H:', 'received null');
      throwsWith(() => k(X, W, H, '2'), TypeError, 'beta:', 'a number', 'received the string "2"');
      throwsWith(() => k(X, W, H, undefined), TypeError, 'beta:', 'received undefined');
    });

    it(`${name}: RangeError for NaN or infinite β`, () => {
      throwsWith(() => k(X, W, H, NaN), RangeError, 'beta:', 'a finite number', 'received NaN');
      throwsWith(() => k(X, W, H, Infinity), RangeError, 'beta:', 'received Infinity');
      throwsWith(() => k(X, W, H, -Infinity), RangeError, 'beta:', 'received -Infinity');
    });

    it(`${name}: RangeError for mismatched shapes, TypeError for mixed dtypes`, () => {
      throwsWith(() => k(X, b.zeros(2, 2), H, 1), RangeError, 'W:', 'expected 3×2 (F×K with F = X.cols and K = H.cols)', 'received 2×2');
      throwsWith(() => k(X, W, b.zeros(3, 2), 1), RangeError, 'H:', 'expected 2 rows (N = X.rows)', 'received 3×2');
      throwsWith(() => k(X, b.zeros(3, 3), H, 1), RangeError, 'W:', 'received 3×3');
      const W32 = b.matrix(new Float32Array(6), 3, 2);
      throwsWith(() => k(X, W32, H, 1), TypeError, 'W:', 'dtype float64 (the dtype of X)', 'received a float32 matrix 3×2');
    });
  }

  it('options.out of the wrong shape, dtype or kind', () => {
    throwsWith(() => b.gradientH(X, W, H, 1, { out: b.zeros(3, 2) }), RangeError, 'options.out:', 'expected 2×2 (N×K, the shape of H)', 'received 3×2');
    throwsWith(() => b.gradientW(X, W, H, 1, { out: b.zeros(2, 2) }), RangeError, 'options.out:', 'expected 3×2 (F×K, the shape of W)');
    throwsWith(() => b.gradientH(X, W, H, 1, { out: b.zeros(2, 2, 'float32') }), TypeError, 'options.out:', 'dtype float64');
    throwsWith(() => b.gradientH(X, W, H, 1, { out: new Float64Array(4) as never }), TypeError, 'options.out:', 'a Matrix');
    throwsWith(() => b.gradientHMu(X, W, H, 1, { out: b.zeros(2, 2) as never }), TypeError, 'options.out:', 'optional pos, neg');
    throwsWith(() => b.gradientH(X, W, H, 1, 'fast' as never), TypeError, 'options:', 'received the string "fast"');
    const same = b.zeros(2, 2);
    throwsWith(() => b.gradientHMu(X, W, H, 1, { out: { pos: same, neg: same } }), RangeError, 'options.out.neg:', 'memory separate from options.out.pos');
  });

  it('eps must be a finite number ≥ 0', () => {
    throwsWith(() => b.muUpdateH(X, W, H, 1, -1), RangeError, 'eps:', 'received -1');
    throwsWith(() => b.muUpdate(H, H, H, NaN), RangeError, 'eps:', 'received NaN');
    throwsWith(() => b.muUpdate(H, H, H, '0' as never), TypeError, 'eps:');
  });

  it('muUpdate and updateGradW check their operands against the first', () => {
    throwsWith(() => b.muUpdate(H, W, H), RangeError, 'pos:', 'expected 2×2 (the shape of factor)', 'received 3×2');
    throwsWith(() => b.muUpdate(H, H, b.zeros(2, 2, 'float32')), TypeError, 'neg:', 'dtype float64 (the dtype of factor)');
    throwsWith(() => b.muUpdate([[1]] as never, H, H), TypeError, 'factor:', 'a Matrix');
    throwsWith(() => b.updateGradW(H, H, W), RangeError, 'gradNew:', 'the shape of grad');
    throwsWith(() => b.updateGradW({ pos: H, neg: H }, H as never, H as never), TypeError, 'gradOld:', 'a { pos, neg } pair');
  });

  it('native entry points called wrongly throw instead of crashing', () => {
    // The addon trusts lib/ but still checks: wrong kinds and lengths become exceptions.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { addon } = require('../lib/native') as typeof import('../lib/native');
    assert.throws(() => addon.hParts(false, new Int32Array(4) as never, W.data, H.data, 2, 3, 2, 1, null, null, null), TypeError);
    assert.throws(() => addon.hParts(false, X.data, W.data, H.data, 2, 3, 3, 1, null, null, new Float64Array(4)), RangeError);
    assert.throws(() => addon.betaDivergence(false, X.data, W.data, new Float32Array(4) as never, 2, 3, 2, 1, 0), TypeError);
    assert.throws(() => addon.betaDivergence(false, X.data, W.data, H.data, -1, 3, 2, 1, 0), RangeError);
    assert.throws(() => addon.muUpdate(false, H.data, H.data, H.data, 0, new Float64Array(3)), RangeError);
  });
});
