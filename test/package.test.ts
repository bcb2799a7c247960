// The package as users load it: require and import by name (built dist/), the seed subpath.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as b from '../lib';
import * as seed from '../lib/seed';

const root = path.join(__dirname, '..');

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
}

describe('package entry points', () => {
  it("require('betanmf') and require('betanmf/seed') work", () => {
    const out = node(['-e', `
      const b = require('betanmf'); const s = require('betanmf/seed');
      const X = b.matrix([[1, 2], [3, 4]]), W = b.matrix([[1], [1]]), H = b.matrix([[1], [2]]);
      console.log(JSON.stringify([b.gradientH(X, W, H, 2).toArray(), s.gradient_h(X, W, H, 2).toArray()]));`]);
    // X·W − V·W with V = H·Wᵀ: [3 − 2, 7 − 4].
    assert.deepEqual(JSON.parse(out), [[[1], [3]], [[1], [3]]]);
  });

  it("import { … } from 'betanmf' and 'betanmf/seed' work (named and default imports)", () => {
    const out = node(['--input-type=module', '-e', `
      import { matrix, betaDivergence } from 'betanmf';
      import betanmf from 'betanmf';
      import { beta_div } from 'betanmf/seed';
      const X = matrix([[1, 2]]), W = matrix([[1], [1]]), H = matrix([[1]]);
      console.log(JSON.stringify([betaDivergence(X, W, H, 2), beta_div(X, W, H, 2), typeof betanmf.gradientW]));`]);
    assert.deepEqual(JSON.parse(out), [0.5, 0.5, 'function']);
  });

  it('nativeConfig says how the core runs; setNumThreads changes it and keeps results', () => {
    const c = b.nativeConfig();
    assert.ok(c.numThreads >= 1);
    assert.match(c.openblasConfig, /OpenBLAS/);
    const X = b.matrix(new Float64Array(200 * 80).map((_, i) => 1 + (i % 7)), 200, 80);
    const W = b.matrix(new Float64Array(80 * 6).map((_, i) => 0.5 + (i % 3)), 80, 6);
    const H = b.matrix(new Float64Array(200 * 6).map((_, i) => 0.2 + (i % 5)), 200, 6);
    const before = b.gradientWMu(X, W, H, 0.5);
    try {
      assert.equal(b.setNumThreads(1), 1);
      const one = b.gradientWMu(X, W, H, 0.5);
      assert.deepEqual(one.pos.data, before.pos.data);
      assert.deepEqual(one.neg.data, before.neg.data);
    } finally {
      b.setNumThreads(0);
    }
    assert.equal(b.nativeConfig().numThreads, c.numThreads);
    assert.throws(() => b.setNumThreads(-1), RangeError);
  });
});

describe('betanmf/seed: the seed names over the same kernels', () => {
  const X = b.matrix([[1, 2, 3], [4, 5, 0]]);
  const W = b.matrix([[1, 0.5], [0.2, 1], [0.3, 0.3]]);
  const H = b.matrix([[1, 1], [0.5, 2]]);

  for (const beta of [0, 1, 1.5, 2]) {
    it(`gradient_h, gradient_h_mu, gradient_w, gradient_w_mu, mu_update_h, mu_update, update_grad_w, beta_div (β = ${beta})`, () => {
      assert.deepEqual(seed.gradient_h(X, W, H, beta).data, b.gradientH(X, W, H, beta).data);
      assert.deepEqual(seed.gradient_w(X, W, H, beta).data, b.gradientW(X, W, H, beta).data);
      const [hp, hn] = seed.gradient_h_mu(X, W, H, beta);
      const hParts = b.gradientHMu(X, W, H, beta);
      assert.deepEqual([hp.data, hn.data], [hParts.pos.data, hParts.neg.data]);
      const [wp, wn] = seed.gradient_w_mu(X, W, H, beta);
      const wParts = b.gradientWMu(X, W, H, beta);
      assert.deepEqual([wp.data, wn.data], [wParts.pos.data, wParts.neg.data]);
      const [H1, [p1, n1]] = seed.mu_update_h(X, W, H, beta);
      // The seed's H *= neg/pos (eps 0).
      H.data.forEach((h, i) => assert.ok(Math.abs(H1.data[i] - (h * n1.data[i]) / p1.data[i]) < 1e-12));
      assert.deepEqual(seed.mu_update(H, p1, n1).data, H1.data);
      const s = seed.update_grad_w([wp, wn], [wn, wp], [wp, wp]);
      wp.data.forEach((v, i) => assert.ok(Math.abs(s[0].data[i] - (v - wn.data[i] + v)) < 1e-12));
      assert.equal(seed.beta_div(X, W, H, beta), b.betaDivergence(X, W, H, beta));
    });
  }
});

describe('one portable binary', function () {
  this.timeout(600000);

  it('needs no shared OpenBLAS, CUDA runtime or cuBLAS library to load', () => {
    const binary = path.join(root, 'build', 'Release', 'betanmf.node');
    const deps = execFileSync('ldd', [binary], { encoding: 'utf8' });
    assert.doesNotMatch(deps, /openblas|libblas|cudart|cublas|libcuda\.so/);
    // And it loads with no library path at all.
    const out = execFileSync(process.execPath, ['-e', `console.log(typeof require(${JSON.stringify(binary)}).hParts)`],
      { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(out.trim(), 'function');
  });

  it('npm pack ships the compiled JS, the CLI, the native sources and the prebuilds folder', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    const files: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
    for (const f of ['dist/index.js', 'dist/seed.js', 'dist/cli/main.js', 'bin/betanmf.js', 'native/core/beta.h',
      'native/cuda/cuda_backend.cu', 'CMakeLists.txt', 'scripts/install.js', 'prebuilds/README.md']) {
      assert.ok(files.includes(f), `${f} missing from the package`);
    }
    assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('build/')), 'tests or build outputs in the package');
  });

  // Installs the packed tarball into a fresh folder (npm fetches the runtime dependencies).
  // CI runs it after `npm run prebuilds`; elsewhere set BETANMF_PACK_TEST=1.
  it('installs from the tarball and runs with the prebuilt binary', function () {
    if (!process.env.BETANMF_PACK_TEST) this.skip();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-pack-'));
    const tgz = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!;
    fs.writeFileSync(path.join(tmp, 'package.json'), '{"name":"consumer","version":"1.0.0","private":true}');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', path.join(tmp, tgz)], { cwd: tmp, stdio: 'pipe' });
    const out = execFileSync(process.execPath, ['-e', `
      const b = require('betanmf');
      const X = b.matrix([[1, 2], [3, 4]]), W = b.matrix([[1], [1]]), H = b.matrix([[1], [2]]);
      console.log(JSON.stringify({ g: b.gradientH(X, W, H, 2).toArray(), native: require.resolve('betanmf/package.json') }));`],
      { cwd: tmp, encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.deepEqual(JSON.parse(out).g, [[1], [3]]);
    assert.ok(fs.existsSync(path.join(tmp, 'node_modules', 'betanmf', 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node')));
    assert.ok(!fs.existsSync(path.join(tmp, 'node_modules', 'betanmf', 'build')), 'the install built from source instead of using the prebuild');
  });
});
