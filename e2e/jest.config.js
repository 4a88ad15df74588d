// The Kubernetes tier (make e2e): plain ESM test files under e2e/<area>/*.test.mjs, run in band
// because each suite starts a control plane (etcd + kube-apiserver) and the machine has 2 cores.
export default {
  rootDir: '.',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/**/*.test.mjs'],
  testPathIgnorePatterns: ['/node_modules/', '/k8s/.bin/'],
  transform: {},
  testTimeout: 180000,
};
