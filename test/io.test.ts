// Data in and out: readNpy / readNpySync / writeNpy / writeNpySync / readCsv. Files are built
// here byte by byte (an independent writer of numpy's format), and by numpy when this machine
// has it; memory is measured in child processes (peak RSS).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { matrix, readCsv, readNpy, readNpySync, writeNpy, writeNpySync, DataFileError } from '../lib';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'betanmf-io-'));
const root = path.join(__dirname, '..');

/** A .npy file: magic, version, header length, the header text as given (padded to `pad`), data. */
function npyBytes(header: string, data: Uint8Array, opts: { version?: 1 | 2 | 3; pad?: number } = {}): Buffer {
  const version = opts.version ?? 1;
  const pre = version === 1 ? 10 : 12;
  const pad = opts.pad ?? 64;
  let text = header;
  const total = Math.ceil((pre + Buffer.byteLength(text) + 1) / pad) * pad;
  text = text + ' '.repeat(total - pre - Buffer.byteLength(text) - 1) + '\n';
  const head = Buffer.alloc(pre);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = version;
  if (version === 1) head.writeUInt16LE(Buffer.byteLength(text), 8);
  else head.writeUInt32LE(Buffer.byteLength(text), 8);
  return Buffer.concat([head, Buffer.from(text, version === 3 ? 'utf8' : 'latin1'), data]);
}
const dict = (descr: string, shape: string, fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function writeFile(name: string, bytes: Uint8Array): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, bytes);
  return file;
}

function numpyPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(py, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0) return py;
  }
  return undefined;
}

/** Peak RSS growth (MiB) of a child process running `body` after loading the package. */
// growthMiB: peak RSS over the process's earlier peak (an upper bound on what the body cost);
// risenMiB: peak RSS over the resident size when the body started (what it made resident at least;
// the earlier peak, e.g. tsx's start-up, can hide part of the body's growth from growthMiB).
function peakRss(body: string): { growthMiB: number; risenMiB: number; out: string; code: number | null; err: string } {
  const script = `
    const b = require(${JSON.stringify(path.join(root, 'lib'))});
    globalThis.gc?.();
    const base = process.resourceUsage().maxRSS, resident = process.memoryUsage().rss / 1024;
    (async () => {
      let out = '';
      try { out = String(await (async () => { ${body} })()); } catch (e) { out = 'ERROR ' + e.message; }
      const peak = process.resourceUsage().maxRSS;
      console.log(JSON.stringify({ growthMiB: (peak - base) / 1024, risenMiB: (peak - resident) / 1024, out }));
    })();`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return { growthMiB: NaN, risenMiB: NaN, out: '', code: r.status, err: r.stderr };
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()!), code: r.status, err: r.stderr };
}

