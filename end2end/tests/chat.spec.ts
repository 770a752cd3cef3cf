import { expect, test } from "@playwright/test";
import { cuttableSockets, hydrated, messageTexts, personInRoom, say, signedIn, unique, uniqueRoom } from "./helpers";
import { roomPage } from "./fixtures/room_page";

// @release: also run against the release build (scripts/release_check.sh).
test("two people in a room chat both ways; another room sees none of it", { tag: "@release" }, async ({ browser }, testInfo) => {
  const room = uniqueRoom("lobby");
  const aliceName = unique("alice");
  const alice = await personInRoom(browser, room, aliceName);
  const bob = await personInRoom(browser, room);
  const carol = await personInRoom(browser, uniqueRoom("elsewhere"));

  await expect(roomPage(alice).status).toContainText("Live");

  await say(alice, "hello from alice");
  await expect(messageTexts(bob)).toHaveText(["hello from alice"]);
  await expect(messageTexts(alice)).toHaveText(["hello from alice"]);
  // Enter sent it and cleared the box, which keeps the focus.
  await expect(roomPage(alice).input).toHaveValue("");
  await expect(roomPage(alice).input).toBeFocused();

  // Bob answers with the Send button instead of Enter.
  await roomPage(bob).input.fill("hi alice, bob here");
  await bob.getByRole("button", { name: "Send", exact: true }).click();
  await expect(messageTexts(alice)).toHaveText(["hello from alice", "hi alice, bob here"]);
  await expect(messageTexts(bob)).toHaveText(["hello from alice", "hi alice, bob here"]);
  await expect(alice.locator("#log .msg .author").first()).toHaveText(aliceName);
  // Own messages look different from others'.
  await expect(roomPage(alice).messages.first()).toHaveClass(/own/);
  await expect(roomPage(bob).messages.first()).not.toHaveClass(/own/);

  // Carol, in another room, got nothing; her own message stays in her room.
  await say(carol, "anyone here?");
  await expect(messageTexts(carol)).toHaveText(["anyone here?"]);
  await bob.waitForTimeout(300);
  await expect(messageTexts(alice)).toHaveCount(2);
  await expect(messageTexts(bob)).toHaveCount(2);

  await alice.screenshot({ path: testInfo.outputPath("room.png"), fullPage: true });
});

test("a blank message is refused in the page, not sent", async ({ browser }) => {
  const page = await personInRoom(browser, uniqueRoom("blank"));
  await say(page, "   ");
  await expect(roomPage(page).notice).toContainText("Type something");
  await expect(messageTexts(page)).toHaveCount(0);
});

