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
  // Recycle a worker whose heap has grown past this between test files. Under --experimental-vm-modules jest
  // keeps every finished file's module graph alive (measured: +3 MB per file importing only ajv and yaml,
  // +10 MB per file importing apiserver/server.ts, after a full GC), so a worker that ran ten files holds
  // 250-400 MB; its natural exit then spends 350-500+ ms tearing that heap down, past jest's fixed 500 ms
  // grace, and jest reported "A worker process has failed to exit gracefully" with no open handle left.
  workerIdleMemoryLimit: '200MB',
};
