// A float64 reference of the original's five solvers (ORIGINAL.md), in plain loops over the
// kernel reference: batches in row order, custom initial factors, MU steps with eps and γ.
import { hParts, wParts, type Dense } from './reference';

export type Solver = 'mu_batch' | 'asg_mu' | 'gsg_mu' | 'asag_mu' | 'gsag_mu';

/**
 * The MU step; with `guard` (update 'mm', core/solver.h), an entry whose parts are both 0 keeps
 * prior's value, and the others are at least floor·prior.
 */
function step(f: Dense, pos: Dense, neg: Dense, eps: number, gamma: number, guard?: { prior: Dense; floor: number }): Dense {
  return f.map((r, i) => r.map((v, j) => {
    const out = v * Math.pow(neg[i][j] / (pos[i][j] + eps), gamma);
    if (!guard) return out;
    const prior = guard.prior[i][j];
    return pos[i][j] === 0 && neg[i][j] === 0 ? prior : Math.max(out, guard.floor * prior);
  }));
}
const zeros = (r: number, c: number): Dense => Array.from({ length: r }, () => new Array<number>(c).fill(0));
const lin = (a: number, A: Dense, b: number, B: Dense): Dense => A.map((r, i) => r.map((v, j) => a * v + b * B[i][j]));

/**
 * `averageTargets` (update 'mm'): the SAG variants average W^(1/γ) ⊙ neg (each batch's target)
 * with pos, and W = (avg_neg / (avg_pos + eps))^γ, instead of applying the averaged ratio to W.
 * The weight of each batch is the adaptive gain: 1 for the first, then
 * clamp(g·exp(c), 1/(sagMemory + 1), 1), c the correlation of the batch's step
 * (neg − pos) / (neg + pos) with the earlier steps averaged with the previous gain.
 * `weights`: entry weights M (N×F) in every part. Penalties: αH·F·(ρ + (1−ρ)·H) joins H's
 * positive part, and a batch of n rows adds n·αW·(ρ + (1−ρ)·W) to W's (inside the averages).
 * `fixedComponents`: those W columns are put back to W0's after every W update.
 * `guards` (update 'mm'): 0/0 keeps the entry; a W step from part of the data (not mu_batch, not
 * one batch of all rows) applies a ratio of at least ½.
 */
export function referenceFit(X: Dense, W0: Dense, H0: Dense, o: { beta: number; solver: Solver; batchSize: number; epochs: number;
  eps: number; gamma: number; sagMemory: number; averageTargets?: boolean; weights?: Dense; alphaW?: number; alphaH?: number;
  l1Ratio?: number; fixedComponents?: number[]; guards?: boolean }): { W: Dense; H: Dense } {
  let W = W0.map((r) => r.slice());
  const H = H0.map((r) => r.slice());
  const N = X.length, F = W.length, K = W[0].length, F0 = X[0].length;
  const f = o.solver === 'asag_mu' || o.solver === 'gsag_mu' ? 1 / (o.sagMemory + 1) : 1;
  let avg = { pos: zeros(F, K), neg: zeros(F, K) };
  const sag = o.solver === 'asag_mu' || o.solver === 'gsag_mu';
  const targets = sag && o.averageTargets === true;
  const ones = W0.map((r) => r.map(() => 1));
  let gain = 0;
  let last = zeros(F, K);
  const adapt = (pos: Dense, neg: Dense): number => {
    const step = pos.map((r, i) => r.map((p, j) => (neg[i][j] + p > 0 ? (neg[i][j] - p) / (neg[i][j] + p) : 0)));
    let dot = 0, now = 0, before = 0;
    step.forEach((r, i) => r.forEach((v, j) => ((dot += v * last[i][j]), (now += v * v), (before += last[i][j] ** 2))));
    last = lin(1 - (gain > 0 ? gain : 1), last, gain > 0 ? gain : 1, step);
    if (gain <= 0) return (gain = 1);
    const c = now > 0 && before > 0 ? dot / Math.sqrt(now * before) : 0;
    return (gain = Math.min(1, Math.max(f, gain * Math.exp(c))));
  };
  const [aW, aH, rho] = [o.alphaW ?? 0, o.alphaH ?? 0, o.l1Ratio ?? 0];
  const penalised = (P: Dense, A: Dense, alpha: number) => P.map((r, i) => r.map((v, j) => v + alpha * rho + alpha * (1 - rho) * A[i][j]));
  const keepFixed = () => {
    for (const k of o.fixedComponents ?? []) W.forEach((r, f) => (r[k] = W0[f][k]));
  };
  const partial = N > o.batchSize;
  const guardOf = (prior: Dense, floor: number) => (o.guards ? { prior, floor } : undefined);
  const apply = () => {
    const g = guardOf(W, partial ? 0.5 : 0);
    W = targets ? step(ones, avg.pos, avg.neg, o.eps, o.gamma, g) : step(W, avg.pos, avg.neg, o.eps, o.gamma, g);
    keepFixed();
  };
  for (let e = 0; e < o.epochs; e++) {
    let sum = { pos: zeros(F, K), neg: zeros(F, K) };
    for (let b = 0, r0 = 0; r0 < N; b++, r0 += o.batchSize) {
      const rows = Math.min(o.batchSize, N - r0);
      const Xb = X.slice(r0, r0 + rows);
      const Hb0 = H.slice(r0, r0 + rows);
      const Mb = o.weights?.slice(r0, r0 + rows);
      const hp = hParts(Xb, W, Hb0, o.beta, Mb);
      const Hb = step(Hb0, penalised(hp.pos, Hb0, aH * F0), hp.neg, o.eps, o.gamma, guardOf(Hb0, 0));
      Hb.forEach((r, i) => (H[r0 + i] = r));
      const wp0 = wParts(Xb, W, Hb, o.beta, Mb);
      const wp = { pos: penalised(wp0.pos, W, aW * rows), neg: wp0.neg };
      if (o.solver === 'mu_batch') {
        sum = { pos: lin(1, sum.pos, 1, wp.pos), neg: lin(1, sum.neg, 1, wp.neg) };
      } else if (o.solver === 'asg_mu' || o.solver === 'asag_mu' || b === 0) {
        const neg = targets ? wp.neg.map((r, i) => r.map((v, j) => v * Math.pow(W[i][j], 1 / o.gamma))) : wp.neg;
        const g = targets ? adapt(wp.pos, wp.neg) : f;
        avg = { pos: lin(g, wp.pos, 1 - g, avg.pos), neg: lin(g, neg, 1 - g, avg.neg) };
        if (o.solver === 'asg_mu' || o.solver === 'asag_mu') apply();
      }
    }
    if (o.solver === 'mu_batch') {
      W = step(W, sum.pos, sum.neg, o.eps, o.gamma, guardOf(W, 0));
      keepFixed();
    }
    if (o.solver === 'gsg_mu' || o.solver === 'gsag_mu') apply();
  }
  return { W, H };
}
