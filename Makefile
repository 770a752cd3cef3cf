# The two commands of the README's quick start:
#   make run    install what is missing, then serve http://127.0.0.1:3000/chat/
#   make test   install what is missing, then run every check and test
# Tool versions and why they are pinned: scripts/bootstrap.sh.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

# cargo-leptos builds debug with this flag; plain cargo commands use the same
# so they reuse its artifacts instead of rebuilding every dependency.
LEPTOS_RUSTFLAGS := --cfg erase_components
CARGO := RUSTFLAGS="$(LEPTOS_RUSTFLAGS)" cargo

.PHONY: run test bench screenshots tools-run tools-test fmt-check docs-check lint unit-test e2e release csr-build

run: tools-run
	cargo leptos watch

test: tools-test fmt-check docs-check lint unit-test csr-build e2e release
	@echo "make test: all passed"

# Release builds, then the standard load scenarios; writes bench/RESULTS.md.
bench:
	scripts/bench.sh

# Retakes the README's screenshots (docs/screenshots/) from the real app.
screenshots:
	scripts/screenshots.sh

tools-run:
	@scripts/bootstrap.sh run

tools-test:
	@scripts/bootstrap.sh test

# Every link in the README, docs/ and bench/ resolves (files and headings).
docs-check:
	python3 scripts/check_links.py

fmt-check:
	cargo fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The browser-only code (WebSocket client, hydration) compiles only for WASM.
	$(CARGO) clippy -p frontend --target wasm32-unknown-unknown --no-default-features --features hydrate -- -D warnings

# Every test on SQLite; then the integration suite again on PostgreSQL (each
# test starts a throw-away cluster of its own: server/src/testing.rs); then
# the multi-process suite over a throw-away 3-primary Redis Cluster.
unit-test:
	$(CARGO) test --workspace
	CHAT_TEST_DATABASE=postgres $(CARGO) test -p server --test it
	CHAT_TEST_REDIS=cluster $(CARGO) test -p server --test it multiprocess

# On a free port and with its own data directory, so a `make run` in another
# terminal does not get in the way and never shows the tests' rooms.
# The main test server has the abuse limits raised (scripts/loopback.env:
# every test signs up from 127.0.0.1) and lets the history tests post 120
# messages at once; the flood-control test runs its own server with the
# product's flood limits. A failure ends the output with what failed (CI
# keeps only the tail, and cargo-leptos's own trace follows Playwright's).
e2e:
	port=$$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	data=$$(mktemp -d); trap 'rm -rf "$$data"' EXIT; \
	(env $$(cat scripts/loopback.env) FLOOD_RATE=50 FLOOD_BURST=200 DATA_DIR=$$data DATABASE_URL= LEPTOS_SITE_ADDR=127.0.0.1:$$port BASE_URL=http://127.0.0.1:$$port RUST_BACKTRACE=0 cargo leptos end-to-end; echo $$? > "$$data/rc") 2>&1 | tee "$$data/log"; \
	rc=$$(cat "$$data/rc"); \
	if [ "$$rc" != 0 ]; then \
		echo "== e2e failed (exit $$rc): the failing tests, errors and any server panic =="; \
		grep -E "✘|panicked|^ +Error:|^At |disposed" "$$data/log" | head -40; \
	fi; \
	exit $$rc

# Exactly what a production deploy builds (docs/deployment.md, "One
# machine"), then the release binary serves it and Chromium checks that the
# pages hydrate and people can chat; the gzipped WASM must stay under budget.
release:
	cargo leptos build --release --precompress
	scripts/release_check.sh

# Before e2e: the static-deployment test serves dist/ through nginx.
csr-build:
	trunk build --offline --skip-version-check
	# What nginx's gzip_static sends (deploy/nginx-chat-static.conf).
	gzip -9 -k -f dist/*.js dist/*.wasm dist/*.css dist/*.html dist/*.svg
