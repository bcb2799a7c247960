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