test("the lobby: a room name and Enter land in the room, input focused and live", { tag: "@release" }, async ({ page }, testInfo) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/chat\/$/);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "What chat room would you like to enter?" })).toBeVisible();
  await expect(page.locator("#room-name")).toBeFocused();
  await page.screenshot({ path: testInfo.outputPath("lobby.png") });

  const room = uniqueRoom("picked");
  await page.keyboard.type(room);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/chat/${room}/$`));
  await expect(page.getByRole("heading", { name: room })).toBeVisible();
  await expect(roomPage(page).input).toBeFocused();
  await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
});

test("the lobby: a Unicode room name is percent-encoded in the URL", async ({ page }) => {
  await page.goto("/chat/");
  await hydrated(page);
  await page.locator("#room-name").fill("聊天室");
  await page.getByRole("button", { name: "Enter" }).click();
  await expect(page).toHaveURL(/\/chat\/%E8%81%8A%E5%A4%A9%E5%AE%A4\/$/);
  await expect(page.getByRole("heading", { name: "聊天室" })).toBeVisible();
  await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
});

test("the lobby: an invalid name is explained inline instead of navigating", async ({ page }, testInfo) => {
  await page.goto("/chat/");
  await hydrated(page);
  await page.locator("#room-name").fill("two words");
  await page.locator("#room-name").press("Enter");
  await expect(page.locator("#room-error")).toContainText("cannot contain spaces");
  await expect(page.locator("#room-name")).toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(/\/chat\/$/);
  await page.screenshot({ path: testInfo.outputPath("lobby-error.png") });
});

test("on a phone in dark mode the room fits: log, box and button on screen", async ({ browser }, testInfo) => {
  const context = await browser.newContext({
    viewport: { width: 375, height: 667 },
    colorScheme: "dark",
    isMobile: true,
  });
  const registered = await context.request.post("/api/register", {
    data: { username: unique("phone"), password: "correct horse battery" },
  });
  expect(registered.status()).toBe(201);
  const page = await context.newPage();
  await page.goto(`/chat/${uniqueRoom("phone")}/`);
  await hydrated(page);
  await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
  for (let i = 1; i <= 12; i++) await say(page, `message number ${i} with enough words to wrap on a narrow screen`);
  await expect(messageTexts(page)).toHaveCount(12);
  // Kept scrolled to the newest message, and the composer is on screen.
  await expect(messageTexts(page).last()).toBeInViewport();
  await expect(roomPage(page).input).toBeInViewport();
  await expect(page.getByRole("button", { name: "Send", exact: true })).toBeInViewport();
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg).toBe("rgb(20, 22, 27)");
  await page.screenshot({ path: testInfo.outputPath("room-phone-dark.png") });
  await context.close();
});

test("when the socket drops the page says so, reconnects by itself and chats again", async ({ browser }) => {
  const room = uniqueRoom("flaky");
  const context = await signedIn(browser, unique("flaky"));
  const page = await context.newPage();
  const sockets = await cuttableSockets(page);
  await page.goto(`/chat/${room}/`);
  await hydrated(page);
  await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
  const other = await personInRoom(browser, room);

  await sockets[0].close({ code: 1006, reason: "cut" });
  await expect(roomPage(page).status).toHaveAttribute("data-state", "reconnecting");
  await expect(roomPage(page).status).toContainText("Reconnecting");
  // Back within the backoff (1 s, at most 5 s), on a new socket.
  await expect(roomPage(page).status).toHaveAttribute("data-state", "live", { timeout: 8_000 });
  expect(sockets.length).toBe(2);

  await say(other, "are you back?");
  await expect(messageTexts(page)).toHaveText(["are you back?"]);
  await say(page, "yes");
  await expect(messageTexts(other)).toHaveText(["are you back?", "yes"]);
  await context.close();
});

test("a room's page comes with its newest messages: readable without the app, then live with each once", { tag: "@release" }, async ({ browser }) => {
  const room = uniqueRoom("first-paint");
  const alice = await personInRoom(browser, room);
  const said = ["one <b>bold</b> claim", "two", "three"];
  for (const text of said) await say(alice, text);
  await expect(messageTexts(alice)).toHaveText(said);
  await expect(roomPage(alice).pending).toHaveCount(0); // stored, not just shown

  // Without JavaScript, a visitor reads them: the server put them in the page.
  const plain = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await plain.goto(`/chat/${room}/`);
  await expect(plain.locator("#log .msg .text")).toHaveText(said);
  await expect(plain.locator("#log .msg time").first()).toHaveText(/^\d\d:\d\d$/);

  // With it, the page takes them over: each once, and what comes next follows.
  await alice.reload();
  await hydrated(alice);
  await expect(roomPage(alice).status).toHaveAttribute("data-state", "live");
  await expect(messageTexts(alice)).toHaveText(said);
  // Her own recent message, rendered by the server, gets its toolbar once live.
  const three = alice.locator("#log .msg", { hasText: "three" });
  await three.hover();
  await expect(three.getByRole("button", { name: "Edit" })).toHaveCount(1);
  const bob = await personInRoom(browser, room);
  await say(bob, "four");
  await expect(messageTexts(alice)).toHaveText([...said, "four"]);
  await expect(messageTexts(bob)).toHaveText([...said, "four"]);
});

test("before the app runs, a room's page shows its newest messages at the bottom, as the live log does", async ({ browser }) => {
  const room = uniqueRoom("anchored");
  const alice = await personInRoom(browser, room);
  const said = Array.from({ length: 25 }, (_, i) => `line ${i + 1} of a long room`);
  for (const text of said) await say(alice, text);
  await expect(messageTexts(alice)).toHaveText(said);
  await expect(roomPage(alice).pending).toHaveCount(0);

  // The app never arrives: what the server rendered is all there is.
  const context = await browser.newContext({ viewport: { width: 390, height: 700 } });
  const page = await context.newPage();
  await page.route(/\.wasm$/, (route) => route.abort());
  await page.goto(`/chat/${room}/`);
  await expect(page.locator("#log .msg .text").last()).toHaveText("line 25 of a long room");
  await expect(page.locator("#log .msg").last()).toBeInViewport();
  await expect(page.locator("#log .msg").first()).not.toBeInViewport();
  await expect(page.locator('#app[data-hydrated="false"]')).toBeVisible();
  await context.close();
});
