/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: { types: ['node', 'jest'], lib: ['ES2022', 'esnext.disposable'] }, diagnostics: { warnOnly: false } }],
  },
  testTimeout: 120000,
};
