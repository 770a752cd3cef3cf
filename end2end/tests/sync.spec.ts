// Exact sync (issue 36): what a person types reaches the room exactly once,
// whatever the network does, and is shown to them exactly once.
import { expect, test, type BrowserContext, type Page } from "@playwright/test";
import { FlakyProxy } from "./flaky_proxy";
import { PASSWORD, hydrated, messageTexts, openRoom, say, signedIn, unique } from "./helpers";
import { roomPage } from "./fixtures/room_page";

/** How many records the page's durable outbox holds. */
async function keptInOutbox(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const open = indexedDB.open("chat");
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains("outbox")) return resolve(0);
          const count = db.transaction("outbox").objectStore("outbox").count();
          count.onsuccess = () => resolve(count.result);
          count.onerror = () => resolve(-1);
        };
        open.onerror = () => resolve(-1);
      }),
  );
}

/**
 * Resolves when a page of `context` hears that the person's read marker in
 * `room` reached `seq` (the server sends it once the marker is stored).
 * Leaving the room before that leaves it unread, as it should.
 */
function markerHeard(context: BrowserContext, room: string, seq: number): Promise<void> {
  return new Promise((resolve) => {
    context.on("page", (page) =>
      page.on("websocket", (ws) =>
        ws.on("framereceived", ({ payload }) => {
          const event = JSON.parse(String(payload));
          if (event.type === "read" && event.room === room && event.seq >= seq) resolve();
        }),
      ),
    );
  });
}

test("typing through a network that drops again and again: every message stored once and shown once", async ({
  browser,
  baseURL,
}, testInfo) => {
  test.setTimeout(120_000);
  // 75 ms each way: a 150 ms round trip, so frames are in flight when a cut comes.
  const proxy = await FlakyProxy.start(baseURL!, 75);
  try {
    const room = unique("train");
    const context = await browser.newContext({ baseURL: proxy.origin });
    const name = unique("rider");
    expect((await context.request.post("/api/register", { data: { username: name, password: PASSWORD } })).status()).toBe(201);
    const page = await context.newPage();
    await page.goto(`/chat/${room}/`);
    await hydrated(page);
    await roomPage(page).isLive();
    const watcher = await openRoom(await signedIn(browser, unique("watcher")), room);

    const typed = Array.from({ length: 30 }, (_, i) => `on the train ${i + 1}`);
    proxy.flap(150, 1_200);
    for (const text of typed) {
      await say(page, text);
      await page.waitForTimeout(120 + Math.random() * 250);
    }
    proxy.steady();
    // A reconnect waits at least a second, so a cut finds no socket some of the time.
    expect(proxy.cuts, "the network did drop").toBeGreaterThanOrEqual(3);

    // The room has each exactly once, in the order typed...
    await expect(messageTexts(watcher)).toHaveText(typed, { timeout: 45_000 });
    // ...and so has the sender's page, with nothing left "Sending…".
    await expect(messageTexts(page)).toHaveText(typed, { timeout: 20_000 });
    await expect(roomPage(page).pending).toHaveCount(0);
    await page.screenshot({ path: testInfo.outputPath("after-the-train.png") });
    await expect.poll(() => keptInOutbox(page)).toBe(0);
    // What is stored, read afresh.
    await watcher.reload();
    await hydrated(watcher);
    await expect(messageTexts(watcher)).toHaveText(typed);
  } finally {
    await proxy.stop();
  }
});

