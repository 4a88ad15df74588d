#!/usr/bin/env bash
# make e2e: the Kubernetes tier. Builds (once, cached) kube-apiserver, etcd, kubectl and helm from
# the Go module proxy, then runs the e2e jest suites, each of which starts its own control plane
# (or uses the cluster in KUBECONFIG when set). Needs Go >= 1.25 unless KUBECONFIG is set.
set -euo pipefail
cd "$(dirname "$0")/.."
# The egress-capture suite applies the init container's iptables rules in network namespaces
# (iptables and ip live in the sbin directories, which a non-login PATH can lack).
export PATH="$PATH:/usr/sbin:/sbin"
if ! command -v iptables >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "e2e: installing iptables (Debian package) for the egress-capture suite"
  (apt-get install -y -q iptables >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q iptables >/dev/null; })
fi
if [ -z "${KUBECONFIG:-}" ]; then
  bash e2e/k8s/build.sh
fi
exec node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js \
  --config e2e/jest.config.js --runInBand "$@"
