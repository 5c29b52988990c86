/**
 * Four kinds of test, one jest project each (test/README.md says which kind a test is and which
 * command runs it). `npx jest --selectProjects unit` runs one kind; `npx jest` runs them all.
 */
const transform = { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] };

/** One project: the tests under test/<kind>/, with the time limit for one test of that kind. */
function project(kind, testTimeout) {
  return {
    displayName: kind,
    testEnvironment: 'node',
    roots: [`<rootDir>/test/${kind}`],
    testMatch: ['**/*.test.ts'],
    transform,
    // The default limit of one test or hook (test/support/timeout.js applies it).
    globals: { TEST_TIMEOUT_MS: testTimeout },
    setupFilesAfterEnv: ['<rootDir>/test/support/timeout.js'],
  };
}

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    // Pure modules in this process: mocks and fake timers allowed, loopback sockets only, no engine.
    project('unit', 10_000),
    // CDK synthesis and template assertions (a whole-stack synth takes seconds on 2 cores).
    project('infra', 60_000),
    // Real engines: DynamoDB Local (a JVM) and the SQS emulator start in beforeAll; give them room.
    project('integration', 60_000),
    // The local pipeline end to end, the LiveKit simulator against it, npm scripts as users run them.
    project('e2e', 60_000),
  ],
  // Runs once for the whole run, whatever projects are selected.
  // Prints the AWS SDK's Node-version notice once for the run instead of once per test file.
  globalSetup: '<rootDir>/test/support/global-setup.js',
  // A test that times out never runs its `finally`: a local pipeline it started (pollers, worker
  // threads) would keep the run alive until CI's limit. The failure is already reported; exit.
  forceExit: true,
};
