// The client-side-rendered build served the way deploy/nginx-chat-static.conf
// says: nginx serves Trunk's dist/ as a single-page app (every unknown path
// is index.html) and proxies /api/ and /ws/ to a server process. `make test`
// builds dist/ before the end-to-end tests.
import { expect, test } from "@playwright/test";
import { existsSync } from "node:fs";
import path from "node:path";
import { Nginx } from "./nginx";
import { PASSWORD, messageTexts, say, unique } from "./helpers";
import { ServerProcess, freshDatabase } from "./processes";
import { roomPage } from "./fixtures/room_page";

const dist = path.resolve(__dirname, "../../dist");
let server: ServerProcess | undefined;
let nginx: Nginx | undefined;

test.beforeAll(async () => {
  if (!existsSync(path.join(dist, "index.html"))) throw new Error(`no ${dist}/index.html: run \`make csr-build\``);
  server = await ServerProcess.start(freshDatabase(), undefined, undefined, { TRUSTED_PROXIES: "127.0.0.1" });
  nginx = await Nginx.start("nginx-chat-static.conf", [server.port], { "/srv/chat/dist": dist });
});

test.afterAll(async () => {
  await nginx?.stop();
  await server?.stop();
});

test("the static build behind nginx: the lobby renders and two people chat", async ({ browser }, testInfo) => {
  const room = unique("static");
  const pages = [];
  for (const name of [unique("ann"), unique("ben")]) {
    const context = await nginx!.context(browser);
    expect((await context.request.post("/api/register", { data: { username: name, password: PASSWORD } })).status()).toBe(201);
    const page = await context.newPage();
    await page.goto("/chat/");
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await page.getByLabel("Room name").fill(room);
    await page.getByLabel("Room name").press("Enter");
    await expect(page).toHaveURL(new RegExp(`/chat/${room}/$`));
    await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
    pages.push(page);
  }
  const [ann, ben] = pages;
  await say(ann, "served from dist/");
  await expect(messageTexts(ben)).toHaveText(["served from dist/"]);
  await say(ben, "and back");
  await expect(messageTexts(ann)).toHaveText(["served from dist/", "and back"]);
  // A deep link is the app too.
  await ben.goto(`/chat/${room}/`);
  await expect(messageTexts(ben)).toHaveText(["served from dist/", "and back"]);
  await ann.screenshot({ path: testInfo.outputPath("static-build.png") });
});

test("the static build goes out gzipped, and its hashed files are cached for a year", async ({ browser }) => {
  const context = await nginx!.context(browser);
  const index = await context.request.get("/chat/", { headers: { "accept-encoding": "gzip" } });
  expect(index.headers()["content-encoding"]).toBe("gzip");
  expect(index.headers()["cache-control"]).toBe("no-cache");
  const wasm = (await index.text()).match(/[\w-]+_bg\.wasm/)?.[0];
  expect(wasm).toBeTruthy();
  const file = await context.request.get(`/${wasm}`, { headers: { "accept-encoding": "gzip" } });
  expect(file.status()).toBe(200);
  expect(file.headers()["content-encoding"]).toBe("gzip");
  expect(file.headers()["cache-control"]).toBe("public, max-age=31536000, immutable");
});

test("the static build speaks the browser's language, and a language picked earlier wins", async ({ browser }) => {
  const chinese = await (await nginx!.context(browser, { locale: "zh-CN" })).newPage();
  await chinese.goto("/chat/");
  await expect(chinese.getByRole("heading", { level: 1 })).toHaveText("你想进入哪个聊天室？");
  await expect(chinese.locator("html")).toHaveAttribute("lang", "zh");

  // An English browser that picked 中文 on an earlier visit (the `lang` cookie).
  const context = await nginx!.context(browser, { locale: "en-US" });
  const page = await context.newPage();
  await page.goto("/chat/");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("What chat room would you like to enter?");
  await page.getByRole("group", { name: "Language" }).getByRole("button", { name: "中文" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("你想进入哪个聊天室？");
  await page.reload();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("你想进入哪个聊天室？");
  await context.close();
});
