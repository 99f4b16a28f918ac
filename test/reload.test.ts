import { afterEach, describe, expect, it } from "vitest";
import type { ServiceConfig } from "../src/config/service-config.ts";
import type { ReceivedFrame } from "./fakes/gateway.ts";
import { until } from "./fakes/wait.ts";
import { MemoryJournal } from "../src/adapters/journal/journal.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { createPresenceService } from "../src/service/service.ts";
import type { TraceRecord } from "../src/service/trace.ts";
import { type Harness, otherSong, preciseClock, song, startHarness, TOKENS } from "./harness.ts";

// A reload (SIGHUP, POST /reload: see test/reload-cli.test.ts) goes through
// `PresenceService.reconfigure`: added users start, removed users are cleared and stopped, a
// changed user's session restarts with the new settings, and everyone else is not touched, on
// the wire. Watched on the fake gateway, by token.
let h: Harness;
afterEach(async () => {
  await h?.close();
});

const CAROL = "mfa.carol-SECRET-token-5555555555";
const alice = { username: "alice", discordToken: TOKENS.alice };
const bob = { username: "bob", discordToken: TOKENS.bob };
const carol = { username: "carol", discordToken: CAROL };

const connectionsOf = (token: string) => h.gateway.connections.filter((c) => c.token === token);
const framesOf = (token: string, op: number): ReceivedFrame[] => {
  const mine = new Set(connectionsOf(token).map((c) => c.index));
  return h.gateway.frames.filter((f) => f.op === op && mine.has(f.connection));
};
const activityOf = (frame: ReceivedFrame | undefined) => (frame?.d as { activities: Array<{ details?: string }> } | undefined)?.activities[0] ?? null;
const statusOf = (frame: ReceivedFrame | undefined) => (frame?.d as { status?: string } | undefined)?.status;
const withUsers = (users: ServiceConfig["users"], more: Partial<ServiceConfig> = {}): ServiceConfig => ({ ...h.config, ...more, users });
const stateOf = (user: string) => h.service.status().users.find((u) => u.user === user)?.state;

/**
 * Fills bob's presence window (5 updates per 20 s): a clear must then wait for a slot, so his
 * machine stays in `stopping` for a while after a reload removes him.
 */
async function fillBobsWindow() {
  for (let i = 0; i < 4; i++) h.play({ ...otherSong, title: `Track ${i}` }, { user: "bob" });
  await until(() => framesOf(TOKENS.bob, 3).length === 5, 5_000, "bob's window full");
}

async function bothPresenting() {
  h = await startHarness({ users: [alice, bob] });
  h.gateway.validTokens!.push(CAROL);
  h.play(song, { user: "alice" });
  h.play(otherSong, { user: "bob" });
  await until(() => framesOf(TOKENS.alice, 3).length === 1 && framesOf(TOKENS.bob, 3).length === 1, 5_000, "both presences");
}

