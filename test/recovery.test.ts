import { PRESENCE_KEPT_MS } from "../src/actors/presence-effects.ts";
import { afterEach, describe, expect, it } from "vitest";
import { type JournalEntry, MemoryJournal } from "../src/adapters/journal/journal.ts";
import { until } from "./fakes/wait.ts";
import { type Harness, otherSong, song, startHarness, T0 } from "./harness.ts";

// docs/architecture.md, "Event sourcing": restart in the middle of a song and Discord does not notice: the
// journal is replayed, the session resumed where it can be, and the presence still clears when
// that song ends.
let h: Harness;
afterEach(async () => h?.close());

const clearsOn = (connection: number) => h.framesWithOp(3).filter((f) => f.connection === connection && h.activityOf(f) === null);

describe("restart in the middle of a song", () => {
  it("resumes the session on resume_gateway_url, sends nothing new, and clears at the song's original end", async () => {
    h = await startHarness();
    h.play(song, { positionMs: 200_000 }); // 89 s left
    await h.waitForPresence();
    await h.advance(30_000);
    const sessionId = h.gateway.connections[0]!.sessionId;

    await h.restart();
    const resume = await h.gateway.waitForFrame((f) => f.op === 6 && f.connection === 1);
    await h.settle(); // the fake's RESUMED has reached the service
    expect(resume.d).toMatchObject({ token: expect.any(String), session_id: sessionId });
    expect(h.gateway.connections[0]!.closedWith?.code).not.toBe(1000);
    expect(h.framesWithOp(2)).toHaveLength(1); // no new identify
    expect(h.service.status().users[0]).toMatchObject({ state: "presenting.playing", connected: true });
    expect(h.framesWithOp(3).filter((f) => f.connection === 1)).toHaveLength(0); // RESUMED keeps it

    const end = T0 + 89_000 + 5_000; // the original end, plus the grace
    while (h.clock.now() < end - 1_000) await h.advance(1_000);
    expect(clearsOn(1)).toHaveLength(0);
    await h.advance(1_000);
    const clear = await until(() => clearsOn(1)[0]);
    expect(clear.at).toBe(end);
  });

  it("clears on restart a presence whose song ended while the service was down", async () => {
    h = await startHarness();
    h.play(song, { positionMs: 280_000 }); // 9 s left
    await h.waitForPresence();
    await h.service.stop({ clear: false }); // the process is gone...
    await h.advance(60_000); // ...for a minute: the song ended meanwhile
    await h.restart();
    const clear = await h.gateway.waitForFrame((f) => f.op === 3 && f.connection === 1 && h.activityOf(f) === null);
    expect(h.framesWithOp(6).at(-1)!.connection).toBe(1); // resumed, then cleared what it showed
    expect(clear.at).toBe(T0 + 60_000);
    expect(h.service.status().users[0]).toMatchObject({ showing: null });
  });

  it("identifies and shows the same presence again when the resume is never answered", async () => {
    h = await startHarness();
    h.play(otherSong, { positionMs: 10_000 });
    const before = h.activityOf(await h.waitForPresence())!;
    h.gateway.autoResume = false; // the fake ignores op 6
    await h.restart();
    await h.gateway.waitForFrame((f) => f.op === 6 && f.connection === 1);
    // No RESUMED within readyTimeoutMs (15 s): drop the session, identify, show the same activity.
    for (let i = 0; i < 40 && h.framesWithOp(2).length < 2; i++) await h.advance(1_000);
    const again = await h.gateway.waitForFrame((f) => f.op === 3 && f.connection === 2);
    expect(h.framesWithOp(2)).toHaveLength(2);
    expect(h.activityOf(again)).toEqual(before);
  });

  it("a clean stop (clear) clears Discord, and the next start shows the track again while it still plays", async () => {
    h = await startHarness();
    h.play(song);
    const shown = await h.waitForPresence();
    await h.advance(30_000);
    await h.service.stop(); // clears, closes 1000, journals the shutdown
    const clear = h.framesWithOp(3).at(-1)!;
    expect(h.activityOf(clear)).toBeNull();
    expect((await h.gateway.waitForClose(0)).code).toBe(1000);
    await h.advance(60_000); // down for a minute, inside the song's 289 s
    await h.restart();
    // A 1000 close ended the session: the next start identifies (no resume) and shows the song
    // with its first timestamps, as Navidrome sends its now-playing once per song.
    const again = await h.waitForPresence((a) => a?.details === song.title, clear.index + 1);
    expect(again.connection).toBe(1);
    expect(h.framesWithOp(6)).toHaveLength(0);
    expect(again.d).toEqual(shown.d);
    await h.advance(PRESENCE_KEPT_MS);
    expect(h.service.status().users[0]).toMatchObject({ state: "presenting.playing", connected: true, showing: { details: song.title } });
  });

  it("a clean stop (clear) is journaled: a start after the track's end shows and connects nothing", async () => {
    h = await startHarness();
    h.play(song);
    await h.waitForPresence();
    await h.service.stop();
    const connections = h.gateway.connections.length;
    await h.advance(song.durationMs! + 60_000);
    await h.restart();
    await h.advance(10_000);
    expect(h.gateway.connections).toHaveLength(connections);
    expect(h.service.status().users[0]).toMatchObject({ connected: false, showing: null });
    // ...and the service goes on: the next track shows.
    h.play(otherSong);
    await h.waitForPresence((a) => a?.details === otherSong.title);
  });
});

