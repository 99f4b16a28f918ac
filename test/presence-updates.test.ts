import { Buffer } from "node:buffer";
import { PRESENCE_KEPT_MS } from "../src/actors/presence-effects.ts";
import { afterEach, describe, expect, it } from "vitest";
import type { Activity } from "../src/actors/effects.ts";
import type { Track } from "../src/actors/track.ts";
import { FakeDiscordRest } from "./fakes/discord-rest.ts";
import type { ReceivedFrame } from "./fakes/gateway.ts";
import { until } from "./fakes/wait.ts";
import { APP_ID, type Harness, type HarnessOptions, otherSong, RELEASE_MBID, song, startHarness, T0, TOKENS } from "./harness.ts";

let h: Harness;
afterEach(async () => h?.close());

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/;
const track = (n: number): Track => ({ title: `Track ${n}`, artist: "Radiohead", album: "Amnesiac", durationMs: 200_000 });

/** The most frames whose `at` falls in any window [t, t + windowMs). */
function mostInWindow(frames: ReceivedFrame[], windowMs: number): number {
  return Math.max(0, ...frames.map((f) => frames.filter((g) => g.at >= f.at && g.at < f.at + windowMs).length));
}

/** Op 3 frames sent on the connections of one user. */
function presenceFramesOf(user: keyof typeof TOKENS): ReceivedFrame[] {
  const mine = new Set(h.gateway.connections.filter((c) => c.token === TOKENS[user]).map((c) => c.index));
  return h.framesWithOp(3).filter((f) => mine.has(f.connection));
}

/** Starts a harness, plays `t` and returns the first op 3's activity. */
async function showFirst(t: Track, options: HarnessOptions = {}): Promise<Activity> {
  h = await startHarness(options);
  h.play(t);
  return h.activityOf(await h.waitForPresence())!;
}

/** Dispatches `event` until its op 3 arrives, then the same event again. */
async function showThenRepeat(event: Parameters<Harness["dispatch"]>[0]): Promise<void> {
  h.dispatch(event);
  await h.waitForPresence();
  h.dispatch(event);
  await h.settle();
}

const caaKey = (mbid: string) => `mp:${FakeDiscordRest.assetPath(`${h.images.url}/release/${mbid}/front-500`)}`;
const defaultKey = () => `mp:${FakeDiscordRest.assetPath(`${h.images.url}/img/default.jpg`)}`;
const externalAssetRequests = () => h.rest.requests.filter((r) => r.path === `/api/v9/applications/${APP_ID}/external-assets`);

