#!/usr/bin/env python3
"""Time to a peer's loss: for each dataset and β, scikit-learn's NMF (β=2: solver 'cd', shuffle off,
100 iterations; β in {0, 1}: solver 'mu', 200 iterations) from one random start gives a target loss
and a time; then each betanmf solver runs from the same start (init 'custom', float32, CPU) until
its cost first reaches that target, and we report its time. betanmf's time is `history.seconds`
(updates only, setup and cost evaluations excluded: the cost is evaluated every epoch here only to
see when the target is reached) and, in brackets, the wall time of the whole fit call (setup and
every epoch's cost included). scikit-learn's time is its fit_transform wall time (no cost
evaluations inside).

  python3 bench/speech_spectrogram.py --frames 22902 --out /tmp/speech.npy
  npx tsc -p tsconfig.json   # dist/
  python3 bench/time_to_loss.py --speech /tmp/speech.npy [--betas 2,1,0] [--K 40] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.decomposition import NMF

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The betanmf side: fits from W0/H0 with cost every epoch, stopping at the first cost ≤ target.
RUNNER = r"""
const b = require(process.argv[1]);
const io = require(process.argv[1] + '/io');
const cfg = JSON.parse(process.argv[2]);
const X = io.readNpySync(cfg.dir + '/X.npy'), W = io.readNpySync(cfg.dir + '/W0.npy'), H = io.readNpySync(cfg.dir + '/H0.npy');
const out = [];
for (const s of cfg.solvers) {
  let reached;
  const t0 = performance.now();
  const m = new b.BetaNMF({ nComponents: W.cols, beta: cfg.beta, solver: s.solver, ...(s.options || {}), init: 'custom', W, H,
    maxIter: cfg.maxEpochs, tol: 0, costEvery: 1, device: 'cpu', onWarning: () => {},
    onEpoch: (e) => { if (e.cost !== undefined && e.cost <= cfg.target) { reached = e; return false; } if (e.seconds > cfg.maxSeconds) return false; } });
  m.fitSync(X);
  const wall = (performance.now() - t0) / 1000;
  const last = m.history[m.history.length - 1];
  out.push({ label: s.label, reached: !!reached, epochs: reached ? reached.epoch : last.epoch, seconds: reached ? reached.seconds : last.seconds,
    wall, cost: reached ? reached.cost : last.cost });
}
console.log(JSON.stringify(out));
"""


def synthetic(N, F, seed):
    code = (f"const b = require({json.dumps(os.path.join(ROOT, 'dist'))}); const m = b.syntheticSpectrogram({N}, {F}, {{ seed: {seed} }});"
            "process.stdout.write(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));")
    raw = subprocess.run(['node', '-e', code], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.float32 if len(raw) == 4 * N * F else np.float64).reshape(N, F).astype(np.float32)


def beta_loss(X, W, H, beta):
    """Our cost (sum of the β-divergence) from scikit-learn's factors (its W = our H)."""
    V = np.maximum(W @ H, np.finfo(np.float32).eps if beta < 2 else 0).astype(np.float64)
    X = X.astype(np.float64)
    if beta == 2:
        return 0.5 * np.sum((X - V) ** 2)
    if beta == 1:
        nz = X > 0
        return np.sum(X[nz] * np.log(X[nz] / V[nz])) - X.sum() + V.sum()
    if beta == 0:
        r = X / V
        return np.sum(r - np.log(r) - 1)
    raise ValueError(beta)


SOLVERS = {
    2: [{'label': 'mu_batch', 'solver': 'mu_batch'}, {'label': 'hals', 'solver': 'hals'},
        {'label': 'hals accel.', 'solver': 'hals', 'options': {'accelerate': True}}],
    1: [{'label': 'mu_batch', 'solver': 'mu_batch'}, {'label': 'asg_mu', 'solver': 'asg_mu'}],
    0: [{'label': 'mu_batch', 'solver': 'mu_batch'}, {'label': 'asg_mu', 'solver': 'asg_mu'}],
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--speech', help='speech spectrogram .npy (bench/speech_spectrogram.py)')
    p.add_argument('--synthetic', default='22902x513', help='NxF of lib/synthetic.ts spectrogram ("" to skip)')
    p.add_argument('--betas', default='2,1,0')
    p.add_argument('--K', type=int, default=40)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--max-seconds', type=float, default=60)
    p.add_argument('--json')
    a = p.parse_args()
    data = []
    if a.synthetic:
        N, F = (int(v) for v in a.synthetic.split('x'))
        data.append(('synthetic', synthetic(N, F, 1)))
    if a.speech:
        data.append(('speech', np.load(a.speech).astype(np.float32)))
    results = []
    warnings.simplefilter('ignore')
    for name, X in data:
        for beta in (float(v) for v in a.betas.split(',')):
            beta = int(beta) if beta.is_integer() else beta
            Xb = X if beta > 0 else np.maximum(X, 1e-6 * X.mean()).astype(np.float32)  # IS needs X > 0
            rng = np.random.RandomState(a.seed)
            scale = np.sqrt(Xb.mean() / a.K)
            H0 = (scale * np.abs(rng.standard_normal((Xb.shape[0], a.K)))).astype(np.float32)
            W0 = (scale * np.abs(rng.standard_normal((Xb.shape[1], a.K)))).astype(np.float32)
            solver, iters = ('cd', 100) if beta == 2 else ('mu', 200)
            kw = {'shuffle': False} if solver == 'cd' else {}
            m = NMF(n_components=a.K, solver=solver, beta_loss=beta, init='custom', max_iter=iters, tol=0, **kw)
            t0 = time.perf_counter()
            Hs = m.fit_transform(Xb, W=H0.copy(), H=np.ascontiguousarray(W0.T))
            sk_time = time.perf_counter() - t0
            target = beta_loss(Xb, Hs, m.components_, beta)
            with tempfile.TemporaryDirectory() as d:
                for n, v in (('X', Xb), ('W0', W0), ('H0', H0)):
                    np.save(f'{d}/{n}.npy', np.ascontiguousarray(v))
                cfg = {'dir': d, 'beta': beta, 'target': target, 'solvers': SOLVERS[beta], 'maxEpochs': 100000, 'maxSeconds': a.max_seconds}
                r = subprocess.run(['node', '-e', RUNNER, os.path.join(ROOT, 'dist'), json.dumps(cfg)], check=True, capture_output=True, text=True)
                ours = json.loads(r.stdout.strip().splitlines()[-1])
            row = {'data': name, 'shape': list(Xb.shape), 'beta': beta, 'K': a.K, 'reference': f'sklearn {solver} x{iters}',
                   'target': target, 'sklearn_seconds': sk_time, 'betanmf': ours}
            results.append(row)
            print(f'{name} {Xb.shape[0]}x{Xb.shape[1]} beta={beta}: sklearn {solver} {iters} it: loss {target:.6g} in {sk_time:.2f} s')
            for o in ours:
                status = f'{o["seconds"]:.2f} s ({o["wall"]:.2f} s wall), {o["epochs"]} epochs' if o['reached'] else \
                    f'not reached: {o["cost"]:.6g} after {o["epochs"]} epochs, {o["seconds"]:.2f} s'
                ratio = f' = {o["seconds"] / sk_time:.2f}x sklearn' if o['reached'] else ''
                print(f'  {o["label"]:>12}: {status}{ratio}')
            sys.stdout.flush()
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
