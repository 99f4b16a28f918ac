import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { OutgoingFrame } from "../src/actors/effects.ts";
import { SimulatedClock } from "xstate";
import { type GatewayEventInput, GatewaySockets } from "../src/adapters/discord/gateway-sockets.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { FakeGateway } from "./fakes/gateway.ts";
import { ioSettled } from "./fakes/io-barrier.ts";
import { until } from "./fakes/wait.ts";

const TOKEN = "mfa.alice-secret-token-0123456789";
const BAD_TOKEN = "mallory-wrong-token-9876543210";
const UA = "nd-presence-test/0.1 (+https://example.invalid)";
const QUERY = "/?v=10&encoding=json";

const identify: OutgoingFrame = {
  op: 2,
  d: {
    capabilities: 0,
    properties: { os: "Linux", browser: "Discord Client", device: "", system_locale: "en-US" },
    presence: { status: "unknown", since: 0, activities: [], afk: true },
    compress: false,
    client_state: { guild_versions: {} },
  },
};

let gw: FakeGateway;
let logger: ReturnType<typeof memoryLogger>;
let events: GatewayEventInput[];
let sockets: GatewaySockets;
/** The connections' heartbeats run on it: no beat goes out unless a test moves it. */
let clock: SimulatedClock;

const tokens: Record<string, string> = { alice: TOKEN, mallory: BAD_TOKEN };
const waitEvent = (predicate: (e: GatewayEventInput) => boolean, what = "event") => until(() => events.find(predicate), 2000, what);
const ofType = (type: GatewayEventInput["type"], socket?: number) => (e: GatewayEventInput) => e.type === type && (socket === undefined || e.socket === socket);

beforeEach(async () => {
  gw = await FakeGateway.start({ validTokens: [TOKEN] });
  logger = memoryLogger();
  events = [];
  clock = new SimulatedClock();
  sockets = new GatewaySockets({ userAgent: UA, tokenFor: (user) => tokens[user], deliver: (e) => events.push(e), logger, clock });
});

afterEach(async () => {
  await sockets.closeAll(1000, "test over");
  await gw.close();
  expect(sockets.openCount).toBe(0);
  for (const secret of [TOKEN, BAD_TOKEN]) {
    expect(logger.text()).not.toContain(secret);
    expect(JSON.stringify(events)).not.toContain(secret);
  }
});

type ReadyEvent = Extract<GatewayEventInput, { type: "gateway.ready" }>;

async function connectAndIdentify(user = "alice", socket = 1): Promise<ReadyEvent> {
  sockets.open(user, socket, gw.url + QUERY);
  await waitEvent(ofType("gateway.hello", socket), "hello");
  sockets.send(user, socket, identify);
  return (await waitEvent(ofType("gateway.ready", socket), "ready")) as ReadyEvent;
}

