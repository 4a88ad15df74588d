#!/usr/bin/env bash
# The record section of `make bench`: recording latency and Redis throughput (needs Redis at
# REDIS_URL, default redis://127.0.0.1:6379). Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
node bench/record/bench.mjs "$@"
