/**
 * Jest setup (setupFilesAfterEnv, every project): the default time limit of one test or hook, per
 * kind of test. `testTimeout` is a run-wide option jest ignores inside `projects`, so each project
 * passes its limit in `globals.TEST_TIMEOUT_MS` (jest.config.js) and it is applied here.
 */
if (typeof globalThis.TEST_TIMEOUT_MS !== 'number') throw new Error('jest.config.js: this project sets no globals.TEST_TIMEOUT_MS');
jest.setTimeout(globalThis.TEST_TIMEOUT_MS);
