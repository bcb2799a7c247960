#!/usr/bin/env node
// npm run prebuilds: the portable binary that `npm pack` ships, in prebuilds/<platform>-<arch>/
// (where lib/native.ts finds it): OpenBLAS linked statically, the CUDA backend always compiled in
// (static CUDA runtime, cuBLAS opened at run time; BETANMF_CUDA=OFF for a CPU-only binary on a
// machine without nvcc). Checks that the binary needs no shared OpenBLAS, CUDA runtime or
// cuBLAS to load, and prints the glibc it needs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const cuda = process.env.BETANMF_CUDA === 'OFF' ? 'OFF' : 'ON';
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build-prebuild', `--CDBETANMF_CUDA=${cuda}`], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

const built = path.join(root, 'build-prebuild', 'Release', 'betanmf.node');
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
fs.mkdirSync(dir, { recursive: true });
const target = path.join(dir, 'node.napi.node');
fs.copyFileSync(built, target);

const deps = execFileSync('ldd', [target], { encoding: 'utf8' });
const bad = deps.split('\n').filter((l) => /openblas|libblas|cudart|cublas|libcuda\.so/.test(l));
if (bad.length) {
  console.error(`prebuilds: ${target} depends on shared libraries it should carry statically:\n${bad.join('\n')}`);
  process.exit(1);
}
const { cudaCompiled } = require(target).config();
if (cuda === 'ON' && !cudaCompiled) {
  console.error(`prebuilds: ${target} was built without the CUDA backend`);
  process.exit(1);
}
const glibc = execFileSync('objdump', ['-T', target], { encoding: 'utf8' }).match(/GLIBC_[0-9.]+/g) ?? [];
const needs = glibc.map((v) => v.slice(6)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop();
console.log(`prebuilds: wrote ${path.relative(root, target)} (${(fs.statSync(target).size / 2 ** 20).toFixed(1)} MiB, ` +
  `CUDA ${cudaCompiled ? 'compiled in' : 'not compiled in'}, needs glibc ≥ ${needs})`);
