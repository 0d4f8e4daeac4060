# postwire: one entry point for building, testing, the demo and the benchmarks.
# `make help` lists the targets. Every target works on a fresh machine: `make test` installs
# the peers it talks to first (scripts/install-deps.sh).

SHELL := /bin/bash
CARGO ?= cargo
# `make c PROFILE=release`, `make install PREFIX=/opt/postwire PROFILE=release`.
PROFILE ?= debug
PREFIX ?= /usr/local
C_LIBDIR := $(or $(CARGO_TARGET_DIR),target)/$(PROFILE)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

.DEFAULT_GOAL := help
.PHONY: help deps build node fmt fmt-check test test-rust test-python test-node test-c c c-header install demo bench bench-server bench-client bench-python bench-node bench-c bench-queue crash-test clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  make %-13s %s\n", $$1, $$2}'

deps: ## Install the test peers: Postfix smtp-source/smtp-sink, swaks, .venv, Node peers
	@bash scripts/install-deps.sh

build: ## Build every crate of the workspace (debug)
	$(CARGO) build --workspace

node: ## Build the Node addon in this checkout (npm install: napi build, debug profile)
	npm install --no-audit --no-fund

fmt: ## Format the Rust code (cargo fmt)
	$(CARGO) fmt --all

fmt-check: ## Check the Rust code is formatted (skipped when rustfmt is absent)
	@if $(CARGO) fmt --version >/dev/null 2>&1; then \
	  $(CARGO) fmt --all --check || { echo "run \`make fmt\`"; exit 1; }; \
	else echo "fmt-check: rustfmt not installed, skipped"; fi

test: deps test-rust test-python test-node test-c fmt-check ## Install peers, then run every test suite
	@echo "make test: all suites passed"

test-rust: ## Rust unit and integration tests (debug build, real peers on loopback)
	$(CARGO) test --workspace

test-python: ## Python binding: `pip install .` into a fresh venv, pytest tests/python, wheel smoke test
	@bash scripts/test-python.sh

test-node: ## Node binding: npm install (builds the addon), d.ts check, tsc --strict, node --test tests/node, npm pack installed without Rust
	@bash scripts/test-node.sh

test-c: ## C binding: header check, C programs in tests/c (plain, valgrind, ASan), examples via make install
	@bash scripts/test-c.sh

c: ## Build libpostwire.so / .a (PROFILE=debug|release) for include/postwire.h
	$(CARGO) build -p postwire-c $(if $(filter release,$(PROFILE)),--release)

c-header: ## Regenerate include/postwire.h (pinned cbindgen, status values from the core)
	$(CARGO) run -q -p postwire-c --features header --bin postwire-c-header

install: c ## Install header, libpostwire (.so, .a) and postwire.pc under PREFIX (default /usr/local)
	install -d "$(DESTDIR)$(PREFIX)/include" "$(DESTDIR)$(PREFIX)/lib/pkgconfig"
	install -m 644 include/postwire.h "$(DESTDIR)$(PREFIX)/include/"
	install -m 755 "$(C_LIBDIR)/libpostwire.so" "$(DESTDIR)$(PREFIX)/lib/"
	install -m 644 "$(C_LIBDIR)/libpostwire.a" "$(DESTDIR)$(PREFIX)/lib/"
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' bindings-c/postwire.pc.in \
	  >"$(DESTDIR)$(PREFIX)/lib/pkgconfig/postwire.pc"

demo: ## Start `postwire serve` on loopback, deliver a message, show a relay refused, stop
	@bash scripts/demo.sh

bench: bench-server bench-client bench-python bench-node bench-c bench-queue ## Run every benchmark (release builds)

bench-server: ## Server benchmark: smtp-source against postwire, smtp-sink, aiosmtpd, smtp-server
	@bash bench/server_bench.sh

bench-client: ## Client benchmark (when bench/client_bench.sh exists)
	@if [ -f bench/client_bench.sh ]; then bash bench/client_bench.sh; \
	else echo "bench-client: bench/client_bench.sh not there yet, skipped"; fi

bench-python: ## Python binding benchmark: Server with a Python hook, Client, aio.Client (release wheel)
	@bash bench/python_bench.sh

bench-node: ## Node binding benchmark: Server with a JS hook vs smtp-server, Client/Pool vs nodemailer (release addon)
	@bash bench/node_bench.sh
bench-queue: ## Queue benchmark: smtp-source into serve --queue vs --maildir vs --discard, and relay end to end
	@bash bench/queue_bench.sh

crash-test: ## The long crash test: 2,000 messages over SMTP into serve --queue through 20 SIGKILLs
	@bash scripts/crash_test.sh --long

bench-c: ## C binding benchmark: C server with a counting hook, C client (release build)
	@bash bench/c_bench.sh

clean: ## Remove build output, the venv, Node modules and bench results
	$(CARGO) clean
	rm -rf .venv .work node_modules *.node tests/peers/node/node_modules bench/results
