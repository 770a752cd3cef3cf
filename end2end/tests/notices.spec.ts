// The chat people keep open: a lobby that follows the rooms live without
// polling, a tab title that counts what came while away with a "New
// messages" divider, desktop notifications for PMs and mentions, an unread
// PM badge in every room open, @-mentions by keyboard, clickable links,
// and a rate limit that counts down and sends by itself.
import { expect, test, type Page } from "@playwright/test";
import { PASSWORD, hydrated, messageTexts, openRoom, say, signedIn, unique } from "./helpers";
import { ServerProcess, freshDatabase } from "./processes";
import { roomPage } from "./fixtures/room_page";

/** Makes the page believe it is hidden (another tab) or shown again. */
async function setHidden(page: Page, hidden: boolean) {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, "hidden", { value: hidden, configurable: true });
    Object.defineProperty(document, "visibilityState", { value: hidden ? "hidden" : "visible", configurable: true });
    // As the browser fires it: at the document, bubbling to the window.
    document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
  }, hidden);
}

test("the lobby follows a room live within a second, without polling", async ({ browser }, testInfo) => {
  const room = unique("live");
  const lobby = await (await browser.newContext()).newPage();
  const requests: string[] = [];
  lobby.on("request", (r) => requests.push(r.url()));
  await lobby.goto("/chat/");
  await hydrated(lobby);
  // The feed opens once, after hydration.
  await expect.poll(() => requests.filter((u) => u.includes("/api/rooms/live")).length).toBeGreaterThan(0);
  const entry = lobby.locator(`#room-list li[data-room="${room}"]`);
  await expect(entry).toHaveCount(0);

  const alice = await openRoom(await signedIn(browser, unique("alice")), room);
  await expect(entry).toContainText("1 online", { timeout: 1_000 });
  const guest = await openRoom(await browser.newContext(), room);
  await expect(entry).toContainText("1 online · 1 reading", { timeout: 1_000 });
  await lobby.screenshot({ path: testInfo.outputPath("lobby-live.png") });
  await guest.close();
  await expect(entry).toHaveText(/1 online$/, { timeout: 1_000 });
  await alice.close();
  // Nobody in it and nothing said: it leaves the list.
  await expect(entry).toHaveCount(0, { timeout: 1_000 });

  // Six seconds more: no request at all (the old list polled every 3 s).
  const before = requests.length;
  await lobby.waitForTimeout(6_000);
  expect(requests.slice(before)).toEqual([]);
  expect(requests.filter((u) => u.includes("/api/rooms/live"))).toHaveLength(1);
});

test("a hidden tab counts new messages in its title and marks where they start", async ({ browser }, testInfo) => {
  const room = unique("away");
  const alice = await openRoom(await signedIn(browser, unique("alice")), room);
  const bob = await openRoom(await signedIn(browser, unique("bob")), room);
  await say(alice, "before you left");
  await expect(messageTexts(bob)).toHaveText(["before you left"]);
  await expect(bob).toHaveTitle(`${room} · Chat`);

  await setHidden(bob, true);
  for (const text of ["one", "two", "three"]) await say(alice, text);
  await expect(bob).toHaveTitle(`(3) ${room} · Chat`);
  await expect(alice).toHaveTitle(`${room} · Chat`);

  await setHidden(bob, false);
  await expect(bob).toHaveTitle(`${room} · Chat`);
  const divider = bob.locator("#log .new-divider");
  await expect(divider).toHaveCount(1);
  await expect(bob.locator("#log .msg", { has: bob.locator(".new-divider") }).locator(".text")).toHaveText("one");
  await bob.screenshot({ path: testInfo.outputPath("new-messages.png") });

  // Away again: a new count, and the divider moves to what is new now.
  await setHidden(bob, true);
  await say(alice, "four");
  await expect(bob).toHaveTitle(`(1) ${room} · Chat`);
  await expect(bob.locator("#log .msg", { has: bob.locator(".new-divider") }).locator(".text")).toHaveText("four");
});

test("a PM and a mention raise desktop notifications once asked for, and a PM badge in every room", async ({ browser }, testInfo) => {
  const room = unique("ping");
  const other = unique("elsewhere");
  const aliceName = unique("alice");
  const bobName = unique("bob");
  const alice = await openRoom(await signedIn(browser, aliceName), room);
  const bobContext = await signedIn(browser, bobName);
  await bobContext.grantPermissions(["notifications"]);
  // Record every notification the page makes (the real one is still made).
  await bobContext.addInitScript(() => {
    const Real = window.Notification;
    const seen: { title: string; body?: string }[] = [];
    (window as any).__notifications = seen;
    (window as any).Notification = class extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options);
        seen.push({ title, body: options?.body });
      }
    };
  });
  const bob = await openRoom(bobContext, room);
  const bobElsewhere = await openRoom(bobContext, other);
  const notifications = () => bob.evaluate(() => (window as any).__notifications);

  // Never asked on load; one click turns them on.
  const notify = bob.getByRole("button", { name: "Notify me" });
  await expect(notify).toBeVisible();
  await expect(notify).toHaveAttribute("aria-pressed", "false");
  await notify.click();
  await expect(bob.locator("#notify")).toHaveText("Notifications on");
  await expect(bob.locator("#notify")).toHaveAttribute("aria-pressed", "true");

  await setHidden(bob, true);
  await setHidden(bobElsewhere, true);
  await say(alice, `/pm ${bobName} psst, over here`);
  await expect.poll(notifications).toContainEqual({ title: `PM from ${aliceName}`, body: "psst, over here" });
  // The badge shows in both of bob's rooms.
  for (const page of [bob, bobElsewhere]) {
    await expect(roomPage(page).pmBadge).toBeVisible();
    await expect(page.locator("#pm-badge .n")).toHaveText("1");
  }

  await say(alice, `look @${bobName}, this is for you`);
  await expect.poll(notifications).toContainEqual({
    title: `${aliceName} mentioned you in ${room}`,
    body: `look @${bobName}, this is for you`,
  });
  // A message that mentions nobody notifies nobody.
  await say(alice, "just chatting");
  await expect(messageTexts(bob).last()).toHaveText("just chatting");
  expect(await notifications()).toHaveLength(2);

  await setHidden(bob, false);
  await expect(bob.locator("#log .msg.mentions-me .mention.me")).toHaveText(`@${bobName}`);
  await bob.screenshot({ path: testInfo.outputPath("mentioned.png") });
  await roomPage(bob).pmBadge.click();
  await expect(roomPage(bob).pmBadge).toBeHidden();
});

