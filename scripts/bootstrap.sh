#!/usr/bin/env bash
# Installs only what is missing, saying what and why.
#   scripts/bootstrap.sh run    what `make run` needs
#   scripts/bootstrap.sh test   that, plus what `make test` needs
#   scripts/bootstrap.sh bench  redis-server and postgresql (for `make bench`, which
#                               builds with plain cargo, no WASM tools)
#   scripts/bootstrap.sh screenshots  what `make test` needs, plus fonts for
#                               Chinese and emoji (for `make screenshots`)
# Every tool is pinned to a version that builds on rustc 1.95 and never
# downloads binaries at run time (see docs/development.md, "Toolchain").
set -euo pipefail

WASM_BINDGEN_VERSION=0.2.130   # must equal the `=` pin in Cargo.toml
CARGO_LEPTOS_VERSION=0.3.10    # 0.3.11 needs rustc 1.96
TRUNK_VERSION=0.21.14          # 0.22 needs rustc 1.96.1
BINARYEN_VERSION=132.0.0       # wasm-opt; Debian's binaryen 108 emits broken wasm

mode=${1:-run}
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/.."

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }

has_version() { # command, expected substring of `command --version`
  local out
  command -v "$1" >/dev/null 2>&1 || return 1
  out=$("$1" --version 2>/dev/null) || return 1
  [[ $out == *"$2"* ]]
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=
apt_install() { # package, why
  if dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; then
    return
  fi
  say "installing Debian package $1 ($2)"
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

# The tests start nginx themselves on free ports; its package must not start
# (or leave enabled) the system service on port 80, so it is installed with
# a policy-rc.d that refuses service starts, unless the machine has one.
apt_install_without_service() { # package, why
  if [ -e /usr/sbin/policy-rc.d ]; then
    apt_install "$@"
    return
  fi
  printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
  as_root chmod +x /usr/sbin/policy-rc.d
  apt_install "$@" || { as_root rm -f /usr/sbin/policy-rc.d; return 1; }
  as_root rm -f /usr/sbin/policy-rc.d
}

# The lock file must agree with the CLI we install, or wasm-bindgen fails late
# with a schema error.
locked=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$locked" != "$WASM_BINDGEN_VERSION" ]; then
  say "Cargo.lock has wasm-bindgen $locked but this script installs $WASM_BINDGEN_VERSION: update both together"
  exit 1
fi

# The benchmark builds only the server, the load tool, the reference and socketioxide
# with plain cargo: none of the WASM tools.
if [ "$mode" = bench ]; then
  apt_install redis-server "the benchmark runs the Redis layer too"
  apt_install_without_service postgresql "the benchmark runs the PostgreSQL backend too"
  exit 0
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target (the browser half of the app compiles to WASM)"
  rustup target add wasm32-unknown-unknown
fi

if ! has_version cargo-leptos "cargo-leptos $CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (builds server + WASM together; about 25 minutes, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

if ! has_version wasm-bindgen "wasm-bindgen $WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (generates the WASM's JavaScript glue; about 4 minutes, once)"
  # No --locked: its lock file names a crate version this registry lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

[ "$mode" = test ] || [ "$mode" = screenshots ] || exit 0

apt_install chromium "the browser the end-to-end tests drive"
apt_install redis-server "the Redis channel-layer tests start their own"
apt_install_without_service nginx "the deployment tests put nginx in front of two server processes"
apt_install openssl "the deployment tests give nginx a self-signed certificate (the shipped config serves https)"
apt_install_without_service postgresql "the storage tests start their own PostgreSQL clusters"

if ! has_version wasm-opt "version ${BINARYEN_VERSION%%.*}"; then
  say "installing wasm-opt from npm binaryen@$BINARYEN_VERSION (release WASM size optimiser)"
  as_root npm install -g --no-fund --no-audit "binaryen@$BINARYEN_VERSION" >/dev/null
fi

if ! has_version trunk "trunk $TRUNK_VERSION"; then
  say "installing trunk $TRUNK_VERSION (the client-side-rendered build; about 12 minutes, once)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

npm_wanted() { sed -n "s|.*\"$1\": \"\(.*\)\".*|\1|p" end2end/package.json; }
npm_have() { node -p "require('./end2end/node_modules/$1/package.json').version" 2>/dev/null || true; }
if [ "$(npm_have @playwright/test)" != "$(npm_wanted @playwright/test)" ] ||
  [ "$(npm_have @axe-core/playwright)" != "$(npm_wanted @axe-core/playwright)" ]; then
  say "installing the end-to-end test runner and the accessibility checker (@playwright/test, @axe-core/playwright, from end2end/package-lock.json)"
  (cd end2end && npm ci --no-fund --no-audit >/dev/null)
fi

[ "$mode" = screenshots ] || exit 0
apt_install fonts-noto-cjk "the README's Chinese screenshot needs CJK glyphs"
apt_install fonts-noto-color-emoji "the README's screenshots show emoji reactions"
