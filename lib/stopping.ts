// When a fit or a transform stops, decided after each cost evaluation (as scikit-learn's
// _minibatch_convergence decides for MiniBatchNMF).
import type { ResolvedOptions } from './options';

/** What the stopping rule remembers between cost evaluations of a fit. */
export interface Convergence {
  /** The cost at the previous evaluation. */
  previous: number;
  /** The lowest cost so far, and evaluations since it was reached. */
  best: number;
  sinceBest: number;
}

/**
 * A fit's rule, after an evaluation gave `cost` (updates `state`): `improved` when it is a new
 * lowest cost (the caller keeps those factors aside); stop 'noImprovement' after
 * maxNoImprovement evaluations without one; 'converged' when the cost decreased by at most tol
 * (relative) and is within tol of the lowest cost seen (the start's included) — a rise is never
 * convergence, nor is a standstill above a cost the fit had already reached.
 */
export function fitConvergence(state: Convergence, cost: number, o: Pick<ResolvedOptions, 'tol' | 'maxNoImprovement'>):
  { improved: boolean; stop?: 'converged' | 'noImprovement' } {
  const improved = cost < state.best;
  if (improved) {
    state.best = cost;
    state.sinceBest = 0;
  } else if (++state.sinceBest >= (o.maxNoImprovement ?? Infinity)) {
    return { improved, stop: 'noImprovement' };
  }
  const decrease = state.previous - cost;
  const atBest = cost - state.best <= o.tol * Math.abs(state.best);
  if (o.tol > 0 && decrease >= 0 && decrease <= o.tol * Math.abs(state.previous) && atBest) return { improved, stop: 'converged' };
  state.previous = cost;
  return { improved };
}

/** A transform's rule: it stops once the cost no longer decreases by more than tol (relative). */
export function transformConverged(previous: number, cost: number, tol: number): boolean {
  return !(previous - cost > tol * Math.abs(previous));
}
