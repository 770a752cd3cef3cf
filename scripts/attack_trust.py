#!/usr/bin/env python3
"""The trust-boundaries issue's attacks, from outside, against a running server.

Usage: scripts/attack_trust.py PORT  (a server on 127.0.0.1:PORT with its default
limits and a fresh DATA_DIR, as `make run` starts it). Prints what an attacker
gets. The integration tests (server/tests/it/trust.rs) check the same things.
"""
import base64, json, os, socket, struct, sys, time, urllib.parse, urllib.request, urllib.error
PORT = int(sys.argv[1]); HOST = "127.0.0.1"; BASE = f"http://{HOST}:{PORT}"
PASSWORD = "correct horse battery"

def request(path, body=None, headers=None, form=False):
    data = None
    if body is not None:
        data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
    h = {"Content-Type": "application/x-www-form-urlencoded" if form else "application/json", **(headers or {})}
    req = urllib.request.Request(BASE + path, data, h, method="POST" if body is not None else "GET")
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k): return None
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()

def cookie_of(headers):
    return {k.lower(): v for k, v in headers.items()}.get("set-cookie", "").split(";")[0]

class Ws:
    """Just enough of RFC 6455 for text frames."""
    def __init__(self, room, cookie):
        self.s = socket.create_connection((HOST, PORT)); self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /ws/chat/{urllib.parse.quote(room)}/ HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf: self.buf += self.s.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ")[1])
    def send(self, obj):
        payload = json.dumps(obj).encode(); mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0xFE]) + struct.pack(">H", n))
        self.s.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    def _read(self, n):
        while len(self.buf) < n: self.buf += self.s.recv(65536)
        out, self.buf = self.buf[:n], self.buf[n:]; return out
    def event(self):
        while True:
            b0, b1 = self._read(2); n = b1 & 0x7F
            if n == 126: n = struct.unpack(">H", self._read(2))[0]
            elif n == 127: n = struct.unpack(">Q", self._read(8))[0]
            data = self._read(n)
            if b0 & 0x0F == 1: return json.loads(data)
    def expect(self, kind):
        while True:
            e = self.event()
            if e["type"] in (kind, "error"): return e

# 1. Lookalike and blank names.
s, h, _ = request("/api/register", {"username": "alevukqc", "password": PASSWORD})
alice = cookie_of(h); print("1. alevukqc registers:", s)
for twin in ["Alevukqc", "\u0430levukqc", "\uff41\uff4c\uff45\uff56\uff55\uff4b\uff51\uff43", "\u3164\u3164\u3164"]:
    s, _, body = request("/api/register", {"username": twin, "password": PASSWORD})
    print(f"   {twin!r}: {s} {json.loads(body)['error']['code'] if s >= 400 else ''}")
print("   original still logs in:", request("/api/login", {"username": "alevukqc", "password": PASSWORD})[0])
# 2. Reactions.
ws = Ws("trust-test", alice); ws.send({"message": "react to me"})
seq = ws.expect("chat_message")["seq"]
for bad in ["ИДИОТ", "\u202e"]:
    ws.send({"type": "react", "seq": seq, "emoji": bad}); print(f"2. reaction {bad!r}:", ws.expect("reaction").get("code"))
for e in ["😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃", "🫠", "😉", "😊", "😇", "🥰", "😍", "🤩", "😘", "😗", "☺️"]:
    # Paced under the default flood limit, so only the cap can refuse.
    time.sleep(0.5); ws.send({"type": "react", "seq": seq, "emoji": e}); assert ws.expect("reaction")["type"] == "reaction"
time.sleep(0.5); ws.send({"type": "react", "seq": seq, "emoji": "😚"}); print("   21st distinct reaction:", ws.expect("reaction").get("code"))
ws.send({"message": "\u200b\u3164"}); print("   invisible message:", ws.expect("chat_message").get("code"))
ws.send({"message": "x\u001b[2J"}); print("   control characters:", ws.expect("chat_message").get("code"))
# 3. Cross-site login form.
creds = {"username": "alevukqc", "password": PASSWORD}
print("3. login form from evil.example:", request("/api/login", creds, {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, form=True)[0])
print("   same-origin login form:", request("/api/login", creds, {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}, form=True)[0])
# 4. Headers and /metrics.
s, h, _ = request("/chat/"); h = {k.lower(): v for k, v in h.items()}
print("4. CSP:", h.get("content-security-policy", "MISSING")[:90], "…")
print("   X-Content-Type-Options:", h.get("x-content-type-options"), "| Referrer-Policy:", h.get("referrer-policy"), "| X-Frame-Options:", h.get("x-frame-options"))
print("   a lookalike room socket:", Ws("trust-t\u0435st", alice).status)