test("@ offers the people in the room by keyboard, and links are clickable", async ({ browser }, testInfo) => {
  const room = unique("mention");
  const aliceName = unique("alice");
  const bobName = unique("bob");
  const carolName = unique("bocarol");
  const alice = await openRoom(await signedIn(browser, aliceName), room);
  const bob = await openRoom(await signedIn(browser, bobName), room);
  await openRoom(await signedIn(browser, carolName), room);
  await expect(roomPage(alice).people).toHaveCount(3);

  const input = roomPage(alice).input;
  await input.click();
  await input.pressSequentially("thanks @bo");
  const list = roomPage(alice).mentions;
  await expect(list).toBeVisible();
  await expect(list.getByRole("option")).toHaveText([`@${bobName}`, `@${carolName}`]);
  await expect(list.getByRole("option").first()).toHaveAttribute("aria-selected", "true");
  await alice.screenshot({ path: testInfo.outputPath("mention-list.png") });
  await input.press("ArrowDown");
  await expect(list.getByRole("option").nth(1)).toHaveAttribute("aria-selected", "true");
  await input.press("ArrowUp");
  await input.press("Tab");
  await expect(list).toBeHidden();
  await expect(input).toHaveValue(`thanks @${bobName} `);
  await expect(input).toBeFocused();
  await input.pressSequentially("see https://example.com/docs?a=1");
  await input.press("Enter");

  const line = roomPage(bob).messages.last();
  await expect(line.locator(".mention.me")).toHaveText(`@${bobName}`);
  await expect(line).toHaveClass(/mentions-me/);
  const link = line.locator("a");
  await expect(link).toHaveAttribute("href", "https://example.com/docs?a=1");
  await expect(link).toHaveAttribute("rel", "noopener noreferrer nofollow");
  await expect(link).toHaveAttribute("target", "_blank");
  // Markup typed by someone stays text.
  await say(alice, "<b>bold</b> <a href=x>y</a>");
  await expect(roomPage(bob).messages.last().locator(".text")).toHaveText("<b>bold</b> <a href=x>y</a>");
  await expect(roomPage(bob).messages.last().locator(".text b, .text a")).toHaveCount(0);

  // Enter also completes; Esc closes the list without changing the text.
  await input.pressSequentially("@" + carolName.slice(0, 4));
  await input.press("ArrowDown");
  await input.press("Enter");
  await expect(input).toHaveValue(`@${carolName} `);
  await input.pressSequentially("@zz-nobody");
  await expect(list).toBeHidden();
  await input.fill("");
  await input.pressSequentially("@bo");
  await expect(list).toBeVisible();
  await input.press("Escape");
  await expect(list).toBeHidden();
  await expect(input).toHaveValue("@bo");
});

test.describe("with a tight flood limit", () => {
  let server: ServerProcess;
  test.beforeAll(async () => {
    server = await ServerProcess.start(freshDatabase(), undefined, undefined, {
      // Two at once, then one every 2 s: the third of three quick sends
      // is held even when a loaded machine types slowly.
      FLOOD_RATE: "0.5",
      FLOOD_BURST: "2",
    });
  });
  test.afterAll(async () => {
    await server?.stop();
  });

  test("a rate-limited message waits in the log, counts down and goes out by itself", async ({ browser }, testInfo) => {
    const context = await browser.newContext();
    const name = unique("fast");
    const response = await context.request.post(`${server.origin}/api/register`, {
      data: { username: name, password: PASSWORD },
    });
    expect(response.status()).toBe(201);
    const page = await context.newPage();
    await page.goto(`${server.origin}/chat/${unique("flood")}/`);
    await hydrated(page);
    await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
    for (const text of ["one", "two", "three"]) await say(page, text);
    await expect(roomPage(page).sendButton).toHaveText(/Sending in \d s/);
    // The third waits in the log, "Sending…", and the box is free again.
    await expect(roomPage(page).pending).toHaveText(/three/);
    await expect(roomPage(page).input).toHaveValue("");
    await expect(roomPage(page).notice).toContainText("slow", { ignoreCase: true });
    await page.screenshot({ path: testInfo.outputPath("countdown.png") });
    await expect(messageTexts(page)).toHaveText(["one", "two", "three"]);
    // Typed while waiting: it queues behind, and nothing goes twice.
    await say(page, "four");
    await expect(roomPage(page).pending).toHaveCount(2);
    await expect(roomPage(page).pending.nth(1)).toContainText("four");
    await expect(roomPage(page).sendButton).toHaveText("Send", { timeout: 8_000 });
    await expect(roomPage(page).pending).toHaveCount(0, { timeout: 8_000 });
    await expect(messageTexts(page)).toHaveText(["one", "two", "three", "four"]);
    await page.reload();
    await hydrated(page);
    await expect(messageTexts(page)).toHaveText(["one", "two", "three", "four"]);
  });
});
