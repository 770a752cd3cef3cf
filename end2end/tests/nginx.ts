// nginx (Debian's) in front of server processes, with the config the repo
// ships to users (deploy/nginx-chat.conf): only its upstream ports, its
// listen addresses and its certificate (a self-signed one made here) are
// rewritten, and a main config of our own around it keeps every path
// inside a temp directory. Never the system service.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { Browser, BrowserContextOptions } from "@playwright/test";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, until } from "./processes";

const root = path.resolve(__dirname, "../..");

export class Nginx {
  constructor(
    readonly port: number,
    readonly dir: string,
    private child: ChildProcess,
  ) {}

  /** The site, over TLS (the shipped config's 443 block). */
  get origin() {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The plain-http port, which only redirects to https. */
  httpPort = 0;

  /** A browser context on the site; the certificate is our own, self-signed. */
  context(browser: Browser, options: BrowserContextOptions = {}) {
    return browser.newContext({ baseURL: this.origin, ignoreHTTPSErrors: true, ...options });
  }

  /** Starts nginx on a free port, proxying to `upstreams` (ports). */
  static async start(config: string, upstreams: number[], vars: Record<string, string> = {}): Promise<Nginx> {
    const [port, httpPort] = [await freePort(), await freePort()];
    const dir = mkdtempSync(path.join(tmpdir(), "chat-nginx-"));
    // Run as root (as CI does), nginx's workers are `nobody`: they must
    // reach the temp paths that buffer large answers (the WASM).
    chmodSync(dir, 0o755);
    selfSigned(dir);
    let site = readFileSync(path.join(root, "deploy", config), "utf8")
      .replace(/^(\s*)listen 80;/m, `$1listen 127.0.0.1:${httpPort};`)
      .replace(/^(\s*)listen 443 ssl;/m, `$1listen 127.0.0.1:${port} ssl;`)
      .replace("/etc/ssl/chat/fullchain.pem", `${dir}/cert.pem`)
      .replace("/etc/ssl/chat/privkey.pem", `${dir}/key.pem`)
      .replace(/^\s*server 127\.0\.0\.1:\d+[^;]*;\n/gm, "");
    site = site.replace(
      /upstream chat \{\n/,
      `upstream chat {\n${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;\n`).join("")}`,
    );
    for (const [name, value] of Object.entries(vars)) site = site.replaceAll(name, value);
    writeFileSync(path.join(dir, "chat.conf"), site);
    const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
      .map((t) => `${t}_temp_path ${dir}/${t};`)
      .join(" ");
    writeFileSync(
      path.join(dir, "nginx.conf"),
      `worker_processes 1; error_log ${dir}/error.log; pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http { access_log off; include /etc/nginx/mime.types; ${temp} include ${dir}/chat.conf; }
`,
    );
    const child = spawn("/usr/sbin/nginx", ["-p", dir, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"], {
      stdio: "ignore",
    });
    const nginx = new Nginx(port, dir, child);
    nginx.httpPort = httpPort;
    await until(async () => (await status(`${nginx.origin}/healthz`)) < 500, "nginx to proxy");
    return nginx;
  }

  /** Fast shutdown: the master stops its workers (SIGKILL would orphan
   * them, still listening), then exits. */
  async stop() {
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    await exited;
  }
}

/** A key and a certificate for 127.0.0.1, valid for a day, in `dir`. */
function selfSigned(dir: string) {
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`,
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" });
  chmodSync(`${dir}/key.pem`, 0o644);
}

/** The status of a GET over https, trusting our own certificate. */
export function status(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on("error", reject);
  });
}
