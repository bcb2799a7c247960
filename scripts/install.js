#!/usr/bin/env node
// npm install hook: use a binary that loads (prebuilds/ or an earlier build/), else build the
// addon from source with cmake-js. BETANMF_BUILD_FROM_SOURCE=1 always builds.
'use strict';
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');

if (!process.env.BETANMF_BUILD_FROM_SOURCE) {
  try {
    require('node-gyp-build')(root);
    process.exit(0);
  } catch {
    // no usable binary: build one
  }
}
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('betanmf: building the native addon failed. It needs cmake, g++ and OpenBLAS ' +
    '(Debian/Ubuntu: apt-get install cmake g++ libopenblas-dev).');
  process.exit(r.status ?? 1);
}
