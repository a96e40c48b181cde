'use strict';
// Mocha's spec output, followed by the plain closing line "N passed, N failed" that CI reads (skipped
// tests, such as the PostgreSQL suite without DATABASE_URL, are counted on the line before it); a run
// that executed no test is reported as a failure so it cannot pass as green.
const Mocha = require('mocha');
const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    runner.on(EVENT_TEST_PASS, () => passed++);
    runner.on(EVENT_TEST_FAIL, () => failed++);
    runner.on(EVENT_TEST_PENDING, () => skipped++);
    runner.once(EVENT_RUN_END, () => {
      if (passed + failed === 0) {
        failed = 1;
        process.exitCode = 1;
        console.log('no test was executed');
      }
      if (skipped) console.log(`${skipped} skipped`);
      console.log(`${passed} passed, ${failed} failed`);
    });
  }
}
module.exports = SummaryReporter;
