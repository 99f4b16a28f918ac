import { afterEach, describe, expect, it } from "vitest";
import { type JournalEntry, MemoryJournal } from "../src/adapters/journal/journal.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { createPresenceService } from "../src/service/service.ts";
import type { TraceRecord } from "../src/service/trace.ts";
import { type Harness, otherSong, preciseClock, song, startHarness, TOKENS } from "./harness.ts";

// docs/architecture.md, "Event sourcing": a live run and a replay of its journal give the same states
// and intended effects, up to the last input journaled. This is the test that proves it.
let h: Harness;
afterEach(async () => h?.close());

const withoutLive = (records: TraceRecord[]) => records.map(({ live: _live, ...rest }) => rest);

/** What a replay of `journal` into fresh actors (effects off) traces, as of `now`. */
async function replayTrace(journal: MemoryJournal, now: number): Promise<TraceRecord[]> {
  const records: TraceRecord[] = [];
  const service = createPresenceService({
    config: h.config,
    clock: preciseClock(now),
    journal,
    logger: memoryLogger(),
    mode: "replay",
    trace: (record) => records.push(record),
  });
  await service.start();
  return records;
}

describe("determinism", () => {
  it("a replay of the journal gives the same states and intended effects as the live run", async () => {
    const live: TraceRecord[] = [];
    const clock = preciseClock();
    h = await startHarness({
      clock,
      trace: (record) => live.push(record),
      users: [{ username: "alice", discordToken: TOKENS.alice }, { username: "bob", discordToken: TOKENS.bob }],
    });
    // A session with a bit of everything: two users, a pause, a new track, a burst that fills the
    // rate window, op 7, a zombie (the connection's close reaches the machine), a stop, the idle close.
    h.play(song, { positionMs: 30_000 });
    h.play(otherSong, { user: "bob" });
    await h.waitForPresence((a) => a?.details === song.title);
    await h.waitForPresence((a) => a?.details === otherSong.title);
    await h.advance(45_000);
    h.dispatch({ type: "playback.paused", user: "alice", positionMs: 75_000 });
    await h.advance(10_000);
    h.play(song, { positionMs: 75_000 });
    for (let i = 0; i < 7; i++) h.play({ ...otherSong, title: `Track ${i}` }, { user: "bob" });
    await h.advance(25_000);
    h.gateway.reconnect(0);
    await h.advance(1_000);
    await h.advance(1_000);
    h.gateway.autoAck = false;
    for (let i = 0; i < 4; i++) await h.advance(41_250);
    h.gateway.autoAck = true;
    await h.advance(5_000);
    h.dispatch({ type: "playback.stopped", user: "bob" });
    for (let i = 0; i < 8; i++) await h.advance(60_000);
    // A last input: a replay runs up to the last one journaled, so a timer after it (alice's idle
    // close) would fire only in the live run.
    h.play(song, { positionMs: 0 });
    await h.settle();
    expect(live.filter((r) => r.kind === "effect" && r.effect.type === "socket.open").length).toBeGreaterThan(3);

    // Replay the journal into fresh actors, effects off.
    const replayed = await replayTrace(new MemoryJournal(h.journal.load()), clock.now());

    expect(replayed.every((record) => !record.live)).toBe(true);
    expect(replayed.length).toBe(live.length);
    expect(withoutLive(replayed)).toEqual(withoutLive(live));
  });

  it("a host's own `at` (a source that reports late, or early) replays as it ran live", async () => {
    const live: TraceRecord[] = [];
    const clock = preciseClock();
    h = await startHarness({ clock, trace: (record) => live.push(record) });
    h.play(song);
    await h.waitForPresence((a) => a?.details === song.title);
    await h.advance(60_000);
    // Reported 30 s late, then one 20 s ahead of the service's clock: the timers they start
    // (the artwork wait, the track's end, the presence slot) run on the service's clock either way.
    h.dispatch({ type: "playback.playing", user: "alice", track: otherSong, positionMs: 0, at: clock.now() - 30_000 });
    await h.advance(90_000);
    h.dispatch({ type: "playback.playing", user: "alice", track: song, positionMs: 0, at: clock.now() + 20_000 });
    await h.advance(400_000);
    h.play(otherSong); // a last input: a replay runs to the last one journaled
    await h.settle();
    const replayed = await replayTrace(new MemoryJournal(h.journal.load()), clock.now());
    expect(withoutLive(replayed)).toEqual(withoutLive(live));
  });

  it("an old journal's fields that nothing reads any more (player, trackNumber, READY's userId) replay as if they were not there", async () => {
    const clock = preciseClock();
    h = await startHarness({ clock });
    h.play(song, { positionMs: 30_000 });
    await h.waitForPresence((a) => a?.details === song.title);
    await h.advance(20_000);
    h.dispatch({ type: "playback.paused", user: "alice", positionMs: 50_000 });
    await h.advance(10_000);
    h.play(otherSong);
    await h.settle();
    const entries = h.journal.load();
    expect(entries.map((entry) => entry.event.type)).toEqual(expect.arrayContaining(["playback.playing", "gateway.ready"]));

    // What journals written before issue 18 carry in those events.
    const asWrittenBefore = (entry: JournalEntry): JournalEntry => {
      const event = structuredClone(entry.event) as unknown as Record<string, unknown>;
      if (event.type === "playback.playing") Object.assign(event, { player: "Feishin", track: { ...(event.track as object), trackNumber: 3 } });
      if (event.type === "gateway.ready") event.userId = "1000000000000000001";
      return { ...entry, event: event as unknown as JournalEntry["event"] };
    };
    const replay = (journal: MemoryJournal) => replayTrace(journal, clock.now());
    const today = await replay(new MemoryJournal(entries));
    expect(today.length).toBeGreaterThan(0);
    // An artwork request carries the track as it came (the resolver reads what it needs of it):
    // an old track's number rides along there, and changes nothing anywhere.
    const withoutTrackNumbers = (records: TraceRecord[]) =>
      JSON.parse(JSON.stringify(records, (key, value: unknown) => (key === "trackNumber" ? undefined : value)));
    expect(withoutTrackNumbers(await replay(new MemoryJournal(entries.map(asWrittenBefore))))).toEqual(withoutTrackNumbers(today));
  });
});
