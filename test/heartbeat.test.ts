import { afterEach, describe, expect, it } from "vitest";
import { type Harness, otherSong, song, startHarness, T0, TOKENS } from "./harness.ts";
import type { ReceivedFrame } from "./fakes/gateway.ts";

// docs/protocol.md section 1: heartbeats, seq tracking, op 1 from the server, ACK payloads, zombie rule.

let h: Harness;
afterEach(async () => h?.close());

const beats = (connection?: number): ReceivedFrame[] => h.framesWithOp(1).filter((f) => connection === undefined || f.connection === connection);

/** Plays `song` and waits until Discord shows it (identify, READY and one op 3, all at T0). */
async function presenting(options: Parameters<typeof startHarness>[0] = {}) {
  h = await startHarness(options);
  h.play(song);
  return h.waitForPresence();
}

describe("heartbeat timing", () => {
  it("sends the first beat after interval x random, then exactly every interval", async () => {
    const interval = 100; // a short Hello interval, so that 1 ms steps cover it quickly
    await presenting({ heartbeatIntervalMs: interval });
    const helloAt = h.gateway.connections[0]!.sentByServer[0]!.at;
    expect(h.gateway.connections[0]!.sentByServer[0]!.data).toEqual({ op: 10, d: { heartbeat_interval: interval } });

    await h.advanceUntil(() => beats().length > 0, 1, interval + 5, "first heartbeat");
    const first = beats()[0]!;
    // Not at once on Hello, and not a whole interval later: interval x random[0, 1).
    expect(first.at).toBeGreaterThanOrEqual(helloAt);
    expect(first.at).toBeLessThan(helloAt + interval);

    for (let i = 0; i < 3; i++) await h.advance(interval);
    expect(beats().map((f) => f.at)).toEqual([first.at, first.at + interval, first.at + 2 * interval, first.at + 3 * interval]);
    expect(beats().every((f) => f.connection === 0)).toBe(true);
    expect(h.gateway.connections).toHaveLength(1);
    expect(h.gateway.connections[0]!.closedWith).toBeUndefined();
  });

  it("jitters the first beat per user instead of beating in lockstep on Hello", async () => {
    h = await startHarness({
      heartbeatIntervalMs: 41_250,
      users: [
        { username: "alice", discordToken: TOKENS.alice },
        { username: "bob", discordToken: TOKENS.bob },
      ],
    });
    h.play(song);
    h.play(song, { user: "bob" });
    await h.gateway.waitForFrame((f) => f.op === 3 && f.connection === 1);
    await h.gateway.waitForFrame((f) => f.op === 3 && f.connection === 0);
    await h.advanceUntil(() => new Set(beats().map((f) => f.connection)).size === 2, 250, 41_250, "a beat from each user");
    const [a, b] = [beats(0)[0]!.at, beats(1)[0]!.at];
    expect(a).not.toBe(b);
    for (const at of [a, b]) expect(at - T0).toBeLessThan(41_250);
  });
});

describe("heartbeat sequence number", () => {
  it("reports null before any dispatch, then the last non-null s, including s: 0", async () => {
    h = await startHarness({ heartbeatIntervalMs: 1000 });
    h.gateway.autoReady = false;
    h.play(song);
    await h.gateway.waitForFrame((f) => f.op === 2);

    await h.advance(1000);
    expect(beats().map((f) => f.d)).toEqual([null]);

    h.gateway.ready(); // READY has s = 1
    await h.waitForPresence();
    await h.advance(1000);
    expect(beats().at(-1)!.d).toBe(1);

    h.gateway.dispatch("MESSAGE_CREATE", { id: "1" }); // s = 2
    h.gateway.dispatch("PRESENCE_UPDATE", {}); // s = 3
    await h.advance(1000); // the client reads them before the clock moves
    expect(beats().at(-1)!.d).toBe(3);

    h.gateway.dispatch("SESSIONS_REPLACE", [], 0); // a server may send s: 0
    await h.advance(1000);
    expect(beats().at(-1)!.d).toBe(0);

    h.gateway.send({ op: 0, t: "TYPING_START", s: null, d: {} }); // no s: keeps the last one
    await h.advance(1000);
    expect(beats().at(-1)!.d).toBe(0);

    h.gateway.dispatch("MESSAGE_CREATE", { id: "2" }, 41);
    await h.advance(1000);
    expect(beats().map((f) => f.d)).toEqual([null, 1, 3, 0, 0, 41]);
    expect(h.gateway.connections).toHaveLength(1);
  });

  it.each(
    [
      ["op 9 d:false", () => h.gateway.invalidSession(false)],
      ["close 4009", () => h.gateway.closeWith(4009, "Session timed out.")],
    ] as const,
  )("forgets the seq with the session (%s): null until the new READY", async (_, end) => {
    await presenting({ heartbeatIntervalMs: 60_000 });
    h.gateway.dispatch("MESSAGE_CREATE", {}, 57);
    await h.advance(10_000); // past the identify pace
    h.gateway.autoReady = false;
    end();
    await h.advanceUntil(() => h.framesWithOp(2).length === 2, 250, 6000, "a new identify");
    const identify = h.framesWithOp(2)[1]!;
    h.gateway.requestHeartbeat(); // before the new READY: the old session's seq means nothing here
    const before = await h.gateway.waitForFrame((f) => f.op === 1, { after: identify.index });
    expect(before.d).toBeNull();
    h.gateway.ready({}, identify.connection);
    await h.waitForPresence(() => true, identify.index);
    const ready = h.gateway.connections[identify.connection]!.seq;
    h.gateway.requestHeartbeat();
    const after = await h.gateway.waitForFrame((f) => f.op === 1, { after: before.index + 1 });
    expect(after.d).toBe(ready);
  });
});

