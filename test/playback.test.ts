import { afterEach, describe, expect, it } from "vitest";
import type { PlaybackEventInput } from "../src/service/event-validation.ts";
import { FakeDiscordRest } from "./fakes/discord-rest.ts";
import type { ReceivedFrame } from "./fakes/gateway.ts";
import { until } from "./fakes/wait.ts";
import { type Harness, otherSong, song, startHarness, T0 } from "./harness.ts";

let h: Harness;
afterEach(async () => h?.close());

const PAUSED_IMAGE = "https://example.com/paused.png";
const clears = () => h.framesWithOp(3).filter((f) => h.activityOf(f) === null);
const lastPresence = () => h.framesWithOp(3).at(-1)!;

/** Moves simulated time to exactly `target`, in steps short enough for every heartbeat to be ACKed. */
async function advanceTo(target: number, step = 5_000): Promise<void> {
  while (h.clock.now() < target) await h.advance(Math.min(step, target - h.clock.now()));
}

/** Starts a harness, plays `song` at `positionMs` (T0) and waits for its op 3. */
async function playing(options: Parameters<typeof startHarness>[0] = {}, positionMs = 30_000, playbackRate?: number): Promise<ReceivedFrame> {
  h = await startHarness(options);
  h.play(song, { positionMs, ...(playbackRate ? { playbackRate } : {}) });
  return h.waitForPresence();
}

describe("pause and resume", () => {
  it('onPause "show": an elapsed clock from the paused position and a Paused image, then a progress bar again on resume', async () => {
    const first = await playing({ config: { presence: { onPause: "show", pausedImage: PAUSED_IMAGE } } });
    await h.advance(10_000);
    h.dispatch({ type: "playback.paused", user: "alice", positionMs: 40_000 });
    const paused = h.activityOf(await h.waitForPresence(undefined, first.index + 1))!;
    expect(paused.timestamps).toEqual({ start: T0 + 10_000 - 40_000 });
    expect(paused.assets).toMatchObject({ small_text: "Paused", small_image: `mp:${FakeDiscordRest.assetPath(PAUSED_IMAGE)}` });
    expect(paused.details).toBe("Pyramid Song");
    expect(h.service.status().users[0]!.state).toBe("presenting.paused");

    await h.advance(5_000);
    const sent = h.framesWithOp(3).length;
    h.play(song, { positionMs: 40_000 });
    const resumed = h.activityOf(await h.waitForPresence(undefined, lastPresence().index + 1))!;
    expect(h.framesWithOp(3)).toHaveLength(sent + 1);
    const start = T0 + 15_000 - 40_000;
    expect(resumed.timestamps).toEqual({ start, end: start + 289_000 });
    expect(resumed.assets?.small_text).toBeUndefined();
    expect(h.service.status().users[0]!.state).toBe("presenting.playing");
  });

  it("at double speed the bar spans half the track, before a pause and after the resume", async () => {
    const first = await playing({}, 30_000, 2);
    const bar = h.activityOf(first)!.timestamps!;
    expect(bar).toEqual({ start: T0 - 15_000, end: T0 - 15_000 + 144_500 });
    expect(bar.end! - bar.start!).toBe(289_000 / 2);

    await h.advance(10_000);
    h.dispatch({ type: "playback.paused", user: "alice", positionMs: 50_000 });
    const paused = await h.waitForPresence(undefined, first.index + 1);
    expect(h.activityOf(paused)!.timestamps).toEqual({ start: T0 + 10_000 - 50_000 });

    await h.advance(2_000);
    h.play(song, { positionMs: 50_000, playbackRate: 2 });
    const resumed = h.activityOf(await h.waitForPresence(undefined, paused.index + 1))!;
    const start = T0 + 12_000 - 25_000;
    expect(resumed.timestamps).toEqual({ start, end: start + 144_500 });
  });

  it('onPause "clear": a pause clears with activities: []', async () => {
    const first = await playing({ config: { presence: { onPause: "clear" } } });
    await h.advance(3_000);
    h.dispatch({ type: "playback.paused", user: "alice", positionMs: 33_000 });
    const clear = await h.waitForPresence((a) => a === null, first.index + 1);
    expect(clear.d).toEqual({ since: 0, status: "online", afk: true, activities: [] });
    expect(h.service.status().users[0]).toMatchObject({ showing: null, connected: true });
  });
});

