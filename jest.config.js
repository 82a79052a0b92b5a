// @ts-check
/**
 * Jest projects: a test's folder says what it needs. unit: nothing. devhost and emulators: their own
 * servers, started by the tests. orchestrations: the app under the devhost with the emulators. replay: recorded histories against the built
 * orchestrators. e2e: the
 * whole product over HTTP. infra: the Bicep templates and settings.
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];

/** @param {string} displayName @param {string} dir */
const project = (displayName, dir) => ({
  displayName,
  testMatch: [`<rootDir>/${dir}/**/*.test.ts`],
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  testPathIgnorePatterns: ['/node_modules/', '/fixtures/', '/dist/'],
  // npm run package leaves a copy of the app (its own package.json) under dist/deploy.
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
});

/** @type {import('jest').Config} */
module.exports = {
  maxWorkers: 2,
  // A global option: Jest ignores testTimeout inside projects. The slow suites wait on real servers.
  testTimeout: 120_000,
  projects: [
    project('unit', 'test/unit'),
    project('infra', 'test/infra'),
    project('devhost', 'devhost/test'),
    project('emulators', 'emulators/test'),
    project('orchestrations', 'test/orchestrations'),
    project('replay', 'test/replay'),
    project('e2e', 'test/e2e'),
  ],
};
