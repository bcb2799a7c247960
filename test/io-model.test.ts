// A model's saved forms: toJSON (factors as base64 of their little-endian bytes), fromJSON
// (that and version 1's number arrays), save(path) / BetaNMF.load(path) (a folder of
// model.json, W.npy and H.npy, written aside and renamed).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BetaNMF, readNpySync, syntheticSpectrogram, type SavedModel } from '../lib';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-model-'));

describe('saving models', function () {
  this.timeout(60000);
  const X = syntheticSpectrogram(400, 64, { components: 5, seed: 3 });
  let model: BetaNMF;
  before(async () => {
    model = await new BetaNMF({ nComponents: 5, beta: 1, maxIter: 10, seed: 7 }).fit(X);
  });

  it('toJSON stores each factor as base64 of its raw little-endian bytes with dtype and shape', () => {
    const json = model.toJSON();
    assert.equal(json.version, 2);
    const W = json.W as { dtype: string; shape: number[]; encoding: string; data: string };
    assert.deepEqual([W.dtype, W.shape, W.encoding], ['float32', [64, 5], 'base64']);
    // Independent decoding: the bytes are the float32 values in little-endian order.
    const bytes = Buffer.from(W.data, 'base64');
    assert.equal(bytes.length, 64 * 5 * 4);
    const w = model.W!.data;
    for (let i = 0; i < w.length; i++) assert.equal(bytes.readFloatLE(4 * i), w[i]);
    // Compact: within a few percent of 4/3 of the binary size (number arrays took ~3×).
    const text = JSON.stringify(json);
    const binary = (64 * 5 + 400 * 5) * 4;
    assert.ok(text.length < (4 / 3) * binary * 1.05 + 4000, `JSON is ${text.length} characters for ${binary} bytes of factors`);
  });

  it('fromJSON restores the exact factors, options, seed and history, from the object or its text', () => {
    for (const source of [model.toJSON(), JSON.stringify(model)]) {
      const back = BetaNMF.fromJSON(source);
      assert.deepEqual(back.W!.data, model.W!.data);
      assert.deepEqual(back.H!.data, model.H!.data);
      assert.equal(back.seed, model.seed);
      assert.equal(back.nIter, model.nIter);
      assert.deepEqual(back.history, model.history);
      assert.deepEqual(back.options, model.options);
    }
    const f64 = BetaNMF.fromJSON({ ...model.toJSON(), W: { dtype: 'float64', shape: [1, 5], encoding: 'base64', data: Buffer.from(new Float64Array([0.1, 1e-300, 0, 1, 2]).buffer).toString('base64') } });
    assert.deepEqual(Array.from(f64.W!.data), [0.1, 1e-300, 0, 1, 2]);
  });

  it('fromJSON reads version 1 (factors as arrays of numbers)', () => {
    const { W, H, ...rest } = model.toJSON();
    void W;
    void H;
    const v1 = {
      ...rest, version: 1,
      W: { rows: 64, cols: 5, dtype: 'float32', data: Array.from(model.W!.data) },
      H: { rows: 400, cols: 5, dtype: 'float32', data: Array.from(model.H!.data) },
    } as unknown as SavedModel;
    const back = BetaNMF.fromJSON(JSON.stringify(v1));
    assert.deepEqual(back.W!.data, model.W!.data);
    assert.deepEqual(back.H!.data, model.H!.data);
  });

  it('fromJSON rejects a damaged factor with the argument named', () => {
    const json = model.toJSON();
    const W = json.W as { data: string };
    assert.throws(() => BetaNMF.fromJSON({ ...json, W: { ...W, data: W.data.slice(0, 40) } } as SavedModel),
      /json\.W\.data: expected 64×5·4 = 1280 bytes \(base64\), received 30 bytes/);
    assert.throws(() => BetaNMF.fromJSON({ ...json, W: { ...W, dtype: 'int8' } } as unknown as SavedModel), TypeError);
    assert.throws(() => BetaNMF.fromJSON({ ...json, version: 3 } as unknown as SavedModel), /format 'betanmf-model', version 1 or 2/);
  });

  it('save(path) writes model.json, W.npy and H.npy into a new folder; BetaNMF.load(path) reads it back', async () => {
    const dir = path.join(tmp, 'm1');
    await model.save(dir);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['H.npy', 'W.npy', 'model.json']);
    assert.deepEqual(readNpySync(path.join(dir, 'W.npy')).data, model.W!.data);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    assert.deepEqual([meta.W, meta.H], [{ file: 'W.npy' }, { file: 'H.npy' }]);
    const back = await BetaNMF.load(dir);
    assert.deepEqual(back.W!.data, model.W!.data);
    assert.deepEqual(back.H!.data, model.H!.data);
    assert.deepEqual(back.options, model.options);
    // The loaded model works: transform with its W gives the same H as the original's.
    const a = await model.transform(X), b = await back.transform(X);
    assert.deepEqual(a.data, b.data);
    // numpy reads the factors when this machine has it.
    const py = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import numpy']).status === 0);
    if (py) {
      const r = spawnSync(py, ['-c', `import numpy as np; print(np.load('${dir}/H.npy').shape)`], { encoding: 'utf8' });
      assert.equal(r.stdout.trim(), '(400, 5)');
    }
  });

  it('save refuses to replace a folder unless { overwrite: true }, and never one holding other files', async () => {
    const dir = path.join(tmp, 'm2');
    await model.save(dir);
    await assert.rejects(model.save(dir), /m2: already exists; pass \{ overwrite: true \} to replace it/);
    const other = await new BetaNMF({ nComponents: 3, maxIter: 2, seed: 1 }).fit(X);
    await other.save(dir, { overwrite: true });
    assert.equal((await BetaNMF.load(dir)).W!.cols, 3);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    await assert.rejects(other.save(dir, { overwrite: true }), /holds other files \(notes\.txt\)/);
    assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.includes('.tmp')), [], 'no staging folders left');
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    await assert.rejects(model.save(file), /a-file: exists and is not a folder/);
    await assert.rejects(BetaNMF.load(path.join(tmp, 'nothing')), /nothing: not a saved model \(no model\.json/);
    await assert.rejects(model.save(42 as unknown as string), TypeError);
  });

  it('an unfitted model saves and loads without factors', async () => {
    const dir = path.join(tmp, 'empty');
    await new BetaNMF({ nComponents: 4, seed: 2 }).save(dir);
    assert.deepEqual(fs.readdirSync(dir), ['model.json']);
    const back = await BetaNMF.load(dir);
    assert.equal(back.W, undefined);
    assert.equal(back.options.nComponents, 4);
  });
});
