// Parsers for the command line's option values. Each throws commander's InvalidArgumentError
// with "<option>: expected …, received …", which main() prints as one line (exit code 2).
import { InvalidArgumentError } from 'commander';

/** β by name, as users write it (scikit-learn's names, short forms, numbers). */
export const BETA_NAMES: Record<string, number> = {
  frobenius: 2, euclidean: 2, 'kullback-leibler': 1, kl: 1, 'itakura-saito': 0, is: 0,
};
const BETA_HELP = `a number or ${Object.keys(BETA_NAMES).join(' | ')}`;

export function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name}: expected an integer ≥ ${min}, received ${v}`);
    return n;
  };
}

export function num(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name}: expected a number, received ${v}`);
    return n;
  };
}

export function beta(name = '--beta') {
  return (v: string): number => {
    const key = v.trim().toLowerCase().replace(/_/g, '-');
    if (key in BETA_NAMES) return BETA_NAMES[key];
    const n = Number(key);
    if (key === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name}: expected ${BETA_HELP}, received ${JSON.stringify(v)}`);
    return n;
  };
}

/** A comma-separated list of β (numbers or names). */
export function betaList(name = '--beta') {
  const one = beta(name);
  return (v: string): number[] => {
    const items = v.split(',');
    if (items.some((s) => s.trim() === '')) throw new InvalidArgumentError(`${name}: expected a comma-separated list of β (${BETA_HELP}), received ${JSON.stringify(v)}`);
    return items.map(one);
  };
}

/** "NxFxK" → [N, F, K]. */
export function shape(name = '--shape') {
  return (v: string): [number, number, number] => {
    const m = /^(\d+)x(\d+)x(\d+)$/i.exec(v.trim());
    if (!m) throw new InvalidArgumentError(`${name}: expected NxFxK such as 10000x513x50, received ${JSON.stringify(v)}`);
    const dims = [Number(m[1]), Number(m[2]), Number(m[3])] as [number, number, number];
    if (dims.some((d) => d < 1)) throw new InvalidArgumentError(`${name}: expected positive dimensions, received ${v}`);
    return dims;
  };
}

/** Options other tools spell differently, for "did you mean" when commander finds nothing close. */
export const OPTION_ALIASES: Record<string, string> = {
  '-n': '--components', '--n-components': '--components', '--n_components': '--components', '--ncomponents': '--components',
  '--rank': '--components', '-r': '--components', '--beta-loss': '--beta', '--beta_loss': '--beta', '--loss': '--beta',
  '--random-state': '--seed', '--random_state': '--seed', '--iterations': '--max-iter', '--max_iter': '--max-iter',
  '--epochs': '--max-iter', '--output': '--out', '--batch_size': '--batch-size', '--force-overwrite': '--force',
};
