// The README's screenshots, taken from the real app: the lobby, a room with
// three people talking, the phone layout in dark mode, and the Chinese UI.
// `make screenshots` runs this against a fresh server with SCREENSHOTS_DIR
// set (docs/screenshots/, plain names); in `make test` it runs too, with
// unique names, into the test's output, so the script cannot rot unseen.
import { expect, test, type Browser, type BrowserContext, type Page } from "@playwright/test";
import path from "node:path";
import { PASSWORD, hydrated, messageTexts, say, unique } from "./helpers";
import { roomPage } from "./fixtures/room_page";

const out = process.env.SCREENSHOTS_DIR;
/** Plain names for the README; unique ones in the test suite's shared server. */
const named = (name: string) => (out ? name : unique(name));

type Look = { colorScheme: "light" | "dark"; viewport: { width: number; height: number }; locale: string };
const DESKTOP: Look = { colorScheme: "light", viewport: { width: 1200, height: 720 }, locale: "en-US" };
const PHONE_DARK: Look = { colorScheme: "dark", viewport: { width: 390, height: 760 }, locale: "en-US" };

async function person(browser: Browser, name: string, look: Look): Promise<BrowserContext> {
  const context = await browser.newContext({ ...look, deviceScaleFactor: 1 });
  const response = await context.request.post("/api/register", { data: { username: name, password: PASSWORD } });
  expect([201, 409]).toContain(response.status());
  if (response.status() === 409) {
    const login = await context.request.post("/api/login", { data: { username: name, password: PASSWORD } });
    expect(login.status()).toBe(200);
  }
  return context;
}

async function enter(context: BrowserContext, room: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`/chat/${encodeURIComponent(room)}/`);
  await hydrated(page);
  await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
  return page;
}

async function shoot(page: Page, name: string, testInfo: { outputPath: (n: string) => string }) {
  const file = out ? path.join(out, name) : testInfo.outputPath(name);
  // Still frames: no caret, no half-finished transitions.
  await page.screenshot({ path: file, caret: "hide", animations: "disabled" });
}

test("the README's screenshots: lobby, three people talking, phone in dark mode, Chinese", async ({ browser }, testInfo) => {
  test.setTimeout(60_000);
  const room = named("general");
  const [aliceName, bobName, carolName] = [named("alice"), named("bob"), named("carol")];
  const alice = await enter(await person(browser, aliceName, DESKTOP), room);
  const bob = await enter(await person(browser, bobName, PHONE_DARK), room);
  const carol = await enter(await person(browser, carolName, { ...DESKTOP, locale: "zh-CN" }), room);
  for (const other of [named("rust"), named("design")]) {
    const page = await enter(alice.context(), other);
    await say(page, "Anyone around?");
    await page.close();
  }

  await say(alice, "Morning all! The release notes draft is up: https://example.com/notes");
  await say(bob, `Thanks @${aliceName}, reading it now`);
  await say(carol, "早上好！我下午来看 👀");
  await say(alice, `@${carolName} no rush, tomorrow is fine`);
  await expect(messageTexts(bob)).toHaveCount(4);
  await roomPage(bob).messages.first().hover();
  await roomPage(bob).messages.first().getByRole("button", { name: "React with 👍" }).click();
  await roomPage(carol).messages.first().hover();
  await roomPage(carol).messages.first().getByRole("button", { name: "用 🎉 回应" }).click();
  await expect(roomPage(alice).messages.first().locator(".reaction")).toHaveCount(2);
  await roomPage(carol).input.pressSequentially("好", { delay: 20 });
  await expect(roomPage(alice).typing).toContainText("is typing");

  await roomPage(alice).input.focus();
  await alice.mouse.move(0, 0);
  await shoot(alice, "room.png", testInfo);
  await bob.mouse.move(0, 0);
  await shoot(bob, "phone-dark.png", testInfo);
  await carol.mouse.move(0, 0);
  await shoot(carol, "chinese.png", testInfo);

  const lobby = await alice.context().newPage();
  await lobby.goto("/chat/");
  await hydrated(lobby);
  await expect(lobby.locator(`#room-list [data-room="${room}"]`)).toContainText("3 online");
  await shoot(lobby, "lobby.png", testInfo);
});