describe('readNpy / readNpySync', function () {
  this.timeout(120000);

  it('reads every numeric dtype, either byte order, versions 1–3 and any header padding', async () => {
    const values = [0, 1, 2, 3, 4, 5];
    const cases: [string, ArrayBufferView, 'float32' | 'float64'][] = [
      ['<f4', new Float32Array(values), 'float32'],
      ['<f8', new Float64Array(values), 'float64'],
      ['<i8', new BigInt64Array(values.map(BigInt)), 'float64'],
      ['<u8', new BigUint64Array(values.map(BigInt)), 'float64'],
      ['<i4', new Int32Array(values), 'float64'],
      ['<u4', new Uint32Array(values), 'float64'],
      ['<i2', new Int16Array(values), 'float64'],
      ['<u2', new Uint16Array(values), 'float64'],
      ['|i1', new Int8Array(values), 'float64'],
      ['|u1', new Uint8Array(values), 'float64'],
      ['|b1', new Uint8Array(values.map((v) => v % 2)), 'float64'],
    ];
    for (const [descr, data, dtype] of cases) {
      for (const version of [1, 2, 3] as const) {
        for (const pad of [64, 16, 1]) {
          const file = writeFile(`t${descr.replace(/[<|>]/, '')}-${version}-${pad}.npy`, npyBytes(dict(descr, '(2, 3)'), bytesOf(data), { version, pad }));
          for (const m of [await readNpy(file), readNpySync(file)]) {
            assert.deepEqual(m.shape, [2, 3], `${descr} v${version} pad ${pad}`);
            assert.equal(m.dtype, dtype);
            const expect = descr === '|b1' ? values.map((v) => v % 2) : values;
            assert.deepEqual(Array.from(m.data), expect, `${descr} v${version} pad ${pad}`);
          }
        }
      }
    }
    // Negative integers, on the fast (typed view) path.
    const negatives = [-1, -128, 127, 0, -32768, 5];
    const i1 = new Int8Array(negatives.map((v) => Math.max(-128, Math.min(127, v))));
    assert.deepEqual(Array.from(readNpySync(writeFile('neg1.npy', npyBytes(dict('|i1', '(2, 3)'), bytesOf(i1)))).data), [-1, -128, 127, 0, -128, 5]);
    const i4 = new Int32Array(negatives);
    assert.deepEqual(Array.from(readNpySync(writeFile('neg4.npy', npyBytes(dict('<i4', '(2, 3)'), bytesOf(i4)))).data), negatives);
    const i8 = new BigInt64Array([-(2n ** 53n), -1n, 0n, 1n, 2n ** 53n, -7n]);
    assert.deepEqual(Array.from((await readNpy(writeFile('neg8.npy', npyBytes(dict('<i8', '(3, 2)'), bytesOf(i8))))).data), [-(2 ** 53), -1, 0, 1, 2 ** 53, -7]);
    // Big-endian floats and integers; float16 (numpy's half: 1, -2, 0.5, 65504, 2^-24, -0).
    const be = Buffer.alloc(6 * 8);
    values.forEach((v, i) => be.writeDoubleBE(v + 0.25, 8 * i));
    assert.deepEqual(Array.from(readNpySync(writeFile('be8.npy', npyBytes(dict('>f8', '(3, 2)'), be))).data), values.map((v) => v + 0.25));
    const be4 = Buffer.alloc(6 * 4);
    values.forEach((v, i) => be4.writeFloatBE(v - 0.5, 4 * i));
    const m4 = await readNpy(writeFile('be4.npy', npyBytes(dict('>f4', '(6, 1)'), be4)));
    assert.equal(m4.dtype, 'float32');
    assert.deepEqual(Array.from(m4.data), values.map((v) => v - 0.5));
    const bei = Buffer.alloc(6 * 2);
    values.forEach((v, i) => bei.writeInt16BE(-v, 2 * i));
    assert.deepEqual(Array.from(readNpySync(writeFile('bei.npy', npyBytes(dict('>i2', '(1, 6)'), bei))).data), values.map((v) => (v === 0 ? 0 : -v)));
    const half = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000]);
    assert.deepEqual(Array.from(readNpySync(writeFile('f2.npy', npyBytes(dict('<f2', '(2, 3)'), bytesOf(half)))).data), [1, -2, 0.5, 65504, 2 ** -24, -0]);
    // A 1×N or N×1 array flagged Fortran-order is the same bytes: accepted.
    assert.deepEqual(readNpySync(writeFile('f1.npy', npyBytes(dict('<f8', '(1, 6)', 'True'), bytesOf(new Float64Array(values))))).shape, [1, 6]);
    // Data at an offset that is no multiple of the item size (numpy accepts such files).
    const odd = npyBytes(dict('<f8', '(2, 3)'), bytesOf(new Float64Array(values)), { pad: 1 });
    assert.notEqual((odd.length - 48) % 8, 0);
    assert.deepEqual(Array.from((await readNpy(writeFile('odd.npy', odd))).data), values);
  });

  it('reads files numpy wrote, and numpy reads the files writeNpy writes', async function () {
    const py = numpyPython();
    if (!py) this.skip(); // CI installs python3-numpy
    const script = `import numpy as np, sys
d = sys.argv[1]
x = np.arange(1, 13, dtype=np.float64).reshape(3, 4) / 7
np.save(d + '/np_f8.npy', x)
np.save(d + '/np_f4.npy', x.astype(np.float32))
np.save(d + '/np_be.npy', x.astype('>f8'))
np.save(d + '/np_i8.npy', np.arange(12).reshape(4, 3))
np.save(d + '/np_f2.npy', x.astype(np.float16))
np.save(d + '/np_big.npy', np.ones((2, 3)), allow_pickle=False)
`;
    const r = spawnSync(py!, ['-c', script, tmp], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const x = Array.from({ length: 12 }, (_, i) => (i + 1) / 7);
    assert.deepEqual(Array.from((await readNpy(path.join(tmp, 'np_f8.npy'))).data), x);
    assert.deepEqual(Array.from((await readNpy(path.join(tmp, 'np_be.npy'))).data), x);
    assert.deepEqual(Array.from(readNpySync(path.join(tmp, 'np_f4.npy')).data), x.map(Math.fround));
    assert.deepEqual(Array.from(readNpySync(path.join(tmp, 'np_i8.npy')).data), Array.from({ length: 12 }, (_, i) => i));
    const half = readNpySync(path.join(tmp, 'np_f2.npy'));
    half.data.forEach((v, i) => assert.ok(Math.abs(v - x[i]) < 1e-3 * x[i]));

    const m32 = matrix(new Float32Array([1.5, 2.25, 3, 4, 5, 6e-30]), 3, 2);
    const m64 = matrix(new Float64Array([Math.PI, Math.E, 1e-300, 1e300]), 2, 2);
    await writeNpy(path.join(tmp, 'w32.npy'), m32);
    writeNpySync(path.join(tmp, 'w64.npy'), m64);
    const back = spawnSync(py!, ['-c', `import numpy as np, json, sys
a = np.load(sys.argv[1] + '/w32.npy'); b = np.load(sys.argv[1] + '/w64.npy')
print(json.dumps([list(a.shape), str(a.dtype), a.tolist(), list(b.shape), str(b.dtype), b.tolist()]))`, tmp], { encoding: 'utf8' });
    assert.equal(back.status, 0, back.stderr);
    const [s32, d32, v32, s64, d64, v64] = JSON.parse(back.stdout);
    assert.deepEqual([s32, d32, s64, d64], [[3, 2], 'float32', [2, 2], 'float64']);
    assert.deepEqual(v32.flat(), Array.from(m32.data));
    assert.deepEqual(v64.flat(), Array.from(m64.data));
  });

  describe('header problems: one message naming the file, without internals', () => {
    const f8 = bytesOf(new Float64Array(6));
    const cases: [string, Buffer, RegExp][] = [
      ['negative shape', npyBytes(dict('<f8', '(-2, 3)'), f8), /malformed \.npy header: shape entry "-2" is not a nonnegative integer/],
      ['fractional shape', npyBytes(dict('<f8', '(2.5, 3)'), f8), /shape entry "2\.5" is not a nonnegative integer/],
      ['non-numeric shape', npyBytes(dict('<f8', "('a', 3)"), f8), /shape entry "'a'" is not a nonnegative integer/],
      ['huge shape', npyBytes(dict('<f8', '(2000000, 2000000)'), f8), /truncated: a 2000000×2000000 float64 array needs 32000000000000 bytes \(29\.1 TiB\) of data after the header, the file has 48/],
      ['absurd shape', npyBytes(dict('<f8', '(99999999999999999999, 3)'), f8), /the header's shape .* is too large to be real/],
      ['trailing bytes', npyBytes(dict('<f8', '(2, 3)'), Buffer.concat([f8, Buffer.alloc(5)])), /5 unexpected bytes after the 2×3 float64 array \(48 bytes of data expected after the header, the file has 53\)/],
      ['short file', npyBytes(dict('<f8', '(2, 3)'), f8.subarray(0, 40)), /truncated: a 2×3 float64 array needs 48 bytes \(48 bytes\) of data after the header, the file has 40/],
      ['1-D array', npyBytes(dict('<f8', '(6,)'), f8), /expected a 2-D array \(rows × columns\), found shape \(6,\); reshape it/],
      ['3-D array', npyBytes(dict('<f8', '(1, 2, 3)'), f8), /expected a 2-D array .* found shape \(1, 2, 3\)/],
      ['Fortran order', npyBytes(dict('<f8', '(2, 3)', 'True'), f8), /Fortran-order .* np\.ascontiguousarray/],
      ['complex dtype', npyBytes(dict('<c16', '(1, 3)'), f8), /unsupported dtype '<c16'/],
      ['object dtype', npyBytes(dict('|O', '(2, 3)'), f8), /unsupported dtype '\|O'/],
      ['structured dtype', npyBytes("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (6,), }", f8), /structured \(record\) arrays are not supported/],
      ['no shape', npyBytes("{'descr': '<f8', 'fortran_order': False, }", f8), /malformed \.npy header: no 'shape' tuple/],
      ['bad magic', Buffer.from('PK\x03\x04 this is a zip'), /not a \.npy file/],
      // numpy reads the header with ast.literal_eval: an unclosed dict fails there, and a duplicated key
      // takes its last value; any first-match reading would silently disagree with numpy, so both are refused.
      ['unclosed header', npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), ", f8), /malformed \.npy header: it does not end with '}'/],
      ['header not a dict', npyBytes("'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}", f8), /malformed \.npy header: it does not start with '\{'/],
      ['duplicated shape', npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), 'shape': (2, 3), }", f8), /malformed \.npy header: 'shape' appears 2 times/],
      ['duplicated descr', npyBytes("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", f8), /malformed \.npy header: 'descr' appears 2 times/],
      ['duplicated fortran_order', npyBytes("{'descr': '<f8', 'fortran_order': True, \"fortran_order\": False, 'shape': (2, 3), }", f8), /'fortran_order' appears 2 times/],
      ['header past the end', npyBytes(dict('<f8', '(2, 3)'), f8).subarray(0, 40), /truncated inside the \.npy header \(the header claims 118 bytes, the file has 40 in all\)/],
      ['unknown version', (() => { const b = npyBytes(dict('<f8', '(2, 3)'), f8); b[6] = 9; return b; })(), /\.npy format version 9\.0 is not supported/],
      ['empty file', Buffer.alloc(0), /not a \.npy file/],
    ];
    for (const [name, bytes, pattern] of cases) {
      it(name, async () => {
        const file = writeFile(`bad-${name.replace(/\W/g, '_')}.npy`, bytes);
        for (const read of [() => readNpySync(file), () => readNpy(file)]) {
          let err: unknown;
          try {
            await read();
          } catch (e) {
            err = e;
          }
          assert.ok(err instanceof DataFileError, `${name}: ${err}`);
          assert.ok(err.message.startsWith(`${file}: `), err.message);
          assert.match(err.message, pattern);
          assert.doesNotMatch(err.message, /NaN|undefined|\n/);
        }
      });
    }
    it('a missing file is the file system\'s ENOENT with the path', async () => {
      await assert.rejects(readNpy(path.join(tmp, 'nope.npy')), { code: 'ENOENT', path: path.join(tmp, 'nope.npy') });
      assert.throws(() => readNpySync(42 as unknown as string), /file: expected a file path \(a non-empty string\), received 42/);
    });
  });

  describe('memory and size (child processes, peak RSS)', () => {
    it('a header claiming more than the file holds fails at once, reading nothing (a 256 MiB file claiming 2e6×2e6)', () => {
      const file = path.join(tmp, 'liar.npy');
      const fd = fs.openSync(file, 'w');
      fs.writeSync(fd, npyBytes(dict('<f8', '(2000000, 2000000)'), new Uint8Array(0)));
      fs.ftruncateSync(fd, 256 * 2 ** 20);
      fs.closeSync(fd);
      const t0 = Date.now();
      const r = peakRss(`return (await b.readNpy(${JSON.stringify(file)}).then(() => 'read', (e) => e.message))`);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /liar\.npy: truncated: a 2000000×2000000 float64 array needs/);
      assert.ok(r.growthMiB < 20, `peak RSS grew by ${r.growthMiB.toFixed(1)} MiB`);
      assert.ok(Date.now() - t0 < 20000);
    });

    it('a valid 256 MiB float32 file costs its matrix and a few MiB, read once (sync and async)', () => {
      const rows = 8192, cols = 8192;
      const file = path.join(tmp, 'big32.npy');
      const fd = fs.openSync(file, 'w');
      fs.writeSync(fd, npyBytes(dict('<f4', `(${rows}, ${cols})`), new Uint8Array(0)));
      const size = fs.fstatSync(fd).size + rows * cols * 4;
      fs.ftruncateSync(fd, size);
      const tail = Buffer.alloc(4);
      tail.writeFloatLE(7.5);
      fs.writeSync(fd, tail, 0, 4, size - 4);
      fs.closeSync(fd);
      for (const call of ['await b.readNpy', 'b.readNpySync']) {
        const r = peakRss(`const m = ${call}(${JSON.stringify(file)}); return m.rows + 'x' + m.cols + ' ' + m.data[m.data.length - 1] + ' ' + m.dtype`);
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, `${rows}x${cols} 7.5 float32`);
        const matrixMiB = (rows * cols * 4) / 2 ** 20;
        assert.ok(r.growthMiB < matrixMiB + 40, `${call}: peak RSS grew by ${r.growthMiB.toFixed(0)} MiB for a ${matrixMiB} MiB matrix`);
        assert.ok(r.risenMiB > matrixMiB * 0.8, `${call}: the matrix should be resident (${r.risenMiB.toFixed(0)} MiB)`);
      }
    });

    it('a file above 2 GiB reads (sparse 2.1 GiB float32 file)', function () {
      if (os.freemem() < 8 * 2 ** 30) {
        console.log(`      (skipped: needs 8 GiB free memory, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free)`);
        this.skip();
      }
      const rows = 2, cols = 2 ** 28 + 2 ** 24; // 2.125 GiB of float32
      const file = path.join(tmp, 'huge.npy');
      const fd = fs.openSync(file, 'w');
      const header = npyBytes(dict('<f4', `(${rows}, ${cols})`), new Uint8Array(0));
      fs.writeSync(fd, header);
      const size = header.length + rows * cols * 4;
      fs.ftruncateSync(fd, size);
      const v = Buffer.alloc(4);
      v.writeFloatLE(3.25);
      fs.writeSync(fd, v, 0, 4, size - 4);
      v.writeFloatLE(1.5);
      fs.writeSync(fd, v, 0, 4, header.length + 4 * (cols + 1));
      fs.closeSync(fd);
      try {
        const r = peakRss(`const m = await b.readNpy(${JSON.stringify(file)}); return [m.rows, m.cols, m.data[m.cols + 1], m.data[m.data.length - 1], m.data[5]].join(' ')`);
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, `${rows} ${cols} 1.5 3.25 0`);
        assert.ok(r.growthMiB < (rows * cols * 4) / 2 ** 20 + 64, `peak RSS grew by ${r.growthMiB.toFixed(0)} MiB`);
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  });
});