describe("heartbeat requests and ACKs", () => {
  it("answers an op 1 from the server at once, with the last seq", async () => {
    await presenting();
    await h.advance(500);
    h.gateway.dispatch("MESSAGE_CREATE", {}); // s = 2
    h.gateway.requestHeartbeat();
    const answer = await h.gateway.waitForFrame((f) => f.op === 1);
    expect(answer).toMatchObject({ connection: 0, d: 2, at: T0 + 500 });
    expect(JSON.parse(answer.raw)).toEqual({ op: 1, d: 2 });
  });

  it.each(
    [
      ["null, like Discord", null],
      ["{}, like some compatible servers", {}],
    ] as const,
  )("counts an ACK whose d is %s", async (_, payload) => {
    await presenting({ heartbeatIntervalMs: 1000 });
    h.gateway.ackPayload = payload;
    for (let i = 0; i < 5; i++) await h.advance(1000);
    expect(beats()).toHaveLength(5);
    // Every beat was ACKed with that payload, and none of them was taken for a zombie connection.
    expect(h.gateway.connections).toHaveLength(1);
    expect(h.gateway.connections[0]!.closedWith).toBeUndefined();
    const acks = h.gateway.connections[0]!.sentByServer.filter((f) => (f.data as { op: number }).op === 11);
    expect(acks.map((f) => f.data)).toEqual(Array(5).fill({ op: 11, d: payload }));
    expect(h.service.status().users[0]).toMatchObject({ state: "presenting.playing", connected: true, reconnects: 0 });
  });
});

describe("zombie connection (no ACK between two beats)", () => {
  it("closes non-1000, reconnects at once on resume_gateway_url and resumes without re-sending the presence", async () => {
    h = await startHarness({ heartbeatIntervalMs: 1000 });
    h.gateway.autoReady = false;
    h.play(song);
    await h.gateway.waitForFrame((f) => f.op === 2);
    // resume_gateway_url with a path and a query of its own: both must be kept, plus v and encoding.
    h.gateway.ready({ resume_gateway_url: `${h.gateway.url}/resume?region=eu` });
    await h.waitForPresence();
    const sessionId = h.gateway.connections[0]!.sessionId!;
    h.gateway.dispatch("MESSAGE_CREATE", {}); // s = 2
    await h.settle(); // read before the fake stops answering beats
    h.gateway.autoAck = false;

    await h.advanceUntil(() => beats().length === 1, 1000, 1000, "first beat");
    const firstBeat = beats()[0]!;
    expect(h.gateway.connections[0]!.closedWith).toBeUndefined();
    await h.advance(1000); // the next beat is due, and the first was never ACKed

    const closed = await h.gateway.waitForClose(0);
    expect(closed.code).not.toBe(1000);
    expect(closed.code).not.toBe(1001);
    expect(h.gateway.connections[0]!.serverClosedWith).toBeUndefined(); // the client closed it
    const resume = await h.gateway.waitForFrame((f) => f.op === 6);
    const zombieAt = firstBeat.at + 1000;
    expect(resume).toMatchObject({ connection: 1, at: zombieAt });
    expect(resume.d).toEqual({ token: TOKENS.alice, session_id: sessionId, seq: 2 });
    expect(h.gateway.connections[1]!.sentByServer[0]!.at).toBe(zombieAt); // opened at once, no backoff
    expect(h.gateway.connections[1]!.url).toBe("/resume?region=eu&v=10&encoding=json");
    expect(new URLSearchParams(h.gateway.connections[1]!.url.split("?")[1]).toString()).toContain("v=10&encoding=json");
    expect(h.framesWithOp(2)).toHaveLength(1); // resumed, not identified again

    h.gateway.autoAck = true;
    await h.advance(1000);
    expect(h.service.status().users[0]).toMatchObject({ state: "presenting.playing", connected: true, reconnects: 1 });
    expect(h.logger.entries.some((e) => e.level === "warn" && /zombie/.test(e.message))).toBe(true);
    // RESUMED: the session still shows the track; nothing is re-sent.
    expect(h.framesWithOp(3)).toHaveLength(1);

    // Unless it changed: a new track is sent on the resumed connection.
    h.play(otherSong);
    const changed = await h.waitForPresence((a) => a?.details === "Knives Out");
    expect(changed.connection).toBe(1);
    expect(h.framesWithOp(3)).toHaveLength(2);
  });
});
