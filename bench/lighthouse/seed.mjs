// Seeds a room for the first-load measurement: signs a person up and posts
// `count` messages into `room` over the WebSocket, as the page would.
// usage: node seed.mjs http://127.0.0.1:PORT ROOM COUNT
import WebSocket from "ws";

const [base, room, count] = [process.argv[2], process.argv[3], Number(process.argv[4] ?? 50)];
const username = `seed${Date.now().toString(36)}`;
const signup = await fetch(`${base}/api/register`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ username, password: "first load password" }),
});
if (signup.status !== 201) throw new Error(`sign-up: HTTP ${signup.status}`);
const cookie = signup.headers.get("set-cookie").split(";")[0];
const socket = new WebSocket(`${base.replace("http", "ws")}/ws/chat/${room}/`, { headers: { cookie, origin: base } });
await new Promise((resolve, reject) => {
  let stored = 0;
  socket.on("open", () => {
    for (let i = 1; i <= count; i++) {
      socket.send(JSON.stringify({ message: `message ${i} of the first-load room: a line of ordinary chat text` }));
    }
  });
  socket.on("message", (data) => {
    if (JSON.parse(data.toString()).type === "chat_message" && ++stored === count) resolve();
  });
  socket.on("error", reject);
  setTimeout(() => reject(new Error(`only ${stored} of ${count} stored`)), 30_000);
});
socket.close();
