import { afterEach, describe, expect, it } from "vitest";
import { until } from "./fakes/wait.ts";
import { type Harness, otherSong, song, startHarness, T0, TOKENS } from "./harness.ts";

let h: Harness;
afterEach(async () => h?.close());

const twoUsers = [
  { username: "alice", discordToken: TOKENS.alice },
  { username: "bob", discordToken: TOKENS.bob },
];

describe("supervisor", () => {
  it("starts a user's machine on their first playback event, not before", async () => {
    h = await startHarness({ users: twoUsers });
    await h.advance(60_000);
    expect(h.gateway.connections).toHaveLength(0);
    expect(h.service.status().users.map((u) => u.state)).toEqual(["idle", "idle"]);

    h.play(song, { user: "bob" });
    const presence = await h.waitForPresence();
    expect(h.gateway.connections).toHaveLength(1);
    expect(h.gateway.connections[0]!.token).toBe(TOKENS.bob);
    expect(h.activityOf(presence)?.details).toBe(song.title);
    expect(h.service.status().users.map((u) => u.state)).toEqual(["idle", "presenting.playing"]);
  });

  it("refuses events for users who are not configured: counted, logged once, no machine, no socket", async () => {
    h = await startHarness();
    h.play(song, { user: "mallory" });
    h.play(otherSong, { user: "mallory" });
    h.dispatch({ type: "playback.stopped", user: "mallory" });
    await h.advance(1_000);
    expect(h.gateway.connections).toHaveLength(0);
    expect(h.service.status().refusedEvents).toEqual({ mallory: 3 });
    expect(h.service.status().users.map((u) => u.user)).toEqual(["alice"]);
    const lines = h.logger.entries.filter((e) => e.message.includes("not configured"));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.data).toEqual({ user: "mallory" });
  });

  it("a user with enabled: false gets no machine and no connection, and shows as disabled", async () => {
    h = await startHarness({ users: [{ ...twoUsers[0]!, enabled: false }, twoUsers[1]!] });
    h.play(song, { user: "alice" });
    h.play(otherSong, { user: "bob" });
    const presence = await h.waitForPresence();
    expect(h.activityOf(presence)?.details).toBe(otherSong.title);
    expect(h.gateway.connections.map((c) => c.token)).toEqual([TOKENS.bob]);
    expect(h.service.status().users.map((u) => [u.user, u.state])).toEqual([["alice", "disabled"], ["bob", "presenting.playing"]]);
    expect(h.service.status().refusedEvents).toEqual({ alice: 1 });
  });

  it("routes gateway events by user and drops those of users without a machine", async () => {
    h = await startHarness({ users: twoUsers });
    // No fake can send this: bob has no machine, so no socket either.
    h.dispatchAsAdapter({ type: "gateway.closed", user: "bob", socket: 1, code: 4004 });
    h.play(song, { user: "alice" });
    await h.waitForPresence();
    expect(h.service.status().users.find((u) => u.user === "bob")).toMatchObject({ state: "idle", failure: null });
    expect(h.service.status().users.find((u) => u.user === "alice")).toMatchObject({ state: "presenting.playing" });
  });

  it("keeps one user's rejected token away from the others", async () => {
    h = await startHarness({ users: [{ username: "alice", discordToken: "not-a-valid-token-at-all" }, twoUsers[1]!] });
    h.play(song, { user: "alice" });
    h.play(otherSong, { user: "bob" });
    const presence = await h.waitForPresence();
    expect(h.activityOf(presence)?.details).toBe(otherSong.title);
    await h.gateway.waitForClose(h.gateway.connections.findIndex((c) => c.token === undefined));
    await h.advance(10);
    const [alice, bob] = h.service.status().users;
    expect(alice).toMatchObject({ state: "failed", connected: false });
    expect(alice!.failure).toMatch(/rejected the token.*users\[0\]\.discordToken/);
    expect(bob).toMatchObject({ state: "presenting.playing", connected: true });
  });

  it("a machine that crashes on one user's bad settings leaves the others running", async () => {
    const broken = { username: "alice", discordToken: TOKENS.alice, presence: { details: 42 as unknown as string } };
    h = await startHarness({ users: [broken, twoUsers[1]!] });
    h.play(song, { user: "alice" });
    h.play(otherSong, { user: "bob" });
    await h.gateway.waitForFrame((f) => f.op === 3 && h.activityOf(f)?.details === otherSong.title);
    await h.advance(10);
    expect(h.logger.entries.some((e) => e.level === "error" && e.message.includes("crashed") && e.data?.user === "alice")).toBe(true);
    expect(h.service.status().users.find((u) => u.user === "bob")).toMatchObject({ state: "presenting.playing" });
    // The service still takes events, for everyone.
    h.play(song, { user: "bob" });
    await h.gateway.waitForFrame((f) => f.op === 3 && h.activityOf(f)?.details === song.title);
  });

  it("spreads a large household over shards, routes each user's events to the right one, and stops them all", async () => {
    // 250 users: eight shards of up to 32. The fake accepts the same token for everyone.
    const household = Array.from({ length: 250 }, (_, i) => ({ username: `user${i}`, discordToken: TOKENS.alice }));
    h = await startHarness({ users: household });
    const listeners = ["user0", "user150", "user249"];
    for (const [i, user] of listeners.entries()) h.play(i === 1 ? otherSong : song, { user });
    await h.gateway.waitForFrame((f) => f.op === 3 && h.activityOf(f)?.details === otherSong.title);
    await until(() => h.framesWithOp(3).length >= 3, 2_000, "three presences");
    expect(h.gateway.connections).toHaveLength(3);
    const states = h.service.status().users.filter((u) => u.state !== "idle");
    // Sent a moment ago: "sending" until the few seconds in which a server may refuse it are over.
    expect(states.map((u) => [u.user, u.state, u.sending?.details])).toEqual([
      ["user0", "presenting.playing", song.title],
      ["user150", "presenting.playing", otherSong.title],
      ["user249", "presenting.playing", song.title],
    ]);
    expect(h.service.actor?.getSnapshot().children).toHaveProperty("shard:7");

    // A gateway event (op 7 on one socket) reaches only the machine that owns that socket.
    h.gateway.send({ op: 7, d: null }, 1);
    const presenting = () => h.service.status().users.filter((u) => u.state === "presenting.playing" && u.connected).length === 3;
    for (let i = 0; i < 20 && !(h.gateway.connections.length === 4 && presenting()); i++) await h.advance(100);
    expect(presenting()).toBe(true);
    const reconnected = h.service.status().users.filter((u) => u.reconnects > 0).map((u) => u.user);
    expect(reconnected).toHaveLength(1);
    expect(listeners).toContain(reconnected[0]);

    // Fill user249's presence window (5 per 20 s), so that their clear would have to wait for a slot.
    for (let i = 0; i < 4; i++) {
      const before = h.framesWithOp(3).length;
      h.play(i % 2 ? song : otherSong, { user: "user249" });
      await until(() => h.framesWithOp(3).length > before, 2_000, "the track change");
    }

    // Shutdown waits for every shard: the supervisor stops only when user249's machine has given up
    // waiting (shutdownTimeoutMs, 4 s) and closed its session, which clears it on Discord's side.
    const clears = () => h.framesWithOp(3).filter((f) => h.activityOf(f) === null);
    const stopped = h.service.stop({ clear: true });
    await h.advance(0);
    expect(clears()).toHaveLength(2);
    expect(h.service.actor?.getSnapshot().value).toBe("stopping");
    await h.advance(3_900);
    expect(h.service.actor?.getSnapshot().value).toBe("stopping");
    await h.advance(100);
    await stopped;
    expect(h.service.actor?.getSnapshot().value).toBe("stopped");
    // Connection 1 was closed with 4000 after op 7 (to resume); the three live ones close with 1000.
    const live = h.gateway.connections.filter((_, i) => i !== 1);
    expect(await Promise.all(live.map((_, i) => h.gateway.waitForClose(i === 0 ? 0 : i + 1).then((c) => c.code)))).toEqual([1000, 1000, 1000]);
  });

  it("stops machines with nothing left to do, and starts a fresh one on the next track", async () => {
    h = await startHarness({ config: { gateway: { idleTimeoutMs: 60_000 }, sweepIntervalMs: 30_000 } });
    h.play(song);
    const first = await h.waitForPresence();
    h.dispatch({ type: "playback.stopped", user: "alice" });
    await h.waitForPresence((a) => a === null, first.index + 1);
    await h.advance(60_000); // idle: close 1000
    await h.gateway.waitForClose(0);
    expect(h.gateway.connections[0]!.closedWith?.code).toBe(1000);
    await h.advance(30_000); // sweep: rate windows are empty by now, the machine goes
    await h.advance(30_000);
    expect(h.service.status().users[0]).toMatchObject({ state: "idle" });

    h.play(otherSong);
    await h.waitForPresence((a) => a?.details === otherSong.title);
    expect(h.gateway.connections).toHaveLength(2);
    expect(h.framesWithOp(2)).toHaveLength(2);
  });

  it("stopping one user's machine cancels its timers only: the others keep their heartbeats and track ends", async () => {
    h = await startHarness({ users: twoUsers, config: { gateway: { idleTimeoutMs: 60_000 }, sweepIntervalMs: 30_000 } });
    h.play(song, { user: "alice", positionMs: 100_000 }); // 189 s left: ends at T0 + 194 s with the grace
    h.play(otherSong, { user: "bob" });
    await h.waitForPresence((a) => a?.details === otherSong.title);
    h.dispatch({ type: "playback.stopped", user: "bob" });
    // Bob's machine clears, closes when idle (60 s) and is swept (every 30 s) at about T0 + 90 s.
    for (let i = 0; i < 12; i++) await h.advance(10_000);
    expect(h.service.status().users.map((u) => [u.user, u.state])).toEqual([["alice", "presenting.playing"], ["bob", "idle"]]);
    const aliceConnection = h.gateway.connections.findIndex((c) => !c.closedWith);
    const beatsBefore = h.framesWithOp(1).filter((f) => f.connection === aliceConnection).length;
    for (let i = 0; i < 9; i++) await h.advance(10_000); // to T0 + 210 s
    const beats = h.framesWithOp(1).filter((f) => f.connection === aliceConnection).length - beatsBefore;
    expect(beats).toBeGreaterThanOrEqual(2); // 90 s at 41.25 s a beat
    const clear = h.framesWithOp(3).find((f) => f.connection === aliceConnection && h.activityOf(f) === null);
    expect(clear?.at).toBe(T0 + 200_000); // due at 194 s; this clock fires timers at the end of each 10 s step
    expect(h.service.status().users[0]).toMatchObject({ user: "alice", connected: true, reconnects: 0 });
  });
});
