import { afterEach, describe, expect, it } from "vitest";
import { MemoryJournal } from "../src/adapters/journal/journal.ts";
import { until } from "./fakes/wait.ts";
import { type Harness, otherSong, preciseClock, song, startHarness, T0, TOKENS } from "./harness.ts";

// A checkpoint saves every machine and its pending timers, so that a start restores it and replays
// only the journal after it. What Discord sees after a restart must not depend on whether there was
// one: the frames below are compared with those of a restart that replays the whole journal.
let h: Harness;
afterEach(async () => h?.close());

const twoUsers = [
  { username: "alice", discordToken: TOKENS.alice },
  { username: "bob", discordToken: TOKENS.bob },
];

/** A payload without what differs from one fake to the next: session ids, loopback ports. */
const volatileOut = (d: unknown) => JSON.parse(JSON.stringify(d).replace(/fake-session-[\w-]+/g, "session").replace(/127\.0\.0\.1:\d+/g, "host"));

/**
 * Every frame sent after the restart: when the service sent it (on the simulated clock, from the
 * trace: the fake stamps a frame when real I/O delivers it, which may be a tick later), to whom,
 * and what it was; and what the fake gateway received, in order.
 */
interface Seen {
  sent: Array<{ at: number; user: string; op: number; d: unknown }>;
  /** Sorted: the two sockets' frames may interleave either way on arrival. */
  received: Array<{ at: number; op: number; d: unknown }>;
}

/**
 * Alice plays, Bob plays then pauses; the service restarts (as after a crash) and runs another
 * 80 s, through the end of Alice's song. With `checkpointAt`, a checkpoint is taken then.
 */
async function session(checkpointAt: "none" | "before the tail" | "at the end"): Promise<{ seen: Seen; journal: MemoryJournal }> {
  const journal = new MemoryJournal();
  // Timers fire at their exact due times, live as in the replay (see preciseClock), and time moves
  // a second at a time so that the fake's answers come between them, as they would.
  h = await startHarness({ users: twoUsers, journal, clock: preciseClock() });
  const run = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) await h.advance(1_000);
  };
  h.play(song, { user: "alice", positionMs: 150_000 }); // 139 s left
  h.play(otherSong, { user: "bob" });
  await h.waitForPresence((a) => a?.details === otherSong.title);
  await run(50); // heartbeats, the stable-session timer, rate windows
  if (checkpointAt === "before the tail") await h.service.compact();
  h.dispatch({ type: "playback.paused", user: "bob", positionMs: 60_000 });
  await run(20);
  if (checkpointAt === "at the end") await h.service.compact();
  const from = h.gateway.frames.length;
  const sent: Seen["sent"] = [];
  await h.restart((record) => {
    if (record.kind === "effect" && record.live && record.effect.type === "socket.send") {
      const { op, d } = record.effect.frame;
      sent.push({ at: record.at - T0, user: record.user, op, d: volatileOut(d) });
    }
  });
  // Reconnecting takes real I/O (discovery, socket, Hello): let it finish before time moves on.
  await until(() => h.service.status().users.every((u) => u.connected), 2_000, "both sessions resumed");
  await run(80);
  await until(() => h.gateway.frames.length - from >= sent.length, 2_000, "every frame sent to arrive");
  // With the moment each came: heartbeats are the connection's, not effects, and must beat alike.
  const received = h.gateway.frames.slice(from).map((f) => ({ at: f.at - T0, op: f.op, d: f.op === 1 ? null : volatileOut(f.d) }));
  received.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  await h.close();
  return { seen: { sent, received }, journal };
}

