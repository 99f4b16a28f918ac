import { afterEach, describe, expect, it } from "vitest";
import { PRESENCE_KEPT_MS } from "../src/actors/presence-effects.ts";
import type { Track } from "../src/actors/track.ts";
import { type Harness, otherSong, song, startHarness, T0, TOKENS } from "./harness.ts";
import { until } from "./fakes/wait.ts";

// docs/protocol.md section 1: op 7, op 9, the close-code table, backoff, Hello/READY timeouts, identify pace.

let h: Harness;
afterEach(async () => h?.close());

/** A track that outlasts every test here (one of unknown length would be cleared after 15 min). */
const endless: Track = { title: song.title, artist: song.artist, album: song.album!, mbids: song.mbids!, durationMs: 10 * 3_600_000 };
const MINUTE = 60_000;
const status = (user = 0) => h.service.status().users[user]!;
const op = (n: number) => h.framesWithOp(n);
const helloAt = (connection: number) => h.gateway.connections[connection]!.sentByServer[0]!.at;

async function presenting(track: Track = song, options: Parameters<typeof startHarness>[0] = {}) {
  h = await startHarness(options);
  h.play(track);
  return h.waitForPresence();
}

/** Lets the client read what the fake just sent, then fires timers due now (a 0 ms backoff). */
async function deliver() {
  await h.advance(0); // advance settles the I/O under way before it moves the clock
}

/** The client resumed on a new connection at simulated time `at`; RESUMED re-sends nothing. */
async function expectResumedAt(at: number, sessionId: string) {
  const resume = await h.gateway.waitForFrame((f) => f.op === 6);
  expect(resume).toMatchObject({ connection: 1, at, d: { token: TOKENS.alice, session_id: sessionId, seq: 1 } });
  expect(h.gateway.connections[1]!.url).toBe("/?v=10&encoding=json");
  await h.advance(1000);
  expect(status()).toMatchObject({ state: "presenting.playing", connected: true });
  expect(op(2)).toHaveLength(1);
  expect(op(3)).toHaveLength(1);
}

describe("op 7 Reconnect and op 9 Invalid Session", () => {
  it("op 7: closes non-1000, reconnects at once and resumes", async () => {
    await presenting();
    await h.advance(3000);
    h.gateway.reconnect();
    await deliver();
    const closed = await h.gateway.waitForClose(0);
    expect([1000, 1001]).not.toContain(closed.code);
    await expectResumedAt(T0 + 3000, h.gateway.connections[0]!.sessionId!);
  });

  it("op 9 d:true: resumes", async () => {
    await presenting();
    h.gateway.invalidSession(true);
    await deliver();
    expect([1000, 1001]).not.toContain((await h.gateway.waitForClose(0)).code);
    await expectResumedAt(T0, h.gateway.connections[0]!.sessionId!);
  });

  it("op 9 d:false: no resume; identifies again after 1-5 s and re-sends the presence after READY", async () => {
    const shown = await presenting();
    await h.advance(10_000); // past the identify pace, so only the 1-5 s wait applies
    h.gateway.invalidSession(false);
    await h.advanceUntil(() => op(2).length === 2, 100, 6000, "identify");
    const identify = op(2)[1]!;
    expect(identify.at - (T0 + 10_000)).toBeGreaterThanOrEqual(1000);
    expect(identify.at - (T0 + 10_000)).toBeLessThanOrEqual(5000);
    expect(op(6)).toHaveLength(0);
    const again = await h.waitForPresence(() => true, identify.index + 1);
    expect(again.d).toEqual(shown.d);
    expect(status()).toMatchObject({ state: "presenting.playing", connected: true });
  });
});

