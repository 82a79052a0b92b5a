// @ts-check
/**
 * Jest projects: a test's folder says what it needs. unit: nothing. devhost and emulators: their own
 * servers, started by the tests. orchestrations: the app under the devhost with the emulators. e2e: the
 * whole product over HTTP. infra: the Bicep templates and settings.
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];

/** @param {string} displayName @param {string} dir @param {number} testTimeout */
const project = (displayName, dir, testTimeout) => ({
  displayName,
  testMatch: [`<rootDir>/${dir}/**/*.test.ts`],
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  testPathIgnorePatterns: ['/node_modules/', '/fixtures/', '/dist/'],
  testTimeout,
});

/** @type {import('jest').Config} */
module.exports = {
  maxWorkers: 2,
  projects: [
    project('unit', 'test/unit', 10_000),
    project('infra', 'test/infra', 30_000),
    project('devhost', 'devhost/test', 60_000),
    project('emulators', 'emulators/test', 60_000),
    project('orchestrations', 'test/orchestrations', 120_000),
    project('e2e', 'test/e2e', 180_000),
  ],
};
