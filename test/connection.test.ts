import { afterEach, describe, expect, it } from "vitest";
import { MemoryJournal } from "../src/adapters/journal/journal.ts";
import type { TraceRecord } from "../src/service/trace.ts";
import { type Harness, otherSong, song, startHarness } from "./harness.ts";

// The gateway connection owns the wire: heartbeats, ACKs, the zombie check, `s` and the flood of
// dispatches a real account receives stay there. What reaches the machines and the journal is
// only what changes the session, and the latest `s` at most once a minute, for a resume after a crash.
let h: Harness;
afterEach(async () => h?.close());

const MINUTE = 60_000;

describe("the gateway connection", () => {
  it("keeps dispatches, beats and ACKs out of the machines and the journal; journals the latest s at most once a minute", async () => {
    const journal = new MemoryJournal();
    const trace: TraceRecord[] = [];
    h = await startHarness({ journal, trace: (record) => trace.push(record) });
    h.play(song);
    await h.waitForPresence();
    const [entriesBefore, traceBefore] = [journal.entries.length, trace.length];

    // Three minutes of a busy account: five dispatches a second, beats and ACKs every 41.25 s.
    for (let second = 0; second < 180; second++) {
      for (let i = 0; i < 5; i++) h.gateway.dispatch(i % 2 ? "PRESENCE_UPDATE" : "MESSAGE_CREATE", { content: "someone else's business" });
      await h.advance(1_000);
    }
    expect(h.framesWithOp(1).length).toBeGreaterThanOrEqual(4);
    // READY carried the first s into the journal; then a note a minute, never closer.
    const added = journal.entries.slice(entriesBefore).map((entry) => entry.event);
    expect(added.map((event) => event.type)).toEqual(["gateway.seq", "gateway.seq"]);
    expect(added[1]!.at - added[0]!.at).toBeGreaterThanOrEqual(MINUTE);
    const seqs = added.map((event) => (event as { seq: number }).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.at(-1)).toBeLessThanOrEqual(h.gateway.connections[0]!.seq);
    // Not one machine step: no state changed, no effect was asked for.
    expect(trace.slice(traceBefore)).toEqual([]);
    expect(JSON.stringify(journal.entries)).not.toContain("someone else's business");
  });

  it("resumes after a crash with the s the journal noted, never one ahead of what the server sent", async () => {
    const journal = new MemoryJournal();
    h = await startHarness({ journal });
    h.play(song);
    await h.waitForPresence();
    for (let second = 0; second < 150; second++) {
      h.gateway.dispatch("MESSAGE_CREATE", {});
      await h.advance(1_000);
    }
    const noted = journal.entries.filter((entry) => entry.event.type === "gateway.seq").map((entry) => (entry.event as { seq: number }).seq);
    expect(noted.length).toBeGreaterThanOrEqual(2);
    const sent = h.gateway.connections[0]!.seq;
    await h.restart();
    const resume = await h.gateway.waitForFrame((f) => f.op === 6);
    expect((resume.d as { seq: number }).seq).toBe(noted.at(-1));
    expect(noted.at(-1)).toBeLessThanOrEqual(sent);
    expect(h.service.status().users[0]).toMatchObject({ state: "presenting.playing", connected: true });
  });

  it("closes a zombie with 4000 and resumes; the round trip and the zombie count show in status, the page and /metrics", async () => {
    h = await startHarness();
    h.play(song);
    await h.waitForPresence();
    expect(h.service.status().users[0]).toMatchObject({ heartbeatRoundTripMs: null, zombieCloses: 0 });
    await h.advanceUntil(() => h.framesWithOp(1).length === 1, 1_000, 42_000, "a first beat");
    // Answered at once on the simulated clock: a round trip of 0 ms.
    expect(h.service.status().users[0]).toMatchObject({ heartbeatRoundTripMs: 0, zombieCloses: 0 });

    h.gateway.autoAck = false;
    await h.advanceUntil(() => h.gateway.connections[0]!.closedWith !== undefined, 1_000, 90_000, "the zombie close");
    expect(h.gateway.connections[0]!.closedWith?.code).toBe(4000);
    h.gateway.autoAck = true;
    const resume = await h.gateway.waitForFrame((f) => f.op === 6);
    expect(resume.connection).toBe(1);
    await h.settle();
    expect(h.service.status().users[0]).toMatchObject({ state: "presenting.playing", connected: true, zombieCloses: 1 });
    expect(h.logger.entries).toContainEqual(expect.objectContaining({ level: "warn", message: "no heartbeat ACK: zombie connection, reconnecting" }));

    const base = await h.statusServer();
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^nd_presence_zombie_closes_total\{user="alice"\} 1$/m);
    expect(metrics).toMatch(/^nd_presence_heartbeat_round_trip_seconds\{user="alice"\} 0$/m);
    const page = await (await fetch(`${base}/`)).text();
    expect(page).toMatch(/<dt>Zombie closes<\/dt><dd>1<\/dd>/);
    expect(page).toMatch(/<dt>Heartbeat round trip<\/dt><dd>0 ms<\/dd>/);
  });

  it("keeps to the frame budget: what does not fit waits for the next window, and Discord never closes with 4008", async () => {
    h = await startHarness();
    h.play(song);
    await h.waitForPresence(); // identify and the presence: 2 of the window's 58
    // A server that asks for a beat 70 times at once: answered while the budget lasts.
    for (let i = 0; i < 70; i++) h.gateway.requestHeartbeat();
    await h.settle();
    expect(h.framesWithOp(1)).toHaveLength(56);
    expect(h.logger.entries.filter((e) => e.message === "heartbeat request not answered: frame limit reached")).toHaveLength(14);
    // A new track now finds no room: it waits, and goes when the window ends, 60 s after identify.
    h.play(otherSong);
    await h.advance(59_000);
    expect(h.framesWithOp(3).map((f) => h.activityOf(f)?.details)).toEqual([song.title]);
    await h.advance(1_000);
    expect(h.framesWithOp(3).map((f) => h.activityOf(f)?.details)).toEqual([song.title, otherSong.title]);
    expect(h.gateway.connections[0]!.closedWith).toBeUndefined();
    expect(h.gateway.connections).toHaveLength(1);
  });
});