describe("the end of a track", () => {
  it("stop clears with activities: [], neither null nor [null]", async () => {
    const first = await playing();
    h.dispatch({ type: "playback.stopped", user: "alice" });
    const clear = await h.waitForPresence((a) => a === null, first.index + 1);
    expect(clear.raw).toContain('"activities":[]');
    expect((clear.d as { activities: unknown }).activities).toEqual([]);
    expect(h.shown.at(-1)?.activity).toBeNull();
  });

  it("a track that ends with no further event is cleared at its end plus endGraceMs", async () => {
    await playing({ config: { gateway: { endGraceMs: 7_000 } } }, 30_000);
    const clearAt = T0 + (289_000 - 30_000) + 7_000;
    await advanceTo(clearAt - 5);
    expect(clears()).toHaveLength(0);
    expect(h.service.status().users[0]!.showing?.details).toBe("Pyramid Song");
    await advanceTo(clearAt);
    await until(() => clears().length > 0);
    expect(clears()[0]!.at).toBe(clearAt);
    expect(h.service.status().users[0]).toMatchObject({ state: "ready", showing: null });
  });

  it("a new track before the end cancels the old track's clear; the new one ends on its own time", async () => {
    await playing({}, 280_000);
    await h.advance(5_000);
    h.play(otherSong);
    await h.waitForPresence((a) => a?.details === "Knives Out");
    // The first track would have been cleared at T0 + 9 s + 5 s grace.
    await advanceTo(T0 + 60_000);
    expect(clears()).toHaveLength(0);
    expect(h.service.status().users[0]!.showing?.details).toBe("Knives Out");

    const clearAt = T0 + 5_000 + 255_000 + 5_000;
    await advanceTo(clearAt - 5);
    expect(clears()).toHaveLength(0);
    await advanceTo(clearAt);
    await until(() => clears().length > 0);
    expect(clears()[0]!.at).toBe(clearAt);
  });

  it("a track of unknown length is cleared unknownLengthMs after it was reported, with no bar shown", async () => {
    h = await startHarness({ config: { gateway: { unknownLengthMs: 120_000 } } });
    const { durationMs: _unknown, ...noLength } = song;
    h.play(noLength, { positionMs: 10_000 });
    const presence = h.activityOf(await h.waitForPresence())!;
    expect(presence.timestamps).toEqual({ start: T0 - 10_000 });
    await advanceTo(T0 + 120_000 - 5);
    expect(clears()).toHaveLength(0);
    await advanceTo(T0 + 120_000);
    await until(() => clears().length > 0);
    expect(clears()[0]!.at).toBe(T0 + 120_000);
  });
});

describe("idle and shutdown", () => {
  it("closes the socket with 1000 after idleTimeoutMs with nothing to show, and a new track connects and identifies again", async () => {
    const first = await playing({ config: { gateway: { idleTimeoutMs: 30_000 } } });
    await h.advance(1_000);
    h.dispatch({ type: "playback.stopped", user: "alice" });
    const clear = await h.waitForPresence((a) => a === null, first.index + 1);
    await advanceTo(clear.at + 30_000 - 5);
    expect(h.gateway.connections[0]!.closedWith).toBeUndefined();
    await advanceTo(clear.at + 30_000);
    expect((await h.gateway.waitForClose(0)).code).toBe(1000);
    expect(["disconnected", "idle"]).toContain(h.service.status().users[0]!.state);
    expect(h.service.status().users[0]!.connected).toBe(false);

    await h.advance(1_000);
    h.play(otherSong);
    await h.gateway.waitForConnection(1);
    const identify = await h.gateway.waitForFrame((f) => f.connection === 1 && f.op === 2);
    const shown = await h.waitForPresence((a) => a?.details === "Knives Out", identify.index);
    expect(shown.connection).toBe(1);
    expect(h.framesWithOp(6)).toHaveLength(0);
  });

  it("stop() clears with activities: [] and then closes with 1000", async () => {
    const first = await playing();
    await h.service.stop();
    const close = await h.gateway.waitForClose(0);
    expect(close.code).toBe(1000);
    const after = h.framesWithOp(3).filter((f) => f.index > first.index);
    expect(after).toHaveLength(1);
    expect(after[0]!.d).toEqual({ since: 0, status: "online", afk: true, activities: [] });
    expect(h.service.status().running).toBe(false);
  });

  it("stop({ clear: false }) sends no clear and closes with a non-1000 code, so the session stays resumable", async () => {
    await playing();
    await h.service.stop({ clear: false });
    const close = await h.gateway.waitForClose(0);
    expect(close.code).not.toBe(1000);
    expect(close.code).not.toBe(1001);
    expect(clears()).toHaveLength(0);
    expect(h.framesWithOp(3)).toHaveLength(1);
  });
});

