#!/usr/bin/env node
'use strict';
let cli;
try {
  cli = require('../dist/cli/main.js');
} catch (err) {
  // The native addon did not load (the message says which binaries were tried and why).
  process.stderr.write(`${String(err && err.message ? err.message : err).replace(/^(betanmf: )?/, 'betanmf: ')}\n`);
  process.exit(1);
}
cli.main(process.argv);
