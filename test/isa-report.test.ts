// What `inspect` and `bench` say about the kernels in use: OpenBLAS's core and whether
// OPENBLAS_CORETYPE chose it, the CPU's ISA, our loops' copy, and the warnings.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { kernelLine, kernelReport, openblasIsa } from '../lib/cli/inspect';
import type { CpuIsa } from '../lib/native';

const bin = path.join(__dirname, '..', 'bin', 'betanmf.js');
const cpu = (loops: CpuIsa['loops'], best: CpuIsa['cpu'] = 'avx512', requested: string | null = null, note?: string): CpuIsa =>
  ({ cpu: best, loops, requested, note, features: {} });

describe('kernel report', () => {
  it('classifies OpenBLAS cores by their vector ISA', () => {
    assert.equal(openblasIsa('Cooperlake'), 'avx512');
    assert.equal(openblasIsa('SkylakeX'), 'avx512');
    assert.equal(openblasIsa('Haswell'), 'avx2');
    assert.equal(openblasIsa('Zen'), 'avx2');
    assert.equal(openblasIsa('Prescott'), 'older');
    assert.equal(openblasIsa('SomethingNew'), 'unknown');
  });

  it('warns when OPENBLAS_CORETYPE holds an AVX-512 CPU to AVX2 kernels, and only then', () => {
    const held = kernelReport({ OPENBLAS_CORETYPE: 'Haswell' }, { openblasCore: 'Haswell' }, cpu('avx512'));
    assert.equal(held.warnings.length, 1);
    assert.match(held.warnings[0], /AVX-512 .*'Haswell' \(AVX2\).*OPENBLAS_CORETYPE=Haswell/);
    assert.equal(held.openblasCoretype, 'Haswell');
    // Chosen by OpenBLAS itself, or an AVX2 CPU, or AVX-512 kernels: nothing to say.
    assert.deepEqual(kernelReport({}, { openblasCore: 'Haswell' }, cpu('avx512')).warnings, []);
    assert.deepEqual(kernelReport({ OPENBLAS_CORETYPE: 'Haswell' }, { openblasCore: 'Haswell' }, cpu('avx2', 'avx2')).warnings, []);
    assert.deepEqual(kernelReport({ OPENBLAS_CORETYPE: 'SkylakeX' }, { openblasCore: 'SkylakeX' }, cpu('avx512')).warnings, []);
  });

  it('warns when BETANMF_CPU_ISA runs a lesser copy of the loops, or names none', () => {
    const forced = kernelReport({}, { openblasCore: 'Cooperlake' }, cpu('avx2', 'avx512', 'avx2'));
    assert.match(forced.warnings.join('\n'), /avx2 copy because BETANMF_CPU_ISA=avx2; this CPU runs avx512/);
    const bad = kernelReport({}, { openblasCore: 'Cooperlake' }, cpu('avx512', 'avx512', 'sse9', 'BETANMF_CPU_ISA: expected baseline, avx2 or avx512'));
    assert.match(bad.warnings.join('\n'), /expected baseline, avx2 or avx512.*sse9/);
  });

  it('says it on one line', () => {
    const line = kernelLine(kernelReport({ OPENBLAS_CORETYPE: 'Haswell' }, { openblasCore: 'Haswell' }, cpu('avx2', 'avx512', 'avx2')));
    assert.equal(line, 'kernels: OpenBLAS Haswell (AVX2, OPENBLAS_CORETYPE=Haswell); CPU AVX-512; betanmf loops AVX2 (BETANMF_CPU_ISA=avx2)');
    assert.match(kernelLine(kernelReport({}, { openblasCore: 'Cooperlake' }, cpu('avx512'))), /Cooperlake \(AVX-512, chosen by OpenBLAS\)/);
  });

  it('inspect and bench report the copy that runs', () => {
    const env = { ...process.env, BETANMF_DEVICE: '', BETANMF_CPU_ISA: 'baseline' };
    const r = spawnSync(process.execPath, [bin, 'inspect', '--json'], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    const k = JSON.parse(r.stdout).kernels;
    assert.equal(k.loopsIsa, 'baseline');
    assert.equal(k.loopsRequested, 'baseline');
    assert.equal(k.openblasCoretype, process.env.OPENBLAS_CORETYPE || null);
    const b = spawnSync(process.execPath, [bin, 'bench', '--shape', '200x30x4', '--beta', '1', '--iters', '1', '--device', 'cpu'], { encoding: 'utf8', env });
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout, /^kernels: OpenBLAS .*betanmf loops baseline x86-64 \(BETANMF_CPU_ISA=baseline\)$/m);
  });
});
