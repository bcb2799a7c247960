#!/usr/bin/env node
// npm install hook. A binary that loads here (a source build in build/Release, or the shipped
// prebuild in prebuilds/<platform>-<arch>) means there is nothing to do; the library's loader
// finds either without this script (so --ignore-scripts works). Otherwise the addon is built
// from source with cmake-js, saying so in one line, with its output kept in build/install.log.
// The CUDA backend is compiled in from source only when asked (BETANMF_CUDA=ON, or AUTO: when
// nvcc is found) or when this machine has a CUDA device; the prebuild always has it.
// BETANMF_BUILD_FROM_SOURCE=1 builds even when a binary loads.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const candidates = [
  path.join(root, 'build', 'Release', 'betanmf.node'),
  path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node'),
];

/** Why a candidate does not load (undefined when it does). */
function loadProblem(file) {
  if (!fs.existsSync(file)) return 'missing';
  // A child process, so a binary that crashes on load cannot take this script with it.
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)}).config()`], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const line = (r.stderr || '').split('\n').find((l) => /Error|error:/.test(l)) || `exit ${r.status ?? r.signal}`;
  return `does not load: ${line.trim()}`;
}

if (!process.env.BETANMF_BUILD_FROM_SOURCE) {
  const problems = [];
  for (const file of candidates) {
    const problem = loadProblem(file);
    if (!problem) process.exit(0);
    problems.push(`${path.relative(root, file)} ${problem}`);
  }
  console.error(`betanmf: no binary loads here (${problems.join('; ')})`);
}

function hasCudaDevice() {
  try {
    return fs.readdirSync('/proc/driver/nvidia/gpus').length > 0;
  } catch {
    return fs.existsSync('/dev/nvidia0');
  }
}

let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  require.resolve('node-addon-api');
  require.resolve('node-api-headers');
} catch {
  console.error('betanmf: building the native addon from source needs the build tools: ' +
    '`npm install --save-dev cmake-js node-addon-api node-api-headers`, and cmake, g++ and OpenBLAS ' +
    '(Debian/Ubuntu: `apt-get install cmake g++ libopenblas-dev`); then run `npm rebuild betanmf`.');
  process.exit(1);
}

const requested = (process.env.BETANMF_CUDA || '').toUpperCase();
const cuda = ['ON', 'OFF', 'AUTO'].includes(requested) ? requested : hasCudaDevice() ? 'AUTO' : 'OFF';
const cudaWhy = requested ? `BETANMF_CUDA=${requested}` : cuda === 'AUTO' ? 'a CUDA device is present: compiled in when nvcc is found' : 'no CUDA device; set BETANMF_CUDA=ON to compile it in';
console.error(`betanmf: building the native addon from source with cmake-js (CUDA ${cuda}: ${cudaWhy}); ` +
  `this takes about ${cuda === 'OFF' ? '1 minute' : '2–3 minutes'} on 2 cores…`);

fs.mkdirSync(path.join(root, 'build'), { recursive: true });
const log = path.join(root, 'build', 'install.log');
const t0 = Date.now();
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build', `--CDBETANMF_CUDA=${cuda}`], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 });
fs.writeFileSync(log, `${r.stdout || ''}${r.stderr || ''}`);
if (r.status !== 0) {
  const tail = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n').slice(-25).join('\n');
  console.error(`${tail}\nbetanmf: building the native addon failed (full log: ${log}). It needs cmake, g++ and OpenBLAS ` +
    '(Debian/Ubuntu: apt-get install cmake g++ libopenblas-dev).');
  process.exit(r.status ?? 1);
}
console.error(`betanmf: built ${path.relative(root, candidates[0])} in ${Math.round((Date.now() - t0) / 1000)} s`);
