#!/usr/bin/env bash
# make e2e: the Kubernetes tier. Builds (once, cached) kube-apiserver, etcd, kubectl and helm from
# the Go module proxy, then runs the e2e jest suites, each of which starts its own control plane
# (or uses the cluster in KUBECONFIG when set). Needs Go >= 1.25 unless KUBECONFIG is set.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${KUBECONFIG:-}" ]; then
  bash e2e/k8s/build.sh
fi
exec node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js \
  --config e2e/jest.config.js --runInBand "$@"
