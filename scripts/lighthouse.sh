#!/usr/bin/env bash
# First load, as Lighthouse's mobile profile sees it (simulated slow 4G and
# a 4× slower CPU), on the release build: the lobby, a room with 50
# messages (read as a visitor) and the login page. Part of `make bench`;
# appends to bench/results.jsonl (mode "lighthouse").
#   LIGHTHOUSE_RUN: the run id to record under (bench.sh passes its own)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f target/site/pkg/chat.wasm.br ] || { echo "lighthouse: no precompressed release build (cargo leptos build --release --precompress)" >&2; exit 1; }
( cd bench/lighthouse && { [ -d node_modules/lighthouse ] || npm ci --no-audit --no-fund; } )
run=${LIGHTHOUSE_RUN:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
# The seeding posts 50 messages at once: the loopback limits let it.
env $(cat scripts/loopback.env) LEPTOS_ENV=PROD LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_ADDR="127.0.0.1:$port" \
  DATA_DIR="$data" DATABASE_URL= REDIS_URL= RUST_LOG=warn target/release/server >"$data/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 1 200); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.05; done
node bench/lighthouse/seed.mjs "$base" first-load 50
for page in lobby:/chat/ room:/chat/first-load/ login:/login; do
  name=${page%%:*}; path=${page#*:}
  CHROME_PATH=${CHROMIUM:-/usr/bin/chromium} bench/lighthouse/node_modules/.bin/lighthouse "$base$path" \
    --only-categories=performance --output=json --output-path="$data/$name.json" --quiet \
    --chrome-flags="--headless=new --no-sandbox"
  python3 - "$data/$name.json" "$name" "$run" >> bench/results.jsonl <<'PY'
import json, sys
report, name, run = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
audits = report["audits"]
row = {
    "mode": "lighthouse", "label": f"first load: {name}", "layer": "release", "run": run,
    "lighthouse": report["lighthouseVersion"], "url": report["finalDisplayedUrl"],
    "performance": round(report["categories"]["performance"]["score"] * 100),
    "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
    "fcp_ms": audits["first-contentful-paint"]["numericValue"],
    "tbt_ms": audits["total-blocking-time"]["numericValue"],
    "transfer_kib": audits["total-byte-weight"]["numericValue"] / 1024,
}
print(json.dumps(row))
print(f"lighthouse {name}: performance {row['performance']}, LCP {row['lcp_ms'] / 1000:.1f} s, "
      f"{row['transfer_kib']:.0f} KiB transferred", file=sys.stderr)
PY
done
