// Two server processes behind one Redis, sharing one database: two people
// on different processes chat, see each other online and exchange a PM.
import { expect, test } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { messageTexts, say, unique, PASSWORD, hydrated } from "./helpers";

const root = path.resolve(__dirname, "../..");
const serverBin = process.env.SERVER_BIN ?? path.join(root, "target/debug/server");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function until(check: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const children: ChildProcess[] = [];
let origins: string[] = [];

test.beforeAll(async () => {
  if (!existsSync(serverBin)) throw new Error(`no server binary at ${serverBin} (set SERVER_BIN)`);
  const redisPort = await freePort();
  children.push(
    spawn("redis-server", ["--port", `${redisPort}`, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    }),
  );
  await until(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(redisPort, "127.0.0.1", () => {
          socket.end();
          resolve(true);
        });
        socket.on("error", () => resolve(false));
      }),
    "redis-server to listen",
  );
  const data = mkdtempSync(path.join(tmpdir(), "chat-cluster-"));
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    children.push(
      spawn(serverBin, [], {
        cwd: root,
        stdio: "ignore",
        env: {
          ...process.env,
          LEPTOS_OUTPUT_NAME: "chat",
          LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
          DATABASE_URL: `sqlite://${data}/chat.db`,
          REDIS_URL: `redis://127.0.0.1:${redisPort}/`,
          RUST_LOG: "warn",
        },
      }),
    );
    origins.push(`http://127.0.0.1:${port}`);
  }
  for (const origin of origins) {
    await until(async () => (await fetch(`${origin}/healthz`)).ok, `${origin} to serve`);
  }
});

test.afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  origins = [];
});

test("two people on two processes chat, see each other online and exchange a PM", async ({ browser }) => {
  const room = unique("spread");
  const [alice, bob] = [unique("alice"), unique("bob")];
  const pages = [];
  for (const [i, name] of [alice, bob].entries()) {
    const context = await browser.newContext({ baseURL: origins[i] });
    expect((await context.request.post("/api/register", { data: { username: name, password: PASSWORD } })).status()).toBe(201);
    const page = await context.newPage();
    await page.goto(`/chat/${room}/`);
    await hydrated(page);
    await expect(page.locator("#status")).toHaveAttribute("data-state", "live");
    pages.push(page);
  }
  const [a, b] = pages;
  expect(new URL(a.url()).port).not.toBe(new URL(b.url()).port);

  for (const page of pages) {
    await expect(page.locator("#user-list li")).toHaveCount(2);
  }
  await expect(a.locator(`#user-list li[data-user="${bob}"]`)).toBeVisible();
  await expect(b.locator(`#user-list li[data-user="${alice}"]`)).toBeVisible();

  await say(a, "hello from process one");
  await expect(messageTexts(b)).toHaveText(["hello from process one"]);
  await say(b, "hello from process two");
  await expect(messageTexts(a)).toHaveText(["hello from process one", "hello from process two"]);

  await a.getByRole("button", { name: `Send ${bob} a private message` }).click();
  await a.keyboard.type("just between us");
  await a.keyboard.press("Enter");
  await expect(b.locator('#log .msg.pm[data-pm="from"] .author')).toHaveText(`PM from ${alice}`);
  await expect(a.locator('#log .msg.pm[data-pm="to"] .author')).toHaveText(`PM to ${bob}`);

  // Bob leaves: Alice's list follows, across processes.
  await b.context().close();
  await expect(a.locator("#user-list li")).toHaveCount(1);
});