describe("checkpoints", () => {
  it("a restart from a checkpoint shows Discord exactly what a full replay shows, timers and all", { timeout: 30_000 }, async () => {
    const { seen: full } = await session("none");
    const replayed = h.logger.entries.find((e) => e.message === "journal replayed");
    expect(replayed?.data).not.toHaveProperty("afterCheckpoint");

    for (const when of ["before the tail", "at the end"] as const) {
      const { seen, journal } = await session(when);
      expect(journal.checkpoint).not.toBeNull();
      const restored = h.logger.entries.find((e) => e.message === "journal replayed");
      expect(restored?.data).toMatchObject({ afterCheckpoint: journal.checkpoint!.seq });
      expect(seen, `checkpoint ${when}`).toEqual(full);
    }
    // What was compared: two resumes, Alice's clear at her song's end (+5 s grace), heartbeats
    // (the connection's own, so not among the machines' effects).
    expect(full.received.filter((f) => f.op !== 1).map((f) => f.op).sort()).toEqual(full.sent.map((f) => f.op).sort());
    expect(full.sent.filter((f) => f.op === 6)).toHaveLength(2);
    const clears = full.sent.filter((f) => f.op === 3 && (f.d as { activities: unknown[] }).activities.length === 0);
    expect(clears.map((f) => [f.user, f.at])).toEqual([["alice", 70_000 + 69_000 + 5_000]]);
    expect(full.received.filter((f) => f.op === 1).length).toBeGreaterThanOrEqual(3);
  });

  it("is not used under another configuration: the whole journal is replayed, and nothing is lost", async () => {
    const journal = new MemoryJournal();
    h = await startHarness({ journal });
    h.play(song, { positionMs: 200_000 });
    await h.waitForPresence();
    await h.advance(30_000);
    await h.service.compact();
    expect(journal.checkpoint).not.toBeNull();
    h.config.sweepIntervalMs = 120_000; // the operator changed the configuration
    await h.restart();
    expect(h.logger.entries.some((e) => e.level === "warn" && e.message.includes("checkpoint not used"))).toBe(true);
    await h.gateway.waitForFrame((f) => f.op === 6 && f.connection === 1);
    expect(h.service.status().users[0]).toMatchObject({ state: "presenting.playing", connected: true });
  });

  it("holds no secret, and the journal is cut only behind it", async () => {
    const journal = new MemoryJournal();
    h = await startHarness({ users: twoUsers, journal });
    h.play(song, { user: "alice" });
    await h.waitForPresence();
    h.play(otherSong, { user: "bob" });
    await h.waitForPresence((a) => a?.details === otherSong.title);
    h.dispatch({ type: "playback.stopped", user: "bob" });
    for (let i = 0; i < 8; i++) await h.advance(60_000); // Bob's machine goes idle and is swept
    h.play(otherSong, { user: "alice" }); // Alice listens on
    await h.waitForPresence((a) => a?.details === otherSong.title, h.gateway.frames.length);
    await h.service.compact();
    const text = JSON.stringify(journal.checkpoint);
    for (const token of Object.values(TOKENS)) expect(text).not.toContain(token);
    // Bob's history is gone from the journal; Alice's is kept (for a full replay), all at or before the checkpoint.
    expect(journal.entries.some((e) => "user" in e.event && e.event.user === "bob")).toBe(false);
    expect(journal.entries.some((e) => "user" in e.event && e.event.user === "alice")).toBe(true);
    expect(Math.max(...journal.entries.map((e) => e.seq))).toBeLessThanOrEqual(journal.checkpoint!.seq);
    expect(h.service.entriesSinceCheckpoint()).toBe(0);
    h.play(song, { user: "alice" });
    expect(h.service.entriesSinceCheckpoint()).toBe(1);
  });

  it("holds one timer for a user who listens on, once the session's first minute has passed", async () => {
    // Every pending timer costs memory for as long as it waits, and each is saved here. A user
    // who keeps listening needs one: the end of the song. Heartbeats are the connection's, the
    // identify cooldown, the presence window and its confirmation close within the first minute, and nothing waits
    // on the session (how long it has held is read from the time of its close).
    h = await startHarness({ users: twoUsers, heartbeatIntervalMs: 41_250 });
    h.play(song, { user: "alice" });
    await h.waitForPresence();
    const pending = async () =>
      ((await h.service.checkpoint())?.timers ?? [])
        .filter((t) => t.source.at(-1) === "presence:alice")
        .map((t) => t.id)
        .sort();
    expect(await pending()).toEqual(["identifyCooldown", "presenceKept", "presenceSlot.0", "trackEnd"]);
    // By the third beat (82.5 s or later) the identify's and the presence's windows have closed,
    // and the presence is known to be kept.
    await h.advanceUntil(() => h.framesWithOp(1).length === 3, 5_000, 130_000, "three beats");
    expect(await pending()).toEqual(["trackEnd"]);
    expect(h.service.status().users[0]).toMatchObject({ state: "presenting.playing", connected: true });
  });
});
