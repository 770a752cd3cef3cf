import { expect, type Browser, type BrowserContext, type Page, type WebSocketRoute } from "@playwright/test";
import { RoomPage, roomPage } from "./fixtures/room_page";

export const PASSWORD = "correct horse battery";

/** A name no other test (or earlier run) uses: fits rooms and usernames. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}
export const uniqueRoom = unique;

/** Waits until the WASM has taken over the page (Effects only run then). */
export async function hydrated(page: Page) {
  await expect(page.locator('#app[data-hydrated="true"]')).toBeVisible();
}

/** A fresh browser context (own cookies) whose user is registered and signed in. */
export async function signedIn(browser: Browser, name: string): Promise<BrowserContext> {
  const context = await browser.newContext();
  const response = await context.request.post("/api/register", {
    data: { username: name, password: PASSWORD },
  });
  expect(response.status()).toBe(201);
  return context;
}

/** Opens a room in the context and waits until it is live. */
export async function openRoom(context: BrowserContext, room: string): Promise<Page> {
  return (await RoomPage.open(context, room)).page;
}

/** One signed-in person on a room page, live. */
export async function personInRoom(browser: Browser, room: string, name = unique("u")): Promise<Page> {
  return openRoom(await signedIn(browser, name), room);
}

/** Types a message and presses Enter, as a person would. */
export async function say(page: Page, text: string) {
  await roomPage(page).say(text);
}

/** The texts of the messages in the log, in order. */
export function messageTexts(page: Page) {
  return roomPage(page).texts;
}

/** Passes the page's room sockets through to the server, keeping a handle on each to cut it. */
export async function cuttableSockets(page: Page): Promise<WebSocketRoute[]> {
  const sockets: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/ws\/chat\//, (ws) => {
    ws.connectToServer();
    sockets.push(ws);
  });
  return sockets;
}