describe('writeNpy / writeNpySync', () => {
  it('writes atomically: a temporary file in the same folder, renamed; nothing left on failure', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'atomic-'));
    const file = path.join(dir, 'm.npy');
    const a = matrix(new Float64Array([1, 2, 3, 4]), 2, 2);
    await writeNpy(file, a);
    const b = matrix(new Float32Array([5, 6, 7]), 1, 3);
    writeNpySync(file, b); // replaces
    assert.deepEqual(readNpySync(file).shape, [1, 3]);
    assert.deepEqual(fs.readdirSync(dir), ['m.npy']);
    // The header is numpy's: data starts at a multiple of 64, header ends in a newline.
    const bytes = fs.readFileSync(file);
    const hlen = bytes.readUInt16LE(8);
    assert.equal((10 + hlen) % 64, 0);
    assert.equal(bytes[10 + hlen - 1], 0x0a);
    assert.match(bytes.toString('latin1', 10, 10 + hlen), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(1, 3\), \} +\n$/);
    await assert.rejects(writeNpy(path.join(dir, 'no', 'm.npy'), a), { code: 'ENOENT' });
    assert.throws(() => writeNpySync(path.join(dir, 'no', 'm.npy'), a), { code: 'ENOENT' });
    assert.deepEqual(fs.readdirSync(dir), ['m.npy']);
    assert.throws(() => writeNpySync(file, [[1]] as unknown as ReturnType<typeof matrix>), /matrix: expected a Matrix, received an array of length 1/);
  });

  it('a reader never sees a partial file while a large one is rewritten', async () => {
    const file = path.join(tmp, 'race.npy');
    const big = (v: number) => matrix(new Float64Array(2 ** 21).fill(v), 2 ** 11, 2 ** 10);
    writeNpySync(file, big(1));
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const m = readNpySync(file); // throws on a partial file
        assert.ok(m.data[0] === m.data[m.data.length - 1]);
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 2; i < 8; i++) await writeNpy(file, big(i));
    writing = false;
    await reader;
    assert.ok(reads > 0);
    assert.equal(readNpySync(file).data[0], 7);
  });
});

