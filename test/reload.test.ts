import { afterEach, describe, expect, it } from "vitest";
import type { ServiceConfig } from "../src/config/service-config.ts";
import type { ReceivedFrame } from "./fakes/gateway.ts";
import { until } from "./fakes/wait.ts";
import { type Harness, otherSong, song, startHarness, TOKENS } from "./harness.ts";

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

  it("is journaled: a restart replays it, and the changed user comes back with the new settings", async () => {
    await bothPresenting();
    h.service.reconfigure(withUsers([{ ...alice, status: "idle" }]));
    await h.advanceUntil(() => framesOf(TOKENS.alice, 3).length === 2 && stateOf("bob") === undefined, 1_000, 30_000, "the reload's effects");
    const entries = h.journal.load();
    const reload = entries.find((entry) => entry.event.type === "service.reconfigured");
    expect(reload?.event).toMatchObject({ removed: ["bob"], users: [{ user: "alice", presence: { status: "idle" } }] });
    // No secret in the journal: a profile holds none.
    expect(JSON.stringify(entries)).not.toContain(TOKENS.alice);

    // The restart starts from the original config and replays the journal, the reload included.
    await h.restart();
    h.play(otherSong, { user: "alice" });
    await h.advanceUntil(() => framesOf(TOKENS.alice, 3).length === 3, 1_000, 30_000, "alice's next track after the restart");
    // The original config says "online": "idle" comes from the replayed reload.
    expect(statusOf(framesOf(TOKENS.alice, 3)[2])).toBe("idle");
    expect(activityOf(framesOf(TOKENS.alice, 3)[2])?.details).toBe("Knives Out");
    expect(stateOf("bob")).not.toMatch(/presenting/);
  });
});
