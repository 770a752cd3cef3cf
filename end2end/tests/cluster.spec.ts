// Two server processes behind one Redis, and again behind a 3-primary
// Redis Cluster, sharing one database: two people on different processes
// chat, see each other online and exchange a PM.
import { expect, test } from "@playwright/test";
import { PASSWORD, hydrated, messageTexts, say, unique } from "./helpers";
import { ServerProcess, freshDatabase, startRedis, startRedisCluster } from "./processes";
import { roomPage } from "./fixtures/room_page";

for (const backend of ["one Redis", "a Redis Cluster"] as const) {
  test.describe(`behind ${backend}`, () => {
    let stopRedis: (() => void) | undefined;
    let servers: ServerProcess[] = [];
    let origins: string[] = [];

    test.beforeAll(async () => {
      const database = freshDatabase();
      const start = async () => {
        if (backend === "one Redis") {
          const started = await startRedis();
          stopRedis = () => started.child.kill("SIGKILL");
          return () => ServerProcess.start(database, started.url);
        }
        const cluster = await startRedisCluster();
        stopRedis = cluster.stop;
        return () => ServerProcess.start(database, undefined, undefined, { REDIS_CLUSTER_URLS: cluster.urls });
      };
      const server = await start();
      servers = [await server(), await server()];
      origins = servers.map((s) => s.origin);
    });

    test.afterAll(() => {
      for (const s of servers) s.kill();
      stopRedis?.();
    });

    test("two people on two processes chat, see each other online and exchange a PM", async ({ browser }) => {
      const room = unique("spread");
      const [alice, bob] = [unique("alice"), unique("bob")];
      const pages = [];
      for (const [i, name] of [alice, bob].entries()) {
        const context = await browser.newContext({ baseURL: origins[i] });
        expect((await context.request.post("/api/register", { data: { username: name, password: PASSWORD } })).status()).toBe(201);
        const page = await context.newPage();
        await page.goto(`/chat/${room}/`);
        await hydrated(page);
        await expect(roomPage(page).status).toHaveAttribute("data-state", "live");
        pages.push(page);
      }
      const [a, b] = pages;
      expect(new URL(a.url()).port).not.toBe(new URL(b.url()).port);

      for (const page of pages) {
        await expect(roomPage(page).people).toHaveCount(2);
      }
      await expect(a.locator(`#user-list li[data-user="${bob}"]`)).toBeVisible();
      await expect(b.locator(`#user-list li[data-user="${alice}"]`)).toBeVisible();

      await say(a, "hello from process one");
      await expect(messageTexts(b)).toHaveText(["hello from process one"]);
      await say(b, "hello from process two");
      await expect(messageTexts(a)).toHaveText(["hello from process one", "hello from process two"]);

      await a.getByRole("button", { name: `Send ${bob} a private message` }).click();
      await a.keyboard.type("just between us");
      await a.keyboard.press("Enter");
      await expect(b.locator('#log .msg.pm[data-pm="from"] .author')).toHaveText(`PM from ${alice}`);
      await expect(a.locator('#log .msg.pm[data-pm="to"] .author')).toHaveText(`PM to ${bob}`);

      // Bob leaves: Alice's list follows, across processes.
      await b.context().close();
      await expect(roomPage(a).people).toHaveCount(1);
    });
  });
}