describe('readCsv', function () {
  this.timeout(60000);

  it('reads numbers with a header row, comments, blank lines, nan and either dtype', async () => {
    const file = path.join(tmp, 'a.csv');
    fs.writeFileSync(file, '# a comment\nx,y,z\n1,2,3\n\n4, 5 ,6e-1\nnan,0,-0\n');
    const m = await readCsv(file);
    assert.deepEqual(m.shape, [3, 3]);
    assert.equal(m.dtype, 'float64');
    assert.deepEqual(Array.from(m.data), [1, 2, 3, 4, 5, 0.6, NaN, 0, -0]);
    assert.equal((await readCsv(file, { dtype: 'float32' })).dtype, 'float32');
    const noHeader = path.join(tmp, 'b.csv');
    fs.writeFileSync(noHeader, '1,2\n3,4');
    assert.deepEqual(Array.from((await readCsv(noHeader)).data), [1, 2, 3, 4]);
  });

  it('says which line and column is wrong', async () => {
    const ragged = path.join(tmp, 'ragged.csv');
    fs.writeFileSync(ragged, '1,2,3\n4,5\n');
    await assert.rejects(readCsv(ragged), (e: Error) => e instanceof DataFileError && /ragged\.csv: line 2 has 2 values, expected 3/.test(e.message));
    const word = path.join(tmp, 'word.csv');
    fs.writeFileSync(word, '1,2\n3,four\n');
    await assert.rejects(readCsv(word), /word\.csv: line 2, column 2: not a number: "four"/);
    const empty = path.join(tmp, 'empty.csv');
    fs.writeFileSync(empty, 'a,b\n');
    await assert.rejects(readCsv(empty), /empty\.csv: no data rows/);
    await assert.rejects(readCsv(path.join(tmp, 'none.csv')), { code: 'ENOENT' });
    await assert.rejects(readCsv(empty, { dtype: 'int8' as 'float32' }), TypeError);
  });

  it('streams: 1e6 columns on one line cost the matrix and one record, not the file many times over', () => {
    const file = path.join(tmp, 'wide.csv');
    const n = 1e6;
    const line = Array.from({ length: n }, (_, i) => ((i % 1000) / 8).toString()).join(',');
    fs.writeFileSync(file, line + '\n');
    const fileMiB = fs.statSync(file).size / 2 ** 20;
    const r = peakRss(`const m = await b.readCsv(${JSON.stringify(file)}); return m.rows + 'x' + m.cols + ' ' + m.data[999] + ' ' + m.data[1001]`);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `1x${n} 124.875 0.125`);
    // The matrix is 7.6 MiB, the file ~${fileMiB} MiB; the whole-file parse used to peak at 1.8 GB.
    assert.ok(r.growthMiB < 250, `peak RSS grew by ${r.growthMiB.toFixed(0)} MiB (file ${fileMiB.toFixed(1)} MiB)`);
  });

  it('many rows: the matrix is sized from the first row, so growth stays near the data size', () => {
    const file = path.join(tmp, 'tall.csv');
    const rows = 200000, cols = 20;
    const fd = fs.openSync(file, 'w');
    const row = Array.from({ length: cols }, (_, j) => (j + 0.5).toString()).join(',') + '\n';
    fs.writeSync(fd, 'h' + ',h'.repeat(cols - 1) + '\n');
    for (let i = 0; i < rows; i += 1000) fs.writeSync(fd, row.repeat(1000));
    fs.closeSync(fd);
    const r = peakRss(`const m = await b.readCsv(${JSON.stringify(file)}); return m.rows + 'x' + m.cols + ' ' + m.data[m.data.length - 1]`);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${rows}x${cols} 19.5`);
    const matrixMiB = (rows * cols * 8) / 2 ** 20;
    assert.ok(r.growthMiB < 3 * matrixMiB + 120, `peak RSS grew by ${r.growthMiB.toFixed(0)} MiB for a ${matrixMiB.toFixed(0)} MiB matrix`);
  });
});
