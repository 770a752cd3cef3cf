import { expect, test } from "@playwright/test";
import { PASSWORD, hydrated, messageTexts, openRoom, say, signedIn, unique } from "./helpers";
import { roomPage } from "./fixtures/room_page";

test("register, log in, chat; an anonymous reader sees it all and is told to log in", async ({ browser }, testInfo) => {
  const room = unique("team");
  const aliceName = unique("alice");
  const bobName = unique("bob");

  // Alice registers through the page.
  const aliceCtx = await browser.newContext();
  const alicePage = await aliceCtx.newPage();
  await alicePage.goto(`/register?next=${encodeURIComponent(`/chat/${room}/`)}`);
  await alicePage.getByLabel("Username").fill(aliceName);
  await alicePage.getByLabel("Password").fill(PASSWORD);
  await alicePage.getByRole("button", { name: "Register" }).click();
  await expect(alicePage).toHaveURL(new RegExp(`/chat/${room}/$`));
  await expect(alicePage.locator("#whoami")).toHaveText(aliceName);

  // Bob already has an account and logs in through the page.
  const bobCtx = await browser.newContext();
  expect((await bobCtx.request.post("/api/register", { data: { username: bobName, password: PASSWORD } })).status()).toBe(201);
  await bobCtx.clearCookies();
  const bobPage = await bobCtx.newPage();
  await bobPage.goto("/chat/");
  await bobPage.getByRole("link", { name: "Log in" }).click();
  await expect(bobPage).toHaveURL(/\/login\?next=/);
  await bobPage.getByLabel("Username").fill(bobName);
  await bobPage.getByLabel("Password").fill(PASSWORD);
  await bobPage.getByRole("button", { name: "Log in" }).click();
  await expect(bobPage.locator("#whoami")).toHaveText(bobName);
  await bobPage.goto(`/chat/${room}/`);
  await hydrated(bobPage);
  await expect(roomPage(alicePage).status).toHaveAttribute("data-state", "live");
  await expect(roomPage(bobPage).status).toHaveAttribute("data-state", "live");

  const guestCtx = await browser.newContext();
  const guest = await openRoom(guestCtx, room);

  await say(alicePage, "hi bob");
  await expect(messageTexts(bobPage)).toHaveText(["hi bob"]);
  await say(bobPage, "hi alice");
  await expect(messageTexts(alicePage)).toHaveText(["hi bob", "hi alice"]);
  await expect(alicePage.locator("#log .msg .author")).toHaveText([aliceName, bobName]);
  await expect(messageTexts(guest)).toHaveText(["hi bob", "hi alice"]);

  await say(guest, "can I talk?");
  await expect(roomPage(guest).notice).toContainText("Log in to post.");
  await expect(roomPage(guest).notice.getByRole("link", { name: "Log in" })).toBeVisible();
  await alicePage.waitForTimeout(300);
  await expect(messageTexts(alicePage)).toHaveCount(2);
  await guest.screenshot({ path: testInfo.outputPath("guest.png") });

  // After a reload the history is there, in order.
  await alicePage.reload();
  await hydrated(alicePage);
  await expect(messageTexts(alicePage)).toHaveText(["hi bob", "hi alice"]);
  await alicePage.screenshot({ path: testInfo.outputPath("room-signed-in.png") });

  // Logging out makes Alice a reader again.
  await alicePage.getByRole("button", { name: "Log out" }).click();
  await expect(alicePage).toHaveURL(/\/chat\/$/);
  await expect(alicePage.getByRole("link", { name: "Log in" })).toBeVisible();
});

test("a wrong password is explained on the log-in page, with the name kept", async ({ browser }, testInfo) => {
  const name = unique("carol");
  const context = await signedIn(browser, name);
  await context.clearCookies();
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator("#form-error")).toHaveText("Wrong username or password.");
  await expect(page.getByLabel("Username")).toHaveValue(name);
  await page.screenshot({ path: testInfo.outputPath("login-error.png") });

  await page.goto("/register");
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Register" }).click();
  await expect(page.locator("#form-error")).toHaveText(/^That username is taken, or looks like one that is/);
});

test("with 120 messages stored, scrolling up loads the older ones in order", async ({ browser }) => {
  const room = unique("archive");
  const writer = await openRoom(await signedIn(browser, unique("writer")), room);
  // Post 120 messages over the page's own connection rules: one socket, each echoed back.
  await writer.evaluate(async (room) => {
    const ws = new WebSocket(`ws://${location.host}/ws/chat/${encodeURIComponent(room)}/`);
    await new Promise((ok) => ws.addEventListener("open", ok, { once: true }));
    for (let i = 1; i <= 120; i++) {
      const text = `archived ${i}`;
      const echoed = new Promise<void>((ok) => {
        const listen = (e: MessageEvent) => {
          const event = JSON.parse(e.data);
          if (event.type === "chat_message" && event.message === text) {
            ws.removeEventListener("message", listen);
            ok();
          }
        };
        ws.addEventListener("message", listen);
      });
      ws.send(JSON.stringify({ message: text }));
      await echoed;
    }
    ws.close();
  }, room);

  const reader = await openRoom(await browser.newContext(), room);
  const expected = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => `archived ${from + i}`);
  await expect(messageTexts(reader)).toHaveText(expected(71, 120));
  // Newest at the bottom, in view.
  await expect(messageTexts(reader).last()).toBeInViewport();

  const log = roomPage(reader).log;
  await log.evaluate((el) => (el.scrollTop = 0));
  await expect(messageTexts(reader)).toHaveText(expected(21, 120));
  await log.evaluate((el) => (el.scrollTop = 0));
  await expect(messageTexts(reader)).toHaveText(expected(1, 120));
  await expect(reader.locator("#log .log-top")).toHaveText("This is the start of the room.");
});

test("the lobby lists active rooms with who is online, and updates without a reload", async ({ browser }, testInfo) => {
  const room = unique("popular");
  const lobbyCtx = await browser.newContext();
  const lobby = await lobbyCtx.newPage();
  await lobby.goto("/chat/");
  await hydrated(lobby);
  await expect(lobby.locator(`#room-list li[data-room="${room}"]`)).toHaveCount(0);

  const visitor = await openRoom(await signedIn(browser, unique("visitor")), room);
  const entry = lobby.locator(`#room-list li[data-room="${room}"]`);
  await expect(entry).toContainText("1 online");
  await say(visitor, "anyone?");
  // The message re-sorts the live list (within the lobby's 250 ms gather):
  // let that land first, or the click can hit whichever room moved under it.
  await expect(messageTexts(visitor)).toHaveText(["anyone?"]);
  await lobby.waitForTimeout(750);
  await lobby.screenshot({ path: testInfo.outputPath("lobby-rooms.png") });

  // The entry is a link into the room.
  await entry.getByRole("link", { name: room }).click();
  await expect(lobby).toHaveURL(new RegExp(`/chat/${room}/$`));
  await expect(messageTexts(lobby)).toHaveText(["anyone?"]);
});
