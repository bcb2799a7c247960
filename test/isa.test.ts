// Every compiled copy of the elementwise loops (baseline x86-64, AVX2, AVX-512), forced in turn
// with BETANMF_CPU_ISA in child processes, against the float64 reference: the whole of
// test/kernels.test.ts and the weighted kernels of test/weights.test.ts, plus test/support/isa-probe.ts (tighter error bounds, the solver's
// update step with γ ≠ 1, and special values, which must mean the same in every copy).
// A copy this CPU cannot run is skipped with a line saying so.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { addon } from '../lib/native';

const root = path.join(__dirname, '..');
const ISAS = ['baseline', 'avx2', 'avx512'] as const;
const RANK = { baseline: 0, avx2: 1, avx512: 2 };

interface Probe {
  isa: { cpu: string; loops: string; requested: string | null; note?: string };
  errors: Record<string, number>;
  specials: Record<string, (number | string)[]>;
}

function run(isa: string, args: string[]) {
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    env: { ...process.env, BETANMF_CPU_ISA: isa },
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('every copy of the elementwise loops against the float64 reference', function () {
  this.timeout(300_000);
  const cpu = addon.cpuIsa().cpu;
  const probes: Partial<Record<(typeof ISAS)[number], Probe>> = {};

  for (const isa of ISAS) {
    describe(`BETANMF_CPU_ISA=${isa}`, () => {
      before(function () {
        if (RANK[isa] > RANK[cpu]) {
          console.log(`      (skipped: this CPU's best is ${cpu}; the ${isa} loops cannot run here)`);
          this.skip();
        }
      });

      it('the addon runs that copy', () => {
        const r = run(isa, ['--import', 'tsx', 'test/support/isa-probe.ts']);
        assert.equal(r.code, 0, r.out);
        const probe = JSON.parse(r.out.trim().split('\n').pop()!) as Probe;
        assert.equal(probe.isa.loops, isa);
        assert.equal(probe.isa.note, undefined);
        probes[isa] = probe;
      });

      it('test/kernels.test.ts and the weighted kernels of test/weights.test.ts pass', () => {
        const r = run(isa, ['node_modules/mocha/bin/mocha.js', '--no-config', '--node-option', 'import=tsx',
          '--reporter', 'dot', '--timeout', '60000', 'test/kernels.test.ts', 'test/weights.test.ts', '--grep', 'weighted kernels|^kernels|^special|ones give']);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /\d+ passing/);
      });

      it('errors far inside the tolerance: float32 ≤ 5e-6, float64 ≤ 1e-12 (largest entry as scale)', () => {
        const p = probes[isa];
        assert.ok(p, 'the probe did not run');
        const worst = { float32: 0, float64: 0 };
        for (const [name, e] of Object.entries(p.errors)) {
          const dtype = name.startsWith('float32') ? 'float32' : 'float64';
          worst[dtype] = Math.max(worst[dtype], e);
          assert.ok(e <= (dtype === 'float32' ? 5e-6 : 1e-12), `${name}: ${e}`);
        }
        console.log(`      ${isa}: largest error float32 ${worst.float32.toExponential(1)}, float64 ${worst.float64.toExponential(1)}`);
      });

      if (isa !== 'baseline') {
        it('special values (0, negative, denormal, huge, Inf, NaN) as the baseline loops give them', () => {
          const p = probes[isa], base = probes.baseline;
          assert.ok(p && base, 'a probe did not run');
          for (const [key, values] of Object.entries(base.specials)) {
            values.forEach((want, i) => {
              const got = p.specials[key][i];
              const same = typeof want === 'string' || typeof got === 'string'
                ? got === want
                : Math.abs(got - want) <= 1e-5 * Math.abs(want);
              assert.ok(same, `${key}, entry ${i}: ${got}, baseline ${want}`);
            });
          }
        });
      }
    });
  }
});
