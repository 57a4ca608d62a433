// ESM TypeScript through @swc/jest. Real components (etcd, kubectl, …) are started per test file by test/env.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  roots: ['<rootDir>'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/\.photon/', '/\.scratch/'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/test/env/setup.ts'],
  testTimeout: 120000,
  // Tests that start real processes share two cores; more workers only add contention.
  maxWorkers: 2,
};
