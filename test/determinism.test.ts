import { afterEach, describe, expect, it } from "vitest";
import { MemoryJournal } from "../src/adapters/journal/journal.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { createPresenceService } from "../src/service/service.ts";
import type { TraceRecord } from "../src/service/trace.ts";
import { TOKENS, otherSong, preciseClock, song, startHarness, type Harness } from "./harness.ts";

// docs/architecture.md, "Event sourcing": a live run and a replay of its journal give the same states
// and intended effects, up to the last input journaled. This is the test that proves it.
let h: Harness;
afterEach(async () => h?.close());

const withoutLive = (records: TraceRecord[]) => records.map(({ live: _live, ...rest }) => rest);

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
    const replayed: TraceRecord[] = [];
    const journal = new MemoryJournal(h.journal.load());
    const replay = createPresenceService({
      config: h.config,
      clock: preciseClock(clock.now()),
      journal,
      logger: memoryLogger(),
      mode: "replay",
      trace: (record) => replayed.push(record),
    });
    await replay.start();

    expect(replayed.every((record) => !record.live)).toBe(true);
    expect(replayed.length).toBe(live.length);
    expect(withoutLive(replayed)).toEqual(withoutLive(live));
  });
});
