// The deployment the README describes, end to end: nginx with the shipped
// config in front of two server processes over one Redis and one
// PostgreSQL. Two people come in through nginx, land on different
// processes, chat, PM and see each other online; then one process stops
// and its pages reconnect through nginx to the other, losing nothing.
import { expect, test, type Page } from "@playwright/test";
import type { ChildProcess } from "node:child_process";
import { Nginx } from "./nginx";
import { PASSWORD, hydrated, say, unique } from "./helpers";
import { ServerProcess, startPostgres, startRedis } from "./processes";
import { roomPage } from "./fixtures/room_page";

let redis: ChildProcess | undefined;
let postgres: { url: string; stop: () => void } | undefined;
let servers: ServerProcess[] = [];
let nginx: Nginx | undefined;

test.beforeAll(async () => {
  const started = await startRedis();
  redis = started.child;
  postgres = await startPostgres();
  const database = postgres.url;
  // nginx is on loopback: the servers believe its X-Forwarded-For.
  const env = { TRUSTED_PROXIES: "127.0.0.1" };
  servers = [
    await ServerProcess.start(database, started.url, undefined, env),
    await ServerProcess.start(database, started.url, undefined, env),
  ];
  nginx = await Nginx.start("nginx-chat.conf", servers.map((s) => s.port));
});

test.afterAll(async () => {
  await nginx?.stop();
  for (const s of servers) s.kill();
  redis?.kill("SIGKILL");
  postgres?.stop();
});

/** Open WebSockets on each process, from its /metrics. */
async function socketsPerProcess(): Promise<number[]> {
  return Promise.all(
    servers.map(async (s) => {
      const text = await (await fetch(`${s.origin}/metrics`)).text();
      return Number(/^chat_websocket_connections (\d+)/m.exec(text)?.[1] ?? "0");
    }),
  );
}

/** The room's messages in the log (PMs left out: they are not the room's). */
const messageTexts = (page: Page) => page.locator("#log .msg:not(.pm) .text");

async function live(page: Page) {
  await hydrated(page);
  await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
}

test("two people through nginx on two processes chat, PM, and survive one process stopping", async ({ browser }, testInfo) => {
  const room = unique("behind-nginx");
  const [alice, bob] = [unique("alice"), unique("bob")];
  const pages: Page[] = [];
  for (const name of [alice, bob]) {
    const context = await nginx!.context(browser);
    expect((await context.request.post("/api/register", { data: { username: name, password: PASSWORD } })).status()).toBe(201);
    const page = await context.newPage();
    await page.goto(`/chat/${room}/`);
    await live(page);
    pages.push(page);
  }
  const [a, b] = pages;
  // nginx balances round-robin; reload bob until the two sit on different processes.
  for (let tries = 0; (await socketsPerProcess()).includes(0); tries++) {
    expect(tries, "nginx never put them on different processes").toBeLessThan(10);
    await b.reload();
    await live(b);
  }
  await expect(a.locator(`#user-list li[data-user="${bob}"]`)).toBeVisible();
  await expect(b.locator(`#user-list li[data-user="${alice}"]`)).toBeVisible();
  await say(a, "hello through nginx");
  await expect(messageTexts(b)).toHaveText(["hello through nginx"]);
  await a.getByRole("button", { name: `Send ${bob} a private message` }).click();
  await a.keyboard.type("psst");
  await a.keyboard.press("Enter");
  await expect(b.locator('#log .msg.pm[data-pm="from"] .author')).toHaveText(`PM from ${alice}`);

  // Carol is on process 1 for sure (no nginx in between). Process 0
  // stops: whichever of alice and bob was on it reconnects through nginx
  // to process 1, and what carol says meanwhile reaches both, once.
  const carol = await browser.newContext({ baseURL: servers[1].origin });
  expect((await carol.request.post("/api/register", { data: { username: unique("carol"), password: PASSWORD } })).status()).toBe(201);
  const c = await carol.newPage();
  await c.goto(`/chat/${room}/`);
  await live(c);
  await servers[0].stop();
  await say(c, "while you were away");
  const expected = ["hello through nginx", "while you were away"];
  await expect(messageTexts(a)).toHaveText(expected, { timeout: 20_000 });
  await expect(messageTexts(b)).toHaveText(expected, { timeout: 20_000 });
  for (const page of [a, b]) await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
  await say(a, "back, via the other process");
  await expect(messageTexts(b)).toHaveText([...expected, "back, via the other process"]);
  await a.screenshot({ path: testInfo.outputPath("behind-nginx.png") });
});

test("the lobby through nginx follows a room on either process live", async ({ browser }) => {
  const room = unique("lobby-nginx");
  const lobby = await (await nginx!.context(browser)).newPage();
  await lobby.goto("/chat/");
  await hydrated(lobby);
  const entry = lobby.locator(`#room-list li[data-room="${room}"]`);
  const person = await nginx!.context(browser);
  expect((await person.request.post("/api/register", { data: { username: unique("host"), password: PASSWORD } })).status()).toBe(201);
  const contexts = [person];
  const host = await person.newPage();
  await host.goto(`/chat/${room}/`);
  await live(host);
  // nginx passes each event on at once (the feed asks it not to buffer).
  await expect(entry).toContainText("1 online", { timeout: 1_000 });
  // Two visitors: round-robin puts the three pages on both processes.
  for (let i = 1; i <= 2; i++) {
    const context = await nginx!.context(browser);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`/chat/${room}/`);
    await live(page);
    await expect(entry).toContainText(`1 online · ${i} reading`, { timeout: 1_000 });
  }
  for (const context of contexts) await context.close();
  await expect(entry).toHaveCount(0, { timeout: 1_000 });
  await lobby.context().close();
});

test("nginx sends plain http to https, and behind it cookies are Secure and HSTS is sent", async ({ browser }) => {
  const plain = await fetch(`http://127.0.0.1:${nginx!.httpPort}/chat/hall/`, { redirect: "manual" });
  expect(plain.status).toBe(301);
  expect(plain.headers.get("location")).toBe("https://127.0.0.1/chat/hall/");
  const context = await nginx!.context(browser);
  const response = await context.request.post("/api/register", { data: { username: unique("tls"), password: PASSWORD } });
  expect(response.status()).toBe(201);
  expect(response.headers()["strict-transport-security"]).toBe("max-age=31536000");
  const session = (await context.cookies()).find((c) => c.name === "chat_session");
  expect(session?.secure).toBe(true);
  await context.close();
});