describe("GatewaySockets against the fake gateway", () => {
  it("sends the User-Agent and the query on the upgrade", async () => {
    sockets.open("alice", 1, gw.url + QUERY);
    const conn = await gw.waitForConnection(0);
    expect(conn.headers["user-agent"]).toBe(UA);
    expect(conn.url).toBe(QUERY);
    expect(await waitEvent(ofType("gateway.hello"))).toEqual({ type: "gateway.hello", user: "alice", socket: 1, heartbeatIntervalMs: 1000 });
  });

  it("inserts the token as the first key of identify, without a Bot prefix", async () => {
    const ready = await connectAndIdentify();
    const frame = await gw.waitForFrame((f) => f.op === 2);
    const d = JSON.parse(frame.raw).d as Record<string, unknown>;
    expect(Object.keys(d)[0]).toBe("token");
    expect(d.token).toBe(TOKEN);
    expect({ ...d, token: undefined }).toEqual({ ...(identify.d as object), token: undefined });
    expect(ready).toEqual({
      type: "gateway.ready",
      user: "alice",
      socket: 1,
      seq: 1,
      sessionId: gw.connections[0]!.sessionId,
      resumeUrl: gw.url,
    });
  });

  it("delivers only what changes the session; answers op 1 itself with the last s; keeps other dispatches to itself", async () => {
    await connectAndIdentify();
    gw.dispatch("SESSIONS_REPLACE", []); // s = 2
    gw.requestHeartbeat();
    const answer = await gw.waitForFrame((f) => f.op === 1);
    expect(answer.d).toBe(2);
    gw.reconnect();
    gw.invalidSession(true);
    gw.invalidSession(false); // the session is gone, and its s with it
    gw.requestHeartbeat();
    expect((await gw.waitForFrame((f) => f.op === 1, { after: answer.index + 1 })).d).toBeNull();
    gw.dispatch("ZERO", {}, 0); // a server may send s: 0
    gw.requestHeartbeat();
    expect((await gw.waitForFrame((f) => f.op === 1 && f.d !== null, { after: answer.index + 1 })).d).toBe(0);
    await ioSettled(gw);
    expect(events.map(({ user, socket, ...rest }) => (expect([user, socket]).toEqual(["alice", 1]), rest))).toEqual([
      { type: "gateway.hello", heartbeatIntervalMs: 1000 },
      expect.objectContaining({ type: "gateway.ready", seq: 1 }),
      { type: "gateway.reconnect" },
      { type: "gateway.invalidSession", resumable: true },
      { type: "gateway.invalidSession", resumable: false },
    ]);
  });

  it("resumes on a new socket: token first in op 6, RESUMED with the next seq", async () => {
    const ready = await connectAndIdentify();
    gw.dispatch("A", {}); // s = 2
    await ioSettled(gw);
    sockets.close("alice", 1, 4000, "zombie");
    expect(await gw.waitForClose(0)).toEqual({ code: 4000, reason: "zombie" });
    await waitEvent(ofType("gateway.closed", 1));
    sockets.open("alice", 2, ready.resumeUrl + QUERY);
    await waitEvent(ofType("gateway.hello", 2));
    // The machine names the session; the connection adds the token and the last s it read.
    sockets.send("alice", 2, { op: 6, d: { session_id: ready.sessionId! } });
    expect(await waitEvent(ofType("gateway.resumed", 2))).toEqual({ type: "gateway.resumed", user: "alice", socket: 2, seq: 3 });
    const resume = await gw.waitForFrame((f) => f.op === 6);
    expect(resume.connection).toBe(1);
    expect(resume.raw).toBe(`{"op":6,"d":{"token":"${TOKEN}","session_id":"${ready.sessionId}","seq":2}}`);
  });

  it("logs invalid JSON and unknown opcodes without their content, delivers nothing and stays open", async () => {
    sockets.open("alice", 1, gw.url + QUERY);
    await waitEvent(ofType("gateway.hello"));
    gw.sendRaw('{"op":0,"d":{"private":"do-not-log-me"');
    gw.send({ op: 42, d: { private: "do-not-log-me" } });
    gw.send({ op: 10, d: { heartbeat_interval: -5 } });
    gw.dispatch("AFTER", {}, 0);
    await ioSettled(gw);
    // Only the dispatch after them is read: its s is the first this session noted.
    expect(events.map(({ user: _user, ...rest }) => rest)).toEqual([
      { type: "gateway.hello", socket: 1, heartbeatIntervalMs: 1000 },
      { type: "gateway.seq", socket: 1, seq: 0 },
    ]);
    const warnings = logger.entries.filter((e) => e.level === "warn");
    expect(warnings).toHaveLength(3);
    expect(warnings[1]!.data).toEqual({ user: "alice", socket: 1, op: 42 });
    expect(logger.text()).not.toContain("do-not-log-me");
    expect(gw.connections[0]!.closedWith).toBeUndefined();
    expect(sockets.openCount).toBe(1);
  });

  it("reports a 4004 close from the server (bad token)", async () => {
    sockets.open("mallory", 7, gw.url + QUERY);
    await waitEvent(ofType("gateway.hello"));
    sockets.send("mallory", 7, identify);
    const closed = await waitEvent(ofType("gateway.closed"));
    expect(closed).toEqual({ type: "gateway.closed", user: "mallory", socket: 7, code: 4004, reason: "Authentication failed." });
    expect(gw.connections[0]!.serverClosedWith?.code).toBe(4004);
  });

  it("reports a dropped connection as 1006", async () => {
    sockets.open("alice", 1, gw.url + QUERY);
    await waitEvent(ofType("gateway.hello"));
    gw.drop();
    expect(await waitEvent(ofType("gateway.closed"))).toMatchObject({ code: 1006, socket: 1 });
  });

  it("reports a refused connection with exactly one closed event", async () => {
    const gone = await FakeGateway.start();
    const url = gone.url;
    await gone.close();
    sockets.open("alice", 3, url + QUERY);
    const closed = await waitEvent(ofType("gateway.closed"));
    expect(closed).toMatchObject({ type: "gateway.closed", user: "alice", socket: 3, code: 1006 });
    await ioSettled(gone); // the socket is gone on both sides: nothing more can come of it
    expect(events).toHaveLength(1);
  });

  it("terminates a socket closed while connecting, with one closed event", async () => {
    sockets.open("alice", 1, gw.url + QUERY);
    sockets.close("alice", 1, 4000, "give up");
    await waitEvent(ofType("gateway.closed"));
    await ioSettled(gw);
    expect(events).toEqual([expect.objectContaining({ type: "gateway.closed", socket: 1, code: 1006 })]);
  });

  it("runs at most handshakeLimit handshakes at once: the next socket opens when one is READY or closed; one given up while waiting never connects", async () => {
    const gated = new GatewaySockets({ userAgent: UA, tokenFor: (user) => tokens[user], deliver: (e) => events.push(e), logger, clock, handshakeLimit: 2 });
    const users = ["ann", "bob", "cat", "dan", "eve"];
    for (const user of users) gated.open(user, 1, gw.url + QUERY);
    await gw.waitForConnection(1);
    await ioSettled(gw); // a third socket would be connecting: the barrier waits for it
    expect(gw.connections).toHaveLength(2);
    expect(gated.handshakeCounts).toEqual({ running: 2, waiting: 3 });
    expect(gated.openCount).toBe(5);

    // Given up while waiting (the machine's Hello timeout, or a stop): closed as a connecting socket would be.
    gated.close("dan", 1, 4000, "no Hello in time");
    expect(await waitEvent((e) => e.type === "gateway.closed" && e.user === "dan")).toMatchObject({ socket: 1, code: 1006 });
    expect(gated.handshakeCounts).toEqual({ running: 2, waiting: 2 });

    // READY on the first connection: its slot goes to the next in line, in the order they asked.
    const helloed = () => events.filter((e) => e.type === "gateway.hello").map((e) => e.user);
    const [first, second] = helloed();
    gw.ready({}, 0);
    await waitEvent((e) => e.type === "gateway.ready" && e.user === first);
    await gw.waitForConnection(2);
    await waitEvent((e) => e.type === "gateway.hello" && e.user === "cat");
    // A close frees a slot too.
    gw.drop(1);
    await waitEvent((e) => e.type === "gateway.closed" && e.user === second);
    await waitEvent((e) => e.type === "gateway.hello" && e.user === "eve");
    await ioSettled(gw);
    expect(gw.connections).toHaveLength(4);
    expect(new Set([first, second])).toEqual(new Set(["ann", "bob"]));
    expect(helloed()).toEqual([first, second, "cat", "eve"]);
    expect(gated.handshakeCounts).toEqual({ running: 2, waiting: 0 });

    await gated.closeAll(1000, "test over");
    expect(gated.openCount).toBe(0);
    expect(gated.handshakeCounts).toEqual({ running: 0, waiting: 0 });
  });

  it("drops frames for a stale socket and silences the replaced socket", async () => {
    sockets.open("alice", 1, gw.url + QUERY);
    await waitEvent(ofType("gateway.hello", 1));
    sockets.open("alice", 2, gw.url + QUERY);
    await waitEvent(ofType("gateway.hello", 2));
    await gw.waitForClose(0);
    sockets.send("alice", 1, identify);
    sockets.send("alice", 2, identify);
    const sent = await gw.waitForFrame((f) => f.op === 2);
    expect(sent.connection).toBe(1);
    await ioSettled(gw); // had the stale frame been written, it would have arrived by now
    expect(gw.frames).toHaveLength(1);
    expect(events.some((e) => e.type === "gateway.closed")).toBe(false);
    expect(logger.entries.some((e) => e.level === "debug" && e.data?.socket === 1 && e.data?.op === 2)).toBe(true);
  });

  it("closeUser closes whatever socket the user has, with the code given, and reports nothing", async () => {
    await connectAndIdentify();
    sockets.closeUser("alice", 1000, "restarting after an error");
    expect(await gw.waitForClose(0)).toEqual({ code: 1000, reason: "restarting after an error" });
    await ioSettled(gw); // the client has seen its socket close too
    expect(events.filter((e) => e.type === "gateway.closed")).toEqual([]);
    sockets.closeUser("nobody", 1000, "no socket: nothing happens");
  });

  it("closeAll closes every socket with the code given", async () => {
    await connectAndIdentify("alice", 1);
    await sockets.closeAll(1000, "shutdown");
    expect(sockets.openCount).toBe(0);
    expect(await gw.waitForClose(0)).toEqual({ code: 1000, reason: "shutdown" });
  });
});

