// Extra server processes (and a Redis, a PostgreSQL) for tests that need
// more than the one server `cargo leptos end-to-end` starts: several
// processes, restarts, the several-machines deployment.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(__dirname, "../..");
const serverBin = process.env.SERVER_BIN ?? path.join(root, "target/debug/server");

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function until(check: () => Promise<boolean>, what: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.end();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/** A private redis-server on a free port. */
export async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", `${port}`, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  await until(() => listening(port), "redis-server to listen");
  return { url: `redis://127.0.0.1:${port}/`, child };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/**
 * A throw-away 3-primary Redis Cluster, as server/src/testing.rs starts
 * one: Debian's `redis-server --cluster-enabled yes` on free ports (each
 * node's bus port, +10000, free too), joined by `redis-cli --cluster create`.
 * `urls` is the value of `REDIS_CLUSTER_URLS`.
 */
export async function startRedisCluster(): Promise<{ urls: string; stop: () => void }> {
  const dir = mkdtempSync(path.join(tmpdir(), "chat-e2e-redis-cluster-"));
  const ports: number[] = [];
  while (ports.length < 3) {
    const port = await freePort();
    if (port <= 55_535 && (await portFree(port + 10_000))) ports.push(port);
  }
  const children = ports.map((port) => {
    const home = path.join(dir, `${port}`);
    mkdirSync(home);
    const args = ["--port", `${port}`, "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"];
    const rest = ["--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no", "--save", "", "--appendonly", "no", "--dir", home];
    return spawn("redis-server", [...args, ...rest], { stdio: "ignore" });
  });
  const stop = () => {
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await until(() => listening(port), "a cluster node to listen");
    const made = spawnSync("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-yes"], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`redis-cli --cluster create failed: ${made.stderr}`);
    const settled = async () =>
      ports.every((p) => spawnSync("redis-cli", ["-p", `${p}`, "cluster", "info"], { encoding: "utf8" }).stdout.includes("cluster_state:ok"));
    await until(settled, "the redis cluster to settle");
  } catch (e) {
    stop();
    throw e;
  }
  return { urls: ports.map((p) => `redis://127.0.0.1:${p}/`).join(","), stop };
}

/**
 * A throw-away PostgreSQL cluster on a free port, as server/src/testing.rs
 * starts them: Debian's newest `/usr/lib/postgresql/<v>/bin`, a temp
 * directory, run as `postgres` when we are root. Never the system service.
 */
export async function startPostgres(): Promise<{ url: string; stop: () => void }> {
  const versions = readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v));
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error("PostgreSQL is not installed (make test installs it)");
  const bin = `/usr/lib/postgresql/${newest}/bin`;
  const dir = mkdtempSync(path.join(tmpdir(), "chat-e2e-pg-"));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const id = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
    chownSync(dir, id("-u"), id("-g"));
  }
  const run = (tool: string, args: string[]) => {
    const [cmd, all] = asRoot ? ["runuser", ["-u", "postgres", "--", `${bin}/${tool}`, ...args]] : [`${bin}/${tool}`, args];
    const done = spawnSync(cmd, all, { encoding: "utf8" });
    if (done.status !== 0) throw new Error(`${tool} failed: ${done.stderr}`);
  };
  const data = path.join(dir, "data");
  const port = await freePort();
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]);
  const options = `-p ${port} -k ${data} -c listen_addresses=127.0.0.1 -c fsync=off`;
  run("pg_ctl", ["-D", data, "-w", "-l", path.join(dir, "log"), "-o", options, "start"]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** `server create-admin <name>` on a database, as an operator would run it. */
export function createAdmin(database: string, name: string, password: string) {
  const run = spawnSync(serverBin, ["create-admin", name], {
    cwd: root,
    env: { ...process.env, LEPTOS_OUTPUT_NAME: "chat", DATABASE_URL: database, ADMIN_PASSWORD: password },
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`create-admin failed: ${run.stderr}`);
  return run.stdout;
}

/** A fresh database location shared by the processes given it. */
export function freshDatabase(): string {
  return `sqlite://${mkdtempSync(path.join(tmpdir(), "chat-e2e-"))}/chat.db`;
}

export class ServerProcess {
  child: ChildProcess;
  constructor(
    readonly port: number,
    readonly database: string,
    readonly redis?: string,
    env: Record<string, string> = {},
  ) {
    if (!existsSync(serverBin)) throw new Error(`no server binary at ${serverBin} (set SERVER_BIN)`);
    this.child = spawn(serverBin, [], {
      cwd: root,
      stdio: "ignore",
      env: {
        ...process.env,
        LEPTOS_OUTPUT_NAME: "chat",
        LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
        DATABASE_URL: database,
        REDIS_URL: redis ?? "",
        RUST_LOG: "warn",
        // The product's flood limits, not the looser ones the main test server runs with.
        FLOOD_RATE: "",
        FLOOD_BURST: "",
        ...env,
      },
    });
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(database: string, redis?: string, port?: number, env: Record<string, string> = {}): Promise<ServerProcess> {
    const server = new ServerProcess(port ?? (await freePort()), database, redis, env);
    await until(async () => (await fetch(`${server.origin}/healthz`)).ok, `${server.origin} to serve`);
    return server;
  }

  /** SIGTERM, and wait until it has exited. */
  async stop() {
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }

  kill() {
    this.child.kill("SIGKILL");
  }
}
