import { expect, test, type Browser, type Page } from "@playwright/test";
import { PASSWORD, hydrated, messageTexts, personInRoom, say, unique } from "./helpers";
import { ServerProcess, createAdmin, freshDatabase } from "./processes";
import { roomPage } from "./fixtures/room_page";

/** The log line of the message with this text. */
function message(page: Page, text: string) {
  return page.locator("#log .msg", { has: page.locator(".text", { hasText: text }) });
}

test("alice edits and deletes her message and bob's log follows", async ({ browser }, testInfo) => {
  const room = unique("edit");
  const alice = await personInRoom(browser, room, unique("alice"));
  const bob = await personInRoom(browser, room, unique("bob"));
  await say(alice, "helo wrold");
  await expect(messageTexts(bob)).toHaveText(["helo wrold"]);

  // Edit from the message's toolbar: the composer takes the text, Enter saves.
  await message(alice, "helo wrold").hover();
  await message(alice, "helo wrold").getByRole("button", { name: "Edit" }).click();
  const input = roomPage(alice).input;
  await expect(input).toHaveValue("helo wrold");
  await expect(alice.locator(".editing")).toBeVisible();
  // Esc leaves editing without changing anything; Edit again to go on.
  await input.press("Escape");
  await expect(input).toHaveValue("");
  await expect(alice.locator(".editing")).toBeHidden();
  await expect(alice.locator("#log .msg .edited")).toHaveCount(0);
  await message(alice, "helo wrold").hover();
  await message(alice, "helo wrold").getByRole("button", { name: "Edit" }).click();
  await expect(input).toHaveValue("helo wrold");
  await input.fill("hello world");
  await input.press("Enter");
  await expect(messageTexts(bob)).toHaveText(["hello world"]);
  await expect(bob.locator("#log .msg .edited")).toHaveText("(edited)");
  await expect(messageTexts(alice)).toHaveText(["hello world"]);
  await alice.screenshot({ path: testInfo.outputPath("edited.png") });

  // Bob cannot change alice's message: his toolbar has no Edit or Delete.
  await message(bob, "hello world").hover();
  await expect(message(bob, "hello world").getByRole("button", { name: "Edit" })).toHaveCount(0);
  await expect(message(bob, "hello world").getByRole("button", { name: "Delete" })).toHaveCount(0);

  await message(alice, "hello world").hover();
  await message(alice, "hello world").getByRole("button", { name: "Delete" }).click();
  // Deleting asks first; Esc keeps the message, "Yes, delete" deletes it.
  await expect(message(alice, "hello world").getByRole("button", { name: "Yes, delete" })).toBeFocused();
  await alice.keyboard.press("Escape");
  await expect(message(alice, "hello world").getByRole("button", { name: "Yes, delete" })).toHaveCount(0);
  await expect(messageTexts(bob)).toHaveText(["hello world"]);
  await message(alice, "hello world").getByRole("button", { name: "Delete" }).click();
  await alice.keyboard.press("Enter");
  await expect(messageTexts(bob)).toHaveText(["message deleted"]);
  await expect(messageTexts(alice)).toHaveText(["message deleted"]);
  // A reload shows the same: deletes are stored.
  await bob.reload();
  await hydrated(bob);
  await expect(messageTexts(bob)).toHaveText(["message deleted"]);
});

test("bob reacts and alice sees the count, with who reacted", async ({ browser }, testInfo) => {
  const room = unique("react");
  const alice = await personInRoom(browser, room, unique("alice"));
  const bobName = unique("bob");
  const bob = await personInRoom(browser, room, bobName);
  await say(alice, "lunch at noon?");
  await expect(messageTexts(bob)).toHaveText(["lunch at noon?"]);

  await message(bob, "lunch at noon?").hover();
  await bob.screenshot({ path: testInfo.outputPath("toolbar.png") });
  await message(bob, "lunch at noon?").getByRole("button", { name: "React with 👍" }).click();
  const count = alice.locator("#log .msg .reaction");
  await expect(count).toHaveText("👍 1");
  await expect(count).toHaveAttribute("title", new RegExp(bobName));
  await expect(bob.locator("#log .msg .reaction")).toHaveAttribute("aria-pressed", "true");
  await alice.screenshot({ path: testInfo.outputPath("reaction.png") });

  // Clicking his reaction again takes it back.
  await bob.locator("#log .msg .reaction").click();
  await expect(count).toHaveCount(0);
});

