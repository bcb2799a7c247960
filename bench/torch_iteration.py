#!/usr/bin/env python3
"""PyTorch eager implementation of the same MU iteration as `betanmf bench` (H then W, the
same formulas, MM exponent, V clipped at the float32 epsilon below beta = 2, eps = 1e-10),
timed on the GPU with CUDA events, for a side-by-side with scripts/gpu-selftest.js.
  python3 bench/torch_iteration.py --shape 100000x513x100 --beta 0,0.5,1,1.5,2 --iters 20
Also times each kernel alone (the H parts, the W parts, the divergence). Prints JSON."""
import argparse
import json

import torch

EPS = 1e-10
FLOOR = torch.finfo(torch.float32).eps


def gamma(b):
    return 1 / (2 - b) if b < 1 else (1 / (b - 1) if b > 2 else 1.0)


def parts(X, V, b):
    V = V.clamp_min(FLOOR)
    if b == 1:
        return X / V, None
    t = V.pow(b - 2)
    return t * X, t * V


def h_parts(X, W, H, b):
    if b == 2:
        return H @ (W.T @ W), X @ W
    r, p = parts(X, H @ W.T, b)
    return (p @ W if p is not None else W.sum(0).expand(H.shape)), r @ W


def w_parts(X, W, H, b):
    if b == 2:
        return W @ (H.T @ H), X.T @ H
    r, p = parts(X, H @ W.T, b)
    return (p.T @ H if p is not None else H.sum(0).expand(W.shape)), r.T @ H


def divergence(X, W, H, b):
    V = (H @ W.T)
    if b != 2:
        V = V.clamp_min(FLOOR)
    if b == 2:
        return 0.5 * ((X - V) ** 2).sum(dtype=torch.float64)
    if b == 1:
        return (X * torch.log(X / V) - X + V).sum(dtype=torch.float64)
    if b == 0:
        q = X / V
        return (q - torch.log(q) - 1).sum(dtype=torch.float64)
    return ((X ** b + (b - 1) * V ** b - b * X * V ** (b - 1)) / (b * (b - 1))).sum(dtype=torch.float64)


def iteration(X, W, H, b):
    g = gamma(b)
    pos, neg = h_parts(X, W, H, b)
    H.mul_((neg / (pos + EPS)) ** g)
    pos, neg = w_parts(X, W, H, b)
    W.mul_((neg / (pos + EPS)) ** g)


def timed(fn, iters):
    fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        ts.append(s.elapsed_time(e))
    ts.sort()
    return ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shape', default='100000x513x100')
    ap.add_argument('--beta', default='0,0.5,1,1.5,2')
    ap.add_argument('--iters', type=int, default=20)
    a = ap.parse_args()
    N, F, K = (int(v) for v in a.shape.lower().split('x'))
    dev = torch.device('cuda')
    g = torch.Generator(device=dev).manual_seed(0)
    X = torch.rand(N, F, device=dev, generator=g) + 1e-3
    out = {'torch': torch.__version__, 'gpu': torch.cuda.get_device_name(0), 'results': []}
    for b in (float(x) for x in a.beta.split(',')):
        W = torch.rand(F, K, device=dev, generator=g) + 0.1
        H = torch.rand(N, K, device=dev, generator=g) + 0.1
        out['results'].append({
            'beta': b, 'N': N, 'F': F, 'K': K,
            'msPerIter': timed(lambda: iteration(X, W, H, b), a.iters),
            'hParts': timed(lambda: h_parts(X, W, H, b), a.iters),
            'wParts': timed(lambda: w_parts(X, W, H, b), a.iters),
            'divergence': timed(lambda: divergence(X, W, H, b), a.iters),
        })
    print(json.dumps(out))


if __name__ == '__main__':
    main()
