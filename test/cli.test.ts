// The `betanmf` command line, spawned as a user runs it.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { matrix, syntheticSpectrogram } from '../lib';
import { writeNpy } from '../lib/cli/io';

const bin = path.join(__dirname, '..', 'bin', 'betanmf.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-cli-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, BETANMF_DEVICE: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** numpy, when this machine's python has it (CI installs python3-numpy). */
function numpyPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import numpy'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

const X = syntheticSpectrogram(300, 40, { components: 4, seed: 2 });
const xNpy = path.join(tmp, 'X.npy');
writeNpy(xNpy, X);

describe('betanmf CLI', function () {
  this.timeout(120000);

  it('--help works for every command', () => {
    for (const cmd of [[], ['fit'], ['transform'], ['bench'], ['inspect'], ['plot'], ['demo']]) {
      const r = cli(...cmd, '--help');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Usage: betanmf/);
    }
  });

  it('fit writes W.npy, H.npy, history.json and a plot; --json prints one summary object', () => {
    const out = path.join(tmp, 'fit');
    const r = cli('fit', xNpy, '-k', '4', '--beta', '1', '--solver', 'asg_mu', '--batch-size', '50', '--max-iter', '15',
      '--seed', '3', '--out', out, '--plot', path.join(out, 'cost.svg'), '--json');
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out);
    assert.deepEqual(Object.keys(summary).sort(), ['beta', 'components', 'cost', 'device', 'dtype', 'iterations', 'seconds', 'solver']);
    assert.equal(summary.components, 4);
    assert.equal(summary.solver, 'asg_mu');
    assert.equal(summary.dtype, 'float32');
    assert.ok(summary.iterations >= 1 && summary.cost > 0);
    const history = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8'));
    assert.equal(history.history[0].epoch, 0);
    assert.match(fs.readFileSync(path.join(out, 'cost.svg'), 'utf8'), /^<svg[\s\S]*<path d="M/);
    // Progress goes to stderr as plain lines when it is not a terminal.
    assert.match(r.err, /epoch \d+\/15 {2}cost/);
  });

  it('numpy reads W.npy and H.npy back with the right shapes and values', function () {
    const py = numpyPython();
    if (!py) this.skip(); // no numpy here; CI installs python3-numpy
    const out = path.join(tmp, 'fit');
    const r = spawnSync(py!, ['-c', `import numpy as np, json
W = np.load('${out}/W.npy'); H = np.load('${out}/H.npy')
print(json.dumps([list(W.shape), list(H.shape), str(W.dtype), float(W.sum())]))`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [wShape, hShape, dtype, wSum] = JSON.parse(r.stdout);
    assert.deepEqual(wShape, [40, 4]);
    assert.deepEqual(hShape, [300, 4]);
    assert.equal(dtype, 'float32');
    const mine = readBack(path.join(out, 'W.npy'));
    assert.ok(Math.abs(wSum - mine.reduce((s, v) => s + v, 0)) < 1e-3 * Math.abs(wSum));
  });

  it('reads numpy-written float64 and integer .npy files and CSV', function () {
    const csv = path.join(tmp, 'X.csv');
    fs.writeFileSync(csv, 'a,b,c\n1,2,3\n4,5,6\n7,8,9.5\n');
    const r = cli('fit', csv, '-k', '2', '--max-iter', '5', '--out', path.join(tmp, 'csv'), '--json', '--no-progress');
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).dtype, 'float64');
    assert.equal(r.err, '');
    const py = numpyPython();
    if (!py) return;
    const i64 = path.join(tmp, 'ints.npy');
    spawnSync(py, ['-c', `import numpy as np; np.save('${i64}', np.arange(1, 61, dtype=np.int64).reshape(12, 5))`]);
    const r2 = cli('fit', i64, '-k', '2', '--max-iter', '5', '--out', path.join(tmp, 'ints'), '--json');
    assert.equal(r2.code, 0, r2.err);
    assert.equal(JSON.parse(r2.out).dtype, 'float64');
  });

  it('transform writes H for fixed W', () => {
    const out = path.join(tmp, 'fit');
    const h = path.join(tmp, 'H2.npy');
    const r = cli('transform', xNpy, '--w', path.join(out, 'W.npy'), '--beta', '1', '--out', h);
    assert.equal(r.code, 0, r.err);
    assert.equal(readBack(h).length, 300 * 4);
  });

  it('bench --json reports msPerIter and floorMs per β', () => {
    const r = cli('bench', '--shape', '400x64x8', '--beta', '0,1,2', '--iters', '3', '--json');
    assert.equal(r.code, 0, r.err);
    const { results } = JSON.parse(r.out);
    assert.equal(results.length, 3);
    for (const x of results) {
      assert.deepEqual(Object.keys(x).sort(), ['F', 'K', 'N', 'beta', 'device', 'dtype', 'floorMs', 'msPerIter']);
      assert.ok(x.msPerIter > 0 && x.floorMs > 0);
      assert.deepEqual([x.N, x.F, x.K, x.device, x.dtype], [400, 64, 8, 'cpu', 'float32']);
    }
    assert.match(cli('bench', '--shape', '300x40x4', '--beta', '1', '--iters', '2').out, /ms\/iter/);
  });

  it('inspect says whether CUDA is compiled in and why a device is unavailable', () => {
    const r = cli('inspect', '--json');
    assert.equal(r.code, 0, r.err);
    const info = JSON.parse(r.out);
    assert.equal(typeof info.cudaCompiled, 'boolean');
    const cuda = info.devices.find((d: { kind: string }) => d.kind === 'cuda');
    assert.equal(cuda.available, false);
    assert.ok(cuda.reason.length > 0);
    assert.match(info.openblas.config, /OpenBLAS/);
    assert.match(cli('inspect').out, /CUDA compiled in: (yes|no)/);
  });

  it('plot draws several runs as SVG and PNG', () => {
    const out = path.join(tmp, 'fit');
    const other = path.join(tmp, 'fit2');
    assert.equal(cli('fit', xNpy, '-k', '4', '--max-iter', '10', '--out', other, '--cost-every', '1', '--no-progress').code, 0);
    const svg = path.join(tmp, 'cmp.svg'), png = path.join(tmp, 'cmp.png');
    const r = cli('plot', path.join(out, 'history.json'), path.join(other, 'history.json'), '-o', svg);
    assert.equal(r.code, 0, r.err);
    const text = fs.readFileSync(svg, 'utf8');
    assert.equal((text.match(/<path /g) ?? []).length, 4); // two runs × two panels
    assert.match(text, /asg_mu/);
    assert.equal(cli('plot', path.join(out, 'history.json'), '-o', png).code, 0);
    assert.deepEqual([...fs.readFileSync(png).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  });

  it('demo factorises, prints what it found and where the plot is', () => {
    const out = path.join(tmp, 'demo');
    const r = cli('demo', '--out', out);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /mu_batch +KL cost/);
    assert.match(r.out, new RegExp(`wrote ${out.replace(/[/\\]/g, '.')}.cost\\.svg`));
    assert.ok(fs.existsSync(path.join(out, 'cost.svg')));
  });

  describe('errors: exit code ≠ 0 and one short line on stderr', () => {
    const expectError = (args: string[], pattern: RegExp) => {
      const r = cli(...args);
      assert.notEqual(r.code, 0);
      assert.match(r.err, pattern);
      assert.ok(!/\n\s+at /.test(r.err), `no stack trace expected:\n${r.err}`);
      return r;
    };

    it('a missing file', () => expectError(['fit', path.join(tmp, 'nope.npy'), '-k', '2', '-o', tmp], /betanmf: .*nope\.npy: no such file/));

    it('an unreadable or truncated .npy', () => {
      const bad = path.join(tmp, 'bad.npy');
      fs.writeFileSync(bad, 'not numpy at all');
      expectError(['fit', bad, '-k', '2', '-o', tmp], /bad\.npy: not a \.npy file/);
      const cut = path.join(tmp, 'cut.npy');
      const full = fs.readFileSync(xNpy);
      fs.writeFileSync(cut, full.subarray(0, full.length - 100));
      expectError(['fit', cut, '-k', '2', '-o', tmp], /cut\.npy: (truncated|unreadable)/);
    });

    it('negative or NaN data', () => {
      const neg = path.join(tmp, 'neg.npy');
      writeNpy(neg, matrix([[1, 2], [-3, 4]]));
      expectError(['fit', neg, '-k', '1', '-o', tmp], /X: expected finite nonnegative entries, received -3 at row 1, column 0/);
      const nan = path.join(tmp, 'nan.csv');
      fs.writeFileSync(nan, '1,2\nnan,4\n');
      expectError(['fit', nan, '-k', '1', '-o', tmp], /received NaN at row 1, column 0/);
    });

    it('bad options', () => {
      expectError(['fit', xNpy, '-k', '0', '-o', tmp], /--components: expected an integer ≥ 1, received 0/);
      expectError(['fit', xNpy, '-o', tmp], /required option .*--components/);
      expectError(['fit', xNpy, '-k', '2', '-o', tmp, '--solver', 'sgd'], /Allowed choices are mu_batch/);
      expectError(['fit', xNpy, '-k', '2', '-o', tmp, '--beta', 'euclid'], /beta: expected a number or 'frobenius'/);
      expectError(['fit', xNpy, '-k', '2', '-o', tmp, '--device', 'cuda'], /CUDA was requested but is not available/);
      expectError(['bench', '--shape', '10x10'], /--shape: expected NxFxK/);
      expectError(['plot', xNpy, '-o', path.join(tmp, 'x.svg')], /not a readable history\.json/);
      expectError(['frobnicate'], /unknown command 'frobnicate'/);
    });

    it('--debug shows the stack trace', () => {
      const r = cli('--debug', 'fit', path.join(tmp, 'nope.npy'), '-k', '2', '-o', tmp);
      assert.notEqual(r.code, 0);
      assert.match(r.err, /\n\s+at /);
    });
  });
});

function readBack(file: string): Float32Array | Float64Array {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readMatrix } = require('../lib/cli/io') as typeof import('../lib/cli/io');
  return readMatrix(file).data;
}
