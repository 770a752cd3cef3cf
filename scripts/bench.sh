#!/usr/bin/env bash
# `make bench`: builds the server, the load generator and the bare
# reference server (bench/reference) in release mode; runs the standard
# scenarios against the reference first (every figure of ours is reported
# as a ratio to it, from the same sitting; (g) is an overload step past
# the ceiling), then (a)-(c) against socketioxide (bench/socketio, the
# fastest peer, over Socket.IO), then with the in-memory layer
# (plus (f), a burst of sign-ups and logins then 10,000 idle sockets, RSS
# throughout) and with Redis
# (SQLite storage on in both), then (b) in three alternating reference/ours
# pairs (CPU per delivery on the same minute), then (a) and (c) with Redis and PostgreSQL
# storage (a throw-away cluster, fsync on, as a deployment has it), then the
# (c) ramp with 1, 2 and 3 processes behind a 3-primary Redis Cluster,
# appending to bench/results.jsonl and rewriting bench/RESULTS.md. Both
# programs share this machine, as the budget says.
#   BENCH_SECS=10  seconds per scenario step (default 10)
#   BENCH_ONLY=redis-cluster  one section only (reference, socketioxide,
#                  memory, accounts, redis, pairs, redis+postgres, redis-cluster,
#                  big-room, pages, first-load); RESULTS.md then
#                  shows that section's newest run beside the others'
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
secs=${BENCH_SECS:-10}

scripts/bootstrap.sh bench
LEPTOS_OUTPUT_NAME=chat cargo build --release -p server -p loadtest -p reference -p socketio-peer
server_bin=target/release/server
loadtest=target/release/loadtest

# 10,000 sockets on each side need more open files than the usual default.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 25000 ] || echo "bench: warning: only $(ulimit -n) open files allowed; the 10,000-connection run may fail"