describe("presence updates stay within Discord's limits", () => {
  it("coalesces 12 track changes in 2 s to at most 5 updates per 20 s, the last one showing the last track", async () => {
    h = await startHarness();
    h.play(track(0));
    const first = await h.waitForPresence();
    for (let n = 1; n < 12; n++) {
      await h.advance(150);
      h.play(track(n));
      await h.settle();
    }
    expect(h.clock.now() - T0).toBeLessThan(2_000);
    expect(h.framesWithOp(3)).toHaveLength(5);

    await h.advance(first.at + 20_000 - 1 - h.clock.now());
    expect(h.framesWithOp(3)).toHaveLength(5);
    await h.advance(1);
    const frames = h.framesWithOp(3);
    expect(frames).toHaveLength(6);
    expect(frames.at(-1)!.at).toBe(first.at + 20_000);
    expect(h.activityOf(frames.at(-1)!)?.details).toBe("Track 11");

    await h.advance(20_000);
    await h.advance(20_000);
    expect(h.framesWithOp(3)).toHaveLength(6);
    expect(mostInWindow(h.framesWithOp(3), 20_000)).toBeLessThanOrEqual(5);
  });

  it("drops an identical repeat of the same playing event", async () => {
    h = await startHarness();
    const event = { type: "playback.playing", user: "alice", track: song, positionMs: 30_000, at: T0 } as const;
    await showThenRepeat(event);
    await h.advance(1_000);
    h.dispatch(event);
    await h.advance(25_000);
    expect(h.framesWithOp(3)).toHaveLength(1);
    expect(h.shown).toHaveLength(1);
  });

  it("a minute-long burst never gets the connection closed, and heartbeats go on while updates are held back", async () => {
    h = await startHarness({ heartbeatIntervalMs: 2_000 });
    h.play(track(0));
    await h.waitForPresence();
    // 120 track changes in a minute, two at a time.
    for (let n = 1; n <= 120; n += 2) {
      await h.advance(1_000);
      h.play(track(n));
      h.play(track(n + 1));
      await h.settle();
    }
    await h.advance(10_000);
    await h.advance(10_000);

    expect(h.gateway.connections).toHaveLength(1);
    expect(h.gateway.connections[0]!.serverClosedWith).toBeUndefined();
    expect(h.gateway.connections[0]!.closedWith).toBeUndefined();
    expect(mostInWindow(h.gateway.frames, 60_000)).toBeLessThanOrEqual(120);
    const updates = h.framesWithOp(3);
    expect(mostInWindow(updates, 20_000)).toBeLessThanOrEqual(5);
    expect(h.activityOf(updates.at(-1)!)?.details).toBe("Track 120");

    // Between two updates that were held back (a gap of over 10 s), the beats kept their 2 s pace.
    const beats = h.framesWithOp(1);
    const heldBack = updates.slice(1).map((f, i) => [updates[i]!.at, f.at] as const).filter(([from, to]) => to - from > 10_000);
    expect(heldBack.length).toBeGreaterThan(0);
    for (const [from, to] of heldBack) {
      const inGap = beats.filter((b) => b.at > from && b.at < to);
      expect(inGap.length).toBeGreaterThanOrEqual(Math.floor((to - from) / 2_000) - 1);
    }
  });
});

