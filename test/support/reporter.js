// Mocha's spec output, plus the plain closing line CI reads: "N passed, N failed".
'use strict';
const Mocha = require('mocha');

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let pending = 0;
    runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, () => passed++);
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, () => failed++);
    runner.on(Mocha.Runner.constants.EVENT_TEST_PENDING, () => pending++);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      // After Spec's own epilogue, which is printed on the same event.
      process.nextTick(() => {
        console.log(`${passed} passed, ${failed} failed` + (pending ? `, ${pending} skipped` : ''));
      });
    });
  }
}

module.exports = SpecWithSummary;
