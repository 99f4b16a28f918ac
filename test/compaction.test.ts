import { afterEach, describe, expect, it } from "vitest";
import { type JournalEntry, MemoryJournal } from "../src/adapters/journal/journal.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { createPresenceService } from "../src/service/service.ts";
import { type Harness, otherSong, preciseClock, song, startHarness, TOKENS } from "./harness.ts";

let h: Harness;
afterEach(async () => h?.close());

/**
 * The users' states and what they show, as rebuilt by a replay of `entries` as of `now`. A replay
 * stops at its last entry, and compaction drops later entries of idle users: a last entry at `now`
 * (a sequence note, which changes no machine) brings both to the same moment, so that the timers
 * due before it (a presence confirmed as kept) have fired in both.
 */
async function replayStatus(entries: JournalEntry[], now: number) {
  const last = entries.at(-1)!;
  const note: JournalEntry = { v: 1, seq: last.seq + 1, stream: "user:bob", at: now, event: { type: "gateway.seq", user: "bob", socket: 1, seq: 1, at: now } };
  const journal = new MemoryJournal([...entries, note]);
  const replay = createPresenceService({ config: h.config, clock: preciseClock(now), journal, logger: memoryLogger(), mode: "replay" });
  await replay.start();
  return replay.status().users;
}

describe("journal compaction", () => {
  it("drops an idle user's history, keeps the others', and a replay after it rebuilds the same state", async () => {
    const clock = preciseClock();
    h = await startHarness({
      clock,
      users: [{ username: "alice", discordToken: TOKENS.alice }, { username: "bob", discordToken: TOKENS.bob }],
      config: { gateway: { idleTimeoutMs: 60_000 }, sweepIntervalMs: 30_000 },
    });
    h.play(song, { user: "alice" });
    h.play({ ...otherSong, durationMs: 3_600_000 }, { user: "bob" });
    await h.waitForPresence((a) => a?.details === song.title);
    await h.waitForPresence((a) => a?.details === otherSong.title);
    h.dispatch({ type: "playback.stopped", user: "alice" });
    for (let i = 0; i < 5; i++) await h.advance(30_000); // alice: clear, idle close (1000), swept
    expect(h.service.status().users.map((u) => u.state)).toEqual(["idle", "presenting.playing"]);

    const before = await h.journal.load();
    await h.service.compact();
    const after = await h.journal.load();
    expect(before.some((e) => e.stream === "user:alice")).toBe(true);
    expect(after.some((e) => e.stream === "user:alice")).toBe(false);
    expect(after.filter((e) => e.stream === "user:bob")).toEqual(before.filter((e) => e.stream === "user:bob"));
    expect(after.length).toBeLessThan(before.length);

    const full = await replayStatus(before, clock.now());
    const compacted = await replayStatus(after, clock.now());
    expect(compacted).toEqual(full);
    expect(compacted.find((u) => u.user === "bob")).toMatchObject({ state: "presenting.playing", showing: { details: otherSong.title } });

    // And the live service goes on appending after the rewrite.
    h.play(song, { user: "alice" });
    expect((await h.journal.load()).at(-1)!.stream).toBe("user:alice");
  });
});