describe("close codes (docs/protocol.md table)", () => {
  it.each([4000, 4001, 4002, 4008, 1006])("%i keeps the session: reconnects at once and resumes", async (code) => {
    await presenting();
    // Past the window in which a 4002 means the op 3 was refused (see "a refused presence").
    await h.advance(PRESENCE_KEPT_MS);
    if (code === 1006) h.gateway.drop();
    else h.gateway.closeWith(code, "test");
    await deliver();
    await expectResumedAt(T0 + PRESENCE_KEPT_MS, h.gateway.connections[0]!.sessionId!);
    // 4001/4002/4008 mean Discord refused something we sent: logged as our bug.
    const asError = h.logger.entries.some((e) => e.level === "error" && e.data?.code === code);
    expect(asError).toBe([4001, 4002, 4008].includes(code));
  });

  it.each([4003, 4005, 4006, 4007, 4009, 1000, 1001])("%i drops the session: identifies again and re-sends the presence", async (code) => {
    const shown = await presenting();
    h.gateway.closeWith(code, "test");
    await h.advanceUntil(() => op(2).length === 2, 250, 10_000, "identify");
    const [first, second] = op(2);
    expect(second!.connection).toBe(1);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(5000); // identify pace
    expect(op(6)).toHaveLength(0);
    const again = await h.waitForPresence(() => true, second!.index + 1);
    expect(again).toMatchObject({ connection: 1, d: shown.d });
    expect(status()).toMatchObject({ state: "presenting.playing", connected: true });
  });

  it("4004: the user fails, the status says the token was refused and what to do, and nothing ever retries", async () => {
    await presenting(endless);
    h.gateway.closeWith(4004, "Authentication failed.");
    await deliver();
    expect(status()).toMatchObject({ state: "failed", connected: false });
    expect(status().failure).toMatch(/token/i);
    expect(status().failure).toMatch(/users\[0\]\.discordToken.*restart/);
    const framesAtFailure = h.gateway.frames.length;
    for (let i = 0; i < 60; i++) {
      await h.advance(MINUTE);
      if (i === 30) h.play(otherSong); // new playback does not bring the rejected token back
    }
    expect(h.gateway.connections).toHaveLength(1);
    expect(h.gateway.frames.slice(framesAtFailure)).toEqual([]);
    expect(status().state).toBe("failed");
  });

  it.each([4010, 4011, 4012, 4013, 4014])("%i is fatal for the user: reported, never retried", async (code) => {
    await presenting(endless);
    h.gateway.closeWith(code, "test");
    await deliver();
    for (let i = 0; i < 10; i++) await h.advance(MINUTE);
    expect(status()).toMatchObject({ state: "failed", connected: false });
    expect(status().failure).toContain(String(code));
    // Not the token's fault: the advice must not send the operator after the wrong thing.
    expect(status().failure).not.toMatch(/discordToken/);
    expect(status().failure).toMatch(/report it/);
    expect(h.gateway.connections).toHaveLength(1);
  });

  it("4015: waits at least the long backoff, tells the operator, then identifies", async () => {
    await presenting(endless);
    h.gateway.closeWith(4015, "Too many sessions.");
    await deliver();
    expect(status().lastError).toMatch(/too many sessions/i);
    const longBackoff = 15 * MINUTE; // defaultTimings.tooManySessionsBackoffMs
    for (let t = 0; t < longBackoff - MINUTE; t += MINUTE) await h.advance(MINUTE);
    expect(h.gateway.connections).toHaveLength(1);
    await h.advanceUntil(() => h.gateway.connections.length === 2, 10_000, 2 * MINUTE, "reconnect");
    expect(helloAt(1) - T0).toBeGreaterThanOrEqual(longBackoff);
    await h.gateway.waitForFrame((f) => f.op === 3 && f.connection === 1);
    expect(op(2)).toHaveLength(2);
  });

  it("one user's 4004 leaves the other user presenting", async () => {
    const revoked = "mfa.revoked-token-0000000000";
    h = await startHarness({ users: [{ username: "alice", discordToken: revoked }, { username: "bob", discordToken: TOKENS.bob }] });
    h.play(endless);
    h.play(endless, { user: "bob" });
    await until(() => status(0).state === "failed", 2000, "alice to fail");
    await h.gateway.waitForFrame((f) => f.op === 3);
    const bob = h.gateway.connections.findIndex((c) => c.token === TOKENS.bob);
    const connections = h.gateway.connections.length;
    for (let i = 0; i < 60; i++) await h.advance(MINUTE);
    expect(status(0).failure).toMatch(/token/i);
    expect(status(1)).toMatchObject({ state: "presenting.playing", connected: true, failure: null });
    expect(h.gateway.connections).toHaveLength(connections);
    expect(h.gateway.connections[bob]!.closedWith).toBeUndefined();
    expect(op(2).filter((f) => (f.d as { token: string }).token === revoked).length).toBeLessThanOrEqual(1);
    h.play(otherSong, { user: "bob" });
    expect((await h.waitForPresence((a) => a?.details === "Knives Out")).connection).toBe(bob);
  });
});

