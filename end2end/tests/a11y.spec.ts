// Accessibility, checked by a machine and by keyboard: axe scans every page
// (lobby, a room with messages, a PM, log in, register, admin) in light and
// dark, on a desktop and on a phone, and fails on any serious or critical
// violation; then a person with only a keyboard sends, mentions, reacts,
// edits and writes a PM.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { PASSWORD, hydrated, messageTexts, say, unique } from "./helpers";
import { ServerProcess, createAdmin, freshDatabase } from "./processes";
import { roomPage } from "./fixtures/room_page";

const MODES = [
  { name: "light desktop", colorScheme: "light", viewport: { width: 1280, height: 800 } },
  { name: "dark desktop", colorScheme: "dark", viewport: { width: 1280, height: 800 } },
  { name: "light phone", colorScheme: "light", viewport: { width: 390, height: 844 } },
  { name: "dark phone", colorScheme: "dark", viewport: { width: 390, height: 844 } },
] as const;
type Mode = (typeof MODES)[number];

let server: ServerProcess;
let database: string;
test.beforeAll(async () => {
  database = freshDatabase();
  server = await ServerProcess.start(database);
});
test.afterAll(async () => server?.stop());

async function contextIn(browser: Browser, mode: Mode, locale = "en-US"): Promise<BrowserContext> {
  return browser.newContext({ baseURL: server.origin, colorScheme: mode.colorScheme, viewport: mode.viewport, locale });
}

async function signUp(context: BrowserContext, name: string) {
  const response = await context.request.post("/api/register", { data: { username: name, password: PASSWORD } });
  expect(response.status()).toBe(201);
}

/** Two signed-up people in this mode, with their names. */
async function twoPeople(browser: Browser, mode: Mode) {
  const [aliceName, bobName] = [unique("alice"), unique("bob")];
  const [alice, bob] = [await contextIn(browser, mode), await contextIn(browser, mode)];
  await signUp(alice, aliceName);
  await signUp(bob, bobName);
  return { alice, bob, aliceName, bobName };
}

/** The serious and critical violations on the page as it is now, one line each. */
async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary}`).join("; ")}`);
}

async function expectClean(page: Page, what: string) {
  await hydrated(page);
  expect(await violations(page), what).toEqual([]);
}

for (const mode of MODES) {
  test(`axe finds nothing serious on any page: ${mode.name}`, async ({ browser }, testInfo) => {
    const room = unique("a11y");
    const { alice, bob, bobName } = await twoPeople(browser, mode);

    const visitor = await (await contextIn(browser, mode)).newPage();
    await visitor.goto("/login");
    await expectClean(visitor, "log in");
    await visitor.goto("/login?error=invalid_credentials");
    await expectClean(visitor, "log in, refused");
    await visitor.goto("/register");
    await expectClean(visitor, "register");

    // A room with messages from two people, a mention, a link, a reaction and a PM.
    const a = await alice.newPage();
    await a.goto(`/chat/${room}/`);
    await hydrated(a);
    await expect(roomPage(a).status).toHaveAttribute("data-state", "live");
    const b = await bob.newPage();
    await b.goto(`/chat/${room}/`);
    await hydrated(b);
    await expect(roomPage(b).status).toHaveAttribute("data-state", "live");
    await say(a, `hello @${bobName}, the notes are at https://example.com/notes`);
    // Stored before Bob speaks: the first message below must be Alice's
    // (it once was Bob's, when her post in the new room was slower).
    await expect(messageTexts(a)).toHaveCount(1);
    await say(b, "thanks! reading them now");
    await expect(messageTexts(a)).toHaveCount(2);
    await roomPage(b).messages.first().hover();
    await roomPage(b).messages.first().getByRole("button", { name: "React with 👍" }).click();
    await expect(a.locator("#log .msg .reaction")).toHaveCount(1);
    await say(a, `/pm ${bobName} lunch at noon?`);
    await expect(b.locator("#log .msg.pm")).toHaveCount(1);
    await expectClean(a, "room, own and others' messages");
    await expectClean(b, "room with a PM");
    await roomPage(a).messages.first().hover();
    await expectClean(a, "room, a message's toolbar");
    await roomPage(a).messages.first().getByRole("button", { name: "Delete" }).click();
    await expect(a.locator(".confirm")).toBeVisible();
    await expectClean(a, "room, asking before a delete");
    await a.keyboard.press("Escape");
    await a.screenshot({ path: testInfo.outputPath("room.png") });

    // Bob's lobby lists the conversation, unread; then the conversation itself.
    await b.goto("/chat/");
    await expect(b.locator("#direct-list .unread")).toHaveCount(1);
    await expectClean(b, "lobby with a conversation, unread");
    await b.locator("#direct-list a").first().click();
    await hydrated(b);
    await expect(messageTexts(b)).toHaveText(["lunch at noon?"]);
    await expectClean(b, "direct conversation");

    await visitor.goto("/chat/");
    await expectClean(visitor, "lobby");
    await visitor.goto(`/chat/${room}/`);
    await expectClean(visitor, "room, read without an account");

    const rootName = unique("root");
    createAdmin(database, rootName, PASSWORD);
    const root = await contextIn(browser, mode);
    expect((await root.request.post("/api/login", { data: { username: rootName, password: PASSWORD } })).status()).toBe(200);
    const admin = await root.newPage();
    await admin.goto("/admin");
    await expectClean(admin, "admin");
    await visitor.goto("/admin");
    await expectClean(visitor, "admin, refused");

    const chinese = await (await contextIn(browser, mode, "zh-CN")).newPage();
    await chinese.goto(`/chat/${room}/`);
    await expectClean(chinese, "room in Chinese");
    await chinese.goto("/chat/");
    await expectClean(chinese, "lobby in Chinese");
  });
}

