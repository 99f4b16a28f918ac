/**
 * The fake gateway's "spacebar" dialect (issue 17), driven by a plain `ws` client on loopback so the
 * frames are exactly what a client would see. Every wait is for a frame or a close, never for time.
 */
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type CloseInfo, CORE_ACTIVITY_KEYS, FakeGateway, type GatewayDialect, keysOutsideCore } from "./fakes/gateway.ts";
import { withTimeout } from "./fakes/wait.ts";

const TOKEN = "spacebar-user-token-SECRET-42";

/** An activity with every core key and nothing else: Spacebar takes it. */
const coreActivity = {
  type: 2,
  name: "Navidrome",
  application_id: "123456789012345678",
  details: "Title",
  state: "Artist",
  timestamps: { start: 1_700_000_000_000, end: 1_700_000_180_000 },
  assets: { large_image: "mp:external/abc/img.example.org/a.jpg", large_text: "Album" },
};

const presence = (activity: Record<string, unknown>) => ({ op: 3, d: { since: 0, status: "online", afk: true, activities: [activity] } });

/** A bare client: every frame it receives, in order, and how its socket closed. */
class PlainClient {
  readonly frames: Array<{ raw: string; data: Record<string, unknown> }> = [];
  readonly closed: Promise<CloseInfo>;
  readonly #ws: WebSocket;
  readonly #opened: Promise<void>;
  readonly #waiters = new Set<() => void>();

  constructor(url: string) {
    this.#ws = new WebSocket(`${url}/?v=10&encoding=json`).on("error", () => {});
    this.#opened = new Promise((resolve) => this.#ws.once("open", () => resolve()));
    this.closed = new Promise((resolve) => this.#ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    this.#ws.on("message", (data) => {
      const raw = data.toString();
      this.frames.push({ raw, data: JSON.parse(raw) as Record<string, unknown> });
      for (const waiter of [...this.#waiters]) waiter();
    });
  }

  async send(frame: unknown): Promise<void> {
    await this.#opened;
    this.#ws.send(JSON.stringify(frame));
  }

  /** The first frame received (already or later) with this `op` (and `t`, for a dispatch). */
  frame(op: number, t?: string): Promise<{ raw: string; data: Record<string, unknown> }> {
    const find = () => this.frames.find((f) => f.data.op === op && (t === undefined || f.data.t === t));
    const found = new Promise<{ raw: string; data: Record<string, unknown> }>((resolve) => {
      const check = () => {
        const frame = find();
        if (!frame) return;
        this.#waiters.delete(check);
        resolve(frame);
      };
      this.#waiters.add(check);
      check();
    });
    return withTimeout(found, 2000, `op ${op}${t ? ` ${t}` : ""}`);
  }

  /** Waits for the close, so that no socket outlives its test. */
  end(): Promise<CloseInfo> {
    this.#ws.close(1000);
    return this.closed;
  }
}

describe("FakeGateway dialect", () => {
  let gateway: FakeGateway;
  const clients: PlainClient[] = [];

  async function start(dialect: GatewayDialect): Promise<void> {
    gateway = await FakeGateway.start({ dialect, validTokens: [TOKEN] });
  }
  function connect(): PlainClient {
    const client = new PlainClient(gateway.url);
    clients.push(client);
    return client;
  }
  /** A client past identify and READY. */
  async function identified(): Promise<PlainClient> {
    const client = connect();
    await client.send({ op: 2, d: { token: TOKEN, properties: {} } });
    await client.frame(0, "READY");
    return client;
  }

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.end()));
    await gateway.close();
  });

  describe("spacebar", () => {
    it("closes 4002 with an empty reason on an op 3 carrying status_display_type", async () => {
      await start("spacebar");
      const client = await identified();
      await client.send(presence({ ...coreActivity, status_display_type: 2 }));
      expect(await client.closed).toEqual({ code: 4002, reason: "" });
      expect(gateway.connections[0]!.refusedKeys).toEqual(["activities[0].status_display_type"]);
    });

    it.each([
      ["details_url", { ...coreActivity, details_url: "https://nd.example.org/t" }],
      ["state_url", { ...coreActivity, state_url: "https://nd.example.org/a" }],
      ["numeric flags", { ...coreActivity, flags: 1 }],
      ["buttons", { ...coreActivity, buttons: ["Open"] }],
      ["metadata", { ...coreActivity, metadata: { button_urls: [] } }],
      ["assets.large_url", { ...coreActivity, assets: { ...coreActivity.assets, large_url: "https://nd.example.org/al" } }],
      ["assets.small_image", { ...coreActivity, assets: { ...coreActivity.assets, small_image: "mp:paused" } }],
      ["assets.small_text", { ...coreActivity, assets: { ...coreActivity.assets, small_text: "Paused" } }],
    ])("closes 4002 on %s too", async (_name, activity) => {
      await start("spacebar");
      const client = await identified();
      await client.send(presence(activity));
      expect(await client.closed).toEqual({ code: 4002, reason: "" });
    });

    it("takes an op 3 with exactly the core keys (the ACK of a later beat proves it was read)", async () => {
      await start("spacebar");
      const client = await identified();
      expect(keysOutsideCore(presence(coreActivity).d)).toEqual([]);
      expect(Object.keys(coreActivity).sort()).toEqual([...CORE_ACTIVITY_KEYS.activity].sort());
      await client.send(presence(coreActivity));
      await client.send({ op: 3, d: { since: 0, status: "online", afk: true, activities: [] } });
      await client.send({ op: 1, d: 1 });
      await client.frame(11);
      expect(gateway.connections[0]!.closedWith).toBeUndefined();
      expect(gateway.connections[0]!.refusedKeys).toBeUndefined();
    });

    it("closes 4000 (not 4004) on a bad token at identify", async () => {
      await start("spacebar");
      const client = connect();
      await client.send({ op: 2, d: { token: "not-a-token", properties: {} } });
      expect((await client.closed).code).toBe(4000);
    });

    it("answers every resume with op 9 d:false, even for the session it just made", async () => {
      await start("spacebar");
      const first = await identified();
      const ready = (await first.frame(0, "READY")).data.d as { session_id: string };
      const second = connect();
      await second.send({ op: 6, d: { token: TOKEN, session_id: ready.session_id, seq: 0 } });
      expect((await second.frame(9)).raw).toBe('{"op":9,"d":false}');
    });

    it("sends READY with s: 0 and ACKs with d: {}", async () => {
      await start("spacebar");
      const client = await identified();
      expect((await client.frame(0, "READY")).data.s).toBe(0);
      await client.send({ op: 1, d: 0 });
      expect((await client.frame(11)).raw).toBe('{"op":11,"d":{}}');
    });
  });

  describe("discord (the default, unchanged)", () => {
    it("takes status_display_type, closes 4004 on a bad token, READY s: 1, ACK d: null", async () => {
      await start("discord");
      const client = await identified();
      expect((await client.frame(0, "READY")).data.s).toBe(1);
      await client.send(presence({ ...coreActivity, status_display_type: 2 }));
      await client.send({ op: 1, d: 1 });
      expect((await client.frame(11)).raw).toBe('{"op":11,"d":null}');
      expect(gateway.connections[0]!.closedWith).toBeUndefined();

      const refused = connect();
      await refused.send({ op: 2, d: { token: "not-a-token", properties: {} } });
      expect(await refused.closed).toEqual({ code: 4004, reason: "Authentication failed." });
    });
  });
});
