/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Prints the AWS SDK's Node-version notice once for the run instead of once per test file.
  globalSetup: '<rootDir>/test/support/global-setup.js',
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  // Integration suites start DynamoDB Local (a JVM) and the SQS emulator; give them room.
  testTimeout: 60_000,
  // A test that times out never runs its `finally`: a local pipeline it started (pollers, worker
  // threads) would keep the run alive until CI's limit. The failure is already reported; exit.
  forceExit: true,
};
