// Jest runs the compiled ESM tests (tsc -b builds packages/*/dist first; see Makefile).
// Running compiled output keeps one compiler (tsc) as the source of truth and avoids a
// second transform pipeline on a 2-core machine.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages'],
  testMatch: ['**/dist/test/**/*.test.js'],
  transform: {},
  testTimeout: 30000,
  // Integration tests open real sockets and Redis connections; keep workers modest.
  maxWorkers: process.env.CI ? 2 : '50%',
  // Integration suites hold real sockets, Redis connections and child processes; a suite that
  // forgets one must not hang CI after every test has already reported.
  forceExit: true,
};