describe("what an op 3 carries", () => {
  it("1000-char emoji titles are cut to 128 chars with an ellipsis, on a character boundary, in a frame under 4096 bytes", async () => {
    const emoji: Track = { title: "😀".repeat(1000), artist: "🎸".repeat(1000), album: "💿".repeat(1000), albumArtist: "🎤".repeat(1000), durationMs: 200_000 };
    const activity = await showFirst(emoji, { config: { presence: { name: "{albumArtist}" } } });
    for (const text of [activity.name, activity.details, activity.state, activity.assets?.large_text]) {
      expect(text!.length).toBeLessThanOrEqual(128);
      expect(text!.endsWith("…")).toBe(true);
      expect(text!).not.toMatch(loneSurrogate);
    }
    expect(activity.details!.startsWith("😀😀")).toBe(true);
    const frame = h.framesWithOp(3)[0]!;
    expect(Buffer.byteLength(frame.raw)).toBeLessThanOrEqual(4096);
  });

  // Control characters are escaped by JSON to six bytes each; long mbids make long links.
  const heavy: Track = {
    title: "\u0001".repeat(1000),
    artist: "\u0002".repeat(1000),
    album: "\u0003".repeat(1000),
    albumArtist: "\u0004".repeat(1000),
    durationMs: 200_000,
    mbids: { recording: "r".repeat(210), release: "e".repeat(210), artists: ["a".repeat(210)] },
  };

  it("a presence that would be over 4096 bytes is shortened to fit, and the gateway never closes with 4002", async () => {
    await showFirst(heavy, { config: { presence: { name: "{albumArtist}" } } });
    await h.settle();
    const frame = h.framesWithOp(3)[0]!;
    expect(Buffer.byteLength(frame.raw)).toBeLessThanOrEqual(4096);
    expect(h.gateway.connections[0]!.serverClosedWith).toBeUndefined();
    expect(h.logger.entries.some((e) => e.message.includes("shortened to fit"))).toBe(true);
  });

  it("a shortened presence is sent once: an identical repeat is dropped, not shortened and sent again", async () => {
    h = await startHarness({ config: { presence: { name: "{albumArtist}" } } });
    await showThenRepeat({ type: "playback.playing", user: "alice", track: heavy, positionMs: 0, at: T0 });
    await h.advance(25_000);
    expect(h.framesWithOp(3)).toHaveLength(1);
    expect(h.logger.entries.filter((e) => e.message.includes("shortened to fit"))).toHaveLength(1);
  });

  it("a link over 256 chars is dropped, not truncated", async () => {
    const huge = "f".repeat(300);
    const activity = await showFirst({ ...song, mbids: { recording: huge, release: huge, artists: [song.mbids!.artists![0]!] } });
    expect(activity.details_url).toBeUndefined();
    expect(activity.assets?.large_url).toBeUndefined();
    expect(activity.state_url).toBe(`https://musicbrainz.org/artist/${song.mbids!.artists![0]}`);
    expect(h.framesWithOp(3)[0]!.raw).not.toContain("fffff");
    // Neither is the too-long cover URL sent to Discord: the default image stands in.
    expect(activity.assets?.large_image).toBe(defaultKey());
    expect(externalAssetRequests().every((r) => !r.body.includes("fffff"))).toBe(true);
  });

  it("templates fill name, details and state from the track", async () => {
    const activity = await showFirst(
      { ...song, albumArtist: "Various Artists" },
      { config: { presence: { details: "{artist} — {title}", state: "{album}", name: "{albumArtist}" } } },
    );
    expect(activity).toMatchObject({ name: "Various Artists", details: "Radiohead — Pyramid Song", state: "Amnesiac" });
    expect((h.framesWithOp(3)[0]!.d as { status: string }).status).toBe("online");
  });

  it.each(
    [
      ["name", 0],
      ["state", 1],
      ["details", 2],
    ] as const,
  )("statusDisplay %s shows as status_display_type %i, and the card still says Navidrome", async (statusDisplay, type) => {
    const activity = await showFirst(song, { config: { presence: { statusDisplay } } });
    expect(activity.status_display_type).toBe(type);
    expect(activity.name).toBe("Navidrome");
  });

  it("each user's status goes into their op 3 (not forced to dnd)", async () => {
    h = await startHarness({
      users: [
        { username: "alice", discordToken: TOKENS.alice, status: "idle" },
        { username: "bob", discordToken: TOKENS.bob, status: "dnd" },
      ],
    });
    h.play(song, { user: "alice" });
    h.play(otherSong, { user: "bob" });
    await h.gateway.waitForFrame(() => presenceFramesOf("alice").length > 0 && presenceFramesOf("bob").length > 0);
    expect((presenceFramesOf("alice")[0]!.d as { status: string }).status).toBe("idle");
    expect((presenceFramesOf("bob")[0]!.d as { status: string }).status).toBe("dnd");
  });

  it('links "none" sends no link at all', async () => {
    const activity = await showFirst(song, { config: { presence: { links: "none" } } });
    expect(h.framesWithOp(3)[0]!.raw).not.toMatch(/_url"/);
    expect(activity.details).toBe("Pyramid Song");
  });
});

describe("album art", () => {
  it("a known release shows its Cover Art Archive image, registered with the raw token", async () => {
    const activity = await showFirst(song);
    expect(activity.assets?.large_image).toBe(caaKey(RELEASE_MBID));
    const [request] = externalAssetRequests();
    expect(request!.method).toBe("POST");
    expect(request!.headers.authorization).toBe(TOKENS.alice);
    expect(JSON.parse(request!.body)).toEqual({ urls: [`${h.images.url}/release/${RELEASE_MBID}/front-500`] });
  });

  it("an unknown release shows the default image", async () => {
    const activity = await showFirst({ ...song, mbids: { release: "99999999-0000-0000-0000-000000000000" } });
    expect(activity.assets?.large_image).toBe(defaultKey());
  });

  it("when Discord fails both registrations the presence goes out without a large image", async () => {
    h = await startHarness({ configureGatewayUrl: true });
    h.rest.failNext(500, undefined, 5);
    h.play(song);
    const activity = h.activityOf(await h.waitForPresence())!;
    expect(externalAssetRequests()).toHaveLength(2);
    expect(activity.details).toBe("Pyramid Song");
    expect(activity.assets?.large_image).toBeUndefined();
    expect(activity.assets?.large_text).toBe("Amnesiac");
  });

  it("the same track again is served from the cache: no new request to Discord or the image host", async () => {
    h = await startHarness();
    h.play(song);
    await h.waitForPresence();
    h.play(otherSong);
    await h.waitForPresence((a) => a?.details === "Knives Out");
    const rest = h.rest.requests.length;
    const images = h.images.requests.length;
    const sent = h.framesWithOp(3).length;
    h.play(song);
    const again = await h.waitForPresence((a) => a?.details === "Pyramid Song", sent);
    await h.settle();
    expect(h.activityOf(again)?.assets?.large_image).toBe(caaKey(RELEASE_MBID));
    expect(h.rest.requests).toHaveLength(rest);
    expect(h.images.requests).toHaveLength(images);
  });

  it("a 401 on external assets stops that user like a 4004 and leaves the other user alone", async () => {
    h = await startHarness({
      users: [
        { username: "alice", discordToken: TOKENS.alice },
        { username: "bob", discordToken: TOKENS.bob },
      ],
    });
    h.play(song, { user: "bob" });
    await until(() => presenceFramesOf("bob").length === 1);
    h.play(song, { user: "alice" });
    await until(() => presenceFramesOf("alice").length === 1);
    const aliceConnection = h.gateway.connections.find((c) => c.token === TOKENS.alice)!;
    h.rest.failNext(401, { message: "401: Unauthorized", code: 0 });
    // Song's cover is cached for every user: Alice's next track needs a registration of its own.
    h.play(otherSong, { user: "alice" });
    await until(() => h.service.status().users[0]!.state === "failed");
    expect((await h.gateway.waitForClose(aliceConnection.index)).code).toBe(1000);
    // Past the few seconds after which a presence the server did not refuse counts as shown.
    await h.advance(PRESENCE_KEPT_MS);
    const [alice, bob] = h.service.status().users;
    expect(alice).toMatchObject({ state: "failed", connected: false, showing: null });
    expect(alice!.failure).toMatch(/token/i);
    expect(alice!.failure).toContain("users[0].discordToken");
    // Alice's session just ends, as on a 4004: no op 3 goes out for her first.
    expect(presenceFramesOf("alice")).toHaveLength(1);
    expect(bob).toMatchObject({ state: "presenting.playing", connected: true });
    expect(bob!.showing?.details).toBe("Pyramid Song");
    expect(presenceFramesOf("bob")).toHaveLength(1);
    const bobConnection = h.gateway.connections.find((c) => c.token === TOKENS.bob)!;
    expect(bobConnection.closedWith).toBeUndefined();

    // Nothing retries the rejected token: a later track opens no connection and asks Discord nothing.
    const connections = h.gateway.connections.length;
    const requests = h.rest.requests.length;
    h.play({ title: "Analyse", artist: "Thom Yorke", album: "The Eraser", durationMs: 242_000 }, { user: "alice" });
    await h.advance(10_000);
    expect(h.gateway.connections).toHaveLength(connections);
    expect(h.rest.requests).toHaveLength(requests);
  });

  it("waits for a fast artwork answer and sends a new track exactly once, with its art", async () => {
    h = await startHarness();
    h.play(song);
    const first = await h.waitForPresence();
    await h.advance(5_000);
    expect(h.framesWithOp(3)).toHaveLength(1);
    expect(first.at).toBe(T0);
    expect(h.activityOf(first)?.assets?.large_image).toBe(caaKey(RELEASE_MBID));

    h.play(otherSong);
    const second = await h.waitForPresence((a) => a?.details === "Knives Out", first.index + 1);
    await h.advance(5_000);
    expect(h.framesWithOp(3)).toHaveLength(2);
    expect(second.at).toBe(T0 + 5_000);
    expect(h.activityOf(second)?.assets?.large_image).toBe(defaultKey());
  });
});
