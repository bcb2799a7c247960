// Hardening, round three (issue 27, items 4–12): models loaded unchecked, a restarted Redis,
// files deleted or mixed, hangs, and messages. Each test covers the class of its reproduction.
// CLI tests spawn the compiled package (dist/, built by `npx tsc -p tsconfig.json`).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BetaNMF, matrix, syntheticSpectrogram, writeNpySync, type Matrix } from '../lib';

const bin = path.join(__dirname, '..', 'bin', 'betanmf.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-h3-'));

function cli(args: string[], timeout = 120000) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout, env: { ...process.env, BETANMF_DEVICE: '' } });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

const X = syntheticSpectrogram(60, 12, { components: 3, seed: 5 });
const xNpy = path.join(tmp, 'X.npy');
writeNpySync(xNpy, X);

/** A folder's entries, recursively (relative paths, sorted). */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('hardening 3: a folder holding files we did not write is never replaced, hidden ones included (item 6)', function () {
  this.timeout(120000);

  for (const hidden of [['.git', 'HEAD'], ['.notes'], ['.cache', '.x', 'y']]) {
    it(`save({ overwrite: true }) and fit --force keep a folder holding ${hidden[0]}`, async () => {
      const model = new BetaNMF({ nComponents: 2, maxIter: 2, seed: 1 });
      await model.fit(X);
      for (const how of ['save', 'cli'] as const) {
        const dir = path.join(tmp, `hidden-${how}-${hidden[0].slice(1)}`);
        if (how === 'save') await model.save(dir);
        else assert.equal(cli(['fit', xNpy, '-k', '2', '--max-iter', '2', '--out', dir, '--no-progress']).code, 0);
        const file = path.join(dir, ...hidden);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, 'not ours');
        const before = tree(dir);
        if (how === 'save') {
          await assert.rejects(model.save(dir, { overwrite: true }), new RegExp(`holds other files \\(${hidden[0].replace('.', '\\.')}\\)`));
        } else {
          const r = cli(['fit', xNpy, '-k', '2', '--max-iter', '2', '--out', dir, '--force', '--no-progress']);
          assert.equal(r.code, 2, r.err);
          assert.match(r.err, new RegExp(`holds other files \\(${hidden[0].replace('.', '\\.')}\\)`));
        }
        assert.deepEqual(tree(dir), before);
        assert.equal(fs.readFileSync(file, 'utf8'), 'not ours');
      }
    });
  }
});

describe('hardening 3: inputs that are not regular files are refused up front, nothing blocks (item 8)', function () {
  this.timeout(120000);
  const fifo = (name: string) => {
    const file = path.join(tmp, name);
    if (!fs.existsSync(file)) assert.equal(spawnSync('mkfifo', [file]).status, 0, 'mkfifo');
    return file;
  };
  const notRegular = /is not a regular file \(a pipe, socket or device\)/;

  it('the readers refuse a FIFO (no writer) at once: readNpy, readNpyLayout, readNpyRows, readNpySync, readCsv', async () => {
    const { readNpy, readNpyLayout, readNpyRows, readNpySync, readCsv, DataFileError } = await import('../lib/io');
    const npy = fifo('pipe.npy'), csv = fifo('pipe.csv');
    for (const read of [() => readNpy(npy), () => readNpyLayout(npy), () => readNpyRows(npy, 0, 1), async () => readNpySync(npy), () => readCsv(csv)]) {
      await assert.rejects(read(), (e: Error) => e instanceof DataFileError && notRegular.test(e.message));
    }
  });

  it('betanmf fit / transform / --weights / --w-init on a FIFO exit 2 at once with one line', () => {
    const npy = fifo('pipe2.npy');
    const W = path.join(tmp, 'W-ok.npy');
    writeNpySync(W, matrix(new Float32Array(12 * 2).fill(0.5), 12, 2));
    for (const args of [['fit', npy, '-k', '2', '--out', path.join(tmp, 'fifo-out')],
      ['fit', xNpy, '-k', '2', '--weights', npy, '--out', path.join(tmp, 'fifo-out')],
      ['fit', xNpy, '-k', '2', '--w-init', npy, '--out', path.join(tmp, 'fifo-out')],
      ['transform', npy, '--w', W, '--out', path.join(tmp, 'fifo-H.npy')],
      ['transform', xNpy, '--w', npy, '--out', path.join(tmp, 'fifo-H.npy')]]) {
      const t0 = Date.now();
      const r = cli(args, 20000);
      assert.equal(r.signal, null, `${args.join(' ')}: hung`);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, notRegular);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.ok(Date.now() - t0 < 15000);
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'fifo-out')));
  });
});

