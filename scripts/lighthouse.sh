#!/usr/bin/env bash
# First load, as Lighthouse's mobile profile sees it (simulated slow 4G and
# a 4× slower CPU), on the release build: the lobby, a room with 50
# messages (read as a visitor) and the login page, then the lobby and the
# room through the nginx recipe (deploy/nginx-chat.conf). Part of `make bench`;
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
  DATA_DIR="$data" DATABASE_URL= REDIS_URL= TRUSTED_PROXIES=127.0.0.1 RUST_LOG=warn target/release/server >"$data/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 1 200); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.05; done
node bench/lighthouse/seed.mjs "$base" first-load 50
# measure NAME URL LAYER: one Lighthouse run, appended as a result row.
measure() {
  local name=$1 url=$2 layer=$3
  CHROME_PATH=${CHROMIUM:-/usr/bin/chromium} bench/lighthouse/node_modules/.bin/lighthouse "$url" \
    --only-categories=performance --output=json --output-path="$data/$name.json" --quiet \
    --chrome-flags="--headless=new --no-sandbox --ignore-certificate-errors"
  python3 - "$data/$name.json" "$name" "$run" "$layer" >> bench/results.jsonl <<'PY'
import json, sys
report, name, run, layer = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
audits = report["audits"]
row = {
    "mode": "lighthouse", "label": f"first load: {name}", "layer": layer, "run": run,
    "lighthouse": report["lighthouseVersion"], "url": report["finalDisplayedUrl"],
    "performance": round(report["categories"]["performance"]["score"] * 100),
    "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
    "fcp_ms": audits["first-contentful-paint"]["numericValue"],
    "tbt_ms": audits["total-blocking-time"]["numericValue"],
    "transfer_kib": audits["total-byte-weight"]["numericValue"] / 1024,
}
print(json.dumps(row))
print(f"lighthouse {name} ({layer}): performance {row['performance']}, LCP {row['lcp_ms'] / 1000:.1f} s, "
      f"{row['transfer_kib']:.0f} KiB transferred", file=sys.stderr)
PY
}
for page in lobby:/chat/ room:/chat/first-load/ login:/login; do
  measure "${page%%:*}" "$base${page#*:}" release
done

# The same through the nginx recipe users deploy (deploy/nginx-chat.conf,
# TLS with a throw-away certificate): what it adds or takes away.
nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$data/nginx" && chmod 755 "$data" "$data/nginx"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout "$data/nginx/key.pem" -out "$data/nginx/cert.pem" \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
sed -e "s|^\(\s*\)listen 80;|\1listen 127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])');|" \
    -e "s|^\(\s*\)listen 443 ssl;|\1listen 127.0.0.1:$nginx_port ssl;|" \
    -e "s|/etc/ssl/chat/fullchain.pem|$data/nginx/cert.pem|; s|/etc/ssl/chat/privkey.pem|$data/nginx/key.pem|" \
    -e "/^\s*server 127\.0\.0\.1:[0-9]*[^;]*;/d" \
    -e "s|^upstream chat {|upstream chat {\n    server 127.0.0.1:$port;|" deploy/nginx-chat.conf > "$data/nginx/chat.conf"
temps=$(for t in client_body proxy fastcgi uwsgi scgi; do printf '%s_temp_path %s/%s; ' "$t" "$data/nginx" "$t"; done)
cat > "$data/nginx/nginx.conf" <<CONF
worker_processes 1; error_log $data/nginx/error.log; pid $data/nginx/nginx.pid;
events { worker_connections 1024; }
http { access_log off; include /etc/nginx/mime.types; $temps include $data/nginx/chat.conf; }
CONF
/usr/sbin/nginx -p "$data/nginx" -c "$data/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
trap 'kill $nginx_pid $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -skf "https://127.0.0.1:$nginx_port/healthz" >/dev/null && break; sleep 0.1; done
for page in lobby:/chat/ room:/chat/first-load/; do
  measure "${page%%:*}" "https://127.0.0.1:$nginx_port${page#*:}" "release via nginx"
done
