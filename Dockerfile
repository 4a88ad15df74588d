# syntax=docker/dockerfile:1
# The one image of every skillgate component: skillgate/skillgate. The entrypoint is the `skillgate`
# CLI; the chart and the webhook pick the component by argument (controller, webhook, sidecar,
# recorder). iptables (and sh) are in it for the egress-capture init container the webhook injects,
# which runs `sh -c '<iptables rules>'` as root with NET_ADMIN/NET_RAW for that container only.
#
# NOTE: this Dockerfile cannot be built in the skillgate dev environment (no Docker engine there);
# it is kept correct by review: build with `docker build -t skillgate/skillgate:0.1.0 .` elsewhere.

# --- build: compile the TypeScript workspace and bundle the CLI (dev dependencies: typescript, esbuild)
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY packages ./packages
# --ignore-scripts: no dependency of skillgate needs an install script (no native addons).
RUN npm ci --ignore-scripts \
 && npx tsc -b packages/cli \
 && node packages/cli/bundle.mjs \
 && rm -rf packages/*/dist/test packages/*/dist/*.tsbuildinfo

# --- runtime: production dependencies and the compiled output only ------------------------------
FROM node:24-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/skillgate
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Each workspace package: its package.json and its compiled dist/ (no sources, no tests), and the
# CLI bundle (packages/cli/bundle.mjs), which is what runs: the entrypoint below. The production
# dependencies stay for what the bundle leaves out (@kubernetes/client-node, fake Claude) and loads
# on demand (yaml).
COPY --from=build /src/packages/ ./packages/
RUN find packages -mindepth 2 -maxdepth 2 ! -name package.json ! -name dist ! -name bundle -exec rm -rf {} + \
 && npm ci --omit=dev --ignore-scripts \
 && npm cache clean --force \
 && ln -s /opt/skillgate/packages/cli/bundle/skillgate.mjs /usr/local/bin/skillgate \
 && ln -s /opt/skillgate/packages/cli/bundle/skillgate.mjs /usr/local/bin/kubectl-skillgate \
 && chmod 0755 packages/cli/bundle/skillgate.mjs
# Non-root by default (the chart runs components as 65532; the sidecar runs as its own UID and the
# init container as root, both set by the injected pod spec).
USER 65532:65532
ENTRYPOINT ["skillgate"]
CMD ["--help"]