describe("a config reload", () => {
  it("starts an added user, clears and stops a removed one, and leaves the others' sessions alone", async () => {
    await bothPresenting();
    const aliceFramesBefore = h.gateway.frames.filter((f) => f.connection === connectionsOf(TOKENS.alice)[0]!.index).length;

    const outcome = h.service.reconfigure(withUsers([alice, carol]));
    expect(outcome).toEqual({ added: ["carol"], removed: ["bob"], changed: [], needsRestart: [] });

    // Bob: his presence is cleared, then his session ends with 1000.
    const bobConnection = connectionsOf(TOKENS.bob)[0]!;
    await until(() => framesOf(TOKENS.bob, 3).length === 2, 5_000, "bob's clear");
    expect(activityOf(framesOf(TOKENS.bob, 3)[1])).toBeNull();
    expect((await h.gateway.waitForClose(bobConnection.index)).code).toBe(1000);
    await until(() => stateOf("bob") === undefined, 5_000, "bob gone from the status");

    // Carol starts with her first track.
    h.play(otherSong, { user: "carol" });
    await until(() => framesOf(CAROL, 3).length === 1, 5_000, "carol's presence");
    expect(activityOf(framesOf(CAROL, 3)[0])?.details).toBe("Knives Out");

    // Bob's playback is now refused: no connection for him.
    h.play(song, { user: "bob" });
    await h.advance(10_000);
    expect(connectionsOf(TOKENS.bob)).toHaveLength(1);
    expect(h.service.status().refusedEvents).toEqual({ bob: 1 });

    // Alice: the same socket, nothing new on it but heartbeats.
    expect(connectionsOf(TOKENS.alice)).toHaveLength(1);
    const aliceFrames = h.gateway.frames.filter((f) => f.connection === connectionsOf(TOKENS.alice)[0]!.index);
    expect(aliceFrames.slice(aliceFramesBefore).every((f) => f.op === 1)).toBe(true);
    expect(connectionsOf(TOKENS.alice)[0]!.closedWith).toBeUndefined();
    expect(stateOf("alice")).toBe("presenting.playing");
  });

  it("restarts a changed user's session with the new settings and shows the same track again", async () => {
    await bothPresenting();
    const aliceConnection = connectionsOf(TOKENS.alice)[0]!;

    const outcome = h.service.reconfigure(withUsers([{ ...alice, status: "dnd", presence: { details: "{album}" } }, bob]));
    expect(outcome).toMatchObject({ added: [], removed: [], changed: ["alice"] });

    expect((await h.gateway.waitForClose(aliceConnection.index)).code).toBe(1000);
    // One identify per 5 s per token (Discord's pacing, kept across sessions): time must pass.
    await h.advanceUntil(() => framesOf(TOKENS.alice, 3).length === 2, 1_000, 30_000, "alice's new presence");
    const shown = framesOf(TOKENS.alice, 3)[1]!;
    expect(shown.connection).not.toBe(aliceConnection.index);
    expect(statusOf(shown)).toBe("dnd");
    expect(activityOf(shown)?.details).toBe("Amnesiac");
    // A new session: identified afresh on the new socket.
    expect(framesOf(TOKENS.alice, 2)).toHaveLength(2);
    // Bob is untouched.
    expect(connectionsOf(TOKENS.bob)).toHaveLength(1);
    expect(framesOf(TOKENS.bob, 3)).toHaveLength(1);
  });

  it("a new token alone restarts the session with it, and gets a failed user going again", async () => {
    h = await startHarness({ users: [{ username: "alice", discordToken: "mfa.wrong-SECRET-token-000000" }] });
    h.play(song, { user: "alice" });
    await until(() => stateOf("alice") === "failed", 5_000, "alice failed on the bad token");

    const outcome = h.service.reconfigure(withUsers([alice]));
    expect(outcome).toMatchObject({ changed: ["alice"] });
    await h.advanceUntil(() => framesOf(TOKENS.alice, 3).length === 1, 1_000, 30_000, "alice's presence with the new token");
    expect(activityOf(framesOf(TOKENS.alice, 3)[0])?.details).toBe("Pyramid Song");
    expect(stateOf("alice")).toBe("presenting.playing");
    // Neither token in anything an operator reads.
    expect(h.everythingVisible()).not.toContain(TOKENS.alice);
    expect(h.everythingVisible()).not.toContain("mfa.wrong-SECRET-token-000000");
  });

  it("fills a shard's room, then spawns new shards, and routes each added user's answers", async () => {
    await bothPresenting();
    const many = Array.from({ length: 40 }, (_, i) => ({ username: `user${i}`, discordToken: `mfa.user${i}-SECRET-token-0000` }));
    h.gateway.validTokens!.push(...many.map((u) => u.discordToken));
    const outcome = h.service.reconfigure(withUsers([alice, bob, ...many]));
    expect(outcome.added).toHaveLength(40);
    h.play(song, { user: "user39" });
    await until(() => framesOf("mfa.user39-SECRET-token-0000", 3).length === 1, 5_000, "the 42nd user's presence");
    expect(stateOf("user39")).toBe("presenting.playing");
  });

  it("is journaled by name, with no profile; a start with the reloaded config replays it and adds nothing", async () => {
    await bothPresenting();
    const reloaded = withUsers([{ ...alice, status: "idle" }]);
    h.service.reconfigure(reloaded);
    await h.advanceUntil(() => framesOf(TOKENS.alice, 3).length === 2 && stateOf("bob") === undefined, 1_000, 30_000, "the reload's effects");
    const reloads = () => h.journal.load().filter((entry) => entry.event.type === "service.reconfigured");
    expect(reloads().map((entry) => entry.event)).toEqual([
      { type: "service.reconfigured", users: ["alice"], removed: ["bob"], newToken: [], at: expect.any(Number) },
    ]);

    // The start that follows a reload reads the file the reload read.
    await h.restart(undefined, reloaded);
    h.play(otherSong, { user: "alice" });
    await h.advanceUntil(() => framesOf(TOKENS.alice, 3).length === 3, 1_000, 30_000, "alice's next track after the restart");
    expect(statusOf(framesOf(TOKENS.alice, 3)[2])).toBe("idle");
    expect(reloads()).toHaveLength(1);
    h.play(song, { user: "bob" });
    await h.advance(10_000);
    expect(connectionsOf(TOKENS.bob)).toHaveLength(1);
  });

  it("a start with a config that has a removed user again adds them back (the config wins over the journal)", async () => {
    await bothPresenting();
    const original = h.config;
    h.service.reconfigure(withUsers([alice]));
    await until(() => stateOf("bob") === undefined, 5_000, "bob removed");

    await h.restart(undefined, original);
    const reloads = h.journal.load().filter((entry) => entry.event.type === "service.reconfigured");
    expect(reloads.map((entry) => entry.event)).toEqual([
      { type: "service.reconfigured", users: [], removed: ["bob"], newToken: [], at: expect.any(Number) },
      { type: "service.reconfigured", users: ["bob"], removed: [], newToken: [], at: expect.any(Number) },
    ]);
    h.play(song, { user: "bob" });
    await h.advanceUntil(() => framesOf(TOKENS.bob, 3).length === 3, 1_000, 30_000, "bob shown again");
    expect(activityOf(framesOf(TOKENS.bob, 3)[2])?.details).toBe("Pyramid Song");
    expect(h.service.status().refusedEvents).toEqual({});
  });

  it("a user removed and added back while their old machine still clears gets the playback that came meanwhile", async () => {
    await bothPresenting();
    await fillBobsWindow();
    h.service.reconfigure(withUsers([alice]));
    h.service.reconfigure(withUsers([alice, bob]));
    expect(h.service.actor!.getSnapshot().context.leaving).toEqual({});
    const shard = h.service.actor!.getSnapshot().context.shards[0]!;
    expect(shard.getSnapshot().context.machines.bob!.getSnapshot().value).toBe("stopping");
    h.play(song, { user: "bob" });
    expect(shard.getSnapshot().context.held.bob).toMatchObject({ type: "playback.playing", track: { title: "Pyramid Song" } });
    await h.advanceUntil(() => framesOf(TOKENS.bob, 3).some((f) => activityOf(f)?.details === "Pyramid Song"), 1_000, 30_000, "bob's new track");
    expect(stateOf("bob")).toBe("presenting.playing");
  });

  it("a failed user whose token a reload did not change stays failed: no identify with a refused token", async () => {
    h = await startHarness({ users: [{ username: "alice", discordToken: "mfa.wrong-SECRET-token-000000" }] });
    h.play(song, { user: "alice" });
    await until(() => stateOf("alice") === "failed", 5_000, "alice failed on the bad token");
    const identifies = h.framesWithOp(2).length;
    const outcome = h.service.reconfigure(withUsers([{ username: "alice", discordToken: "mfa.wrong-SECRET-token-000000", status: "dnd" }]));
    expect(outcome.changed).toEqual(["alice"]);
    await h.advance(60_000);
    expect(h.framesWithOp(2)).toHaveLength(identifies);
    expect(stateOf("alice")).toBe("failed");
  });

  it("a checkpoint waits while a removed user's machine clears, and one taken after restores with the new config", async () => {
    await bothPresenting();
    await fillBobsWindow();
    const reloaded = withUsers([alice]);
    h.service.reconfigure(reloaded);
    expect(Object.keys(h.service.actor!.getSnapshot().context.leaving)).toEqual(["bob"]);
    expect(await h.service.checkpoint()).toBeNull();
    await h.advanceUntil(() => h.service.actor!.getSnapshot().context.leaving.bob === undefined, 1_000, 30_000, "bob's machine gone");
    expect(await h.service.checkpoint()).not.toBeNull();
    await h.restart(undefined, reloaded);
    expect(h.logger.text()).not.toContain("checkpoint not used");
    expect(h.logger.text()).not.toContain("could not be restored");
  });
});

