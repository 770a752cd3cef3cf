#!/usr/bin/env bash
# Retakes the README's screenshots (docs/screenshots/*.png) from the real
# app: a debug build, a fresh server with its own empty data directory on a
# free port, and Chromium driving three people (end2end/tests/screenshots.spec.ts).
#   make screenshots
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/bootstrap.sh screenshots
RUSTFLAGS="--cfg erase_components" cargo leptos build

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
env $(cat scripts/loopback.env) DATA_DIR="$data" DATABASE_URL= REDIS_URL= LEPTOS_OUTPUT_NAME=chat \
  LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site RUST_LOG=warn target/debug/server &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done

mkdir -p docs/screenshots
cd end2end
BASE_URL="http://127.0.0.1:$port" SCREENSHOTS_DIR="$PWD/../docs/screenshots" \
  npx playwright test tests/screenshots.spec.ts --reporter=line
echo "screenshots: $(ls ../docs/screenshots)"
