import { afterEach, describe, expect, it } from "vitest";
import { PRESENCE_KEPT_MS } from "../src/actors/presence-effects.ts";
import { keysOutsideCore } from "./fakes/gateway-protocol.ts";
import { type Harness, otherSong, song, startHarness, TOKENS } from "./harness.ts";

// Issue 17: a Discord-compatible server (Spacebar) refuses op 3 keys it does not know with 4002,
// answers a bad token with 4000, has no /api/v10 and refuses every resume. nd-presence shows what
// it can there, and never hammers it.

let h: Harness;
afterEach(async () => h?.close());

const MINUTE = 60_000;
const status = () => h.service.status().users[0]!;
const presences = () => h.framesWithOp(3).filter((f) => h.activityOf(f) !== null);

describe("a server that refuses newer activity fields (Spacebar)", () => {
  it("gets the core fields after its first refusal, keeps them, and nothing loops", async () => {
    h = await startHarness({ server: "spacebar" });
    h.play(song);
    // The full activity first: Spacebar closes with 4002 and an empty reason.
    const full = await h.waitForPresence();
    expect(keysOutsideCore(full.d)).not.toHaveLength(0);
    expect(await h.gateway.waitForClose(0)).toEqual({ code: 4002, reason: "" });
    // It resumes (refused: op 9 false), identifies, and sends only the core set, which is kept.
    await h.advanceUntil(() => presences().length === 2, 500, MINUTE, "the core presence");
    const core = await h.waitForPresence(() => true, full.index + 1);
    expect(keysOutsideCore(core.d)).toEqual([]);
    expect(h.activityOf(core)).toMatchObject({ type: 2, name: "Navidrome", details: song.title, state: song.artist });
    await h.advance(PRESENCE_KEPT_MS);
    expect(status()).toMatchObject({ state: "presenting.playing", connected: true, showing: h.activityOf(core), presenceUpdates: 1, presenceRefused: 1 });
    const learnt = h.logger.entries.filter((e) => e.message.includes("only the core activity fields"));
    expect(learnt).toHaveLength(1);

    // Remembered: the next track goes out in the core set at once, on the same socket.
    const connections = h.gateway.connections.length;
    h.play(otherSong);
    const next = await h.waitForPresence((a) => a?.details === otherSong.title);
    expect(keysOutsideCore(next.d)).toEqual([]);
    await h.advance(10 * MINUTE);
    expect(h.gateway.connections).toHaveLength(connections);
    expect(status()).toMatchObject({ connected: true, presenceUpdates: 2, presenceRefused: 1 });
  });

  it("finds the gateway through /api/v9 when /api/v10 is missing, and caches it", async () => {
    h = await startHarness({ server: "spacebar" });
    h.play(song);
    await h.waitForPresence();
    const discovery = h.rest.requests.filter((r) => r.path.endsWith("/gateway")).map((r) => r.path);
    expect(discovery).toEqual(["/api/v10/gateway", "/api/v9/gateway"]);
  });

  it("when even the core set is refused: no presence for that track, says so, and stops reconnecting", async () => {
    h = await startHarness();
    h.play(song);
    // A server that refuses every presence: 4002 right after each op 3, whatever it holds.
    const first = await h.waitForPresence();
    h.gateway.closeWith(4002, "", first.connection);
    await h.advance(0);
    const second = await h.waitForPresence(() => true, first.index + 1);
    expect(keysOutsideCore(second.d)).toEqual([]);
    h.gateway.closeWith(4002, "", second.connection);
    await h.advance(0);
    const connections = h.gateway.connections.length;
    await h.advance(4 * MINUTE); // the song (289 s) still plays: nothing is tried again for it
    expect(h.gateway.connections).toHaveLength(connections);
    expect(presences()).toHaveLength(2);
    expect(status()).toMatchObject({ connected: false, showing: null, sending: null, presenceUpdates: 0, presenceRefused: 2 });
    expect(status().lastError).toMatch(/refused the presence for this track.*next track/);

    // The next track is tried again (here the server takes it).
    h.play(otherSong);
    const next = await h.waitForPresence((a) => a?.details === otherSong.title);
    await h.advance(PRESENCE_KEPT_MS);
    expect(status()).toMatchObject({ connected: true, showing: h.activityOf(next), presenceUpdates: 1, presenceRefused: 2 });
  });

  it("counts a refused presence apart on /status and /metrics, and never as shown", async () => {
    h = await startHarness({ server: "spacebar" });
    const base = await h.statusServer();
    h.play(song);
    const full = await h.waitForPresence();
    await h.gateway.waitForClose(0);
    await h.settle();
    // Refused: never shown, not counted as an update.
    expect(status()).toMatchObject({ showing: null, presenceUpdates: 0, presenceRefused: 1 });
    await h.advanceUntil(() => presences().length === 2, 500, MINUTE, "the core presence");
    const core = await h.waitForPresence(() => true, full.index + 1);
    expect(status()).toMatchObject({ showing: null, sending: h.activityOf(core), presenceUpdates: 0 });
    await h.advance(PRESENCE_KEPT_MS);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('nd_presence_presence_updates_total{user="alice"} 1');
    expect(metrics).toContain('nd_presence_presence_refused_total{user="alice"} 1');
  });
});