describe("a config reload, replayed", () => {
  it("a replay of a journal with a reload that adds and removes users gives the live run's states and effects", async () => {
    const live: TraceRecord[] = [];
    const clock = preciseClock();
    h = await startHarness({ clock, trace: (record) => live.push(record), users: [alice, bob] });
    h.gateway.validTokens!.push(CAROL);
    h.play(song, { user: "alice" });
    h.play(otherSong, { user: "bob" });
    await h.advance(30_000);
    h.service.reconfigure(withUsers([alice, carol]));
    await h.advance(5_000);
    h.play(otherSong, { user: "carol" });
    await h.advance(30_000);
    h.play(otherSong, { user: "alice" });
    await h.settle();

    // The replay's config has every user the journal names (carol had no input before she was added).
    const records: TraceRecord[] = [];
    const replay = createPresenceService({
      config: withUsers([alice, bob, carol]),
      clock: preciseClock(clock.now()),
      journal: new MemoryJournal(h.journal.load()),
      logger: memoryLogger(),
      mode: "replay",
      trace: (record) => records.push(record),
    });
    await replay.start();
    const withoutLive = (list: TraceRecord[]) => list.map(({ live: _live, ...rest }) => rest);
    expect(records.length).toBe(live.length);
    expect(withoutLive(records)).toEqual(withoutLive(live));
  });
});