test("a message typed offline is kept when the tab closes and sent when the room is opened again", async ({
  browser,
}, testInfo) => {
  const room = unique("later");
  const context = await signedIn(browser, unique("writer"));
  const watcher = await openRoom(await signedIn(browser, unique("reader")), room);
  const offline = await context.newPage();
  // No socket ever reaches the server from this tab.
  await offline.routeWebSocket(/\/ws\/chat\//, (ws) => ws.close({ code: 1006, reason: "offline" }));
  await offline.goto(`/chat/${room}/`);
  await hydrated(offline);
  await say(offline, "written in a tunnel");
  await expect(roomPage(offline).pending).toHaveText(/written in a tunnel/);
  await expect(roomPage(offline).pending.locator(".sending")).toBeVisible();
  await offline.screenshot({ path: testInfo.outputPath("sending.png") });
  await expect.poll(() => keptInOutbox(offline)).toBe(1);
  await offline.close();
  await expect(messageTexts(watcher)).toHaveText([]);

  const again = await openRoom(context, room);
  await expect(messageTexts(watcher)).toHaveText(["written in a tunnel"]);
  await expect(messageTexts(again)).toHaveText(["written in a tunnel"]);
  await expect(roomPage(again).pending).toHaveCount(0);
  await expect.poll(() => keptInOutbox(again)).toBe(0);
  await again.reload();
  await hydrated(again);
  await expect(messageTexts(again)).toHaveText(["written in a tunnel"]);
});

test("a refused message is marked, can be retried, and discarded (中文 too)", async ({ browser }, testInfo) => {
  // The first message to a new room whose name looks like a room started
  // meanwhile is refused: the page keeps it, says why, and offers Retry.
  const base = unique("room");
  // The same name with a Cyrillic "о" for the "o".
  const twin = base.replace("o", "\u043e");
  const writer = await browser.newContext({ locale: "zh-CN" });
  const registered = await writer.request.post("/api/register", { data: { username: unique("late"), password: PASSWORD } });
  expect(registered.status()).toBe(201);
  const page = await openRoom(writer, twin);
  const first = await openRoom(await signedIn(browser, unique("early")), base);
  await say(first, "this room is mine");
  await expect(messageTexts(first)).toHaveText(["this room is mine"]);

  await say(page, "too late");
  await expect(roomPage(page).failed).toHaveCount(1);
  await expect(roomPage(page).failed).toContainText("未发送");
  await expect(roomPage(page).failed.locator(".sending")).toHaveCount(0);
  await page.screenshot({ path: testInfo.outputPath("not-sent-zh.png") });
  await roomPage(page).failed.getByRole("button", { name: "重试" }).click();
  await expect(roomPage(page).failed).toHaveCount(1);
  await roomPage(page).failed.getByRole("button", { name: "丢弃" }).click();
  await expect(roomPage(page).pending).toHaveCount(0);
  await expect.poll(() => keptInOutbox(page)).toBe(0);
  await expect(messageTexts(first)).toHaveText(["this room is mine"]);
});

test("two devices of one person agree on what is unread within a second", async ({ browser }, testInfo) => {
  const room = unique("shared");
  const name = unique("two");
  const laptop = await signedIn(browser, name);
  const phone = await browser.newContext();
  expect((await phone.request.post("/api/login", { data: { username: name, password: PASSWORD } })).status()).toBe(200);
  const bob = await openRoom(await signedIn(browser, unique("bob")), room);
  for (const text of ["one", "two"]) await say(bob, text);
  await expect(messageTexts(bob)).toHaveText(["one", "two"]);

  // The laptop reads both (its marker stored: the server says so back),
  // then goes back to the lobby.
  const marked = markerHeard(laptop, room, 2);
  const onLaptop = await openRoom(laptop, room);
  await expect(messageTexts(onLaptop)).toHaveText(["one", "two"]);
  await marked;
  await onLaptop.goto("/chat/");
  await hydrated(onLaptop);
  const onPhone = await phone.newPage();
  await onPhone.goto("/chat/");
  await hydrated(onPhone);
  const badge = (page: Page) => page.locator(`#room-list li[data-room="${room}"] .unread`);
  await expect(onPhone.locator(`#room-list li[data-room="${room}"]`)).toBeVisible();
  await expect(badge(onPhone)).toHaveCount(0);

  for (const text of ["three", "four", `five, @${name}`]) await say(bob, text);
  await expect(badge(onPhone)).toHaveText("3", { timeout: 1_500 });
  await expect(badge(onLaptop)).toHaveText("3", { timeout: 1_500 });
  // One of them names the person: both lobbies say so.
  const mentioned = (page: Page) => page.locator(`#room-list li[data-room="${room}"] .mention-count`);
  await expect(mentioned(onPhone)).toHaveText("@1");
  await expect(mentioned(onLaptop)).toHaveText("@1");
  await expect(badge(onPhone)).toHaveAttribute("aria-label", "3 unread");
  await onPhone.screenshot({ path: testInfo.outputPath("lobby-unread.png") });

  // The phone opens the room: the line marks where the person left off,
  // and the laptop's count goes within a second.
  await onPhone.goto(`/chat/${room}/`);
  await hydrated(onPhone);
  await expect(onPhone.locator(".new-divider")).toBeVisible();
  await expect(onPhone.locator('.msg[data-seq="3"] .new-divider')).toHaveCount(1);
  await expect(badge(onLaptop)).toHaveCount(0, { timeout: 1_500 });
  await expect(mentioned(onLaptop)).toHaveCount(0);
  await expect(onPhone).toHaveTitle(new RegExp(`^${room}`));
});

test("a direct message to someone away waits for them, with its unread badge, and the conversation is kept", async ({
  browser,
}, testInfo) => {
  const room = unique("hall");
  const bobName = unique("bob");
  const bobContext = await signedIn(browser, bobName);
  const alice = await openRoom(await signedIn(browser, unique("alice")), room);
  // Bob is not online anywhere: a private message waits for him.
  await say(alice, `/pm ${bobName} are you there?`);
  await expect(roomPage(alice).messages.filter({ hasText: "are you there?" })).toHaveAttribute("data-pm", "to");
  await alice.goto(`/chat/dm/${bobName}/`);
  await hydrated(alice);
  await roomPage(alice).isLive();
  await expect(alice.locator("h1.room-title")).toContainText(bobName);
  await expect(messageTexts(alice)).toHaveText(["are you there?"]);
  await say(alice, "call me when you are back");
  await expect(messageTexts(alice)).toHaveText(["are you there?", "call me when you are back"]);

  const bob = await bobContext.newPage();
  await bob.goto("/chat/");
  await hydrated(bob);
  const entry = bob.locator("#direct-list li", { hasText: "alice" });
  await expect(entry.locator(".unread")).toHaveText("2");
  await bob.screenshot({ path: testInfo.outputPath("lobby-direct.png") });
  await entry.getByRole("link").click();
  await expect(bob).toHaveURL(/\/chat\/dm\//);
  await hydrated(bob);
  await roomPage(bob).isLive();
  await expect(messageTexts(bob)).toHaveText(["are you there?", "call me when you are back"]);
  await expect(bob.locator('.msg[data-seq="1"] .new-divider')).toHaveCount(1);
  // Alice sees that Bob has read her messages: "Seen" under her last one.
  await expect(alice.locator("#log .msg .seen")).toHaveCount(1);
  await expect(alice.locator("#log .msg", { hasText: "call me when you are back" }).locator(".seen")).toHaveText("Seen");
  // Bob may keep that to himself.
  await expect(bob.locator("#receipts")).toHaveAttribute("aria-pressed", "true");
  await bob.locator("#receipts").click();
  await expect(bob.locator("#receipts")).toHaveText("Read receipts: off");
  await say(bob, "back now");
  // Alice's open conversation shows the answer once, live.
  await expect(messageTexts(alice)).toHaveText(["are you there?", "call me when you are back", "back now"]);
  await bob.screenshot({ path: testInfo.outputPath("direct.png") });
  await bob.goto("/chat/");
  await hydrated(bob);
  await expect(bob.locator("#direct-list li", { hasText: "alice" }).locator(".unread")).toHaveCount(0);
});

test("“Message” beside someone online opens the conversation with them", async ({ browser }) => {
  const room = unique("meet");
  const bobName = unique("bob");
  await openRoom(await signedIn(browser, bobName), room);
  const alice = await openRoom(await signedIn(browser, unique("alice")), room);
  await roomPage(alice).people.filter({ hasText: bobName }).getByRole("link", { name: `Message ${bobName}` }).click();
  await expect(alice).toHaveURL(new RegExp(`/chat/dm/${bobName}/$`));
  await hydrated(alice);
  await roomPage(alice).isLive();
  await expect(alice).toHaveTitle(new RegExp(bobName));
});

test("the sidebar lists the person's rooms and conversations with live unread counts; Alt+↓ moves on", async ({
  browser,
}, testInfo) => {
  const [first, second] = [unique("alpha"), unique("beta")];
  const name = unique("reader");
  const context = await signedIn(browser, name);
  const other = await signedIn(browser, unique("writer"));
  const writer = await openRoom(other, first);
  await say(writer, "the first in alpha");
  await writer.goto(`/chat/${second}/`);
  await hydrated(writer);
  await roomPage(writer).isLive();
  await say(writer, "the first in beta");
  await expect(messageTexts(writer)).toHaveText(["the first in beta"]);
  // The reader has read both rooms once.
  const marked = markerHeard(context, second, 1);
  const page = await openRoom(context, second);
  await expect(messageTexts(page)).toHaveText(["the first in beta"]);
  await marked;
  await page.goto(`/chat/${first}/`);
  await hydrated(page);
  await roomPage(page).isLive();
  await expect(messageTexts(page)).toHaveText(["the first in alpha"]);
  const sidebar = page.locator("#sidebar");
  await expect(sidebar.locator('[aria-current="page"]')).toHaveText(first);
  const beta = sidebar.locator("a.place", { hasText: second });
  await expect(beta).toBeVisible();
  await expect(beta.locator(".unread")).toHaveCount(0);
  await expect(beta.locator(".mention-count")).toHaveCount(0);

  // Someone writes in the other room: its count rises here, live, and
  // the message naming the reader shows as a mention.
  await say(writer, "news in beta");
  await say(writer, `more news for @${name}`);
  await expect(beta.locator(".unread")).toHaveText("2", { timeout: 1_500 });
  await expect(beta.locator(".mention-count")).toHaveText("@1", { timeout: 1_500 });
  await expect(beta.locator(".mention-count")).toHaveAttribute("aria-label", "1 mentioning you");
  await page.screenshot({ path: testInfo.outputPath("sidebar.png") });

  // Alt+↓ from anywhere: the next place, read, its count gone.
  await roomPage(page).input.press("Alt+ArrowDown");
  await expect(page).toHaveURL(new RegExp(`/chat/${second}/$`));
  await roomPage(page).isLive();
  await expect(messageTexts(page)).toHaveText(["the first in beta", "news in beta", `more news for @${name}`]);
  await expect(sidebar.locator('[aria-current="page"]')).toHaveText(second);
  await expect(sidebar.locator("a.place", { hasText: first })).toBeVisible();
  await roomPage(page).input.press("Alt+ArrowUp");
  await expect(page).toHaveURL(new RegExp(`/chat/${first}/$`));
  await expect(sidebar.locator("a.place", { hasText: second }).locator(".unread")).toHaveCount(0);
  await expect(sidebar.locator("a.place", { hasText: second }).locator(".mention-count")).toHaveCount(0);
});

test("on a phone the sidebar is a drawer behind ☰, in Chinese too", async ({ browser }, testInfo) => {
  const room = unique("phone");
  const context = await browser.newContext({ viewport: { width: 390, height: 760 }, locale: "zh-CN", colorScheme: "dark" });
  const registered = await context.request.post("/api/register", { data: { username: unique("zh"), password: PASSWORD } });
  expect(registered.status()).toBe(201);
  const page = await openRoom(context, room);
  const sidebar = page.locator("#sidebar");
  await expect(sidebar).toBeHidden();
  const toggle = page.locator("#sidebar-toggle");
  await expect(toggle).toHaveAttribute("aria-expanded", "false");
  await toggle.click();
  await expect(sidebar).toBeVisible();
  await expect(sidebar.getByRole("heading", { name: "你的聊天室" })).toBeVisible();
  await expect(sidebar.locator('[aria-current="page"]')).toHaveText(room);
  await expect(sidebar.locator('[aria-current="page"]')).toBeFocused();
  await page.waitForTimeout(300); // the drawer's slide
  await page.screenshot({ path: testInfo.outputPath("drawer-zh-dark.png") });
  await page.keyboard.press("Escape");
  await expect(sidebar).toBeHidden();
});

/** Makes the page look hidden (or shown again) to its own code, as a tab in the background does. */
async function setHidden(page: Page, hidden: boolean) {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
    Object.defineProperty(document, "visibilityState", {
      configurable: true,
      get: () => (hidden ? "hidden" : "visible"),
    });
    document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
  }, hidden);
}

