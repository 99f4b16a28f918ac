import { afterEach, describe, expect, it } from "vitest";
import { TOKENS, otherSong, song, startHarness, type Harness } from "./harness.ts";

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
    h.dispatch({ type: "gateway.closed", user: "bob", socket: 1, code: 4004 });
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
});