describe("invalid playback events", () => {
  const invalid: Array<[string, unknown, RegExp]> = [
    ["a missing title", { type: "playback.playing", user: "alice", track: { artist: "Radiohead", durationMs: 1000 } }, /track\.title/],
    ["a negative position", { type: "playback.playing", user: "alice", track: otherSong, positionMs: -5_000 }, /positionMs/],
    ["a NaN position", { type: "playback.playing", user: "alice", track: otherSong, positionMs: Number.NaN }, /positionMs/],
    ["a negative duration", { type: "playback.playing", user: "alice", track: { ...otherSong, durationMs: -1 } }, /durationMs/],
    ["a negative playback rate", { type: "playback.playing", user: "alice", track: otherSong, playbackRate: -1 }, /playbackRate/],
    // What the presence shows and the journal keeps is text: an object or a number is refused.
    ["an album that is not text", { type: "playback.playing", user: "alice", track: { ...otherSong, album: { name: "Amnesiac" } } }, /track\.album /],
    ["an album artist that is a number", { type: "playback.playing", user: "alice", track: { ...otherSong, albumArtist: 7 } }, /track\.albumArtist/],
    ["a release id that is not text", { type: "playback.playing", user: "alice", track: { ...otherSong, mbids: { release: 1 } } }, /track\.mbids\.release /],
    ["artist ids that are not a list", { type: "playback.playing", user: "alice", track: { ...otherSong, mbids: { artists: "x" } } }, /track\.mbids\.artists/],
    ["a NaN time", { type: "playback.stopped", user: "alice", at: Number.NaN }, /\bat\b/],
    ["a negative pause position", { type: "playback.paused", user: "alice", positionMs: -1 }, /positionMs/],
    ["an unknown type", { type: "playback.skipped", user: "alice" }, /unknown event type/],
    ["no user", { type: "playback.stopped" }, /user/],
    // The service's own inputs cannot come from outside: a host cannot stop it or fake a restart.
    ["the service's shutdown", { type: "service.shutdown", clear: true }, /unknown event type/],
    ["the runtime's resume", { type: "runtime.resumed" }, /unknown event type/],
    // Nor can the adapters' answers: only a socket or a REST call may say what Discord said.
    ["a gateway close", { type: "gateway.closed", user: "alice", socket: 1, code: 4004 }, /gateway\.closed is the service's own input/],
    ["a seq note", { type: "gateway.seq", user: "alice", socket: 1, seq: 9 }, /gateway\.seq is the service's own input/],
    ["an artwork outcome", { type: "artwork.resolved", user: "alice", key: "k", image: "mp:external/x" }, /artwork\.resolved is the service's own input/],
    ["a token check", { type: "discord.unauthorized", user: "alice" }, /discord\.unauthorized is the service's own input/],
  ];

  it.each(invalid)("%s is refused with a log line naming the problem and changes nothing on the gateway", async (_, event, problem) => {
    await playing();
    const frames = h.gateway.frames.length;
    const before = h.service.status();
    h.dispatch(event as PlaybackEventInput);
    await h.advance(3_000);
    const refusals = h.logger.entries.filter((e) => e.message.startsWith("event refused"));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.level).toBe("warn");
    expect(refusals[0]!.message).toMatch(problem);
    expect(h.gateway.frames.slice(frames).filter((f) => f.op !== 1)).toEqual([]);
    expect(h.gateway.connections).toHaveLength(1);
    expect(h.service.status()).toEqual(before);
  });

  it("a host's discord.unauthorized is refused, not journaled, and alice goes on presenting", async () => {
    await playing();
    const journaled = h.journal.load().length;
    // @ts-expect-error a host dispatches playback only: the type says so, and so does the service
    h.service.dispatch({ type: "discord.unauthorized", user: "alice" });
    await h.advance(6_000); // past the 5 s in which a server may still refuse the presence
    expect(h.logger.entries.filter((e) => e.message.startsWith("event refused"))).toEqual([
      expect.objectContaining({ level: "warn", message: expect.stringMatching(/discord\.unauthorized is the service's own input/) }),
    ]);
    expect(h.journal.load()).toHaveLength(journaled);
    expect(h.service.status().users[0]).toMatchObject({ user: "alice", state: "presenting.playing", failure: null, showing: { details: song.title } });
    expect(clears()).toHaveLength(0);
    expect(h.gateway.connections).toHaveLength(1);
  });

  it("playback that comes while the service stops is refused with a log line, not journaled as if it counted", async () => {
    await playing();
    const stopped = h.service.stop();
    h.play(otherSong);
    await stopped;
    expect(h.logger.entries.filter((e) => e.message.startsWith("event refused"))).toEqual([
      expect.objectContaining({ level: "warn", message: "event refused: the service is stopping", data: { type: "playback.playing" } }),
    ]);
    expect(JSON.stringify(h.journal.load())).not.toContain(otherSong.title);
  });

  it("refused events alone never open a gateway connection", async () => {
    h = await startHarness();
    for (const [, event] of invalid) h.dispatch(event as PlaybackEventInput);
    await h.advance(3_000);
    expect(h.gateway.connections).toHaveLength(0);
    expect(h.rest.requests).toHaveLength(0);
    expect(h.logger.entries.filter((e) => e.message.startsWith("event refused"))).toHaveLength(invalid.length);
  });
});
