// mu_batch under update 'mm' is scikit-learn's NMF(solver='mu'): the same start gives the same
// factors (to rounding) with eps 0 (scikit-learn adds no eps to the denominators; our default
// 1e-10, the original's, moves the factors by about 1e-10 relative).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as b from '../lib';
import { readNpySync, writeNpySync } from '../lib/io';
import { randomDense, rng, toMatrix } from './support/data';

function python(): string | undefined {
  for (const p of ['python3', '/usr/bin/python3']) {
    if (spawnSync(p, ['-c', 'import sklearn, numpy'], { stdio: 'ignore' }).status === 0) return p;
  }
  return undefined;
}

describe('mu_batch equals scikit-learn NMF(solver="mu")', function () {
  const py = python();
  before(function () {
    if (!py) {
      if (process.env.CI) throw new Error('scikit-learn is needed in CI (.ci/run installs python3-sklearn)');
      console.log('      (skipped: no python3 with scikit-learn here)');
      this.skip();
    }
  });
  const [N, F, K] = [120, 25, 4];
  const rand = rng(3);
  const X = toMatrix(randomDense(rand, N, F, 'float64', 0.1, 1.1), F, 'float64');
  const W0 = toMatrix(randomDense(rand, F, K, 'float64', 0.1, 1.1), K, 'float64');
  const H0 = toMatrix(randomDense(rand, N, K, 'float64', 0.1, 1.1), K, 'float64');
  for (const beta of [0, 0.5, 1, 2, 3]) {
    it(`β = ${beta}: the same factors from the same start, 20 iterations`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-sk-'));
      try {
        writeNpySync(path.join(dir, 'X.npy'), X);
        writeNpySync(path.join(dir, 'H0.npy'), H0);
        writeNpySync(path.join(dir, 'W0.npy'), W0);
        const r = spawnSync(py!, [path.join(__dirname, 'support', 'sklearn_mu.py'), dir, String(beta), '20'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const m = new b.BetaNMF({ nComponents: K, beta, init: 'custom', W: W0, H: H0, maxIter: 20, tol: 0, eps: 0 }).fitSync(X);
        for (const [ours, file] of [[m.W, 'W.npy'], [m.H, 'H.npy']] as const) {
          const theirs = readNpySync(path.join(dir, file)).data;
          let err = 0, scale = 0;
          ours.data.forEach((v, i) => ((err = Math.max(err, Math.abs(v - theirs[i]))), (scale = Math.max(scale, Math.abs(theirs[i])))));
          assert.ok(err <= 1e-12 * scale, `${file}: ${err / scale}`);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("reconstructionError is scikit-learn's reconstruction_err_ (the data term alone) with penalties", function () {
  const py = python();
  before(function () {
    if (!py) {
      if (process.env.CI) throw new Error('scikit-learn is needed in CI (.ci/run installs python3-sklearn)');
      this.skip();
    }
  });
  const [N, F, K] = [80, 20, 3];
  const rand = rng(7);
  const X = toMatrix(randomDense(rand, N, F, 'float64', 0.1, 1.1), F, 'float64');
  const W0 = toMatrix(randomDense(rand, F, K, 'float64', 0.1, 1.1), K, 'float64');
  const H0 = toMatrix(randomDense(rand, N, K, 'float64', 0.1, 1.1), K, 'float64');
  for (const [beta, alpha, l1Ratio] of [[1, 0.3, 0], [2, 0.1, 0.5], [0.5, 0.2, 1]]) {
    it(`β = ${beta}, alpha ${alpha}, l1Ratio ${l1Ratio}: reconstructionError = √(2·D) as scikit-learn, cost keeps the penalties`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-skpen-'));
      try {
        writeNpySync(path.join(dir, 'X.npy'), X);
        writeNpySync(path.join(dir, 'H0.npy'), H0);
        writeNpySync(path.join(dir, 'W0.npy'), W0);
        const r = spawnSync(py!, [path.join(__dirname, 'support', 'sklearn_mu.py'), dir, String(beta), '30', String(alpha), String(l1Ratio)], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const theirs = Number(r.stdout.trim());
        const m = new b.BetaNMF({ nComponents: K, beta, init: 'custom', W: W0, H: H0, maxIter: 30, tol: 0, eps: 0, alphaW: alpha, alphaH: alpha, l1Ratio })
          .fitSync(X);
        assert.ok(Math.abs(m.reconstructionError - theirs) <= 1e-9 * theirs, `ours ${m.reconstructionError}, scikit-learn ${theirs}`);
        assert.ok(m.cost > 0.5 * m.reconstructionError ** 2 * (1 + 1e-6), 'cost includes the penalties');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
