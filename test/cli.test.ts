// The `betanmf` command line, spawned as a user runs it.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { matrix, readNpySync, syntheticSpectrogram, writeNpySync } from '../lib';
import { fsErrorText } from '../lib/files';

const bin = path.join(__dirname, '..', 'bin', 'betanmf.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-cli-'));

function cli(...args: string[]) {
  return cliIn(undefined, ...args);
}
function cliIn(cwd: string | undefined, ...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, BETANMF_DEVICE: '' } });
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
writeNpySync(xNpy, X);

describe('betanmf CLI', function () {
  this.timeout(120000);

  it('--help works for every command', () => {
    for (const cmd of [[], ['fit'], ['transform'], ['bench'], ['inspect'], ['plot'], ['demo']]) {
      const r = cli(...cmd, '--help');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Usage: betanmf/);
    }
  });

  it('warnings are one line each on stderr; a fit that stops without improvement says so', () => {
    const out = path.join(tmp, 'fit-warn');
    const r = cli('fit', xNpy, '-k', '4', '--beta', '1', '--solver', 'mu_batch', '--sag-memory', '3', '--max-iter', '40',
      '--cost-every', '1', '--tol', '0', '--max-no-improvement', '1', '--seed', '3', '--out', out, '--no-progress', '--json');
    assert.equal(r.code, 0, r.err);
    const lines = r.err.trim().split('\n');
    assert.ok(lines.every((l) => l.startsWith('betanmf: warning: ')), r.err);
    assert.ok(lines.some((l) => /sagMemory has no effect with solver 'mu_batch'/.test(l)), r.err);
    const summary = JSON.parse(r.out);
    if (summary.stopReason === 'noImprovement') assert.ok(lines.some((l) => /without a new lowest cost; the factors are the best seen/.test(l)));
    else assert.equal(summary.stopReason, 'maxIter');
  });

  it('fit writes W.npy, H.npy, history.json and a plot; --json prints one summary object', () => {
    const out = path.join(tmp, 'fit');
    const r = cli('fit', xNpy, '-k', '4', '--beta', '1', '--solver', 'asg_mu', '--batch-size', '50', '--max-iter', '15',
      '--seed', '3', '--out', out, '--plot', path.join(out, 'cost.svg'), '--json');
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out);
    assert.deepEqual(Object.keys(summary).sort(), ['beta', 'components', 'cost', 'device', 'dtype', 'iterations', 'seconds', 'solver', 'stopReason']);
    assert.equal(summary.components, 4);
    assert.equal(summary.stopReason, 'maxIter');
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

  it('--weights, --missing nan, penalties and --fixed-components reach the fit (same result as the library)', async () => {
    const { BetaNMF } = await import('../lib');
    const x = X.toTypedArray();
    const weights = matrix(new Float32Array(x.length).map((_, i) => (i % 5 === 0 ? 0 : 1)), X.rows, X.cols);
    const mNpy = path.join(tmp, 'M.npy');
    writeNpySync(mNpy, weights);
    const common = { nComponents: 4, beta: 1, maxIter: 20, seed: 5 } as const;
    // Weights and penalties: the CLI's factors are the library's, bit for bit.
    const out = path.join(tmp, 'fit-weighted');
    let r = cli('fit', xNpy, '-k', '4', '--beta', '1', '--max-iter', '20', '--seed', '5', '--weights', mNpy, '--alpha-w', '0.01',
      '--alpha-h', '0.1', '--l1-ratio', '0.5', '--out', out, '--no-progress', '--json');
    assert.equal(r.code, 0, r.err);
    const lib = await new BetaNMF({ ...common, alphaW: 0.01, alphaH: 0.1, l1Ratio: 0.5 }).fit(X, { weights });
    assert.deepEqual(Array.from(readNpySync(path.join(out, 'W.npy')).toTypedArray()), Array.from(lib.W.toTypedArray()));
    assert.equal(JSON.parse(r.out).cost, lib.cost);
    // --missing nan: NaN where the weights are 0 gives the same factors as --weights.
    const withNan = matrix(x.map((v, i) => (i % 5 === 0 ? NaN : v)), X.rows, X.cols);
    const nanNpy = path.join(tmp, 'X-nan.npy');
    writeNpySync(nanNpy, withNan);
    const outNan = path.join(tmp, 'fit-nan');
    r = cli('fit', nanNpy, '-k', '4', '--beta', '1', '--max-iter', '20', '--seed', '5', '--missing', 'nan', '--alpha-w', '0.01',
      '--alpha-h', '0.1', '--l1-ratio', '0.5', '--out', outNan, '--no-progress');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(Array.from(readNpySync(path.join(outNan, 'W.npy')).toTypedArray()), Array.from(lib.W.toTypedArray()));
    // Without --missing, NaN is an error naming the entry.
    r = cli('fit', nanNpy, '-k', '4', '--out', path.join(tmp, 'fit-nan-err'), '--no-progress');
    assert.equal(r.code, 1);
    assert.match(r.err, /^betanmf: .*NaN/);
    // --fixed-components: those columns of --w-init's W are unchanged, the others learnt.
    const outFixed = path.join(tmp, 'fit-fixed');
    r = cli('fit', xNpy, '-k', '4', '--beta', '1', '--max-iter', '20', '--seed', '5', '--w-init', path.join(out, 'W.npy'),
      '--fixed-components', '1,3', '--out', outFixed, '--no-progress');
    assert.equal(r.code, 0, r.err);
    const W0 = readNpySync(path.join(out, 'W.npy')).toTypedArray(), W1 = readNpySync(path.join(outFixed, 'W.npy')).toTypedArray();
    let others = 0;
    W0.forEach((v, i) => {
      if (i % 4 === 1 || i % 4 === 3) assert.equal(W1[i], v);
      else if (W1[i] !== v) others++;
    });
    assert.ok(others > 0, 'the free columns were learnt');
    // transform --weights: the library's transform with the same weights.
    const hNpy = path.join(tmp, 'H-weighted.npy');
    r = cli('transform', xNpy, '--w', path.join(out, 'W.npy'), '--beta', '1', '--weights', mNpy, '--seed', '2', '--out', hNpy);
    assert.equal(r.code, 0, r.err);
    const W = readNpySync(path.join(out, 'W.npy'));
    const H = await new BetaNMF({ nComponents: 4, beta: 1, seed: 2, init: 'custom', W, fixed: ['W'] }).transform(X, { weights });
    assert.deepEqual(Array.from(readNpySync(hNpy).toTypedArray()), Array.from(H.toTypedArray()));
  });

  it('wrong --weights, --fixed-components and penalty values are one-line usage errors', () => {
    const out = path.join(tmp, 'fit-bad');
    const cases: [string[], RegExp][] = [
      [['--fixed-components', '0'], /--fixed-components: needs --w-init/],
      [['--w-init', xNpy, '--fixed-components', '0,x'], /--fixed-components: expected an integer ≥ 0, received x/],
      [['--w-init', xNpy], /--w-init: needs --fixed-components/],
      [['--w-init', xNpy, '--fixed-components', '0'], /W is 300×40, expected 40×4/],
      [['--weights', path.join(tmp, 'nope.npy')], /nope\.npy: no such file/],
      [['--alpha-w', '-1'], /--alpha-w: expected a number ≥ 0, received -1/],
      [['--l1-ratio', '1.5'], /--l1-ratio: expected a number in \[0, 1\], received 1\.5/],
      [['--missing', 'zero'], /--missing: expected one of nan, received "zero"/],
    ];
    for (const [args, message] of cases) {
      const r = cli('fit', xNpy, '-k', '4', '--out', out, '--no-progress', ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
    const small = path.join(tmp, 'M-small.npy');
    writeNpySync(small, matrix(new Float32Array(10).fill(1), 2, 5));
    const r = cli('fit', xNpy, '-k', '4', '--out', out, '--no-progress', '--weights', small);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /the weights are 2×5, expected 300×40 \(X's shape\)/);
    assert.ok(!fs.existsSync(out));
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
    assert.match(r.out, new RegExp(`cost\\.svg in ${out.replace(/[/\\]/g, '.')}`));
    for (const f of ['X.npy', 'W.npy', 'H.npy', 'cost.svg']) assert.ok(fs.existsSync(path.join(out, f)), f);
    assert.deepEqual(readNpySync(path.join(out, 'X.npy')).shape, [4000, 257]);
  });

  it('demo writes into ./betanmf-demo by default, says where, and runs again over its own folder', () => {
    const cwd = fs.mkdtempSync(path.join(tmp, 'cwd-'));
    for (let round = 0; round < 2; round++) {
      const r = cliIn(cwd, 'demo');
      assert.equal(r.code, 0, r.err);
      assert.ok(r.out.includes(`in ${path.join(fs.realpathSync(cwd), 'betanmf-demo')}`) || r.out.includes(`in ${path.join(cwd, 'betanmf-demo')}`), r.out);
    }
    assert.deepEqual(fs.readdirSync(cwd), ['betanmf-demo']); // no staging folders left behind
    // A folder holding anything else is never replaced.
    fs.writeFileSync(path.join(cwd, 'betanmf-demo', 'notes.txt'), 'mine');
    const r = cliIn(cwd, 'demo');
    assert.equal(r.code, 2);
    assert.match(r.err, /^betanmf: --out betanmf-demo: the folder exists and holds other files \(notes\.txt\)/);
    assert.equal(fs.readFileSync(path.join(cwd, 'betanmf-demo', 'notes.txt'), 'utf8'), 'mine');
  });

  it('one duration per fit: the progress lines, the summary, --json and history.json agree', () => {
    const out = path.join(tmp, 'duration');
    const r = cli('fit', xNpy, '-k', '4', '--max-iter', '12', '--cost-every', '4', '--seed', '1', '--out', out, '--json');
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out);
    const history = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8'));
    assert.equal(summary.seconds, history.seconds);
    assert.equal(summary.seconds, history.history[history.history.length - 1].seconds);
    const lastLine = r.err.trim().split('\n').pop()!;
    assert.match(lastLine, /^epoch 12\/12 /);
    assert.equal(lastLine.split(/\s+/).pop(), `${summary.seconds.toFixed(2)}s`);
    const text = cli('fit', xNpy, '-k', '4', '--max-iter', '12', '--seed', '1', '--out', path.join(tmp, 'duration2'), '--no-progress');
    const again = JSON.parse(fs.readFileSync(path.join(tmp, 'duration2', 'history.json'), 'utf8'));
    assert.match(text.out, new RegExp(`in ${again.seconds.toFixed(2)}s`));
  });

  it('β by name or number everywhere a β is taken', () => {
    const names: [string, number][] = [['kl', 1], ['kullback-leibler', 1], ['itakura-saito', 0], ['is', 0], ['euclidean', 2], ['frobenius', 2], ['1.5', 1.5]];
    for (const [name, value] of names) {
      const r = cli('fit', xNpy, '-k', '2', '--beta', name, '--max-iter', '2', '--out', path.join(tmp, `beta-${name}`), '--json', '--no-progress');
      assert.equal(r.code, 0, `${name}: ${r.err}`);
      assert.equal(JSON.parse(r.out).beta, value, name);
    }
    const t = cli('transform', xNpy, '--w', path.join(tmp, 'beta-kl', 'W.npy'), '--beta', 'kl', '--max-iter', '3', '--out', path.join(tmp, 'H-kl.npy'));
    assert.equal(t.code, 0, t.err);
    const b = cli('bench', '--shape', '200x30x3', '--beta', '0,kl,itakura-saito,euclidean,1.5', '--iters', '1', '--json');
    assert.equal(b.code, 0, b.err);
    assert.deepEqual(JSON.parse(b.out).results.map((x: { beta: number }) => x.beta), [0, 1, 0, 2, 1.5]);
  });

  it('plot labels curves by folder, adding K and seed where the runs differ', () => {
    const cwd = fs.mkdtempSync(path.join(tmp, 'labels-'));
    fs.copyFileSync(xNpy, path.join(cwd, 'X.npy'));
    assert.equal(cliIn(cwd, 'fit', 'X.npy', '-k', '3', '--seed', '1', '--max-iter', '4', '--out', 'run1', '--no-progress').code, 0);
    assert.equal(cliIn(cwd, 'fit', 'X.npy', '-k', '4', '--seed', '2', '--max-iter', '4', '--out', 'run2', '--no-progress').code, 0);
    const r = cliIn(cwd, 'plot', 'run1/history.json', 'run2/history.json', '-o', 'cmp.svg');
    assert.equal(r.code, 0, r.err);
    const labels = [...fs.readFileSync(path.join(cwd, 'cmp.svg'), 'utf8').matchAll(/<text x="\d+" y="\d+">([^<]*)<\/text>/g)].map((m) => m[1]);
    assert.ok(labels.includes('run1, K=3, seed 1'), labels.join(' | '));
    assert.ok(labels.includes('run2, K=4, seed 2'), labels.join(' | '));
  });

  it('fit --out refuses to overwrite without --force, and --force replaces the whole set', () => {
    const out = path.join(tmp, 'force');
    assert.equal(cli('fit', xNpy, '-k', '3', '--max-iter', '2', '--out', out, '--plot', path.join(out, 'cost.svg'), '--no-progress').code, 0);
    const before = fs.readFileSync(path.join(out, 'history.json'), 'utf8');
    const r = cli('fit', xNpy, '-k', '2', '--max-iter', '2', '--out', out, '--no-progress');
    assert.equal(r.code, 2);
    assert.match(r.err, /^betanmf: --out .*force: already exists; pass --force to replace it/);
    assert.equal(fs.readFileSync(path.join(out, 'history.json'), 'utf8'), before);
    const f = cli('fit', xNpy, '-k', '2', '--max-iter', '2', '--out', out, '--force', '--no-progress');
    assert.equal(f.code, 0, f.err);
    assert.deepEqual(fs.readdirSync(out).sort(), ['H.npy', 'W.npy', 'history.json']); // the old plot went with the old set
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8')).components, 2);
    assert.equal(readNpySync(path.join(out, 'W.npy')).cols, 2);
    assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.includes('.tmp')), []);
    // transform's --out too.
    const h = path.join(tmp, 'H-force.npy');
    assert.equal(cli('transform', xNpy, '--w', path.join(out, 'W.npy'), '--out', h).code, 0);
    const t = cli('transform', xNpy, '--w', path.join(out, 'W.npy'), '--out', h);
    assert.equal(t.code, 2);
    assert.match(t.err, /--out .*H-force\.npy: already exists; pass --force/);
    assert.equal(cli('transform', xNpy, '--w', path.join(out, 'W.npy'), '--out', h, '--force').code, 0);
  });

  it('every output location is checked before any work starts', () => {
    // A huge claimed input would take long to fit: these fail at once, before reading it.
    const out = path.join(tmp, 'never');
    const checks: [string[], RegExp][] = [
      [['--plot', path.join(tmp, 'x.jpg')], /--plot .*x\.jpg: expected a file name ending in \.svg or \.png/],
      [['--plot', path.join(tmp, 'no', 'such', 'x.svg')], /--plot .*x\.svg: the folder .*such does not exist; create it first/],
      [['--plot', path.join(out, 'cost.gif')], /--plot .*cost\.gif: expected a file name ending in \.svg or \.png/],
      [['--plot', tmp], /--plot .*: expected a file name ending in/],
    ];
    for (const [extra, pattern] of checks) {
      const t0 = Date.now();
      const r = cli('fit', xNpy, '-k', '3', '--max-iter', '100000', '--tol', '0', '--out', out, ...extra);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, pattern);
      assert.ok(Date.now() - t0 < 10000);
      assert.ok(!fs.existsSync(out));
    }
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    const r = cli('fit', xNpy, '-k', '3', '--max-iter', '100000', '--tol', '0', '--out', file);
    assert.equal(r.code, 2);
    assert.match(r.err, /^betanmf: --out .*a-file: exists and is not a folder/);
    const under = cli('fit', xNpy, '-k', '3', '--out', path.join(file, 'sub'));
    assert.equal(under.code, 2);
    assert.match(under.err, /^betanmf: --out .*sub: .*a-file is a file, not a folder\n$/);
    const dirInput = path.join(tmp, 'folder.npy');
    fs.mkdirSync(dirInput);
    assert.match(cli('fit', dirInput, '-k', '3', '--out', out).err, /^betanmf: .*folder\.npy: is a folder; expected a \.npy or \.csv file\n$/);
    const p = cli('plot', path.join(tmp, 'fit', 'history.json'), '-o', path.join(tmp, 'chart.pdf'));
    assert.match(p.err, /^betanmf: --out .*chart\.pdf: expected a file name ending in \.svg or \.png\n$/);
    const w = cli('transform', xNpy, '--w', path.join(tmp, 'fit', 'W.npy'), '--out', path.join(tmp, 'H.csv'));
    assert.match(w.err, /^betanmf: --out .*H\.csv: expected a file name ending in \.npy\n$/);
  });

  it('an interrupted fit restores the terminal, exits 130 / 143 and leaves the old results whole', function () {
    const big = path.join(tmp, 'big.npy');
    writeNpySync(big, syntheticSpectrogram(4000, 257, { components: 8, seed: 4 }));
    const out = path.join(tmp, 'interrupted');
    assert.equal(cli('fit', xNpy, '-k', '2', '--max-iter', '2', '--out', out, '--no-progress').code, 0);
    const before = ['W.npy', 'H.npy', 'history.json'].map((f) => fs.readFileSync(path.join(out, f)));
    // On a terminal (script gives the command a pseudo-terminal): the bar hides the cursor; SIGINT shows it again.
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} fit ${big} -k 30 --max-iter 100000 --tol 0 --cost-every 1 --out ${out} --force & ` +
      'pid=$!; sleep 2; kill -INT $pid; wait $pid; echo "exit=$?"';
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, BETANMF_DEVICE: '' }, timeout: 60000 });
    if (r.error) this.skip(); // no `script` here
    assert.match(r.stdout, /\x1b\[\?25l/, 'the bar hid the cursor');
    assert.match(r.stdout, /\x1b\[\?25h[\s\S]*betanmf: interrupted \(SIGINT\)/, 'the cursor is shown again before the message');
    assert.match(r.stdout, /exit=130/);
    ['W.npy', 'H.npy', 'history.json'].forEach((f, i) => assert.deepEqual(fs.readFileSync(path.join(out, f)), before[i], f));
    // SIGTERM without a terminal: 143, old results untouched, no staging folder left.
    const child = spawn(process.execPath, [bin, 'fit', big, '-k', '30', '--max-iter', '100000', '--tol', '0', '--out', out, '--force'],
      { env: { ...process.env, BETANMF_DEVICE: '' } });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => child.kill('SIGTERM'), 2000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        try {
          assert.equal(code, 143, err);
          assert.match(err, /betanmf: interrupted \(SIGTERM\); no output was written/);
          ['W.npy', 'H.npy', 'history.json'].forEach((f, i) => assert.deepEqual(fs.readFileSync(path.join(out, f)), before[i], f));
          assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.startsWith('.interrupted')), []);
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  });

  it('a signal at any moment leaves the old set or the new one whole, never a mixture (12 random moments)', async () => {
    const data = path.join(tmp, 'mixture-X.npy');
    writeNpySync(data, syntheticSpectrogram(3000, 200, { components: 6, seed: 5 }));
    const out = path.join(tmp, 'mixture');
    assert.equal(cli('fit', data, '-k', '2', '--max-iter', '2', '--out', out, '--no-progress').code, 0);
    const codes: number[] = [];
    for (let round = 0; round < 12; round++) {
      const k = 3 + (round % 4);
      // About a second of fitting (the fit got ~10× faster): the signals land before, during and after the writes.
      const child = spawn(process.execPath, [bin, 'fit', data, '-k', String(k), '--max-iter', '2000', '--tol', '0', '--out', out, '--force', '--no-progress'],
        { env: { ...process.env, BETANMF_DEVICE: '' }, stdio: 'ignore' });
      const signal = round % 2 ? 'SIGINT' : 'SIGTERM';
      const timer = setTimeout(() => child.kill(signal), 100 + Math.random() * 1400);
      const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s === 'SIGINT' ? 130 : 143))));
      clearTimeout(timer);
      codes.push(code);
      assert.ok([0, 130, 143].includes(code), `exit code ${code}`);
      const history = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8'));
      const W = readNpySync(path.join(out, 'W.npy')), H = readNpySync(path.join(out, 'H.npy'));
      assert.deepEqual([W.cols, H.cols, W.rows, H.rows], [history.components, history.components, 200, 3000], `round ${round}: a mixture`);
      if (code === 0) assert.equal(history.components, k);
      assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.startsWith('.mixture')), [], `round ${round}: staging left behind`);
    }
    assert.ok(codes.some((c) => c !== 0), `no round was interrupted: ${codes.join(' ')}`);
  });

  it('file-system errors are said in words with the path', () => {
    assert.equal(fsErrorText(Object.assign(new Error('x'), { code: 'ENOSPC', path: '/data/out/W.npy', syscall: 'write' })),
      '/data/out/W.npy: no space left on the device; free some space or write elsewhere (write)');
    assert.equal(fsErrorText(new Error('plain')), undefined);
    const r = cli('plot', tmp, '-o', path.join(tmp, 'p.svg'));
    assert.equal(r.code, 2);
    assert.equal(r.err, `betanmf: ${tmp}: is a folder where a file was expected (read)\n`);
  });

  describe('errors: one line "betanmf: …" on stderr, exit code 2 for the command line, 1 for failures', () => {
    const expectError = (args: string[], pattern: RegExp, code = 1) => {
      const r = cli(...args);
      assert.equal(r.code, code, `exit code for ${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^betanmf: [^\n]+\n$/, `one line expected:\n${r.err}`);
      assert.match(r.err, pattern);
      return r;
    };

    it('a missing file', () => expectError(['fit', path.join(tmp, 'nope.npy'), '-k', '2', '-o', path.join(tmp, 'o1')], /betanmf: .*nope\.npy: no such file/, 2));

    it('an unreadable or truncated .npy', () => {
      const bad = path.join(tmp, 'bad.npy');
      fs.writeFileSync(bad, 'not numpy at all');
      expectError(['fit', bad, '-k', '2', '-o', path.join(tmp, 'o2')], /bad\.npy: not a \.npy file/);
      const cut = path.join(tmp, 'cut.npy');
      const full = fs.readFileSync(xNpy);
      fs.writeFileSync(cut, full.subarray(0, full.length - 100));
      expectError(['fit', cut, '-k', '2', '-o', path.join(tmp, 'o3')], /cut\.npy: truncated: a 300×40 float32 array needs 48000 bytes/);
    });

    it('negative or NaN data', () => {
      const neg = path.join(tmp, 'neg.npy');
      writeNpySync(neg, matrix([[1, 2], [-3, 4]]));
      expectError(['fit', neg, '-k', '1', '-o', path.join(tmp, 'o4')], /X: expected finite nonnegative entries, received -3 at row 1, column 0/);
      const nan = path.join(tmp, 'nan.csv');
      fs.writeFileSync(nan, '1,2\nnan,4\n');
      expectError(['fit', nan, '-k', '1', '-o', path.join(tmp, 'o5')], /received NaN at row 1, column 0/);
    });

    it('bad options (commander\'s own errors included) are usage errors', () => {
      const o = path.join(tmp, 'o6');
      expectError(['fit', xNpy, '-k', '0', '-o', o], /^betanmf: --components: expected an integer ≥ 1, received 0$/m, 2);
      expectError(['fit', xNpy, '-o', o], /^betanmf: required option '-k, --components <K>' not specified/, 2);
      expectError(['fit', xNpy, '-k', '2'], /^betanmf: required option '-o, --out <DIR>' not specified/, 2);
      expectError(['fit', xNpy, '-k', '2', '-o', o, '--solver', 'sgd'], /--solver: expected one of mu_batch, asg_mu, gsg_mu, asag_mu, gsag_mu, hals, received "sgd"/, 2);
      expectError(['fit', xNpy, '-k', '2', '-o', o, '--beta', 'euclid'], /--beta: expected a number or frobenius \| euclidean \| kullback-leibler \| kl \| itakura-saito \| is, received "euclid"/, 2);
      expectError(['fit', xNpy, '-k', '2', '-o', o, '--device', 'cuda'], /CUDA was requested but is not available/);
      expectError(['bench', '--shape', '10x10'], /--shape: expected NxFxK/, 2);
      expectError(['bench', '--shape', '2000x257x20', '--beta', 'kl,foo'], /--beta: expected a number or .*, received "foo"/, 2);
      expectError(['bench', '--beta', '1,,2'], /--beta: expected a comma-separated list/, 2);
      expectError(['plot', xNpy, '-o', path.join(tmp, 'x.svg')], /not a readable history\.json/, 2);
      expectError(['frobnicate'], /unknown command 'frobnicate'/, 2);
      expectError(['fit'], /missing required argument 'input'/, 2);
    });

    it('unknown options are named as unknown, with a suggestion, before missing required ones', () => {
      expectError(['fit', xNpy, '-n', '5', '-o', tmp], /^betanmf: unknown option '-n' \(Did you mean --components\?\)/, 2);
      expectError(['fit', xNpy, '--n-components', '5', '-o', tmp], /^betanmf: unknown option '--n-components' \(Did you mean --components\?\)/, 2);
      expectError(['fit', xNpy, '-k', '5', '--outt', tmp], /^betanmf: unknown option '--outt' \(Did you mean --out\?\)/, 2);
      expectError(['fit', xNpy, '-k', '5', '--frobnicate', '-o', tmp], /^betanmf: unknown option '--frobnicate'/, 2);
    });

    it('--help marks the required options', () => {
      const fit = cli('fit', '--help').out;
      assert.match(fit, /-k, --components <K> +number of components \(required\)/);
      assert.match(fit.replace(/\s+/g, ' '), /-o, --out <DIR> output folder \(new, or one written by fit with --force\) \(required\)/);
      assert.doesNotMatch(fit, /--seed <N>[^\n]*\(required\)/);
      assert.match(cli('transform', '--help').out.replace(/\s+/g, ' '), /--w <FILE> W\.npy \(F×K\) from `betanmf fit` \(required\)/);
      assert.match(cli('plot', '--help').out, /-o, --out <FILE> +chart to write \(\.svg or \.png\) \(required\)/);
    });

    it('file-system errors say the path and what to do', function () {
      if (process.getuid?.() === 0) this.skip(); // root writes anywhere
      const ro = path.join(tmp, 'readonly');
      fs.mkdirSync(ro);
      fs.chmodSync(ro, 0o555);
      try {
        expectError(['fit', xNpy, '-k', '2', '-o', path.join(ro, 'out')], /--out .*out: no permission to write in .*readonly; choose a location you can write to/, 2);
        expectError(['transform', xNpy, '--w', path.join(tmp, 'fit', 'W.npy'), '-o', path.join(ro, 'H.npy')], /no permission to write in .*readonly/, 2);
      } finally {
        fs.chmodSync(ro, 0o755);
      }
    });

    it('--debug shows the stack trace', () => {
      const r = cli('--debug', 'fit', path.join(tmp, 'nope.npy'), '-k', '2', '-o', tmp);
      assert.notEqual(r.code, 0);
      assert.match(r.err, /\n\s+at /);
    });
  });
});

function readBack(file: string): Float32Array | Float64Array {
  return readNpySync(file).data;
}
