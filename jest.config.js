/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  // Integration suites start DynamoDB Local (a JVM) and the SQS emulator; give them room.
  testTimeout: 60_000,
};
