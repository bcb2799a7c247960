#!/usr/bin/env node
// npm run prebuilds: the portable binary that `npm pack` ships, in prebuilds/<platform>-<arch>/
// (where node-gyp-build finds it): OpenBLAS linked statically, the CUDA backend compiled in when
// nvcc is present (static CUDA runtime, cuBLAS opened at run time). Checks that the binary needs
// no shared OpenBLAS, CUDA runtime or cuBLAS to load.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build-prebuild', '--CDBETANMF_CUDA=AUTO'], { cwd: root, stdio: 'inherit' });
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
console.log(`prebuilds: wrote ${path.relative(root, target)} (${(fs.statSync(target).size / 2 ** 20).toFixed(1)} MiB, CUDA ${cudaCompiled ? 'compiled in' : 'not compiled in'})`);
