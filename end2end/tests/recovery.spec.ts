import { expect, test, type WebSocketRoute } from "@playwright/test";
import { PASSWORD, hydrated, messageTexts, openRoom, say, signedIn, unique } from "./helpers";
import { ServerProcess, freshDatabase } from "./processes";
import { roomPage } from "./fixtures/room_page";

test("offline while five messages are sent: back online, all five appear once, in order", async ({ browser }, testInfo) => {
  const room = unique("gap");
  const context = await signedIn(browser, unique("away"));
  const page = await context.newPage();
  // The page's sockets pass through to the server; while `offline`, new ones are refused.
  let offline = false;
  const sockets: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/ws\/chat\//, (ws) => {
    if (offline) {
      ws.close({ code: 1006, reason: "offline" });
      return;
    }
    ws.connectToServer();
    sockets.push(ws);
  });
  await page.goto(`/chat/${room}/`);
  await hydrated(page);
  await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
  const other = await openRoom(await signedIn(browser, unique("sender")), room);
  await say(other, "before");
  await expect(messageTexts(page)).toHaveText(["before"]);

  offline = true;
  await sockets[sockets.length - 1].close({ code: 1006, reason: "cut" });
  await expect(roomPage(page).status).toHaveAttribute("data-state", "reconnecting");
  const missed = ["one", "two", "three", "four", "five"];
  for (const text of missed) await say(other, text);
  await expect(messageTexts(other)).toHaveText(["before", ...missed]);
  await expect(roomPage(page).status).toHaveAttribute("data-state", "reconnecting");
  await expect(messageTexts(page)).toHaveText(["before"]);

  offline = false;
  await expect(roomPage(page).status).toHaveText("Back online — 5 missed messages loaded", { timeout: 10_000 });
  await expect(messageTexts(page)).toHaveText(["before", ...missed]);
  await page.screenshot({ path: testInfo.outputPath("back-online.png") });
  // And live again.
  await say(other, "after");
  await expect(messageTexts(page)).toHaveText(["before", ...missed, "after"]);
});

test("the page recovers by itself after a server restart", async ({ browser }) => {
  const database = freshDatabase();
  let server = await ServerProcess.start(database);
  try {
    const room = unique("restart");
    const context = await browser.newContext({ baseURL: server.origin });
    const name = unique("steady");
    expect((await context.request.post("/api/register", { data: { username: name, password: PASSWORD } })).status()).toBe(201);
    const page = await context.newPage();
    await page.goto(`/chat/${room}/`);
    await hydrated(page);
    await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
    await say(page, "before the restart");
    await expect(messageTexts(page)).toHaveText(["before the restart"]);

    await server.stop();
    await expect(roomPage(page).status).toHaveAttribute("data-state", "reconnecting");
    server = await ServerProcess.start(database, undefined, server.port);

    await expect(roomPage(page).status).toHaveAttribute("data-state", "live", { timeout: 15_000 });
    await say(page, "after the restart");
    await expect(messageTexts(page)).toHaveText(["before the restart", "after the restart"]);
  } finally {
    server.kill();
  }
});