describe('hardening 3: dispose, save and toJSON while a call runs are refused, never half done (item 11)', function () {
  this.timeout(120000);
  const big = syntheticSpectrogram(1500, 120, { components: 6, seed: 9 });
  const running = /BetaNMF: a fit, transform, partialFit or save of this model is still running; await it \(or abort it through its signal\) first/;

  for (const call of ['fit', 'partialFit', 'transform'] as const) {
    it(`during ${call}: dispose() and toJSON() throw, save() rejects and writes nothing; all work once it ends`, async () => {
      const model = new BetaNMF({ nComponents: 6, maxIter: 100000, tol: 0, seed: 3, onWarning: () => {} });
      if (call === 'transform') await model.fit(big, { signal: AbortSignal.timeout(200) }).catch(() => {});
      const ac = new AbortController();
      const pending = call === 'fit' ? model.fit(big, { signal: ac.signal })
        : call === 'partialFit' ? model.partialFit(big, { signal: ac.signal })
          : model.transform(big, { signal: ac.signal });
      const dir = path.join(tmp, `during-${call}`);
      assert.throws(() => model.dispose(), running);
      assert.throws(() => model.toJSON(), running);
      assert.throws(() => JSON.stringify(model), running);
      await assert.rejects(model.save(dir), running);
      assert.ok(!fs.existsSync(dir), 'save wrote a folder during the call');
      if (call === 'fit') {
        await new Promise((r) => setTimeout(r, 300));
        assert.throws(() => model.dispose(), running, 'between slices too');
      }
      if (call !== 'partialFit') ac.abort(); // one partialFit is one epoch: let it end
      await pending.catch(() => {});
      // The aborted call left consistent factors; they save and load back whole.
      if (call !== 'transform') {
        assert.ok(model.nIter > 0 && model.W, `${call} ran`);
        await model.save(dir);
        const back = await BetaNMF.load(dir);
        assert.deepEqual(Array.from(back.W!.toTypedArray()), Array.from(model.W!.toTypedArray()));
        assert.equal(back.nIter, model.nIter);
      }
      model.dispose();
      assert.equal(model.W, undefined);
    });
  }

  it('a fit started while save() writes is refused with the same message (save holds the model)', async () => {
    const model = new BetaNMF({ nComponents: 6, maxIter: 3, seed: 3 });
    await model.fit(big);
    const saving = model.save(path.join(tmp, 'saving'));
    await assert.rejects(model.fit(big), running);
    await saving;
    assert.ok(fs.existsSync(path.join(tmp, 'saving', 'W.npy')));
  });
});

