#!/usr/bin/env python3
"""The table bench/isa_compare.sh prints, from the JSON files it wrote to DIR:
    python3 bench/isa_table.py DIR

Per kernel set (the environment as it is; both OpenBLAS variables unset) and beta: betanmf's
iteration and GEMM floor (ms), iteration/floor, the products' GFLOP/s and their fraction of the
two-thread sgemm peak measured in the same round with the same kernels, the iteration with the
loops held to their AVX2 copy, tuned numpy's iteration and numpy / betanmf. Ratios are taken
within each round, then the median over rounds is shown with the spread [min-max].
"""
import glob
import json
import os
import re
import statistics
import sys


def load(d, pattern):
    out = {}
    for path in glob.glob(os.path.join(d, pattern)):
        r = int(re.search(r'-(\d+)\.json$', path).group(1))
        with open(path) as f:
            out[r] = json.load(f)
    return out


def product_flops(beta, N, F, K):
    """The floor's floating-point work for one iteration (H then W)."""
    if beta == 2:  # X·W, H·(WᵀW), Xᵀ·H, W·(HᵀH) and the two Gram matrices
        return 4.0 * N * F * K + 4.0 * N * K * K + 4.0 * F * K * K
    if beta == 1:  # V and the neg part, twice (the pos part is a column sum)
        return 8.0 * N * F * K
    return 12.0 * N * F * K  # V and both parts, twice


def spread(values, fmt):
    if not values:
        return 'n/a'
    m = statistics.median(values)
    if len(values) == 1:
        return fmt.format(m)
    return f"{fmt.format(m)} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def main(d):
    rows = []
    for kset in ('env', 'unset'):
        peak = load(d, f'peak-{kset}-*.json')
        best = load(d, f'betanmf-{kset}-best-*.json')
        avx2 = load(d, f'betanmf-{kset}-avx2-*.json')
        npy = load(d, f'numpy-{kset}-*.json')
        if not best:
            continue
        first = best[min(best)]
        k = first.get('kernels', {})
        nk = npy[min(npy)]['kernels'] if npy else {}
        simd = nk.get('ufunc_simd', [])
        label = 'environment as set' if kset == 'env' else 'OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset'
        print(f"\n### {label}: betanmf OpenBLAS {k.get('openblasCore')} (loops {k.get('loopsIsa')}), "
              f"numpy OpenBLAS {nk.get('openblas_core', '?')} (ufuncs up to {simd[-1] if simd else '?'}); "
              f"2-thread sgemm peak {spread([p['peakGflops'] for p in peak.values()], '{:.0f}')} GFLOP/s; "
              f"{len(best)} rounds")
        print('\n| β | ms/iter | floor ms | iter/floor | products GFLOP/s | of sgemm peak | '
              'iter/floor, AVX2 loops | numpy ms/iter | numpy / betanmf |')
        print('|---|---|---|---|---|---|---|---|---|')
        for i, res in enumerate(first['results']):
            beta, N, F, K = res['beta'], res['N'], res['F'], res['K']
            it, fl, ratio, gf, frac, ratio2, nms, speed = [], [], [], [], [], [], [], []
            for r, run in best.items():
                x = run['results'][i]
                it.append(x['msPerIter'])
                fl.append(x['floorMs'])
                ratio.append(x['msPerIter'] / x['floorMs'])
                g = product_flops(beta, N, F, K) / x['floorMs'] / 1e6
                gf.append(g)
                if r in peak:
                    frac.append(g / peak[r]['peakGflops'])
                if r in avx2:
                    y = avx2[r]['results'][i]
                    ratio2.append(y['msPerIter'] / y['floorMs'])
                if r in npy:
                    n = next((e for e in npy[r]['numpy'] if e['beta'] == beta), None)
                    if n:
                        nms.append(n['msPerIter'])
                        speed.append(n['msPerIter'] / x['msPerIter'])
            print(f"| {beta:g} | {spread(it, '{:.1f}')} | {spread(fl, '{:.1f}')} | {spread(ratio, '{:.2f}')} | "
                  f"{spread(gf, '{:.0f}')} | {spread(frac, '{:.0%}')} | {spread(ratio2, '{:.2f}')} | "
                  f"{spread(nms, '{:.1f}')} | ×{spread(speed, '{:.2f}')} |")
            rows.append((kset, beta))
    if not rows:
        sys.exit(f'isa_table.py: no results in {d}')


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: isa_table.py DIR')
    main(sys.argv[1])
