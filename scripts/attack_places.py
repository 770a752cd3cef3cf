#!/usr/bin/env python3
"""Issue 35's attacks, from outside, against a running server.

Usage: scripts/attack_places.py PORT PID  (the server on 127.0.0.1:PORT, its process id).

Start a release server with its default limits, a fresh DATA_DIR, loopback as
its trusted proxy (so this script can speak for many client addresses with
X-Forwarded-For, as nginx would) and an admin account `root`:

  export DATA_DIR=$(mktemp -d) LEPTOS_OUTPUT_NAME=chat LEPTOS_SITE_ROOT=target/site
  ADMIN_PASSWORD='correct horse battery' target/release/server create-admin root
  TRUSTED_PROXIES=127.0.0.1 LEPTOS_SITE_ADDR=127.0.0.1:3998 target/release/server &
  scripts/attack_places.py 3998 $!

Connections from 127.0.0.2 (not a trusted proxy) try the raw TCP cap. The
integration tests (server/tests/it/places.rs, hidden.rs, closing.rs,
trust.rs, abuse.rs) assert the same things; this prints what an attacker
gets and what an operator sees.
"""
import base64, http.client, json, os, socket, struct, sys, threading, time, urllib.parse

PORT = int(sys.argv[1]); PID = int(sys.argv[2]); HOST = "127.0.0.1"
PASSWORD = "correct horse battery"


def rss():
    return int([l for l in open(f"/proc/{PID}/status") if l.startswith("VmRSS")][0].split()[1]) // 1024


def request(method, path, body=None, headers=None, source=None):
    """(status, headers, body) of one HTTP request."""
    c = http.client.HTTPConnection(HOST, PORT, timeout=30, source_address=(source, 0) if source else None)
    h = {"Content-Type": "application/json", **(headers or {})}
    c.request(method, path, json.dumps(body) if isinstance(body, dict) else body, h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def login(name, password, client=None):
    headers = {"X-Forwarded-For": client} if client else {}
    return request("POST", "/api/login", {"username": name, "password": password}, headers)


def upgrade(room, headers="", source=None):
    """Opens a WebSocket; (status line, socket)."""
    s = socket.create_connection((HOST, PORT), source_address=(source, 0) if source else None)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws/chat/{room}/ HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"{headers}\r\n").encode())
    s.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return head.split(b"\r\n")[0].decode(), s


def frame(opcode, payload):
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def tally(statuses):
    return {s: statuses.count(s) for s in sorted(set(statuses))}


print("start RSS", rss(), "MB")

# 1. One client (hopping addresses inside one IPv6 /64) opens 10,000 sockets.
held, statuses = [], []
for i in range(10_000):
    line, s = upgrade("crowd", f"X-Forwarded-For: 2001:db8:bad:1::{i:x}\r\n")
    statuses.append(line.split(" ")[1] if " " in line else line)
    if line.startswith("HTTP/1.1 101"):
        held.append(s)
    else:
        s.close()
line, other = upgrade("crowd", "X-Forwarded-For: 203.0.113.5\r\n")
print(f"1. 10,000 sockets from one /64: {tally(statuses)}; another visitor: {line}; RSS {rss()} MB")
for s in held + [other]:
    s.close()

# 2. One peer (not a proxy) opens 300 raw TCP connections at once and sits on them.
opened = [socket.create_connection((HOST, PORT), source_address=("127.0.0.2", 0)) for _ in range(300)]
time.sleep(0.5)
held, refused = 0, 0
for s in opened:
    s.settimeout(0.05)
    try:
        said = s.recv(64)
        refused += said.startswith(b"HTTP/1.1 429")
        held += not said
    except socket.timeout:
        held += 1
status = request("GET", "/healthz", source="127.0.0.3")[0]
print(f"2. 300 idle TCP connections from 127.0.0.2: {held} held, {refused} answered 429 and closed; "
      f"127.0.0.3 /healthz: {status}")
for s in opened:
    s.close()

# 3. A body trickled one byte every 2 s (each byte inside the 10 s read timeout).
s = socket.create_connection((HOST, PORT))
s.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{")
t0 = time.time(); answer = b""
s.settimeout(2)
while time.time() - t0 < 120:
    try:
        answer = s.recv(256)
        break
    except socket.timeout:
        try:
            s.sendall(b" ")
        except OSError:
            break
print(f"3. trickled body: cut after {time.time() - t0:.0f} s with {answer.split(b' ')[1:2] or b'a closed connection'!r}")
s.close()

# 4. A stranger guesses root's password from one /64; the owner signs in from home.
guesses = [login("root", f"guess {i}", f"2001:db8:bad:2::{i:x}")[0] for i in range(12)]
crowd = [login("root", "wrong", f"198.51.100.{i}")[0] for i in range(30)]
owner = login("root", PASSWORD, "192.0.2.10")
print(f"4. 12 guesses from one /64: {tally(guesses)}; 30 from a crowd: {tally(crowd)}; owner: {owner[0]}")
cookie = owner[1].get("set-cookie", owner[1].get("Set-Cookie", "")).split(";")[0]

# 5. An admin-only room made where a visitor sits; what public lobby feeds hear.
feed = socket.create_connection((HOST, PORT))
feed.sendall(b"GET /api/rooms/live HTTP/1.1\r\nHost: x\r\n\r\n")
feed.settimeout(0.5)
line, visitor = upgrade("plans")
status = request("POST", "/api/admin", {"action": "create_room", "room": "plans", "admin_only": True}, {"Cookie": cookie})[0]
visitor.settimeout(3)
told = b""
try:
    while b"session_ended" not in told:
        chunk = visitor.recv(4096)
        if not chunk:
            break
        told += chunk
except socket.timeout:
    pass
_, inside = upgrade("plans", f"Cookie: {cookie}\r\n")
inside.sendall(frame(0x1, json.dumps({"message": "secret plans"}).encode()))
time.sleep(1.5)
heard = b""
try:
    while True:
        chunk = feed.recv(65536)
        if not chunk:
            break
        heard += chunk
except socket.timeout:
    pass
print(f"5. admin-only room made over a visitor: {status}, visitor ended: {b'session_ended' in told}; "
      f"public feed lines naming it: {heard.count(b'plans')}")
for s in (feed, visitor, inside):
    s.close()

# 6. Open redirect with a TAB the browser strips.
status, headers, _ = request("POST", "/api/login",
                             urllib.parse.urlencode({"username": "root", "password": PASSWORD, "next": "/\t/evil.example"}),
                             {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "192.0.2.10"})
print(f"6. next=/%09/evil.example: {status} to {headers.get('location', headers.get('Location'))}")

# 7. Trojan Source in a message, and the closing handshake.
line, ws = upgrade("text", f"Cookie: {cookie}\r\n")
ws.sendall(frame(0x1, json.dumps({"message": "invoice\u202efdp.exe"}).encode()))
time.sleep(0.5)
got = ws.recv(65536)
ws.sendall(frame(0x8, struct.pack("!H", 1000) + b"bye"))
reply = b""
try:
    while True:
        chunk = ws.recv(4096)
        if not chunk:
            break
        reply += chunk
except (socket.timeout, ConnectionResetError):
    pass
close = reply[reply.rfind(b"\x88"):] if b"\x88" in reply else b""
code = struct.unpack("!H", close[2:4])[0] if len(close) >= 4 else None
print(f"7. RLO message refused: {b'invalid_message' in got}; Close answered with: {code}")
print("end RSS", rss(), "MB")