describe('hardening 3: saved models are checked field by field on load, file and field named (item 4)', function () {
  this.timeout(120000);
  let json: ReturnType<BetaNMF['toJSON']>;
  let model: BetaNMF;
  before(async () => {
    model = await new BetaNMF({ nComponents: 3, maxIter: 5, seed: 4 }).fit(X);
    json = model.toJSON();
  });
  const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  const f32 = (n: number, v = 0.5) => new Float32Array(n).fill(v);
  const with1 = (i: number, v: number, n = 36) => { const a = f32(n); a[i] = v; return a; };
  const v1 = () => {
    const { W, H, ...rest } = json;
    void W;
    void H;
    return { ...rest, version: 1, W: { rows: 12, cols: 3, dtype: 'float32', data: Array.from(model.W!.toTypedArray()) },
      H: { rows: 60, cols: 3, dtype: 'float32', data: Array.from(model.H!.toTypedArray()) } };
  };
  const W = () => json.W as { dtype: string; shape: number[]; encoding: string; data: string };
  // [what, a change to the saved model, the message]: each a model that loaded before and failed later or wrongly.
  const cases: [string, () => object, RegExp][] = [
    ['W contradicting nComponents', () => ({ ...json, W: { ...W(), shape: [18, 2] } }), /W: expected 3 columns \(options\.nComponents\), received 18×2/],
    ['H contradicting nComponents', () => ({ ...json, options: { ...json.options, nComponents: 4 } }), /W: expected 4 columns \(options\.nComponents\), received 12×3/],
    ['NaN in W', () => ({ ...json, W: { ...W(), data: b64(with1(7, NaN)) } }), /W: expected finite values ≥ 0, received NaN at row 2, column 1/],
    ['negative in W', () => ({ ...json, W: { ...W(), data: b64(with1(0, -1)) } }), /W: expected finite values ≥ 0, received -1 at row 0, column 0/],
    ['Infinity in H', () => ({ ...json, H: { ...(json.H as object), data: b64(with1(5, Infinity, 180)) } }), /H: expected finite values ≥ 0, received Infinity/],
    ['junk base64', () => ({ ...json, W: { ...W(), data: '!'.repeat(W().data.length) } }), /W\.data: expected base64 text/],
    ['base64 with spaces inside', () => ({ ...json, W: { ...W(), data: W().data.slice(0, 8) + ' ' + W().data.slice(9) } }), /W\.data: expected base64 text/],
    ['non-integer shape', () => ({ ...json, W: { ...W(), shape: [12.5, 3] } }), /W\.shape: expected two integers ≥ 1/],
    ['version 1 of strings', () => { const o = v1(); o.W.data = o.W.data.map(String) as unknown as number[]; return o; }, /W\.data\[0\]: expected a number, received the string/],
    ['version 1 of the wrong length', () => { const o = v1(); o.H.data = o.H.data.slice(1); return o; }, /H\.data: expected 60×3 = 180 numbers, received 179/],
    ['version 1 with NaN', () => { const o = v1(); o.W.data[3] = NaN; return o; }, /W(: expected finite values ≥ 0, received NaN|\.data\[3\]: expected a number, received null)/], // JSON text has null
    ['history not an array', () => ({ ...json, history: {} }), /history: expected an array/],
    ['history entry without seconds', () => ({ ...json, history: [{ epoch: 0, cost: 1 }] }), /history\[0\]\.seconds: expected a finite number ≥ 0/],
    ['history past nIter', () => ({ ...json, history: [{ epoch: 99, seconds: 0 }] }), /history\[0\]\.epoch: expected an integer in \[0, nIter = 5\]/],
    ['nIter negative', () => ({ ...json, nIter: -2 }), /nIter: expected an integer ≥ 0/],
    ['fitted without W', () => ({ ...json, W: null }), /W: expected the fitted bases \(nIter is 5\), received null/],
    ['seed a string', () => ({ ...json, seed: '4' }), /seed: expected an integer in \[0, 2³²\)/],
    ['options missing', () => ({ ...json, options: null }), /options: expected an object/],
    ['options with a bad beta', () => ({ ...json, options: { ...json.options, beta: 'x' } }), /options\.beta/],
    ['options with an unknown solver', () => ({ ...json, options: { ...json.options, solver: 'sgd' } }), /options\.solver/],
    ['factor form a number', () => ({ ...json, H: 7 }), /H: expected a saved matrix/],
  ];

  for (const [what, change, message] of cases) {
    it(`fromJSON and load refuse ${what}`, async () => {
      const bad = change();
      for (const source of [bad, JSON.stringify(bad)]) {
        assert.throws(() => BetaNMF.fromJSON(source as never), (e: Error) => (e instanceof TypeError || e instanceof RangeError) &&
          /^json[.:]/.test(e.message) && message.test(e.message), what);
      }
      // The same object as a saved folder's model.json (factors inline) names the file.
      const dir = path.join(tmp, `bad-model-${what.replace(/\W+/g, '-')}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(bad));
      await assert.rejects(BetaNMF.load(dir), (e: Error) => e.message.startsWith(path.join(dir, 'model.json') + ': ') && message.test(e.message));
    });
  }

  it("load checks the .npy factors too: a W.npy contradicting nComponents, or holding NaN or negatives, names the file", async () => {
    const dir = path.join(tmp, 'npy-factors');
    await model.save(dir);
    const Wnpy = path.join(dir, 'W.npy');
    for (const [m, message] of [
      [matrix(f32(12 * 2), 12, 2), /W\.npy: expected W with 3 columns \(options\.nComponents in .*model\.json\), received 12×2/],
      [matrix(with1(4, NaN), 12, 3), /W\.npy: expected finite values ≥ 0, received NaN at row 1, column 1/],
      [matrix(with1(35, -0.25), 12, 3), /W\.npy: expected finite values ≥ 0, received -0\.25 at row 11, column 2/],
    ] as [Matrix, RegExp][]) {
      writeNpySync(Wnpy, m);
      await assert.rejects(BetaNMF.load(dir), (e: Error) => e instanceof RangeError && e.message.startsWith(Wnpy) && message.test(e.message));
    }
  });

  it('well-formed models still load: version 2, version 1, unfitted, saved folders', async () => {
    for (const source of [json, JSON.stringify(json), v1()]) {
      const back = BetaNMF.fromJSON(source as never);
      assert.deepEqual(Array.from(back.W!.toTypedArray()), Array.from(model.W!.toTypedArray()));
    }
    assert.equal(BetaNMF.fromJSON(new BetaNMF({ nComponents: 2, solver: 'asg_mu' }).toJSON()).W, undefined);
    const dir = path.join(tmp, 'good-model');
    await model.save(dir);
    assert.equal((await BetaNMF.load(dir)).nIter, 5);
  });
});

describe('hardening 3: bad values are usage errors (exit 2) found before any work (item 10)', function () {
  this.timeout(180000);
  const W = path.join(tmp, 'W10.npy');
  before(() => writeNpySync(W, matrix(new Float32Array(12 * 2).fill(0.5), 12, 2)));

  it("an empty file or folder path is refused by name, whichever command and option", () => {
    for (const args of [['fit', xNpy, '-k', '2', '--out', ''], ['fit', xNpy, '-k', '2', '--out', path.join(tmp, 'e1'), '--plot', ''],
      ['fit', xNpy, '-k', '2', '--out', path.join(tmp, 'e1'), '--weights', ''], ['transform', xNpy, '--w', '', '--out', path.join(tmp, 'e.npy')],
      ['transform', xNpy, '--w', W, '--out', ''], ['plot', path.join(tmp, 'nothing.json'), '--out', ''],
      ['submit', 'fit', xNpy, '-k', '2', '--out', '', '--redis', 'redis://127.0.0.1:1']]) {
      const r = cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^betanmf: --[\w-]+: expected a (file|folder) path, received an empty string\n$/, args.join(' '));
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'e1')));
  });

  it('--tol below 0 is exit 2 for fit and transform (it was exit 1, from the library)', () => {
    for (const args of [['fit', xNpy, '-k', '2', '--tol', '-1', '--out', path.join(tmp, 't1')], ['transform', xNpy, '--w', W, '--tol', '-0.5', '--out', path.join(tmp, 't.npy')]]) {
      const r = cli(args);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /^betanmf: --tol: expected a number ≥ 0, received -/);
    }
  });

  it('outputs where nothing can be created (/proc) are refused before the fit runs, nothing written', () => {
    for (const [args, message] of [
      [['fit', xNpy, '-k', '2', '--out', path.join(tmp, 'p1'), '--plot', '/proc/cost.svg'], /--plot \/proc\/cost\.svg: cannot create files in \/proc/],
      [['fit', xNpy, '-k', '2', '--out', '/proc/betanmf-out'], /--out \/proc\/betanmf-out: cannot create files in \/proc/],
      [['transform', xNpy, '--w', W, '--out', '/proc/H.npy'], /--out \/proc\/H\.npy: cannot create files in \/proc/],
    ] as [string[], RegExp][]) {
      const r = cli([...args, '--no-progress'].filter((a) => a !== '--no-progress' || args[0] === 'fit'));
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, message);
      assert.doesNotMatch(r.err, /epoch|tmp/);
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'p1')), 'the fit folder was written although the plot could not be');
  });

  it('save() to a place where nothing can be created rejects before writing', async () => {
    const model = await new BetaNMF({ nComponents: 2, maxIter: 2, seed: 1 }).fit(X);
    await assert.rejects(model.save('/proc/betanmf-model'), /\/proc\/betanmf-model: cannot create files in \/proc/);
  });

  it('bench --shape too large says so (a RangeError about the size), not "Invalid typed array length"', () => {
    for (const shape of ['100000x100000x1000', '2000000x3000x10', '10x10x1000000000']) {
      const r = cli(['bench', '--shape', shape, '--iters', '1'], 60000);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, new RegExp(`^betanmf: --shape: expected (at most \\d+ values in one matrix|a problem that fits in memory), received ${shape}`));
      assert.doesNotMatch(r.err, /Invalid typed array/);
    }
  });
});