describe("a clean stop, and what can happen during it", () => {
  it("a paused track is forgotten at a clearing stop: the next start shows nothing and connects nothing", async () => {
    h = await startHarness();
    h.play(song);
    await h.waitForPresence();
    h.dispatch({ type: "playback.paused", user: "alice", positionMs: 10_000 });
    await h.settle();
    await h.service.stop();
    const connections = h.gateway.connections.length;
    await h.advance(60_000);
    await h.restart();
    await h.advance(10_000);
    expect(h.gateway.connections).toHaveLength(connections);
    expect(h.service.status().users[0]).toMatchObject({ connected: false, showing: null, sending: null });
  });

  it("a socket that ends while the clear waits for a slot ends the shutdown: no reconnect, and the next start is whole", async () => {
    h = await startHarness();
    // Five presence updates in the window: the clear must wait for a slot.
    for (const track of [song, otherSong, song, otherSong, song]) {
      const before = h.framesWithOp(3).length;
      h.play(track);
      await h.advanceUntil(() => h.framesWithOp(3).length > before, 100, 5_000, "the track change");
    }
    const stopped = h.service.stop();
    await h.advance(0);
    h.gateway.drop();
    await h.advance(1_000);
    await stopped;
    expect(h.gateway.connections).toHaveLength(1);
    expect(h.service.actor?.getSnapshot().value).toBe("stopped");
    // The next start goes on from the journal: the song still plays, so it is shown again.
    const after = h.gateway.frames.length;
    await h.restart();
    const shown = () => h.gateway.frames.slice(after).some((f) => f.op === 3 && h.activityOf(f)?.details === song.title);
    await h.advanceUntil(shown, 500, 30_000, "the song shown again");
    expect(h.gateway.connections).toHaveLength(2);
  });
});

describe("a journal that fails", () => {
  it("keeps presences working when the journal cannot append (a full disk), and says so once", async () => {
    class FullDisk extends MemoryJournal {
      override append(_entry: JournalEntry): void {
        throw new Error("ENOSPC: no space left on device");
      }
    }
    h = await startHarness({ journal: new FullDisk() });
    h.play(song);
    await h.waitForPresence((a) => a?.details === song.title);
    h.play(otherSong);
    await h.waitForPresence((a) => a?.details === otherSong.title);
    const failures = h.logger.entries.filter((e) => e.message.startsWith("journal append failed"));
    expect(failures).toHaveLength(1);
    expect(failures[0]!.data).toEqual({ error: "ENOSPC: no space left on device" });
  });
});
