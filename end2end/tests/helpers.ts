import { expect, type Browser, type Page } from "@playwright/test";

/** A room name no other test (or earlier run) uses. */
export function uniqueRoom(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Waits until the WASM has taken over the page (Effects only run then). */
export async function hydrated(page: Page) {
  await expect(page.locator('#app[data-hydrated="true"]')).toBeVisible();
}

/** One person: a fresh browser context (own cookies) on a room page, live. */
export async function personInRoom(browser: Browser, room: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`/chat/${encodeURIComponent(room)}/`);
  await hydrated(page);
  await expect(page.locator("#status")).toHaveAttribute("data-state", "live");
  return page;
}

/** Types a message and presses Enter, as a person would. */
export async function say(page: Page, text: string) {
  const input = page.locator("#message-input");
  await input.fill(text);
  await input.press("Enter");
}

/** The texts of the messages in the log, in order. */
export function messageTexts(page: Page) {
  return page.locator("#log .msg .text");
}
