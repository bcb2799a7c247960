// Run in a child process by test/isa.test.ts with BETANMF_CPU_ISA set: reports which copy of the
// elementwise loops the addon picked, each kernel family's largest error against the float64
// reference, and the results on special values (0, negative, denormal, huge, Inf, NaN) so that
// the parent can check every copy gives them the same meaning. Prints one JSON line.
import * as b from '../../lib';
import { addon } from '../../lib/native';
import * as ref from './reference';
import { randomDense, relError, rng, toMatrix } from './data';

const BETAS = [-0.5, 0, 0.5, 1, 1.25, 1.5, 3, 4, -3];
// γ = 1, ½ and a general exponent (β=0.5 under the majorise-minimise update: 2/3).
const GAMMAS = [1, 0.5, 2 / 3];
const [N, F, K] = [300, 77, 5]; // 77 columns: four full vectors of 16 and a masked tail

/** Text for a value JSON cannot hold. */
const enc = (v: number) => (Number.isFinite(v) ? v : String(v));

const errors: Record<string, number> = {};
for (const dtype of ['float32', 'float64'] as const) {
  const rand = rng(7);
  const Xd = randomDense(rand, N, F, dtype, 0.01, 3, 0.1);
  const Wd = randomDense(rand, F, K, dtype, 0.01, 2);
  const Hd = randomDense(rand, N, K, dtype, 0.01, 2);
  const X = toMatrix(Xd, F, dtype), W = toMatrix(Wd, K, dtype), H = toMatrix(Hd, K, dtype);
  for (const beta of BETAS) {
    const hRef = ref.hParts(Xd, Wd, Hd, beta), wRef = ref.wParts(Xd, Wd, Hd, beta);
    const h = b.gradientHMu(X, W, H, beta), w = b.gradientWMu(X, W, H, beta);
    const gh = b.gradientH(X, W, H, beta);
    errors[`${dtype} parts β=${beta}`] = Math.max(relError(h.pos, hRef.pos), relError(h.neg, hRef.neg),
      relError(w.pos, wRef.pos), relError(w.neg, wRef.neg), relError(gh, ref.minus(hRef.neg, hRef.pos), hRef.pos, hRef.neg));
  }
  // The update step through the solver (updateH only): H ⊙ (neg / (pos + eps))^γ.
  const beta = 0.5, eps = 1e-3;
  const hRef = ref.hParts(Xd, Wd, Hd, beta);
  for (const gamma of GAMMAS) {
    const Hc = toMatrix(Hd, K, dtype);
    const fit = new addon.Fit({ X: X.native, W: W.native, H: Hc.native, N, F, K, dtype, beta, solver: 'mu_batch', batchSize: N, eps,
      gamma, forget: 1, vFloor: 0, updateH: true, updateW: false, shuffle: 'none', positive: false });
    fit.run(false, {});
    fit.read('H', Hc.native);
    fit.dispose();
    const expected = Hd.map((r, i) => r.map((h, k) => h * Math.pow(hRef.neg[i][k] / (hRef.pos[i][k] + eps), gamma)));
    errors[`${dtype} step γ=${gamma.toFixed(3)}`] = relError(Hc, expected);
  }
}

// Special values, one per entry: with N = K = 1 and H = 1, V = W, and the W parts are
// pos_f = V_f^(β−1), neg_f = V_f^(β−2)·X_f, entry by entry.
const SPECIAL = [0, -0, -1, -2.5, 1e-40, 1e-30, 1e-20, 3e38, 1e30, Infinity, -Infinity, NaN, 1, 2, 0.5, 7.25, 1e-7, 123.5];
const specials: Record<string, (number | string)[]> = {};
for (const dtype of ['float32', 'float64'] as const) {
  const n = SPECIAL.length;
  const W = toMatrix(SPECIAL.map((v) => [v]), 1, dtype);
  const X = toMatrix([SPECIAL.map((_, i) => 0.25 + i)], n, dtype);
  const H = toMatrix([[1]], 1, dtype);
  for (const beta of BETAS) {
    const w = b.gradientWMu(X, W, H, beta);
    const g = b.gradientW(X, W, H, beta);
    specials[`${dtype} β=${beta}`] = [...w.pos.data, ...w.neg.data, ...g.data].map(enc);
  }
  // muUpdate (γ = 1) on pos/neg pairs that make 1/0, 0/0, Inf/Inf, overflow and denormals.
  const pos = [0, 0, Infinity, 1e-39, 1e-3, -1, NaN, 2, 1e-30, 5];
  const neg = [1, 0, Infinity, 1, 3e38, 2, 1, NaN, 1e30, Infinity];
  const m = (v: number[]) => toMatrix([v], v.length, dtype);
  specials[`${dtype} muUpdate`] = [...b.muUpdate(m(pos.map(() => 1.5)), m(pos), m(neg)).data].map(enc);
}

process.stdout.write(JSON.stringify({ isa: addon.cpuIsa(), errors, specials }) + '\n');
