#!/usr/bin/env python3
"""A tuned numpy MU iteration (H then W) on the same shapes and data as `betanmf bench`,
to compare side by side:  python3 bench/numpy_iteration.py --shape 10000x513x50 --beta 0,0.5,1,1.5,2

Tuned as a careful numpy user would: the Gram form at beta=2 (V never formed), preallocated
buffers with out=, sqrt instead of pow at 0.5/1.5, one power per entry (V^(b-1) = V^(b-2)*V),
V clipped at the float32 epsilon where beta < 2, and the same majorise-minimise exponent as
betanmf's solver. Also times scikit-learn's NMF(solver='mu') per iteration when it imports.
Prints JSON: {"numpy": [...], "sklearn": [...], "kernels": {BLAS library, OpenBLAS core, ufunc SIMD}}.
"""
import argparse
import json
import time

import numpy as np

EPS = 1e-10
FLOOR = np.finfo(np.float32).eps


def gamma(beta):
    return 1 / (2 - beta) if beta < 1 else (1 / (beta - 1) if beta > 2 else 1.0)


def make_problem(N, F, K, dtype, seed=3):
    rng = np.random.default_rng(seed)
    # Spectrogram-like: nonnegative low-rank plus a small floor (the values matter little for speed).
    X = (rng.random((N, 24)) ** 8) @ (rng.random((24, F)) ** 4) + 1e-3
    W = np.abs(rng.standard_normal((F, K)))
    H = np.abs(rng.standard_normal((N, K)))
    return X.astype(dtype), W.astype(dtype), H.astype(dtype)


class Iteration:
    def __init__(self, X, W, H, beta):
        self.X, self.W, self.H, self.beta = X, W, H, beta
        N, F = X.shape
        K = W.shape[1]
        dt = X.dtype
        self.V = np.empty((N, F), dt)
        self.P = np.empty((N, F), dt)
        self.numH, self.denH = np.empty((N, K), dt), np.empty((N, K), dt)
        self.numW, self.denW = np.empty((F, K), dt), np.empty((F, K), dt)
        self.g = gamma(beta)

    def parts(self):
        """V ← V^(β−2)⊙X (in place), P ← V^(β−1) (β ∉ {1, 2})."""
        X, V, P, b = self.X, self.V, self.P, self.beta
        np.maximum(V, FLOOR, out=V)
        if b == 1:
            np.divide(X, V, out=V)
            return False
        if b == 0:
            np.reciprocal(V, out=P)          # V^-1
            np.multiply(P, P, out=V)          # V^-2
        elif b == 0.5:
            np.sqrt(V, out=P)
            np.multiply(P, V, out=P)          # V^1.5
            np.reciprocal(P, out=P)           # V^-1.5
            np.multiply(P, V, out=V)          # V^-0.5 = P·V ... keep t = V^-1.5 in V
            V, P = P, V                       # V ← V^-1.5, P ← V^-0.5
            self.V, self.P = V, P
        elif b == 1.5:
            np.sqrt(V, out=P)
            np.reciprocal(P, out=P)           # V^-0.5
            np.multiply(P, V, out=V)          # V^0.5
            V, P = P, V
            self.V, self.P = V, P
        else:
            np.power(V, b - 2, out=P)
            np.multiply(P, V, out=V)          # V^(b-1)
            V, P = P, V
            self.V, self.P = V, P
        np.multiply(self.V, X, out=self.V)    # t ⊙ X
        return True

    def step(self, factor, num, den):
        np.add(den, EPS, out=den)
        np.divide(num, den, out=num)
        if self.g != 1:
            if self.g == 0.5:
                np.sqrt(num, out=num)
            else:
                np.power(num, self.g, out=num)
        np.multiply(factor, num, out=factor)

    def __call__(self):
        X, W, H, b = self.X, self.W, self.H, self.beta
        if b == 2:
            np.matmul(X, W, out=self.numH)
            np.matmul(H, W.T @ W, out=self.denH)
            self.step(H, self.numH, self.denH)
            np.matmul(X.T, H, out=self.numW)
            np.matmul(W, H.T @ H, out=self.denW)
            self.step(W, self.numW, self.denW)
            return
        np.matmul(H, W.T, out=self.V)
        pos = self.parts()
        np.matmul(self.V, W, out=self.numH)
        if pos:
            np.matmul(self.P, W, out=self.denH)
        else:
            self.denH[:] = W.sum(axis=0)
        self.step(H, self.numH, self.denH)
        np.matmul(H, W.T, out=self.V)
        pos = self.parts()
        np.matmul(self.V.T, H, out=self.numW)
        if pos:
            np.matmul(self.P.T, H, out=self.denW)
        else:
            self.denW[:] = H.sum(axis=0)
        self.step(W, self.numW, self.denW)


def blas_kernels():
    """The BLAS numpy loaded (from /proc/self/maps) and, for OpenBLAS, its core and threads;
    and the SIMD targets numpy's own loops (ufuncs) dispatch to on this CPU."""
    import ctypes
    out = {}
    try:
        libs = sorted({l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l.split()[-1].lower()})
        out['libraries'] = libs
        for path in libs:
            lib = ctypes.CDLL(path)
            if hasattr(lib, 'openblas_get_corename'):
                lib.openblas_get_corename.restype = ctypes.c_char_p
                lib.openblas_get_config.restype = ctypes.c_char_p
                out['openblas_core'] = lib.openblas_get_corename().decode()
                out['openblas_config'] = lib.openblas_get_config().decode()
                out['openblas_threads'] = lib.openblas_get_num_threads()
                break
    except OSError as e:
        out['error'] = str(e)
    try:
        from numpy.core._multiarray_umath import __cpu_features__, __cpu_dispatch__
        out['ufunc_simd'] = [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]
    except ImportError:
        pass
    return out


def median_ms(fn, iters):
    fn()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return float(np.median(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shape', default='10000x513x50')
    ap.add_argument('--beta', default='0,0.5,1,1.5,2')
    ap.add_argument('--dtype', default='float32')
    ap.add_argument('--iters', type=int, default=10)
    ap.add_argument('--sklearn-iters', type=int, default=20)
    a = ap.parse_args()
    N, F, K = (int(v) for v in a.shape.lower().split('x'))
    betas = [float(b) for b in a.beta.split(',')]
    out = {'numpy': [], 'sklearn': [], 'numpy_version': np.__version__, 'kernels': blas_kernels()}
    for beta in betas:
        X, W, H = make_problem(N, F, K, a.dtype)
        out['numpy'].append({'beta': beta, 'dtype': a.dtype, 'N': N, 'F': F, 'K': K,
                             'msPerIter': median_ms(Iteration(X, W, H, beta), a.iters)})
    try:
        if a.sklearn_iters <= 0:
            raise ImportError('skipped (--sklearn-iters 0)')
        from sklearn.decomposition import NMF
        import warnings
        warnings.simplefilter('ignore')
        for beta in betas:
            if beta not in (0, 1, 2):
                continue
            X, _, _ = make_problem(N, F, K, a.dtype)
            model = NMF(n_components=K, solver='mu', beta_loss=beta, init='random', max_iter=a.sklearn_iters, tol=0, random_state=0)
            t0 = time.perf_counter()
            model.fit(X)
            ms = (time.perf_counter() - t0) * 1000 / model.n_iter_
            out['sklearn'].append({'beta': beta, 'dtype': str(X.dtype), 'msPerIter': ms, 'iterations': int(model.n_iter_)})
    except ImportError as e:
        out['sklearn_error'] = str(e)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
