// 简体中文 and English: the server renders the browser's language (so the
// first paint is already right), hydration keeps it, the switch on the
// page changes it and is remembered, and what the server says as codes
// (refusals, connection states) reads in the page's language.
import { expect, test, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { PASSWORD, cuttableSockets, hydrated, messageTexts, say, unique } from "./helpers";
import { ServerProcess, createAdmin, freshDatabase } from "./processes";
import { roomPage } from "./fixtures/room_page";

type Lang = "zh-CN" | "en-US";

/** Every page, with its main heading in each language. */
function pages(room: string) {
  return [
    { path: "/chat/", zh: "你想进入哪个聊天室？", en: "What chat room would you like to enter?", title: ["大厅 · 聊天", "Lobby · Chat"] },
    { path: `/chat/${room}/`, zh: room, en: room, title: [`${room} · 聊天`, `${room} · Chat`] },
    { path: "/login", zh: "登录", en: "Log in", title: ["登录 · 聊天", "Log in · Chat"] },
    { path: "/register", zh: "创建账户", en: "Create an account", title: ["创建账户 · 聊天", "Create an account · Chat"] },
    { path: "/admin", zh: "仅限管理员", en: "Admins only", title: ["管理 · 聊天", "Admin · Chat"] },
    { path: "/chat/a%20b/", zh: "这不是一个房间名", en: "That is not a room name", title: ["无效的房间 · 聊天", "Invalid room · Chat"] },
    { path: "/no-such-page", zh: "页面不存在", en: "Page not found", title: ["未找到 · 聊天", "Not found · Chat"] },
  ];
}

/**
 * The English words a page shows, in its text and in the labels people
 * hear or hover (aria-label, title, placeholder): for a Chinese page,
 * none but the names it was given and the switch's own "English".
 */
async function englishWords(page: Page, allowed: string[]): Promise<string[]> {
  const texts = await page.evaluate(() => {
    const app = document.querySelector("#app")!;
    const out = [document.title, (app as HTMLElement).innerText];
    // What streamed in after the shell waits in <template>s until a script
    // puts it in place: without scripts, read it there.
    const parts: ParentNode[] = [app, ...[...document.querySelectorAll("template")].map((t) => t.content)];
    for (const t of parts.slice(1)) out.push(t.textContent ?? "");
    const all = (selector: string) => parts.flatMap((p) => [...p.querySelectorAll(selector)]);
    for (const el of all("[aria-label], [title], [placeholder]")) {
      for (const name of ["aria-label", "title", "placeholder"]) {
        const v = el.getAttribute(name);
        if (v) out.push(v);
      }
    }
    // Rooms and people are named by people, in any script.
    const names = all("[data-room], [data-user]").map((el) => el.getAttribute("data-room") ?? el.getAttribute("data-user") ?? "");
    return { text: out.join("\n"), names };
  });
  const names = [...allowed, ...texts.names];
  const words = texts.text.match(/[A-Za-z][A-Za-z'-]{2,}/g) ?? [];
  return words.filter((w) => !["English", "Esc"].includes(w) && !names.some((n) => n.includes(w)));
}

/** The page's <h1> as the server sent it: in place, or in a streamed <template>. */
async function sentHeading(page: Page): Promise<string | undefined> {
  return page.evaluate(() => {
    const parts: ParentNode[] = [document, ...[...document.querySelectorAll("template")].map((t) => t.content)];
    return parts.map((p) => p.querySelector("h1")?.textContent?.trim()).find((h) => h);
  });
}

async function visitor(browser: Browser, locale: Lang, javaScriptEnabled = true): Promise<BrowserContext> {
  return browser.newContext({ locale, javaScriptEnabled });
}

/** A registered, signed-in person whose browser speaks `locale`. */
async function personSpeaking(browser: Browser, locale: Lang, origin = ""): Promise<BrowserContext> {
  const context = await visitor(browser, locale);
  const response = await context.request.post(`${origin}/api/register`, {
    data: { username: unique("zh"), password: PASSWORD },
  });
  expect(response.status()).toBe(201);
  return context;
}

test("a Chinese browser gets every page in Chinese from the server, before any script runs", async ({ browser }) => {
  const room = unique("zhroom");
  const context = await visitor(browser, "zh-CN", false);
  const page = await context.newPage();
  for (const p of pages(room)) {
    await page.goto(p.path);
    await expect(page.locator("html")).toHaveAttribute("lang", "zh");
    expect(await sentHeading(page), p.path).toBe(p.zh);
    await expect(page).toHaveTitle(p.title[0]);
    expect(await englishWords(page, [room]), p.path).toEqual([]);
  }
  await context.close();
});

test("hydration keeps the server's language: Chinese stays Chinese, English stays English", async ({ browser }) => {
  const room = unique("both");
  for (const [locale, index] of [["zh-CN", 0], ["en-US", 1]] as const) {
    const context = await visitor(browser, locale);
    const page = await context.newPage();
    for (const p of pages(room)) {
      await page.goto(p.path);
      await hydrated(page);
      await expect(page.locator("html")).toHaveAttribute("lang", locale.slice(0, 2));
      await expect(page.locator("h1")).toHaveText(index === 0 ? p.zh : p.en);
      await expect(page).toHaveTitle(p.title[index]);
      if (locale === "zh-CN") expect(await englishWords(page, [room]), p.path).toEqual([]);
    }
    await context.close();
  }
});

test("the language switch changes the page at once and sticks after a reload and across pages", async ({ browser }, testInfo) => {
  const context = await visitor(browser, "en-US");
  const page = await context.newPage();
  await page.goto("/chat/");
  await hydrated(page);
  const switcher = page.getByRole("group", { name: "Language" });
  await expect(switcher.getByRole("button", { name: "English" })).toHaveAttribute("aria-pressed", "true");
  await switcher.getByRole("button", { name: "中文" }).click();
  await expect(page.locator("h1")).toHaveText("你想进入哪个聊天室？");
  await expect(page).toHaveTitle("大厅 · 聊天");
  await expect(page.locator("html")).toHaveAttribute("lang", "zh");
  await expect(page.getByRole("link", { name: "登录" })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("lobby-zh.png") });

  await page.reload();
  await expect(page.locator("h1")).toHaveText("你想进入哪个聊天室？");
  await page.goto("/register");
  await expect(page.locator("h1")).toHaveText("创建账户");
  await hydrated(page);
  // The server's render follows the choice too (a page without scripts).
  const html = await (await context.request.get("/login")).text();
  expect(html).toContain('lang="zh"');
  expect(html).toMatch(/<h1>登录</);

  await page.getByRole("group", { name: "语言" }).getByRole("button", { name: "English" }).click();
  await expect(page.locator("h1")).toHaveText("Create an account");
  await page.reload();
  await expect(page.locator("h1")).toHaveText("Create an account");
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await context.close();
});

test("log-in refusals, posting without an account, and a dropped connection read in Chinese", async ({ browser }, testInfo) => {
  const anonymous = await (await visitor(browser, "zh-CN")).newPage();
  await anonymous.goto("/login");
  await hydrated(anonymous);
  await anonymous.getByLabel("用户名").fill(unique("nobody"));
  await anonymous.getByLabel("密码").fill("wrong password here");
  await anonymous.getByRole("button", { name: "登录" }).click();
  await expect(anonymous.locator("#form-error")).toHaveText("用户名或密码错误。");
  await anonymous.screenshot({ path: testInfo.outputPath("login-error-zh.png") });

  const room = unique("zhnotice");
  await anonymous.goto(`/chat/${room}/`);
  await hydrated(anonymous);
  await expect(roomPage(anonymous).status).toHaveText("已连接");
  await say(anonymous, "你好");
  await expect(roomPage(anonymous).notice).toHaveText("登录后才能发消息。 登录");
  await expect(roomPage(anonymous).notice.getByRole("link", { name: "登录" })).toBeVisible();

  const page = await (await personSpeaking(browser, "zh-CN")).newPage();
  const sockets = await cuttableSockets(page);
  await page.goto(`/chat/${room}/`);
  await hydrated(page);
  await expect(roomPage(page).status).toHaveText("已连接");
  await say(page, "第一条");
  await expect(messageTexts(page)).toHaveText(["第一条"]);
  await sockets[0].close({ code: 1006, reason: "cut" });
  await expect(roomPage(page).status).toHaveText("正在重新连接…");
  await expect(roomPage(page).status).toHaveText(/^已恢复连接/, { timeout: 8_000 });
  await page.screenshot({ path: testInfo.outputPath("back-online-zh.png") });
});

test.describe("on a server with a tight flood limit and an admin", () => {
  let server: ServerProcess;
  let database: string;
  test.beforeAll(async () => {
    database = freshDatabase();
    server = await ServerProcess.start(database, undefined, undefined, { FLOOD_RATE: "1", FLOOD_BURST: "2" });
  });
  test.afterAll(async () => server?.stop());

  test("slow down, the countdown and a disabled account read in Chinese; so does the admin page", async ({ browser }, testInfo) => {
    const room = unique("zhflood");
    const bob = await (await personSpeaking(browser, "zh-CN", server.origin)).newPage();
    await bob.goto(`${server.origin}/chat/${room}/`);
    await hydrated(bob);
    await expect(roomPage(bob).status).toHaveText("已连接");
    for (const text of ["一", "二", "三"]) await say(bob, text);
    await expect(roomPage(bob).notice).toContainText("发得太快了");
    await expect(roomPage(bob).sendButton).toHaveText(/^\d 秒后发送$/);
    // (That the held message then goes out is notices.spec.ts's to check.)
    await expect(roomPage(bob).sendButton).toHaveText("发送", { timeout: 8_000 });

    const name = unique("root");
    createAdmin(database, name, PASSWORD);
    const context = await visitor(browser, "zh-CN");
    const login = await context.request.post(`${server.origin}/api/login`, { data: { username: name, password: PASSWORD } });
    expect(login.status()).toBe(200);
    const admin = await context.newPage();
    await admin.goto(`${server.origin}/admin`);
    await hydrated(admin);
    await expect(admin.getByRole("heading", { name: "管理", exact: true })).toBeVisible();
    await expect(admin.getByRole("heading", { name: "审计日志" })).toBeVisible();
    const bobName = await bob.locator("#whoami").textContent();
    await admin.getByRole("button", { name: `停用 ${bobName}` }).click();
    await expect(admin.locator(`#admin-users tr[data-user="${bobName}"]`)).toContainText("已停用");
    await expect(roomPage(bob).notice).toHaveText("你的账户已被管理员停用。");
    await admin.reload();
    await expect(admin.locator("#admin-audit")).toContainText("停用了用户");
    await expect(admin.locator("#admin-audit")).toContainText("（命令行）");
    await expect(roomPage(bob).status).toHaveText("已断开");
    await admin.screenshot({ path: testInfo.outputPath("admin-zh.png"), fullPage: true });
  });
});
