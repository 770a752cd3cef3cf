/**
 * A bad network between the browser and the server, made of a real TCP
 * proxy: every byte waits `latencyMs` each way (so something is always in
 * flight, as on a train), and while flapping, every connection is cut at
 * a random moment (both ends, mid-frame if that is where it is).
 * On bare loopback nothing is ever in flight when a socket dies, and a
 * page that loses what it wrote into a dying socket passes.
 */
import * as net from "node:net";

export class FlakyProxy {
  private readonly sockets = new Set<net.Socket>();
  private flapTimer: NodeJS.Timeout | undefined;
  /** How many connections were cut so far. */
  cuts = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** Listens on a free loopback port and forwards to `target` (an origin). */
  static async start(target: string, latencyMs: number): Promise<FlakyProxy> {
    const { hostname, port } = new URL(target);
    let proxy: FlakyProxy | undefined;
    const server = net.createServer((client) => proxy?.accept(client, hostname, Number(port), latencyMs));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new FlakyProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private accept(client: net.Socket, host: string, port: number, latencyMs: number) {
    const upstream = net.connect(port, host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => {});
    }
    delayed(client, upstream, latencyMs);
    delayed(upstream, client, latencyMs);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  }

  /** Cuts every open connection at random moments, `minMs`–`maxMs` apart. */
  flap(minMs: number, maxMs: number) {
    const next = () => {
      this.flapTimer = setTimeout(() => {
        this.cutAll();
        next();
      }, minMs + Math.random() * (maxMs - minMs));
    };
    next();
  }

  /** Stops cutting: the network is merely slow again. */
  steady() {
    clearTimeout(this.flapTimer);
    this.flapTimer = undefined;
  }

  cutAll() {
    if (this.sockets.size > 0) this.cuts += 1;
    for (const s of this.sockets) s.destroy();
  }

  async stop() {
    this.steady();
    this.cutAll();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Copies `from` to `to`, each chunk `latencyMs` later, in order. */
function delayed(from: net.Socket, to: net.Socket, latencyMs: number) {
  from.on("data", (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, latencyMs);
  });
  from.on("end", () => setTimeout(() => to.end(), latencyMs));
}