work=$(mktemp -d)
pids=()
pg_stop=()
cleanup() {
  for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done
  [ ${#pg_stop[@]} -eq 0 ] || "${pg_stop[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "bench: $1 never answered" >&2; return 1; }

run_id=$(date -u +%Y-%m-%dT%H:%M:%SZ)
results=bench/results.jsonl
record() { # label, then loadtest arguments
  local label=$1; shift
  { "$loadtest" "$@" --label "$label" || echo "bench: $label did not complete" >&2; } \
    | tee /dev/stderr | sed -n 's/^RESULT //p' \
    | python3 -c 'import json,sys; [print(json.dumps({**json.loads(l), "run": sys.argv[1], "layer": sys.argv[2]})) for l in sys.stdin]' "$run_id" "$layer" >> "$results"
}

start_server() { # sets url and server_pid; DATA_DIR from $data if set
  local port dir
  port=$(free_port); dir=${data:-$(mktemp -d -p "$work")}
  # Load-test users sign up from one address and post hundreds of messages
  # a second each: the abuse limits are raised (scripts/loopback.env).
  env $(cat scripts/loopback.env) DATA_DIR=$dir DATABASE_URL=${database_url:-} LEPTOS_SITE_ADDR=127.0.0.1:$port \
    REDIS_URL=${redis_url:-} REDIS_CLUSTER_URLS=${cluster_urls:-} RUST_LOG=warn "$server_bin" &
  server_pid=$!; pids+=("$server_pid")
  url=http://127.0.0.1:$port
  wait_for "$url/healthz"
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }

# (a)-(d) and (g) against a server that `$1` starts (setting url and server_pid);
# the rest of the arguments go to the ramp.
standard_scenarios() {
  local start=$1; shift
  "$start"
  record "a: 10x10 @1000/s" chat --url "$url" --rooms 10 --clients 10 --rate 1000 --secs "$secs" --pids "$server_pid"
  record "b: 1x100 @200/s" chat --url "$url" --rooms 1 --clients 100 --rate 200 --secs "$secs" --pids "$server_pid"
  record "c: 10x10 ramp" ramp --url "$url" --rooms 10 --clients 10 --rate 8000 --factor 1.15 --secs 5 --p99-ms 250 --pids "$server_pid" "$@"
  stop_server
  # (g) Well past the ceiling: /healthz timed, RSS sampled, laggers rejoin.
  "$start"
  record "g: overload 10x10 @150000/s" overload --url "$url" --rooms 10 --clients 10 --rate 150000 --secs "$secs" --pids "$server_pid"
  stop_server
  for n in 1000 10000; do
    "$start"
    record "d: idle $n" idle --url "$url" --connections "$n" --pid "$server_pid"
    stop_server
  done
}

only=${BENCH_ONLY:-}
# The floor, measured with the same tool in the same sitting.
start_reference() {
  local port; port=$(free_port)
  target/release/reference "127.0.0.1:$port" >/dev/null &
  server_pid=$!; pids+=("$server_pid"); url=http://127.0.0.1:$port
  wait_for "$url/healthz"
}
if [ -z "$only" ] || [ "$only" = reference ]; then
layer=reference
echo "== reference"
standard_scenarios start_reference
fi

# The fastest peer, socketioxide in memory (the issue's throughput goal is
# a multiple of its ceiling), with the same clients speaking Socket.IO.
if [ -z "$only" ] || [ "$only" = socketioxide ]; then
layer=socketioxide
echo "== socketioxide"
port=$(free_port)
target/release/socketio-peer "127.0.0.1:$port" >/dev/null &
server_pid=$!; pids+=("$server_pid"); url=http://127.0.0.1:$port
wait_for "$url/healthz"
sio=(--protocol socketio --url "$url" --pids "$server_pid")
record "a: 10x10 @1000/s" chat "${sio[@]}" --rooms 10 --clients 10 --rate 1000 --secs "$secs"
record "b: 1x100 @200/s" chat "${sio[@]}" --rooms 1 --clients 100 --rate 200 --secs "$secs"
record "c: 10x10 ramp" ramp "${sio[@]}" --rooms 10 --clients 10 --rate 8000 --factor 1.15 --secs 5 --p99-ms 250
stop_server
fi

# (f) A burst of strangers signing up and logging in (every one an argon2
# hash), then 10,000 idle sockets: RSS before, during and after.
if [ -z "$only" ] || [ "$only" = accounts ]; then
layer=memory
echo "== accounts burst"
redis_url=
start_server
record "f: 5000 sign-ups, 20000 logins, 10000 idle" accounts --url "$url" --registrations 5000 --logins 20000 \
  --concurrency 50 --connections 10000 --pid "$server_pid"
stop_server
fi

for layer in memory redis; do
  [ -z "$only" ] || [ "$only" = "$layer" ] || continue
  redis_url=
  if [ "$layer" != memory ]; then
    rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
    pids+=($!); redis_pid=$!
    redis_url=redis://127.0.0.1:$rport/
    for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  fi
  echo "== $layer layer"
  standard_scenarios start_server ${redis_url:+--redis-pids "$redis_pid"}
done

# (b)'s CPU per delivery, ours against the reference, in three alternating
# pairs a minute apart at most: the sections above run minutes apart, and
# this machine's speed drifts in between (the ratio from them moved from
# 1.2x to 1.7x between sittings with the same code). The goal is checked
# on the median pair.
if [ -z "$only" ] || [ "$only" = pairs ]; then
echo "== (b) CPU in alternating pairs"
kept_redis=${redis_url:-}; redis_url=
for round in 1 2 3; do
  layer=reference-pair; start_reference
  record "b: 1x100 @200/s, pair $round" chat --url "$url" --rooms 1 --clients 100 --rate 200 --secs "$secs" --pids "$server_pid"
  stop_server
  layer=memory-pair; start_server
  record "b: 1x100 @200/s, pair $round" chat --url "$url" --rooms 1 --clients 100 --rate 200 --secs "$secs" --pids "$server_pid"
  stop_server
done
redis_url=$kept_redis
fi

# PostgreSQL as the tests start it (server/src/testing.rs), but durable.
start_postgres() { # sets database_url
  local bin dir pport as=()
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  dir=$(mktemp -d -p "$work"); pport=$(free_port)
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; chmod 755 "$work"; as=(runuser -u postgres --); fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/log" -o "-p $pport -k $dir/data -c listen_addresses=127.0.0.1" start >/dev/null
  pg_stop=("${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop)
  database_url=postgres://postgres@127.0.0.1:$pport/postgres
}

if [ -z "$only" ] || [ "$only" = redis+postgres ]; then
layer=redis+postgres
echo "== $layer"
[ -n "${redis_url:-}" ] || { rport=$(free_port); redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >/dev/null & pids+=($!); redis_url=redis://127.0.0.1:$rport/; sleep 0.5; }
start_postgres
start_server
record "a: 10x10 @1000/s" chat --url "$url" --rooms 10 --clients 10 --rate 1000 --secs "$secs" --pids "$server_pid"
record "c: 10x10 ramp" ramp --url "$url" --rooms 10 --clients 10 --rate 8000 --factor 1.15 --secs 5 --p99-ms 250 --pids "$server_pid"
stop_server
"${pg_stop[@]}" >/dev/null; pg_stop=()
fi

# A throw-away 3-primary Redis Cluster (as server/src/testing.rs starts
# one), then 1, 2 and 3 server processes behind it sharing one PostgreSQL
# database (SQLite's single writer lock, shared by several processes, makes
# their writers wait on each other: that would measure the lock, not the
# layer). For each: the (c) ramp, and (e) a fixed 8,000 msg/s so that the
# CPU cost per delivery is compared at the same load. The load tool spreads
# its clients over the processes and reads their CPU time and Redis's.
start_cluster() { # sets cluster_urls and redis_pids
  local dir ports=() p
  redis_pids=()
  dir=$(mktemp -d -p "$work")
  for _ in 1 2 3; do
    while :; do p=$(free_port); [ "$p" -le 55535 ] && python3 -c "import socket,sys; socket.socket().bind(('127.0.0.1', int(sys.argv[1])))" $((p + 10000)) 2>/dev/null && break; done
    mkdir -p "$dir/$p"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 1000 --cluster-require-full-coverage no --save "" --appendonly no --dir "$dir/$p" >/dev/null &
    pids+=($!); ports+=("$p"); redis_pids+=($!)
  done
  for p in "${ports[@]}"; do for _ in $(seq 1 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done; done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-yes >/dev/null
  for _ in $(seq 1 200); do redis-cli -p "${ports[0]}" cluster info | grep -q cluster_state:ok && break; sleep 0.05; done
  cluster_urls=$(printf 'redis://127.0.0.1:%s/,' "${ports[@]}"); cluster_urls=${cluster_urls%,}
}

if [ -z "$only" ] || [ "$only" = redis-cluster ]; then
layer=redis-cluster
echo "== $layer"
redis_url=
start_cluster
for n in 1 2 3; do
  start_postgres
  urls=(); server_pids=()
  for _ in $(seq 1 "$n"); do start_server; urls+=("$url"); server_pids+=("$server_pid"); done
  spread=(--url "$(IFS=,; echo "${urls[*]}")" --pids "$(IFS=,; echo "${server_pids[*]}")" --redis-pids "$(IFS=,; echo "${redis_pids[*]}")")
  record "e: 10x10 @8000/s, $n processes" chat "${spread[@]}" --rooms 10 --clients 10 --rate 8000 --secs "$secs"
  record "c: 10x10 ramp, $n processes" ramp "${spread[@]}" --rooms 10 --clients 10 --rate 8000 --factor 1.15 --secs 5 --p99-ms 250
  for server_pid in "${server_pids[@]}"; do stop_server; done
  "${pg_stop[@]}" >/dev/null; pg_stop=()
done
cluster_urls=; database_url=
fi

# (h) One big room: 1,000 members ramped, and 10,000 members at a fixed
# rate, on the reference, socketioxide, our memory layer, one Redis, and
# three processes behind the Redis Cluster (PostgreSQL shared). Sign-ups
# come first and are not timed; the report has the join storm's length
# ("all joined"), "post to all members received" p50/p99 and the server's
# RSS with everyone in.
big_room() { # extra loadtest arguments
  record "h: 1x1000 ramp" ramp "$@" --rooms 1 --clients 1000 --rate 200 --factor 1.25 --secs 5 --p99-ms 250
  record "h: 1x10000 @50/s" chat "$@" --rooms 1 --clients 10000 --rate 50 --secs "$secs"
}
if [ -z "$only" ] || [ "$only" = big-room ]; then
echo "== (h) one big room"
layer=reference; start_reference
big_room --url "$url" --pids "$server_pid"; stop_server
layer=socketioxide; port=$(free_port)
target/release/socketio-peer "127.0.0.1:$port" >/dev/null &
server_pid=$!; pids+=("$server_pid"); url=http://127.0.0.1:$port; wait_for "$url/healthz"
big_room --protocol socketio --url "$url" --pids "$server_pid"; stop_server
layer=memory; redis_url=; start_server
big_room --url "$url" --pids "$server_pid"; stop_server
layer=redis; rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
redis_pid=$!; pids+=("$redis_pid"); redis_url=redis://127.0.0.1:$rport/
for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
start_server
big_room --url "$url" --pids "$server_pid" --redis-pids "$redis_pid"; stop_server
redis_url=
layer=redis-cluster; start_cluster; start_postgres
urls=(); server_pids=()
for _ in 1 2 3; do start_server; urls+=("$url"); server_pids+=("$server_pid"); done
big_room --url "$(IFS=,; echo "${urls[*]}")" --pids "$(IFS=,; echo "${server_pids[*]}")" --redis-pids "$(IFS=,; echo "${redis_pids[*]}")"
for server_pid in "${server_pids[@]}"; do stop_server; done
"${pg_stop[@]}" >/dev/null; pg_stop=(); cluster_urls=; database_url=
fi

# (p) Pages: the lobby and a room of 50 messages, server-rendered for a
# visitor, 16 clients back to back; then the reference serving the very
# same bytes from memory (PAGES_DIR), the floor for serving a page.
if [ -z "$only" ] || [ "$only" = pages ]; then
echo "== (p) pages"
( cd bench/lighthouse && { [ -d node_modules/ws ] || npm ci --no-audit --no-fund; } )
layer=memory; redis_url=; start_server
node bench/lighthouse/seed.mjs "$url" pages-room 50
mkdir -p "$work/pages"
curl -sf "$url/chat/" > "$work/pages/lobby"; curl -sf "$url/chat/pages-room/" > "$work/pages/room"
for page in lobby:/chat/ room:/chat/pages-room/; do
  record "p: ${page%%:*} page, 16 clients" pages --url "$url" --path "${page#*:}" --concurrency 16 --secs "$secs" --pids "$server_pid"
done
record "p: room page, 16 clients, compressed" pages --url "$url" --path /chat/pages-room/ --concurrency 16 --secs "$secs" --encoding "gzip, deflate, br, zstd" --pids "$server_pid"
stop_server
layer=reference; export PAGES_DIR=$work/pages; start_reference; unset PAGES_DIR
for name in lobby room; do
  record "p: $name page, 16 clients" pages --url "$url" --path "/pages/$name" --concurrency 16 --secs "$secs" --pids "$server_pid"
done
stop_server
fi

# First load: Lighthouse's mobile profile on the release build (the lobby,
# a room of 50 messages, the login page).
if [ -z "$only" ] || [ "$only" = first-load ]; then
echo "== first load (Lighthouse)"
cargo leptos build --release --precompress
LIGHTHOUSE_RUN=$run_id scripts/lighthouse.sh
fi

python3 scripts/bench_report.py "$results" bench/RESULTS.md
echo "bench: results in bench/RESULTS.md"
