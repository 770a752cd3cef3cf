// The abuse limits as a person meets them: on a server of its own with the
// product's tight settings for sign-ups and new rooms.
import { expect, test } from "@playwright/test";
import { PASSWORD, hydrated, messageTexts, say, unique } from "./helpers";
import { ServerProcess, freshDatabase } from "./processes";
import { roomPage } from "./fixtures/room_page";

let server: ServerProcess;

test.beforeAll(async () => {
  server = await ServerProcess.start(freshDatabase(), undefined, undefined, {
    REGISTRATIONS_PER_HOUR: "1",
    ROOMS_PER_HOUR: "1",
  });
});

test.afterAll(async () => {
  await server?.stop();
});

test("a second sign-up from one network is explained; a second new room too", async ({ browser }, testInfo) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const register = async (name: string) => {
    await page.goto(`${server.origin}/register`);
    await hydrated(page);
    await page.getByLabel("Username").fill(name);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Register" }).click();
  };
  const first = unique("first");
  await register(first);
  await expect(page.locator("#whoami")).toContainText(first);

  // One room is started with its first message...
  const room = unique("mine");
  await page.goto(`${server.origin}/chat/${room}/`);
  await hydrated(page);
  await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
  await say(page, "my room");
  await expect(messageTexts(page)).toHaveText(["my room"]);

  // ...a second one this hour is refused, with what to do instead.
  await page.goto(`${server.origin}/chat/${unique("another")}/`);
  await hydrated(page);
  await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
  await say(page, "and another");
  await expect(roomPage(page).notice).toContainText("started as many new rooms as you may this hour");
  // Not stored: the page keeps it, says why, and offers Retry and Discard
  // (an hour is past what the Send button counts down).
  await expect(roomPage(page).failed).toHaveCount(1);
  await expect(roomPage(page).failed).toContainText("started as many new rooms");
  await expect(roomPage(page).sendButton).toHaveText("Send");
  await page.screenshot({ path: testInfo.outputPath("room-limit.png") });

  // Another sign-up from the same address is told to wait.
  await context.clearCookies();
  await register(unique("second"));
  await expect(page.locator("#form-error")).toHaveText("Too many attempts from your network. Wait a while and try again.");
  await page.screenshot({ path: testInfo.outputPath("register-limit.png") });

  // The lobby lists the room that was started, not the refused one.
  await page.goto(`${server.origin}/chat/`);
  await hydrated(page);
  await expect(page.locator("#room-list li")).toHaveCount(1);
  await expect(page.locator(`#room-list li[data-room="${room}"]`)).toBeVisible();
});
