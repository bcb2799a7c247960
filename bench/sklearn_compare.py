#!/usr/bin/env python3
"""betanmf against scikit-learn, one run, same data, same machine, same threads.

  python3 bench/sklearn_compare.py bench/results/speech.npy [-k 40] [--epochs 12] [--betas 0,1,2]

Per beta: scikit-learn NMF(solver='mu') ms per iteration and MiniBatchNMF(batch_size=1024) ms per
epoch, next to betanmf's mu_batch and asg_mu (batch 1024) ms per epoch at default options (from
bench/fit_speed.js, run in the same process order) and `betanmf bench`'s iteration. Speed-ups
are sklearn time / betanmf time. Needs Debian's python3-sklearn and a built betanmf (dist/).
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sklearn_times(X, k, beta, epochs):
    from sklearn.decomposition import NMF, MiniBatchNMF
    warnings.simplefilter('ignore')
    t = time.perf_counter()
    m = NMF(n_components=k, solver='mu', beta_loss=beta, init='random', max_iter=epochs, tol=0, random_state=0)
    m.fit(X)
    nmf = (time.perf_counter() - t) * 1000 / m.n_iter_
    t = time.perf_counter()
    mb = MiniBatchNMF(n_components=k, beta_loss=beta, batch_size=1024, init='random', max_iter=epochs, tol=0,
                      max_no_improvement=None, random_state=0)
    mb.fit(X)
    mini = (time.perf_counter() - t) * 1000 / mb.n_iter_
    return nmf, mini


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('data')
    ap.add_argument('-k', type=int, default=40)
    ap.add_argument('--epochs', type=int, default=12)
    ap.add_argument('--betas', default='0,1,2')
    a = ap.parse_args()
    X = np.load(a.data).astype(np.float32)
    try:
        from threadpoolctl import threadpool_info
        blas = [(i.get('internal_api'), i.get('num_threads'), i.get('architecture')) for i in threadpool_info()]
    except ImportError:
        blas = 'threadpoolctl not installed'
    print(f'X {X.shape[0]}x{X.shape[1]} float32, K={a.k}, {a.epochs} iterations; numpy BLAS: {blas}')
    out = subprocess.run(['node', os.path.join(ROOT, 'bench', 'fit_speed.js'), a.data, '-k', str(a.k), '--beta', a.betas,
                          '--epochs', str(a.epochs), '--solvers', 'mu_batch,asg_mu', '--batch-size', '1024'],
                         check=True, capture_output=True, text=True).stdout
    ours = {r['beta']: r for r in map(json.loads, out.strip().splitlines())}
    print(' beta | bench iter | mu_batch epoch | sklearn NMF(mu) iter | speed-up | asg_mu b1024 epoch | MiniBatchNMF b1024 epoch | speed-up')
    for beta in [float(b) for b in a.betas.split(',')]:
        nmf, mini = sklearn_times(X, a.k, beta, a.epochs)
        r = ours[beta if beta != int(beta) else int(beta)]
        mu, asg = r['solvers']['mu_batch']['epochMs'], r['solvers']['asg_mu']['epochMs']
        print(f' {beta:4} | {r["benchMs"]:10.1f} | {mu:14.1f} | {nmf:20.1f} | {nmf / mu:7.2f}x | {asg:18.1f} | {mini:24.1f} | {mini / asg:7.2f}x')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
