# memtrace: `make demo` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
NODE_MODULES := node_modules/.package-lock.json
BIN := node dist/bin/memtrace.js
SAMPLES := mac-model-switch num-parallel-sweep linux-nvidia-container seed-loops seed-loop-linux windows-model-switch

.PHONY: all install build demo test test-only browser prometheus golden samples bench check clean

all: build

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(NODE_MODULES)

build: install
	@rm -rf dist
	npx tsc -p tsconfig.json
	@chmod +x dist/bin/memtrace.js

# Type-check only (the build does the same, and also writes dist/).
check: install
	npx tsc -p tsconfig.json --noEmit

# Debian's Chromium, for the browser check of the SVG (never a downloaded browser).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser test"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; \
	fi

# Debian's Prometheus (and its promtool), for the fleet tests: a real
# Prometheus scrapes the daemon. Never a downloaded binary.
prometheus:
	@if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then \
	  echo "installing Debian's prometheus for the fleet tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; fi \
	  || echo "could not install prometheus: the fleet tests will fail and say so"; \
	fi

# The main job on a built-in example: the Ollama stand-in, the real daemon, a
# model switch, the chart (about a minute). Then the samples, rendered.
demo: build
	@bash scripts/demo.sh
	@mkdir -p out
	@for s in $(SAMPLES); do $(BIN) render --dir samples/$$s -o out/$$s.svg --tz UTC -q || exit 1; done
	@echo "The samples, rendered:"
	@for s in $(SAMPLES); do echo "  $$PWD/out/$$s.svg"; done

test: build browser prometheus
	node scripts/run-tests.mjs

# Rewrites the golden SVGs after an intended change to the chart.
golden: build
	@for s in $(SAMPLES); do $(BIN) render --dir samples/$$s -o render/test/golden/$$s.svg --tz UTC --quiet || exit 1; done
	@git status --short render/test/golden

# Regenerates the synthesised samples (deterministic).
samples: build
	node dist/scripts/make-samples.js

bench: build
	node dist/perf/render/bench.js
	node dist/perf/daemon/bench.js

clean:
	rm -rf dist out .tap
