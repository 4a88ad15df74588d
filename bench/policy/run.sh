#!/usr/bin/env bash
# The policy section of `make bench` (bench/run.sh): evaluation cost per request, then the memory of
# held requests (client in a separate process, bare-Node baseline). Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
node bench/policy/evaluate.mjs
node --expose-gc bench/policy/hold-memory.mjs