test("with only a keyboard: send, mention, react, edit and write a PM", async ({ browser }) => {
  const mode = MODES[0];
  const room = unique("keys");
  const { alice, bob, bobName } = await twoPeople(browser, mode);
  const b = await bob.newPage();
  await b.goto(`/chat/${room}/`);
  await hydrated(b);
  const a = await alice.newPage();
  await a.goto(`/chat/${room}/`);
  await hydrated(a);
  await expect(a.locator(`#user-list [data-user="${bobName}"]`)).toBeVisible();
  const input = roomPage(a).input;
  const focused = a.locator(":focus");

  // The message box has the focus on arrival: type and Enter sends.
  await expect(input).toBeFocused();
  await a.keyboard.type("hello by keyboard");
  await a.keyboard.press("Enter");
  await expect(messageTexts(b)).toHaveText(["hello by keyboard"]);

  // Mention: @ and a few letters offer the name; Tab completes it.
  await a.keyboard.type(`hi @${bobName.slice(0, 4)}`);
  await expect(roomPage(a).mentions).toBeVisible();
  await a.keyboard.press("Tab");
  await expect(input).toHaveValue(`hi @${bobName} `);
  await a.keyboard.press("Enter");
  await expect(roomPage(b).messages.last().locator(".mention")).toHaveText(`@${bobName}`);

  // React: Shift+Tab from the box walks back into the newest message's toolbar.
  await input.focus();
  await a.keyboard.press("Shift+Tab");
  await expect(focused).toHaveText("Delete");
  await a.keyboard.press("Shift+Tab");
  await expect(focused).toHaveText("Edit");
  let label = "";
  while (!label.startsWith("React with")) {
    await a.keyboard.press("Shift+Tab");
    label = (await focused.getAttribute("aria-label")) ?? "";
  }
  await a.keyboard.press("Enter");
  await expect(roomPage(b).messages.last().locator(".reaction")).toContainText("1");

  // Edit: to Edit again, Enter puts the text in the box, Enter saves.
  await input.focus();
  await a.keyboard.press("Shift+Tab");
  await a.keyboard.press("Shift+Tab");
  await expect(focused).toHaveText("Edit");
  await a.keyboard.press("Enter");
  await expect(input).toBeFocused();
  await expect(input).toHaveValue(`hi @${bobName} `);
  await a.keyboard.press("End");
  await a.keyboard.type("(edited by keyboard)");
  await a.keyboard.press("Enter");
  await expect(roomPage(b).messages.last().locator(".text")).toHaveText(`hi @${bobName} (edited by keyboard)`);

  // PM: Tab past Send to the people list; Enter on a name starts a PM.
  await input.focus();
  let person = "";
  while (person !== bobName) {
    await a.keyboard.press("Tab");
    person = (await focused.textContent()) ?? "";
  }
  await a.keyboard.press("Enter");
  await expect(input).toBeFocused();
  await expect(input).toHaveValue(`/pm ${bobName} `);
  await a.keyboard.type("just between us");
  await a.keyboard.press("Enter");
  await expect(b.locator("#log .msg.pm .text")).toHaveText("just between us");
  await expect(a.locator("#log .msg.pm .author")).toHaveText(`PM to ${bobName}`);
});
