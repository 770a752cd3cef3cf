// Trust boundaries as a person (or another site) meets them: cross-site
// form posts refused while our own forms work, lookalike names explained,
// every page hydrating under the Content-Security-Policy, and logging out
// in one tab ending the other tab's live connection.
import { expect, test, type Page } from "@playwright/test";
import { PASSWORD, hydrated, messageTexts, openRoom, say, signedIn, unique } from "./helpers";
import { roomPage } from "./fixtures/room_page";

const base = () => process.env.BASE_URL ?? "http://127.0.0.1:3000";

/** Collects what the browser reports as blocked by the page's CSP. */
function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/i.test(message.text())) {
      seen.push(message.text());
    }
  });
  return seen;
}

test("a log-in form posted from another site is refused; our own form still logs in", async ({ browser }, testInfo) => {
  const name = unique("victim");
  const context = await signedIn(browser, name);
  await context.clearCookies();
  const page = await context.newPage();
  // evil.example's page posts a login form to us (login CSRF).
  await page.route("http://evil.example/**", (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<form method="post" action="${base()}/api/login">
               <input name="username" value="${name}"><input name="password" value="${PASSWORD}">
             </form><script>document.forms[0].submit()</script>`,
    }),
  );
  const refused = page.waitForResponse((r) => r.url().endsWith("/api/login"));
  await page.goto("http://evil.example/");
  expect((await refused).status()).toBe(403);
  await expect(page.locator("body")).toContainText("origin_not_allowed");
  expect((await context.request.get("/api/me")).status()).toBe(401);

  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/chat\/$/);
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("logged-in.png") });
});

test("a lookalike of a taken name or room is explained", async ({ browser }, testInfo) => {
  const name = unique("zoe");
  const context = await signedIn(browser, name);
  const page = await context.newPage();
  await context.clearCookies();
  await page.goto("/register");
  await hydrated(page);
  await page.getByLabel("Username").fill(name.toUpperCase());
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Register" }).click();
  await expect(page.locator("#form-error")).toContainText("looks like one that is");
  await page.screenshot({ path: testInfo.outputPath("lookalike-name.png") });

  // A room with a post, then its twin with a Cyrillic "о" for the "o".
  const room = unique("hello");
  const poster = await openRoom(await signedIn(browser, unique("p")), room);
  await say(poster, "the real room");
  await expect(roomPage(poster).texts).toHaveText(["the real room"]);
  const twin = room.replace("o", "\u043e");
  const response = await page.goto(`/chat/${encodeURIComponent(twin)}/`);
  expect(response?.status()).toBe(409);
  await expect(page.getByRole("heading", { name: "This name looks like another room" })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("lookalike-room.png") });
  await page.getByRole("link", { name: `Go to ${room}` }).click();
  await expect(page).toHaveURL(new RegExp(`/chat/${room}/$`));
});

test("every page hydrates under the CSP, with nothing blocked", async ({ browser }) => {
  const context = await signedIn(browser, unique("csp"));
  const page = await context.newPage();
  const blocked = cspViolations(page);
  for (const path of ["/chat/", `/chat/${unique("csp")}/`, "/admin", "/login", "/register"]) {
    const response = await page.goto(path);
    expect(response?.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    await hydrated(page);
  }
  expect(blocked).toEqual([]);
});

test("logging out in one tab ends the other tab's connection", async ({ browser }, testInfo) => {
  const context = await signedIn(browser, unique("tabs"));
  const room = unique("tabs");
  const first = await openRoom(context, room);
  const second = await openRoom(context, room);
  await first.getByRole("button", { name: "Log out" }).click();
  await expect(roomPage(second).status).toHaveAttribute("data-state", "ended");
  await expect(second.locator("main")).toContainText("You logged out");
  await second.screenshot({ path: testInfo.outputPath("logged-out-elsewhere.png") });
});

test("a message's direction stays its own: Hebrew reads right to left, a Trojan Source override is refused", async ({ browser }, testInfo) => {
  const room = unique("bidi");
  const [writer, reader] = [
    await openRoom(await signedIn(browser, unique("dana")), room),
    await openRoom(await signedIn(browser, unique("eli")), room),
  ];
  await say(writer, "שלום לכולם");
  const text = messageTexts(reader).last();
  await expect(text).toHaveText("שלום לכולם");
  await expect(text).toHaveAttribute("dir", "auto");
  expect(await text.evaluate((el) => getComputedStyle(el).direction)).toBe("rtl");
  expect(await text.evaluate((el) => getComputedStyle(el).unicodeBidi)).toBe("isolate");
  // An override left open would show "invoiceexe.pdf": the server refuses it.
  await say(writer, "invoice\u202Efdp.exe");
  await expect(roomPage(writer).notice).toContainText("U+202E");
  await expect(messageTexts(reader)).toHaveText(["שלום לכולם"]);
  await reader.screenshot({ path: testInfo.outputPath("bidi.png") });
});
