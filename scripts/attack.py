#!/usr/bin/env python3
"""The abuse issue's attacks, from outside, against a running server.

Usage: scripts/attack.py PORT PID  (the server on 127.0.0.1:PORT, its process id for RSS).
Start the server with its default limits and a fresh DATA_DIR, e.g.
  DATA_DIR=$(mktemp -d) LEPTOS_OUTPUT_NAME=chat LEPTOS_SITE_ADDR=127.0.0.1:3998 target/debug/server &
The integration tests (server/tests/it/abuse.rs) check the same things; this
prints the figures an operator would see.
"""
import base64, json, os, socket, sys, threading, time, urllib.request, urllib.error
PORT = int(sys.argv[1]); PID = int(sys.argv[2]); HOST = "127.0.0.1"
def rss(): return int([l for l in open(f"/proc/{PID}/status") if l.startswith("VmRSS")][0].split()[1]) // 1024
def post(path, body):
    req = urllib.request.Request(f"http://{HOST}:{PORT}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r: return r.status, dict(r.headers)
    except urllib.error.HTTPError as e: return e.code, dict(e.headers)
def ws_visit(room, keep=False):
    s = socket.create_connection((HOST, PORT))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /ws/chat/{room}/ HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = s.recv(4096).split(b"\r\n")[0].decode()
    if not keep: s.close()
    return head, s
print("start RSS", rss(), "MB")
# 1. 40 anonymous visits to made-up rooms
heads = [ws_visit(f"made-up-{i}")[0] for i in range(40)]
time.sleep(0.5)
rooms = json.load(urllib.request.urlopen(f"http://{HOST}:{PORT}/api/rooms"))
print("1. 40 visits:", heads[0], "-> rooms listed:", len(rooms))
# 2. 40 concurrent wrong passwords
print("   register victim:", post("/api/register", {"username": "victim1", "password": "correct horse battery"})[0])
out = []
ts = [threading.Thread(target=lambda i=i: out.append(post("/api/login", {"username": "victim1", "password": f"guess {i} wrong"})[0])) for i in range(40)]
[t.start() for t in ts]; [t.join() for t in ts]
print("2. 40 parallel guesses:", {c: out.count(c) for c in set(out)})
# 3. 50 half-sent heads
socks = []
for _ in range(50):
    s = socket.create_connection((HOST, PORT)); s.sendall(b"GET /chat/ HTTP/1.1\r\nHost: x\r\nX-Slow: "); s.settimeout(15); socks.append(s)
t0 = time.time(); closed = 0
for s in socks:
    try:
        while s.recv(4096): pass
        closed += 1
    except socket.timeout: pass
print(f"3. 50 half-sent heads: {closed} closed by the server within {time.time()-t0:.1f} s")
# 4. registration flood at concurrency 50
out = []
def reg(i): out.append(post("/api/register", {"username": f"flood{i}", "password": "correct horse battery"})[0])
for batch in range(0, 1000, 50):
    ts = [threading.Thread(target=reg, args=(i,)) for i in range(batch, batch + 50)]
    [t.start() for t in ts]; [t.join() for t in ts]
print("4. 1000 sign-ups:", {c: out.count(c) for c in set(out)}, "RSS", rss(), "MB")
# 5. 500 concurrent logins (unknown names: each costs a hash)
out = []
ts = [threading.Thread(target=lambda i=i: out.append(post("/api/login", {"username": f"nobody{i}", "password": "whatever123"})[0])) for i in range(500)]
[t.start() for t in ts]; [t.join() for t in ts]
print("5. 500 concurrent logins:", {c: out.count(c) for c in set(out)}, "RSS", rss(), "MB")
# 6. 500 concurrent logins from 500 addresses (127.0.x.y): only the hashing threads hold them back
import http.client
out = []
def login_from(i):
    c = http.client.HTTPConnection(HOST, PORT, timeout=60, source_address=(f"127.0.{1 + i // 250}.{1 + i % 250}", 0))
    c.request("POST", "/api/login", json.dumps({"username": f"nobody{i}", "password": "whatever123"}), {"Content-Type": "application/json"})
    out.append(c.getresponse().status)
ts = [threading.Thread(target=login_from, args=(i,)) for i in range(500)]
t0 = time.time(); [t.start() for t in ts]; [t.join() for t in ts]
print(f"6. 500 concurrent logins from 500 addresses in {time.time()-t0:.1f} s:", {c: out.count(c) for c in set(out)}, "RSS", rss(), "MB")
