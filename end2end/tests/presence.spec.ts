import { type BrowserContext, type WebSocketRoute, expect, test } from "@playwright/test";
import { PASSWORD, messageTexts, openRoom, say, signedIn, unique } from "./helpers";
import { roomPage } from "./fixtures/room_page";

test("three people: the list follows them, a PM reaches only bob, and typing shows", async ({ browser }, testInfo) => {
  const room = unique("trio");
  const [alice, bob, carol] = [unique("alice"), unique("bob"), unique("carol")];
  const alicePage = await openRoom(await signedIn(browser, alice), room);
  const aliceList = roomPage(alicePage).people;
  await expect(aliceList).toHaveText([`${alice} (you)`]);

  const bobPage = await openRoom(await signedIn(browser, bob), room);
  const carolCtx = await signedIn(browser, carol);
  const carolPage = await openRoom(carolCtx, room);
  const everyone = [alice, bob, carol].sort();
  for (const page of [alicePage, bobPage, carolPage]) {
    await expect(roomPage(page).people).toHaveCount(3);
    await expect(page.locator("#people-title .count")).toHaveText("3");
    const listed = await roomPage(page).people.evaluateAll((lis) => lis.map((li) => li.getAttribute("data-user")));
    expect(listed).toEqual(everyone);
  }

  // Alice clicks Bob's name: the box is ready for a private message.
  await alicePage.getByRole("button", { name: `Send ${bob} a private message` }).click();
  await expect(roomPage(alicePage).input).toHaveValue(`/pm ${bob} `);
  await expect(roomPage(alicePage).input).toBeFocused();
  await alicePage.keyboard.type("lunch at noon?");
  await alicePage.keyboard.press("Enter");

  await expect(bobPage.locator('#log .msg.pm[data-pm="from"] .author')).toHaveText(`PM from ${alice}`);
  await expect(bobPage.locator("#log .msg.pm .text")).toHaveText("lunch at noon?");
  await expect(alicePage.locator('#log .msg.pm[data-pm="to"] .author')).toHaveText(`PM to ${bob}`);
  await say(carolPage, "hello all");
  await expect(messageTexts(alicePage)).toHaveText(["lunch at noon?", "hello all"]);
  await expect(messageTexts(carolPage)).toHaveText(["hello all"]);
  await expect(carolPage.locator("#log .msg.pm")).toHaveCount(0);

  // Bob sees Alice typing; it goes away when her message arrives.
  await roomPage(alicePage).input.pressSequentially("I am typing", { delay: 20 });
  await expect(roomPage(bobPage).typing).toHaveText(`${alice} is typing…`);
  await expect(roomPage(alicePage).typing).toHaveText("");
  await bobPage.screenshot({ path: testInfo.outputPath("room-people.png") });
  await alicePage.keyboard.press("Enter");
  await expect(messageTexts(bobPage).last()).toHaveText("I am typing");
  await expect(roomPage(bobPage).typing).toHaveText("");

  // And it goes away by itself when she stops without sending.
  await roomPage(alicePage).input.pressSequentially("hmm", { delay: 20 });
  await expect(roomPage(bobPage).typing).toHaveText(`${alice} is typing…`);
  await expect(roomPage(bobPage).typing).toHaveText("", { timeout: 8_000 });

  // Carol leaves: the others' lists follow.
  await carolCtx.close();
  await expect(roomPage(alicePage).people).toHaveCount(2);
  await expect(bobPage.locator(`#user-list li[data-user="${carol}"]`)).toHaveCount(0);
});

test("a PM to someone unknown is explained; to someone away, it is kept for them", async ({ browser }) => {
  const page = await openRoom(await signedIn(browser, unique("lonely")), unique("quiet"));
  await say(page, "/pm nobody-here-ever hello");
  await expect(roomPage(page).notice).toContainText("There is no user named");
  // It waits in the outbox, marked as not sent, until Retry or Discard.
  await expect(roomPage(page).failed).toContainText("nobody-here-ever hello");
  await roomPage(page).failed.getByRole("button", { name: "Discard" }).click();
  await expect(roomPage(page).pending).toHaveCount(0);
  const offline = unique("away");
  const ctx = await signedIn(browser, offline);
  await ctx.close();
  await say(page, `/pm ${offline} are you there?`);
  // Once stored (its ack), it shows once as sent, and leaves the outbox.
  const sent = page.locator('#log .msg[data-pm="to"]').filter({ hasText: "are you there?" });
  await expect(sent).toHaveCount(1);
  await expect(roomPage(page).pending).toHaveCount(0);
  await expect(roomPage(page).messages.filter({ hasText: "are you there?" })).toHaveCount(1);
  await expect(roomPage(page).notice).toHaveText("");
});

test("a big room shows its head count and how many more than the names it lists, in both languages", async ({ browser }) => {
  // The server sends `user_count` instead of each arrival past USER_LIST_MAX
  // (200) people; the test says one into each page's real socket.
  const room = unique("crowd");
  const [alice, bob] = [unique("alice"), unique("bob")];
  const routed = async (context: BrowserContext) => {
    const sockets: WebSocketRoute[] = [];
    await context.routeWebSocket(/\/ws\/chat\//, (ws) => {
      ws.connectToServer();
      sockets.push(ws);
    });
    return sockets;
  };
  const english = await signedIn(browser, alice);
  const aliceSockets = await routed(english);
  const alicePage = await openRoom(english, room);
  // Said after the server's user_list (which sets the count) has arrived.
  await expect(roomPage(alicePage).people).toHaveCount(1);
  aliceSockets[0].send(JSON.stringify({ type: "user_count", count: 1204 }));
  await expect(alicePage.locator("#people-title .count")).toHaveText("1204");
  await expect(alicePage.locator(".people .more-people")).toHaveText("and 1203 more");

  const chinese = await browser.newContext({ locale: "zh-CN" });
  expect((await chinese.request.post("/api/register", { data: { username: bob, password: PASSWORD } })).status()).toBe(201);
  const bobSockets = await routed(chinese);
  const bobPage = await openRoom(chinese, room);
  // A real arrival carries the room's real count: it wins.
  await expect(alicePage.locator("#people-title .count")).toHaveText("2");
  await expect(alicePage.locator(".people .more-people")).toHaveCount(0);
  await expect(roomPage(alicePage).people).toHaveCount(2);
  await expect(roomPage(bobPage).people).toHaveCount(2);
  bobSockets[0].send(JSON.stringify({ type: "user_count", count: 1204 }));
  await expect(bobPage.locator("#people-title .count")).toHaveText("1204");
  await expect(bobPage.locator(".people .more-people")).toHaveText("还有 1202 人");
});