test("a room tab in the background lets go of its sidebar's live list, and follows again when shown", async ({
  browser,
}) => {
  // Browsers allow six HTTP/1.1 connections per host and the sidebar's
  // live list holds one: kept by every background tab, a seventh tab
  // would stall. Hidden, a tab gives it back; shown, it follows again.
  const reader = await signedIn(browser, unique("reader"));
  const writer = await openRoom(await signedIn(browser, unique("writer")), unique("other"));
  const other = new URL(writer.url()).pathname.split("/")[2];
  await say(writer, "first");
  const marked = markerHeard(reader, other, 1);
  const read = await openRoom(reader, other);
  await expect(messageTexts(read)).toHaveText(["first"]);
  await marked;
  await read.close();

  const page = await openRoom(reader, unique("tabs"));
  const feed = (r: { url(): string }) => r.url().includes("/api/rooms/live");
  const ended = new Promise<void>((resolve) => {
    page.on("requestfailed", (r) => feed(r) && resolve());
    page.on("requestfinished", (r) => feed(r) && resolve());
  });
  const place = page.locator("#sidebar a.place", { hasText: other });
  await expect(place).toBeVisible();
  await setHidden(page, true);
  await ended;
  const reopened = page.waitForRequest(feed);
  await setHidden(page, false);
  await reopened;
  // Following again: a post in the other room counts here, live.
  await say(writer, "second");
  await expect(place.locator(".unread")).toHaveText("1");
});
