// @ts-check
/** Jest projects: a test's folder says what it needs (nothing, the devhost, or the whole product). */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];

/** @param {string} displayName @param {string[]} roots @param {number} timeout */
const project = (displayName, roots, timeout) => ({
  displayName,
  roots,
  testMatch: ['**/*.test.ts'],
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  testPathIgnorePatterns: ['/node_modules/', '/fixtures/', '/dist/'],
  ...(timeout ? { testTimeout: timeout } : {}),
});

/** @type {import('jest').Config} */
module.exports = {
  projects: [project('unit', ['<rootDir>/test/unit'], 10000)],
};