describe("FakeGateway enforces Discord's limits", () => {
  it("closes 4002 on a frame over 4096 bytes sent through the adapter", async () => {
    await connectAndIdentify();
    const presence = { since: 0, status: "online" as const, afk: true, activities: [{ type: 2 as const, name: "x".repeat(5000) }] };
    sockets.send("alice", 1, { op: 3, d: presence });
    expect(await waitEvent(ofType("gateway.closed"))).toMatchObject({ code: 4002 });
    expect(logger.entries.some((e) => e.level === "warn" && e.message.includes("4096"))).toBe(true);
  });

  it("closes 4003 before identify, 4005 on a second identify, 4008 over 120 frames a minute", async () => {
    let now = 0;
    const strict = await FakeGateway.start({ now: () => now });
    const client = (url: string) => new WebSocket(url + QUERY).on("error", () => {});
    try {
      const a = client(strict.url);
      a.on("open", () => a.send(JSON.stringify({ op: 3, d: {} })));
      expect(await strict.waitForClose(0)).toMatchObject({ code: 4003 });

      const b = client(strict.url);
      b.on("open", () => {
        b.send(JSON.stringify({ op: 2, d: { token: "t" } }));
        b.send(JSON.stringify({ op: 2, d: { token: "t" } }));
      });
      expect(await strict.waitForClose(1)).toMatchObject({ code: 4005 });

      const c = client(strict.url);
      c.on("open", () => {
        for (let i = 0; i < 120; i++) c.send(JSON.stringify({ op: 1, d: null }));
        now = 59_999;
        c.send(JSON.stringify({ op: 1, d: null }));
      });
      expect(await strict.waitForClose(2)).toMatchObject({ code: 4008 });
      expect(strict.frames.filter((f) => f.connection === 2)).toHaveLength(121);
    } finally {
      await strict.close();
    }
  });
});