describe("discord.activityFields", () => {
  it('"core" sends only the core fields from the first presence on', async () => {
    h = await startHarness({ server: "spacebar", discord: { activityFields: "core" } });
    h.play(song);
    const first = await h.waitForPresence();
    expect(keysOutsideCore(first.d)).toEqual([]);
    await h.advance(PRESENCE_KEPT_MS);
    expect(status()).toMatchObject({ connected: true, presenceUpdates: 1, presenceRefused: 0 });
    expect(h.gateway.connections).toHaveLength(1);
  });

  it('"full" never falls back: a refused track is left alone until the next', async () => {
    h = await startHarness({ server: "spacebar", discord: { activityFields: "full" } });
    h.play(song);
    await h.waitForPresence();
    await h.gateway.waitForClose(0);
    await h.advance(4 * MINUTE);
    expect(presences()).toHaveLength(1);
    expect(status()).toMatchObject({ showing: null, presenceRefused: 1 });
    expect(status().lastError).toMatch(/all fields/);
  });
});

describe("a bad token on a server that does not close with 4004", () => {
  it("backs off between tries, checks the token after three closes before READY, and fails the user", async () => {
    h = await startHarness({ server: "spacebar", users: [{ username: "alice", discordToken: `${TOKENS.bob}x` }] });
    h.play(song);
    await h.advanceUntil(() => status().state === "failed", 1_000, 5 * MINUTE, "the user failing");
    const identifies = h.framesWithOp(2);
    expect(identifies).toHaveLength(3);
    expect(h.gateway.connections.map((c) => c.closedWith?.code)).toEqual([4000, 4000, 4000]);
    // Not at once: each try waits for the backoff (and the identify pace).
    for (const [i, identify] of identifies.slice(1).entries()) expect(identify.at - identifies[i]!.at).toBeGreaterThanOrEqual(5_000);
    const checks = h.rest.requests.filter((r) => r.path.endsWith("/users/@me"));
    expect(checks.map((r) => [r.method, r.path, r.headers.authorization])).toContainEqual(["GET", "/api/v9/users/@me", `${TOKENS.bob}x`]);
    expect(status().failure).toMatch(/users\[0\]\.discordToken.*restart/);
    // And nothing retries it.
    await h.advance(30 * MINUTE);
    expect(h.gateway.connections).toHaveLength(3);
    expect(h.logger.text()).not.toContain(`${TOKENS.bob}x`);
  });

  it("a server that answers a bad token with op 9 false: the third refusal checks the token, and a 401 fails the user", async () => {
    h = await startHarness();
    h.gateway.autoReady = false;
    h.play(song);
    // Each identify is refused with op 9 d:false, as some servers refuse a token.
    for (let i = 1; i <= 3; i++) {
      await h.advanceUntil(() => h.framesWithOp(2).length === i, 500, MINUTE, `identify ${i}`);
      if (i === 3) h.rest.failNext(401, { message: "401: Unauthorized", code: 0 });
      h.gateway.invalidSession(false);
    }
    await h.advanceUntil(() => status().state === "failed", 500, MINUTE, "the user failing");
    expect(h.rest.requests.filter((r) => r.path.endsWith("/users/@me"))).toHaveLength(1);
    expect(status().failure).toMatch(/users\[0\]\.discordToken/);
    const identifies = h.framesWithOp(2).length;
    await h.advance(30 * MINUTE);
    expect(h.framesWithOp(2)).toHaveLength(identifies);
  });

  it("a token the check finds valid keeps backing off, and does not fail the user", async () => {
    h = await startHarness({ server: "spacebar" });
    h.play(song);
    await h.waitForPresence();
    // Three closes before READY with a good token (a flaky server): the check says valid.
    for (let i = 0; i < 3; i++) {
      h.gateway.autoReady = false;
      const before = h.gateway.connections.length;
      h.gateway.closeWith(4000, "");
      await h.advanceUntil(() => h.gateway.connections.length > before && h.framesWithOp(2).length > before, 1_000, 5 * MINUTE, "a new identify");
    }
    h.gateway.autoReady = true;
    h.gateway.closeWith(4000, "");
    await h.advanceUntil(() => status().connected, 1_000, 10 * MINUTE, "the session back");
    expect(h.rest.requests.some((r) => r.path.endsWith("/users/@me"))).toBe(true);
    expect(status().failure).toBeNull();
  });
});