describe("Hello and READY timeouts", () => {
  it("no Hello: gives up on the socket after helloTimeout and retries after a backoff", async () => {
    h = await startHarness();
    h.gateway.autoHello = false;
    h.play(song);
    await h.gateway.waitForConnection(0);
    await h.advance(29_999);
    expect(h.gateway.connections[0]!.closedWith).toBeUndefined();
    await h.advance(1);
    expect([1000, 1001]).not.toContain((await h.gateway.waitForClose(0)).code);
    expect(h.gateway.connections).toHaveLength(1); // not at once: backoff
    h.gateway.autoHello = true;
    await h.advanceUntil(() => h.gateway.connections.length === 2, 250, 2000, "reconnect");
    expect(helloAt(1)).toBeGreaterThan(T0 + 30_000);
    await h.gateway.waitForFrame((f) => f.op === 3 && f.connection === 1);
    // The gateway URL is fetched again after a failed connect.
    expect(h.rest.requests.filter((r) => r.path === "/api/v10/gateway")).toHaveLength(2);
  });

  it("no READY: gives up after readyTimeout and identifies again on a new connection", async () => {
    h = await startHarness();
    h.gateway.autoReady = false;
    h.play(song);
    await h.gateway.waitForFrame((f) => f.op === 2);
    await h.advance(14_999);
    expect(h.gateway.connections[0]!.closedWith).toBeUndefined();
    await h.advance(1);
    expect([1000, 1001]).not.toContain((await h.gateway.waitForClose(0)).code);
    h.gateway.autoReady = true;
    await h.advanceUntil(() => op(2).length === 2, 250, 2000, "identify");
    expect(op(2)[1]).toMatchObject({ connection: 1 });
    expect(op(2)[1]!.at).toBeGreaterThan(T0 + 15_000);
    await h.gateway.waitForFrame((f) => f.op === 3 && f.connection === 1);
    expect(status()).toMatchObject({ state: "presenting.playing", connected: true });
  });
});

describe("backoff", () => {
  /** Closes, with 4000, every connection the client has open. */
  const closeAll = () => h.gateway.connections.forEach((c, i) => c.closedWith || c.serverClosedWith || h.gateway.closeWith(4000, "outage", i));
  /** Closes what the client opens until it is back in backoff, simulated time standing still. */
  async function backInBackoff() {
    for (let attempt = 0; status().state !== "backoff"; attempt++) {
      if (attempt === 5) throw new Error(`the client did not back off after ${attempt} closes: ${status().state}`);
      await h.settle(); // the attempt under way reaches the fake before it is closed
      closeAll();
      await h.settle(); // the client has read the close
    }
  }

  it("a server closing every connection right after Hello for 30 minutes sees exponential backoff up to the cap", async () => {
    await presenting(endless); // defaultTimings: base 1 s, cap 120 s, full jitter
    h.gateway.autoResume = false; // no RESUMED slips in before the close
    const start = h.clock.now();
    await backInBackoff();
    for (let step = 0; h.clock.now() - start < 30 * MINUTE; step = 1000) {
      h.clock.increment(step); // nothing but the backoff timer is running: no I/O to wait for
      if (status().state !== "backoff") await backInBackoff();
      expect(status().connected).toBe(false); // health is false for the whole outage
    }
    const opened = h.gateway.connections.slice(1).map((_, i) => helloAt(i + 1));
    const gaps = opened.slice(1).map((at, i) => at - opened[i]!);
    expect(opened[0]).toBe(start); // the first retry after a working session goes at once
    // Gap i follows attempt i + 1: at most min(cap, base x 2^(i+1)), plus the 1 s step.
    gaps.forEach((gap, i) => expect(gap).toBeLessThanOrEqual(Math.min(120_000, 1000 * 2 ** (i + 1)) + 1000));
    expect(gaps.slice(0, 3).every((gap) => gap <= 9000)).toBe(true);
    expect(Math.max(...gaps)).toBeGreaterThan(60_000); // it did grow to the cap's range
    // About 7 growing attempts (~63 s), then ~1737 s / 60 s mean at the cap: ~37. A loop would be thousands.
    expect(opened.length).toBeLessThan(50);
    expect(status().lastError).toMatch(/4000/);

    h.gateway.autoResume = true; // the outage ends: the next attempt resumes
    await h.advanceUntil(() => status().connected, 10_000, 3 * MINUTE, "resume");
    expect(op(6).at(-1)!.connection).toBe(h.gateway.connections.length - 1);
    expect(op(3)).toHaveLength(1); // RESUMED: still shown, nothing re-sent
  });

  it("after a session held for stableSessionMs, the next failure retries at once again", async () => {
    await presenting(endless);
    h.gateway.closeWith(4000, "first");
    await deliver();
    expect(helloAt(1)).toBe(T0); // first failure: at once
    await h.gateway.waitForFrame((f) => f.op === 6 && f.connection === 1);
    await h.settle(); // RESUMED has reached the client
    h.gateway.closeWith(4000, "second");
    await deliver();
    expect(h.gateway.connections).toHaveLength(2); // a second failure right away: backs off
    await h.advanceUntil(() => h.gateway.connections.length === 3, 250, 3000, "reconnect");
    expect(helloAt(2)).toBeGreaterThan(T0);
    await h.gateway.waitForFrame((f) => f.op === 6 && f.connection === 2);
    for (let i = 0; i < 7; i++) await h.advance(10_000); // RESUMED, then stable for 60 s
    const failedAt = h.clock.now();
    h.gateway.closeWith(4000, "third");
    await deliver();
    expect(helloAt(3)).toBe(failedAt);
  });
});