/** A registered, signed-in person on a separately started server. */
async function personOn(browser: Browser, server: ServerProcess, name: string, path: string): Promise<Page> {
  const context = await browser.newContext();
  const response = await context.request.post(`${server.origin}/api/register`, {
    data: { username: name, password: PASSWORD },
  });
  expect(response.status()).toBe(201);
  const page = await context.newPage();
  await page.goto(`${server.origin}${path}`);
  await hydrated(page);
  return page;
}

async function adminOn(browser: Browser, server: ServerProcess, database: string): Promise<Page> {
  const name = unique("root");
  createAdmin(database, name, PASSWORD);
  const context = await browser.newContext();
  const response = await context.request.post(`${server.origin}/api/login`, {
    data: { username: name, password: PASSWORD },
  });
  expect(response.status()).toBe(200);
  const page = await context.newPage();
  await page.goto(`${server.origin}/admin`);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Admin", exact: true })).toBeVisible();
  return page;
}

test.describe("admins", () => {
  let server: ServerProcess;
  let database: string;
  test.beforeAll(async () => {
    database = freshDatabase();
    server = await ServerProcess.start(database);
  });
  test.afterAll(async () => server?.stop());

  test("an admin marks a room admin-only and a non-admin is refused", async ({ browser }, testInfo) => {
    const admin = await adminOn(browser, server, database);
    const room = unique("staff");
    await admin.getByLabel("New room").fill(room);
    await admin.getByLabel("admin-only").check();
    await admin.getByRole("button", { name: "Create" }).click();
    const row = admin.locator(`#admin-rooms tr[data-room="${room}"]`);
    await expect(row).toContainText("admin-only");
    await expect(admin.locator("#admin-audit")).toContainText("created admin-only room");
    await admin.screenshot({ path: testInfo.outputPath("admin.png"), fullPage: true });

    const bob = await personOn(browser, server, unique("bob"), "/chat/");
    await expect(bob.locator("main")).not.toContainText(room);
    const response = await bob.goto(`${server.origin}/chat/${room}/`);
    expect(response?.status()).toBe(403);
    await expect(bob.getByRole("heading", { name: "This room is for admins only" })).toBeVisible();
    await bob.screenshot({ path: testInfo.outputPath("admins-only.png") });

    // The admin gets in.
    await admin.goto(`${server.origin}/chat/${room}/`);
    await hydrated(admin);
    await expect(roomPage(admin).status).toHaveAttribute("data-state", "live");
  });

  test("a disabled user is thrown out of the room", async ({ browser }, testInfo) => {
    const admin = await adminOn(browser, server, database);
    const room = unique("hall");
    const bobName = unique("bob");
    const bob = await personOn(browser, server, bobName, `/chat/${room}/`);
    await expect(roomPage(bob).status).toHaveAttribute("data-state", "live");

    await admin.reload();
    await admin.getByRole("button", { name: `Disable ${bobName}` }).click();
    await expect(admin.locator(`#admin-users tr[data-user="${bobName}"]`)).toContainText("disabled");
    await expect(roomPage(bob).notice).toHaveText("Your account has been disabled by an admin.");
    await expect(roomPage(bob).status).toHaveAttribute("data-state", "ended");
    await bob.screenshot({ path: testInfo.outputPath("disabled.png") });
    // And stays out: no reconnecting; after a reload he is signed out.
    await bob.waitForTimeout(1500);
    await expect(roomPage(bob).status).toHaveAttribute("data-state", "ended");
    await bob.reload();
    await hydrated(bob);
    await expect(bob.getByRole("link", { name: "Log in" })).toBeVisible();
    await expect(bob.locator("#whoami")).toHaveCount(0);
  });

  test("a flooding client is told to slow down", async ({ browser }) => {
    const room = unique("flood");
    const page = await personOn(browser, server, unique("spam"), `/chat/${room}/`);
    await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
    // 5 a second with bursts of 10: forty as fast as one can type is too many.
    for (let i = 1; i <= 40; i++) await say(page, `spam ${i}`);
    await expect(roomPage(page).notice).toContainText("Slow down: too many messages");
    await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
    // Some got through before the limit; the connection stays up for more later.
    await expect(messageTexts(page).first()).toHaveText("spam 1");
  });
});
