#!/usr/bin/env node
// npm pack / publish: the package ships prebuilds/<platform>-<arch>/node.napi.node, so users
// need no compiler. Rebuilds it (npm run prebuilds) when it is missing or older than the native
// sources; otherwise leaves it as it is.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const binary = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node');

function newestSource(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

const sources = Math.max(newestSource(path.join(root, 'native')), newestSource(path.join(root, 'cmake')),
  fs.statSync(path.join(root, 'CMakeLists.txt')).mtimeMs);
const built = fs.existsSync(binary) ? fs.statSync(binary).mtimeMs : 0;
if (built >= sources) {
  console.error(`prepack: shipping ${path.relative(root, binary)}`);
  process.exit(0);
}
console.error(`prepack: ${built ? `${path.relative(root, binary)} is older than the native sources` : 'no prebuilt binary yet'}; running npm run prebuilds`);
const r = spawnSync(process.execPath, [path.join(__dirname, 'prebuilds.js')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
