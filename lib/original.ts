/**
 * The Theano original's snake_case names (beta_nmf_minibatch's updates module and its cost), for people
 * porting Theano code line by line. Same shapes and signs: X N×F, W F×K, H N×K; gradients are
 * neg − pos; the _mu forms return [pos, neg] as the original's T.stack(pos, neg) does. eps is 0,
 * as in the original (its MU steps divide by pos alone). Results are new matrices.
 */
import {
  betaDivergence, gradientH, gradientHMu, gradientW, gradientWMu, muUpdate, muUpdateH, updateGradW,
  type Parts,
} from './kernels';
import { typeError } from './errors';
import type { Matrix } from './matrix';

export type Stack = [pos: Matrix, neg: Matrix];

/** gradient_h(X, W, H, beta): neg − pos for H (N×K). */
export function gradient_h(X: Matrix, W: Matrix, H: Matrix, beta: number): Matrix {
  return gradientH(X, W, H, beta);
}

/** gradient_h_mu(X, W, H, beta) → [pos, neg] for H. */
export function gradient_h_mu(X: Matrix, W: Matrix, H: Matrix, beta: number): Stack {
  const { pos, neg } = gradientHMu(X, W, H, beta);
  return [pos, neg];
}

/** gradient_w(X, W, H, beta): neg − pos for W (F×K). */
export function gradient_w(X: Matrix, W: Matrix, H: Matrix, beta: number): Matrix {
  return gradientW(X, W, H, beta);
}

/** gradient_w_mu(X, W, H, beta) → [pos, neg] for W. */
export function gradient_w_mu(X: Matrix, W: Matrix, H: Matrix, beta: number): Stack {
  const { pos, neg } = gradientWMu(X, W, H, beta);
  return [pos, neg];
}

/** mu_update_h(X, W, H, beta) → [H ⊙ neg / pos, [pos, neg]]. */
export function mu_update_h(X: Matrix, W: Matrix, H: Matrix, beta: number): [Matrix, Stack] {
  const r = muUpdateH(X, W, H, beta, 0);
  return [r.H, [r.pos, r.neg]];
}

/** mu_update(factor, gradient_pos, gradient_neg) → factor ⊙ neg / pos. */
export function mu_update(factor: Matrix, gradient_pos: Matrix, gradient_neg: Matrix): Matrix {
  return muUpdate(factor, gradient_pos, gradient_neg, 0);
}

/** update_grad_w(grad, grad_old, grad_new) → grad − grad_old + grad_new, on matrices or [pos, neg] stacks. */
export function update_grad_w(grad: Matrix, grad_old: Matrix, grad_new: Matrix): Matrix;
export function update_grad_w(grad: Stack, grad_old: Stack, grad_new: Stack): Stack;
export function update_grad_w(grad: Matrix | Stack, grad_old: Matrix | Stack, grad_new: Matrix | Stack): Matrix | Stack {
  if (Array.isArray(grad)) {
    const pair = (s: unknown, name: string): Parts => {
      if (!Array.isArray(s) || s.length !== 2) throw typeError(name, 'a [pos, neg] stack like grad', s);
      return { pos: s[0], neg: s[1] };
    };
    const r = updateGradW(pair(grad, 'grad'), pair(grad_old, 'grad_old'), pair(grad_new, 'grad_new'));
    return [r.pos, r.neg];
  }
  return updateGradW(grad, grad_old as Matrix, grad_new as Matrix);
}

/** beta_div(X, W, H, beta): D(X | H·Wᵀ) with the correct formula for every β (see betaDivergence). */
export function beta_div(X: Matrix, W: Matrix, H: Matrix, beta: number): number {
  return betaDivergence(X, W, H, beta);
}