describe("identify pace", () => {
  it("never sends two identifies for a token less than 5 s apart, whatever the server does", async () => {
    await presenting(endless);
    const attacks = [
      () => h.gateway.closeWith(4009, "Session timed out."),
      () => h.gateway.invalidSession(false),
      () => h.gateway.closeWith(4003, "Not authenticated."),
      () => h.gateway.invalidSession(false),
      () => h.gateway.closeWith(1000, ""),
    ];
    for (const attack of attacks) {
      const identifies = op(2).length;
      attack(); // right after the READY that answered the last identify
      await h.advanceUntil(() => op(2).length > identifies, 250, 15_000, "identify");
    }
    const times = op(2).map((f) => f.at);
    expect(times).toHaveLength(6);
    times.slice(1).forEach((at, i) => expect(at - times[i]!).toBeGreaterThanOrEqual(5000));
    await h.waitForPresence(() => true, op(2).at(-1)!.index + 1);
    expect(status()).toMatchObject({ state: "presenting.playing", connected: true });
  });
});

describe("broken input", () => {
  it("logs and ignores invalid JSON, unknown opcodes and malformed frames; the session keeps working", async () => {
    await presenting();
    h.gateway.sendRaw("{not json");
    h.gateway.send({ op: 42, d: { surprise: true } });
    h.gateway.send([0, "READY"]);
    h.gateway.send({ op: 10, d: { heartbeat_interval: "soon" } });
    await h.settle();
    const ignored = h.logger.entries.filter((e) => e.message.startsWith("gateway frame ignored")).map((e) => e.message);
    expect(ignored).toEqual([
      "gateway frame ignored: invalid JSON",
      "gateway frame ignored: unknown opcode",
      "gateway frame ignored: not an object",
      "gateway frame ignored: hello with a heartbeat_interval that is not in (0, 600000] ms",
    ]);
    expect(h.service.status().running).toBe(true);
    expect(status()).toMatchObject({ state: "presenting.playing", connected: true });
    expect(h.gateway.connections[0]!.closedWith).toBeUndefined();
    h.play(otherSong);
    expect((await h.waitForPresence((a) => a?.details === "Knives Out")).connection).toBe(0);
  });

  it("refuses a READY without session_id, then the READY timeout leads to a fresh attempt", async () => {
    h = await startHarness();
    h.gateway.autoReady = false;
    h.play(song);
    await h.gateway.waitForFrame((f) => f.op === 2);
    h.gateway.ready({ session_id: undefined });
    await h.settle();
    expect(h.logger.entries.some((e) => e.level === "warn" && /READY without a session id/.test(e.message))).toBe(true);
    expect(status()).toMatchObject({ connected: false, state: "identifying.awaitingReady" });
    expect(op(3)).toHaveLength(0);
    h.gateway.autoReady = true;
    await h.advanceUntil(() => op(2).length === 2, 1000, 17_000, "a fresh identify");
    expect(op(2)[1]!.connection).toBe(1);
    expect(op(2)[1]!.at).toBeGreaterThanOrEqual(T0 + 15_000);
    expect([1000, 1001]).not.toContain(h.gateway.connections[0]!.closedWith?.code);
    await h.gateway.waitForFrame((f) => f.op === 3 && f.connection === 1);
    expect(status()).toMatchObject({ state: "presenting.playing", connected: true });
  });

  it("ignores what an old socket says after the client left it", async () => {
    await presenting(endless);
    const sessionId = h.gateway.connections[0]!.sessionId!;
    h.gateway.reconnect(0);
    // Already on their way when the client closes: they must not touch the next connection.
    h.gateway.send({ op: 9, d: false }, 0);
    h.gateway.closeWith(4004, "late", 0);
    await deliver();
    await expectResumedAt(T0, sessionId);
    for (let i = 0; i < 10; i++) await h.advance(MINUTE);
    expect(status()).toMatchObject({ state: "presenting.playing", connected: true, failure: null });
    expect(h.gateway.connections).toHaveLength(2);
  });
});
