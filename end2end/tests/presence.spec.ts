import { expect, test } from "@playwright/test";
import { messageTexts, openRoom, say, signedIn, unique } from "./helpers";

test("three people: the list follows them, a PM reaches only bob, and typing shows", async ({ browser }, testInfo) => {
  const room = unique("trio");
  const [alice, bob, carol] = [unique("alice"), unique("bob"), unique("carol")];
  const alicePage = await openRoom(await signedIn(browser, alice), room);
  const aliceList = alicePage.locator("#user-list li");
  await expect(aliceList).toHaveText([`${alice} (you)`]);

  const bobPage = await openRoom(await signedIn(browser, bob), room);
  const carolCtx = await signedIn(browser, carol);
  const carolPage = await openRoom(carolCtx, room);
  const everyone = [alice, bob, carol].sort();
  for (const page of [alicePage, bobPage, carolPage]) {
    await expect(page.locator("#user-list li")).toHaveCount(3);
    await expect(page.locator("#people-title .count")).toHaveText("3");
    const listed = await page.locator("#user-list li").evaluateAll((lis) => lis.map((li) => li.getAttribute("data-user")));
    expect(listed).toEqual(everyone);
  }

  // Alice clicks Bob's name: the box is ready for a private message.
  await alicePage.getByRole("button", { name: `Send ${bob} a private message` }).click();
  await expect(alicePage.locator("#message-input")).toHaveValue(`/pm ${bob} `);
  await expect(alicePage.locator("#message-input")).toBeFocused();
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
  await alicePage.locator("#message-input").pressSequentially("I am typing", { delay: 20 });
  await expect(bobPage.locator("#typing")).toHaveText(`${alice} is typing…`);
  await expect(alicePage.locator("#typing")).toHaveText("");
  await bobPage.screenshot({ path: testInfo.outputPath("room-people.png") });
  await alicePage.keyboard.press("Enter");
  await expect(messageTexts(bobPage).last()).toHaveText("I am typing");
  await expect(bobPage.locator("#typing")).toHaveText("");

  // And it goes away by itself when she stops without sending.
  await alicePage.locator("#message-input").pressSequentially("hmm", { delay: 20 });
  await expect(bobPage.locator("#typing")).toHaveText(`${alice} is typing…`);
  await expect(bobPage.locator("#typing")).toHaveText("", { timeout: 8_000 });

  // Carol leaves: the others' lists follow.
  await carolCtx.close();
  await expect(alicePage.locator("#user-list li")).toHaveCount(2);
  await expect(bobPage.locator(`#user-list li[data-user="${carol}"]`)).toHaveCount(0);
});

test("a PM to someone offline or unknown is explained", async ({ browser }) => {
  const page = await openRoom(await signedIn(browser, unique("lonely")), unique("quiet"));
  await say(page, "/pm nobody-here-ever hello");
  await expect(page.locator("#notice")).toContainText("There is no user named");
  const offline = unique("away");
  const ctx = await signedIn(browser, offline);
  await ctx.close();
  await say(page, `/pm ${offline} are you there?`);
  await expect(page.locator("#notice")).toContainText("is not online");
});
