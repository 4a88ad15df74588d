#!/usr/bin/env bash
# `make bench`: runs the proxy benchmark, then every component benchmark that exists
# (bench/<name>/run.mjs or run.sh, each printing a markdown table and writing
# bench/results/<name>.json), and assembles BENCHMARKS.md with the machine and the date.
# Output other than BENCHMARKS.md goes to bench/results/ (git-ignored).
# Options are passed to the proxy benchmark: --with-redis (or REDIS_URL=...) adds the full sidecar
# row once the sidecar records to Redis; --quick for a short smoke run (does not write BENCHMARKS.md
# unless BENCH_WRITE=1). BENCH_ONLY=proxy,policy runs only the named sections; BENCHMARKS.md keeps
# the others from the run that wrote them (bench/lib/assemble.mjs marks them with its date).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
results=bench/results
mkdir -p "$results"

# Node >= 22: the repo's tools/node (fetched by the Makefile) when the system one is older.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 22 ] && [ -x "$root/tools/node/bin/node" ]; then
  export PATH="$root/tools/node/bin:$PATH"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 22 ]; then
  echo "bench: Node >= 22 is required (found $(node --version 2>/dev/null || echo none)); run 'make node-version' first" >&2
  exit 1
fi

# System tools: nginx (upstream and the native-proxy row), wrk (load generator), taskset (pinning).
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: installing ${missing[*]} (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || {
      echo "bench: apt-get install ${missing[*]} failed" >&2; exit 1; }
  else
    echo "bench: missing ${missing[*]}; install as root with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# The build (make bench builds first; a direct run may not have).
if [ ! -f packages/sidecar/dist/src/index.js ]; then
  echo "bench: building (npx tsc -b)" >&2
  npx tsc -b || exit 1
fi

# Portkey, the peer gateway, lives apart from the workspace with its own lockfile.
if [ ! -f bench/proxy/portkey/node_modules/@portkey-ai/gateway/package.json ]; then
  echo "bench: installing Portkey's gateway into bench/proxy/portkey (npm ci --prefix)" >&2
  npm ci --prefix bench/proxy/portkey --no-audit --no-fund >&2 || echo "bench: Portkey install failed; its row will be skipped" >&2
fi

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# CPU time the host stole from this VM's vCPUs during the run (/proc/stat's steal column, in
# USER_HZ ticks): the shared machine's noise, shown in BENCHMARKS.md's Machine section.
steal_ticks() { awk '/^cpu /{print $9; exit}' /proc/stat 2>/dev/null || echo 0; }
steal_start=$(steal_ticks)
seconds_start=$(date +%s)
# The machine's cost of a round trip to a process on the same and on the other core (the price of
# each request's Redis round trip in the write-ahead rows), measured while the machine is quiet;
# BENCHMARKS.md's Machine section shows it.
rm -f "$results/wake-cost.json"
echo "bench: round trips between cores (bench/lib/wake-cost.mjs)" >&2
node bench/lib/wake-cost.mjs --json > "$results/wake-cost.json" || { echo "bench: wake-cost measurement failed; left out" >&2; rm -f "$results/wake-cost.json"; }
date_start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
status=0
sections=()

wanted() { [ -z "${BENCH_ONLY:-}" ] || [[ ",${BENCH_ONLY}," == *",$1,"* ]]; }

if ! wanted proxy; then :
elif echo "bench: proxy" >&2 && node bench/proxy/run.mjs "$@" > "$results/proxy.md"; then
  sections+=(proxy)
  cat "$results/proxy.md"
else
  echo "bench: the proxy benchmark failed" >&2
  status=1
fi

for name in masking masking-sidecar record policy revocation webhook; do
  dir=bench/$name
  wanted "$name" || continue
  if [ -f "$dir/run.mjs" ]; then cmd=(node "$dir/run.mjs")
  elif [ -f "$dir/run.sh" ]; then cmd=(bash "$dir/run.sh")
  else
    [ -d "$dir" ] && echo "bench: $dir has no run.mjs or run.sh; skipped" >&2
    continue
  fi
  echo "bench: $name" >&2
  # Sections are markdown: drop stray log lines (pino JSON, "[tool] ..." progress) from stdout.
  if "${cmd[@]}" | sed -e '/^{"level":/d' -e '/^\[[a-z0-9/-]*\] /d' > "$results/$name.md"; then
    sections+=("$name")
    cat "$results/$name.md"
  else
    echo "bench: $name failed (exit $?)" >&2
    { echo "_The $name benchmark failed in this run; see its output._"; } >> "$results/$name.md"
    sections+=("$name")
    status=1
  fi
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
steal_seconds=$(awk -v a="$steal_start" -v b="$(steal_ticks)" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" 'BEGIN{printf "%.1f", (b - a) / hz}')
run_seconds=$(( $(date +%s) - seconds_start ))
quick=0
for a in "$@"; do [ "$a" = --quick ] && quick=1; done
if [ "$quick" = 1 ] && [ "${BENCH_WRITE:-0}" != 1 ]; then
  echo "bench: --quick run; BENCHMARKS.md left as it is (BENCH_WRITE=1 to write it)" >&2
else
  BENCH_DATE="$date_start" BENCH_LOAD_START="$load_start" BENCH_LOAD_END="$load_end" BENCH_STEAL_S="$steal_seconds" BENCH_RUN_S="$run_seconds" node bench/lib/assemble.mjs "${sections[@]}" || status=1
fi
exit $status
