/**
 * Tests are tiered by file suffix: *.unit.spec.ts (pure, no I/O), *.int.spec.ts (a real
 * PostgreSQL, a fresh database per file), *.e2e.spec.ts (the Nest app over real HTTP and
 * Socket.IO). One embedded PostgreSQL serves the whole run (test/support/global-setup.ts).
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
const project = (name, suffix) => ({
  displayName: name,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: [`<rootDir>/{src,projections,test}/**/*.${suffix}.spec.ts`],
});

module.exports = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  testTimeout: 60_000,
  projects: [project('unit', 'unit'), project('int', 'int'), project('e2e', 'e2e')],
};
