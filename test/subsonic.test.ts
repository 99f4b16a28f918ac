import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimulatedClock } from "xstate";
import type { DomainEventInput } from "../src/actors/events.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { SubsonicClient, type SubsonicClientOptions } from "../src/adapters/sources/subsonic-client.ts";
import { SubsonicPoller, type SubsonicPollerOptions } from "../src/adapters/sources/subsonic-poller.ts";
import { FakeSubsonic, type FakeSubsonicOptions, type RawNowPlayingEntry } from "./fakes/subsonic.ts";

const USER = "admin";
const PASSWORD = "s3cret-Pa55word!";
const HEX = Buffer.from(PASSWORD, "utf8").toString("hex");
const MBID = "0f4c1e8a-0000-4000-8000-00000000000a";
/** The album's release MBID, as OpenSubsonic's getAlbum gives it (the song entry has none). */
const RELEASE = "0f4c1e8a-0000-4000-8000-0000000000a1";

const raw = (over: Partial<RawNowPlayingEntry> = {}): RawNowPlayingEntry => ({
  id: "tr-1",
  title: "Song One",
  artist: "Band",
  album: "Album",
  albumArtist: "Band",
  duration: 200,
  track: 3,
  coverArt: "al-1",
  musicBrainzId: MBID,
  username: "alice",
  minutesAgo: 0,
  playerId: 1,
  playerName: "Web",
  ...over,
});
const TRACK = {
  id: "tr-1",
  title: "Song One",
  artist: "Band",
  album: "Album",
  albumArtist: "Band",
  durationMs: 200_000,
  coverArtId: "al-1",
  mbids: { recording: MBID },
};

describe("Subsonic client and poller (docs/protocol.md section 3)", () => {
  let server: FakeSubsonic;
  let logger: ReturnType<typeof memoryLogger>;
  const start = async (options: Partial<FakeSubsonicOptions> = {}) => {
    server = await FakeSubsonic.start({
      username: USER,
      password: PASSWORD,
      tokenAuth: true,
      covers: { "al-1": new Uint8Array([0xff, 0xd8, 0xff, 0xd9]) },
      ...options,
    });
  };
  const client = (over: Partial<SubsonicClientOptions> = {}) =>
    new SubsonicClient({ url: server.url, username: USER, password: PASSWORD, userAgent: "nd-presence/test", logger, ...over });
  const secretsStayHome = () => {
    const salts = server.requests.map((r) => r.query.s).filter((s): s is string => s !== undefined);
    const tokens = server.requests.map((r) => r.query.t).filter((t): t is string => t !== undefined);
    for (const r of server.requests) expect(r.raw).not.toContain(PASSWORD);
    for (const secret of [PASSWORD, HEX, ...salts, ...tokens]) expect(logger.text()).not.toContain(secret);
  };

  beforeEach(() => {
    logger = memoryLogger();
  });
  afterEach(async () => {
    await server.close();
  });

  describe("client", () => {
    it("uses token auth: md5(password + salt), never the password", async () => {
      await start();
      server.setNowPlaying([raw({ state: "paused", positionMs: 42_000, playbackRate: 1.5 })]);
      const subsonic = client({ random: () => "c19b2d0a" });
      const entries = await subsonic.getNowPlaying();
      expect(entries).toEqual([{
        username: "alice",
        minutesAgo: 0,
        playerId: "1",
        playerName: "Web",
        track: TRACK,
        state: "paused",
        positionMs: 42_000,
        playbackRate: 1.5,
      }]);
      const { query, path } = server.requests[0]!;
      expect(path).toBe("/rest/getNowPlaying");
      expect(query).toEqual({
        u: USER,
        t: createHash("md5").update(`${PASSWORD}c19b2d0a`).digest("hex"),
        s: "c19b2d0a",
        v: "1.16.1",
        c: "nd-presence",
        f: "json",
      });
      expect(subsonic.authMode).toBe("token");
      secretsStayHome();
    });

    it("falls back to p=enc:<hex> only after error 41, with one warning, and sticks to it", async () => {
      await start({ tokenAuth: false });
      server.setNowPlaying([raw()]);
      const subsonic = client();
      // Two requests refused at once still make one switch and one warning.
      expect(await Promise.all([subsonic.getNowPlaying(), subsonic.getNowPlaying()])).toMatchObject([[{ username: "alice" }], [{ username: "alice" }]]);
      expect(await subsonic.getNowPlaying()).toHaveLength(1);
      const auth = server.requests.map((r) => (r.query.t ? "token" : r.query.p));
      expect([...auth].sort()).toEqual([`enc:${HEX}`, `enc:${HEX}`, `enc:${HEX}`, "token", "token"]);
      expect(auth.at(-1)).toBe(`enc:${HEX}`);
      expect(subsonic.authMode).toBe("password");
      const warnings = logger.entries.filter((e) => e.level === "warn");
      expect(warnings).toEqual([{
        level: "warn",
        message: "server does not support token auth; falling back to password auth",
        data: { path: "/rest/getNowPlaying", code: 41 },
      }]);
      for (const r of server.requests) expect(r.raw).not.toContain(PASSWORD);
    });

    it("treats error 10 as 'no token auth' only from a server older than API 1.13", async () => {
      await start({ tokenAuth: false, tokenAuthError: 10, apiVersion: "1.12.0" });
      const old = client();
      expect(await old.getNowPlaying()).toEqual([]);
      expect(old.authMode).toBe("password");
      await server.close();
      await start({ tokenAuth: false, tokenAuthError: 10 });
      const modern = client();
      await expect(modern.getNowPlaying()).rejects.toMatchObject({ code: "subsonic_error", serverCode: 10 });
      expect(modern.authMode).toBe("token");
      expect(server.requests.some((r) => "p" in r.query)).toBe(false);
    });

    it("reports wrong credentials (HTTP 200, status failed) without any secret in the error", async () => {
      await start({ password: "another-password" });
      const error = (await client().getNowPlaying().catch((e: unknown) => e)) as Error;
      expect(error).toMatchObject({ code: "subsonic_error", serverCode: 40, message: "Subsonic getNowPlaying: server error 40 (Wrong username or password)" });
      expect(server.requests).toHaveLength(1);
      secretsStayHome();
    });

    it("normalises the quirks: {} without entry, a single object, failed status, HTTP errors, garbage", async () => {
      await start();
      const subsonic = client();
      expect(await subsonic.getNowPlaying()).toEqual([]);
      server.setNowPlaying([raw(), raw({ username: "bob", id: "tr-2" })]);
      server.quirk = "emptyObject";
      expect(await subsonic.getNowPlaying()).toEqual([]);
      server.quirk = "singleObject";
      expect((await subsonic.getNowPlaying()).map((e) => e.username)).toEqual(["alice"]);
      server.failNext("failedStatus");
      await expect(subsonic.getNowPlaying()).rejects.toMatchObject({ name: "SubsonicError", code: "subsonic_error", serverCode: 0 });
      server.failNext("http500");
      await expect(subsonic.getNowPlaying()).rejects.toMatchObject({ code: "subsonic_http", message: "Subsonic getNowPlaying: HTTP 500" });
      server.failNext("garbage");
      await expect(subsonic.getNowPlaying()).rejects.toMatchObject({ code: "subsonic_invalid_response" });
      server.down = true;
      const down = (await subsonic.getNowPlaying().catch((e: unknown) => e)) as Error;
      expect(down).toMatchObject({ code: "subsonic_unreachable" });
      expect(down.message).not.toMatch(/[?&](t|s|p)=/);
    });

    it("reads an album's release MBID with getAlbum: none from a plain server, an error for an unknown album", async () => {
      await start({ albums: { "al-1": { name: "Album", musicBrainzId: RELEASE }, "al-2": { name: "Plain Subsonic album" } } });
      server.setNowPlaying([raw({ albumId: "al-1" })]);
      const subsonic = client();
      const [entry] = await subsonic.getNowPlaying();
      expect(entry).toMatchObject({ albumId: "al-1", track: TRACK });
      expect(await subsonic.getAlbumReleaseMbid("al-1")).toBe(RELEASE);
      expect(await subsonic.getAlbumReleaseMbid("al-2")).toBeUndefined();
      await expect(subsonic.getAlbumReleaseMbid("nope")).rejects.toMatchObject({ code: "subsonic_error", serverCode: 70 });
      expect(server.requests.at(-1)).toMatchObject({ path: "/rest/getAlbum", query: { id: "nope", u: USER, v: "1.16.1", f: "json" } });
      secretsStayHome();
    });

    it("drops a track length that is absurd, negative or not a number: the track's length is unknown", async () => {
      await start();
      const durations: unknown[] = [2_200_000, 1e308, -5, "12 minutes", 0, 108_000];
      server.setNowPlaying(durations.map((duration, index) => raw({ username: `user${index}`, duration: duration as number })));
      const entries = await client().getNowPlaying();
      // 25 days and 1e308 s are no real track; a 30-hour audiobook (108,000 s) is.
      expect(entries.map((entry) => entry.track.durationMs)).toEqual([undefined, undefined, undefined, undefined, undefined, 108_000_000]);
    });

    it("ignores an empty OpenSubsonic state, and reads cover art bytes", async () => {
      await start();
      server.setNowPlaying([raw({ state: "", positionMs: 0, playbackRate: 0 })]);
      const subsonic = client();
      const [entry] = await subsonic.getNowPlaying();
      expect(entry).toEqual({ username: "alice", minutesAgo: 0, playerId: "1", playerName: "Web", track: TRACK });
      expect(await subsonic.getCoverArt("al-1", 600)).toEqual({ bytes: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), contentType: "image/jpeg" });
      expect(server.requests.at(-1)!.query).toMatchObject({ id: "al-1", size: "600" });
      await expect(subsonic.getCoverArt("nope")).rejects.toMatchObject({ code: "subsonic_error", serverCode: 70 });
    });
  });

  describe("poller", () => {
    let clock: SimulatedClock;
    let events: DomainEventInput[];
    let calls: number[];
    let poller: SubsonicPoller;
    const make = (over: Partial<SubsonicPollerOptions> = {}) => {
      const subsonic = client();
      poller = new SubsonicPoller({
        client: {
          getNowPlaying: () => (calls.push(clock.now()), subsonic.getNowPlaying()),
          getAlbumReleaseMbid: (id, options) => subsonic.getAlbumReleaseMbid(id, options),
          get authMode() {
            return subsonic.authMode;
          },
        },
        pollIntervalMs: 2000,
        users: () => new Set(["alice", "bob"]),
        ignorePlayers: (user) => (user === "alice" ? ["Feishin-RPC"] : ["7"]),
        dispatch: (event) => events.push(event),
        clock,
        logger,
        ...over,
      });
      return poller;
    };
    /** Moves simulated time; waits for the poll a timer started, if one did. */
    const advance = async (ms: number) => {
      const before = calls.length;
      clock.increment(ms);
      if (calls.length > before) await poller.pollOnce();
    };
    const taken = () => events.splice(0);

    beforeEach(async () => {
      clock = new SimulatedClock();
      events = [];
      calls = [];
      await start();
    });
    afterEach(async () => {
      await poller?.stop();
    });

    it("emits playing for a new track, with the position estimated from minutesAgo", async () => {
      server.setNowPlaying([raw({ minutesAgo: 2 })]);
      make().start();
      await poller.pollOnce();
      expect(taken()).toEqual([{ type: "playback.playing", user: "alice", track: TRACK, positionMs: 120_000, at: 0 }]);
      await advance(2000);
      expect(taken()).toEqual([]);
      // A process that sees the track for the first time (after a restart) estimates the same way, capped at the duration.
      server.setNowPlaying([raw({ minutesAgo: 5 })]);
      await poller.stop();
      make().start();
      await poller.pollOnce();
      expect(taken()).toMatchObject([{ type: "playback.playing", positionMs: 200_000, at: 2000 }]);
      // Plain Subsonic: minutesAgo going down means the same track started again.
      server.setNowPlaying([raw({ minutesAgo: 0 })]);
      await advance(2000);
      expect(taken()).toMatchObject([{ type: "playback.playing", positionMs: 0 }]);
    });

    it("follows OpenSubsonic pause, resume and seeks, and a new track; an entry gone is a stop", async () => {
      const report = (state: string, positionMs: number, id = "tr-1") => server.setNowPlaying([raw({ id, state, positionMs, playbackRate: 1 })]);
      report("playing", 10_000);
      make().start();
      await poller.pollOnce();
      expect(taken()).toEqual([{ type: "playback.playing", user: "alice", track: TRACK, positionMs: 10_000, playbackRate: 1, at: 0 }]);
      report("playing", 12_000);
      await advance(2000);
      report("paused", 13_000);
      await advance(2000);
      expect(taken()).toEqual([{ type: "playback.paused", user: "alice", positionMs: 13_000, at: 4000 }]);
      await advance(2000);
      report("playing", 13_500);
      await advance(2000);
      expect(taken()).toMatchObject([{ type: "playback.playing", positionMs: 13_500, at: 8000 }]);
      report("playing", 90_000); // a seek
      await advance(2000);
      expect(taken()).toMatchObject([{ type: "playback.playing", positionMs: 90_000, at: 10_000 }]);
      // A server that repeats the last report (no extrapolation) is not seeking.
      for (let i = 0; i < 4; i++) await advance(2000);
      report("playing", 99_000);
      await advance(2000);
      expect(taken()).toEqual([]);
      report("playing", 1000, "tr-2");
      await advance(2000);
      expect(taken()).toMatchObject([{ type: "playback.playing", track: { id: "tr-2" }, positionMs: 1000 }]);
      server.setNowPlaying([]);
      await advance(2000);
      expect(taken()).toEqual([{ type: "playback.stopped", user: "alice", at: 24_000 }]);
    });

    it("handles the quirks while polling: single object, {}, failed status (no stop)", async () => {
      server.setNowPlaying([raw(), raw({ username: "bob", id: "tr-9", playerId: 2 })]);
      server.quirk = "singleObject";
      make().start();
      await poller.pollOnce();
      expect(taken()).toMatchObject([{ type: "playback.playing", user: "alice" }]);
      server.failNext("failedStatus");
      await advance(2000);
      expect(taken()).toEqual([]);
      expect(poller.status()).toMatchObject({ ok: false, errors: 1, lastError: "Subsonic getNowPlaying: server error 0 (A generic error)" });
      server.quirk = "emptyObject";
      await advance(2000);
      expect(taken()).toEqual([{ type: "playback.stopped", user: "alice", at: 4000 }]);
    });

    it("retries at a jittered moment: between half the step and the step", async () => {
      server.setNowPlaying([raw()]);
      make({ random: () => 0 }).start(); // the jitter at its bottom: half of each step
      await poller.pollOnce();
      server.down = true;
      for (let i = 0; i < 14; i++) await advance(1000);
      expect(calls).toEqual([0, 2000, 3000, 5000, 9000, 14_000]);
    });

    it("while the server is down: no stop, exponential backoff capped at 10 s, one warning, one recovery", async () => {
      server.setNowPlaying([raw()]);
      // The jitter at its top: each wait is the whole step (2, 4, 8, then the 10 s cap).
      make({ random: () => 1 - Number.EPSILON }).start();
      await poller.pollOnce();
      taken();
      server.down = true;
      for (const ms of [2000, 2000, 4000, 8000, 10_000]) {
        await advance(ms - 1);
        await advance(1);
      }
      expect(poller.status()).toMatchObject({ name: "subsonic", ok: false, polls: 6, errors: 5, consecutiveFailures: 5, lastSuccessAt: 0, authMode: "token" });
      expect(poller.status().lastError).toMatch(/^Subsonic getNowPlaying failed: /);
      server.down = false;
      await advance(10_000);
      await advance(2000);
      expect(calls).toEqual([0, 2000, 4000, 8000, 16_000, 26_000, 36_000, 38_000]);
      expect(events).toEqual([]);
      // Recovered: no error left beside ok.
      expect(poller.status()).toMatchObject({ ok: true, errors: 5, consecutiveFailures: 0, lastSuccessAt: 38_000, lastError: null });
      expect(logger.entries.filter((e) => e.message === "subsonic poll failed; retrying with backoff")).toHaveLength(1);
      expect(logger.entries.filter((e) => e.message === "subsonic poll recovered")).toEqual([{
        level: "info",
        message: "subsonic poll recovered",
        data: { failures: 5 },
      }]);
      secretsStayHome();
    });

    it("ignores unconfigured users and ignored players; one entry per user", async () => {
      server.setNowPlaying([
        raw({ username: "carol" }),
        raw({ playerName: "feishin-rpc", playerId: 3 }),
        raw({ username: "bob", playerName: "Sonixd", playerId: 7 }),
      ]);
      make().start();
      await poller.pollOnce();
      expect(taken()).toEqual([]);
      // Same minutesAgo: the non-ignored player wins; an older entry loses to a newer one.
      server.setNowPlaying([raw({ playerName: "feishin-rpc", playerId: 3 }), raw({ id: "old", minutesAgo: 4, playerId: 5 }), raw({ playerId: 4 })]);
      await advance(2000);
      expect(taken()).toMatchObject([{ type: "playback.playing", user: "alice", track: { id: "tr-1" }, positionMs: 0 }]);
      // The user moved to the ignored player (newest entry): that player shows its own presence.
      server.setNowPlaying([raw({ id: "tr-5", playerName: "Feishin-RPC", playerId: 3 }), raw({ minutesAgo: 1, playerId: 4 })]);
      await advance(2000);
      expect(taken()).toEqual([{ type: "playback.stopped", user: "alice", at: 4000 }]);
    });

    describe("the album's release MBID (OpenSubsonic getAlbum)", () => {
      const withRelease = { ...TRACK, mbids: { recording: MBID, release: RELEASE } };
      const getAlbums = () => server.requests.filter((r) => r.path === "/rest/getAlbum");
      const playingTracks = () => taken().map((event) => (event.type === "playback.playing" ? event.track : event.type));

      it("is on the track before the event is emitted, asked once per album", async () => {
        server.albums.set("al-1", { name: "Album", musicBrainzId: RELEASE });
        server.setNowPlaying([raw({ albumId: "al-1" }), raw({ username: "bob", id: "tr-2", albumId: "al-1", playerId: 2 })]);
        make().start();
        await poller.pollOnce();
        expect(playingTracks()).toEqual([withRelease, { ...withRelease, id: "tr-2" }]);
        server.setNowPlaying([raw({ id: "tr-3", albumId: "al-1" })]);
        await advance(2000);
        expect(playingTracks()).toEqual(["playback.stopped", { ...withRelease, id: "tr-3" }]); // bob stopped
        expect(getAlbums()).toHaveLength(1);
        secretsStayHome();
      });

      it("a plain Subsonic album (no musicBrainzId) or an entry without albumId: the track as before", async () => {
        server.albums.set("al-1", { name: "Album" });
        server.setNowPlaying([raw({ albumId: "al-1" }), raw({ username: "bob", id: "tr-2", playerId: 2 })]);
        make().start();
        await poller.pollOnce();
        expect(playingTracks()).toEqual([TRACK, { ...TRACK, id: "tr-2" }]);
        expect(getAlbums().map((r) => r.query.id)).toEqual(["al-1"]);
      });

      it("a failure leaves it out, never the poll: cached for a few minutes, logged once per album", async () => {
        server.albums.set("al-1", { name: "Album", musicBrainzId: RELEASE });
        const play = (id: string) => server.setNowPlaying([raw({ id, albumId: "al-1" })]);
        const failures = () => logger.entries.filter((e) => e.message.startsWith("subsonic getAlbum failed"));
        server.failNext("http500", 2, "getAlbum");
        play("tr-1");
        make().start();
        await poller.pollOnce();
        expect(playingTracks()).toEqual([TRACK]);
        expect(poller.status()).toMatchObject({ ok: true, errors: 0 });
        play("tr-2"); // within the failure's few minutes: not asked again
        await advance(2000);
        expect(playingTracks()).toEqual([{ ...TRACK, id: "tr-2" }]);
        expect(getAlbums()).toHaveLength(1);
        play("tr-3");
        await advance(5 * 60_000 + 1); // past the failure's 5 min
        expect(playingTracks()).toEqual([{ ...TRACK, id: "tr-3" }]);
        expect(getAlbums()).toHaveLength(2);
        expect(failures().map((e) => e.level)).toEqual(["warn", "debug"]);
        expect(failures()[0]!.data).toEqual({ albumId: "al-1", error: "Subsonic getAlbum: HTTP 500" });
        play("tr-4");
        await advance(5 * 60_000 + 1);
        expect(playingTracks()).toEqual([{ ...withRelease, id: "tr-4" }]);
        secretsStayHome();
      });

      it("a getAlbum slower than its timeout does not hold the track back", async () => {
        server.albums.set("al-1", { name: "Album", musicBrainzId: RELEASE });
        server.setNowPlaying([raw({ albumId: "al-1" })]);
        make({ albums: { timeoutMs: 1 } }).start();
        server.delayMs = 200; // every answer is late; getAlbum's 1 ms timeout is not waited out
        await poller.pollOnce();
        expect(playingTracks()).toEqual([TRACK]);
        expect(logger.entries.find((e) => e.message.startsWith("subsonic getAlbum failed"))?.data?.error).toMatch(/^Subsonic getAlbum failed: /);
      });
    });

    it("never overlaps polls, and survives a throwing dispatch", async () => {
      server.setNowPlaying([raw()]);
      server.delayMs = 40;
      make({
        dispatch: () => {
          throw new Error("boom");
        },
      }).start();
      const shared = poller.pollOnce();
      expect(poller.pollOnce()).toBe(shared);
      clock.increment(10_000); // no timer is armed while a poll is in flight
      await shared;
      expect(calls).toEqual([0]);
      expect(server.requests).toHaveLength(1);
      expect(logger.entries.filter((e) => e.level === "error")).toHaveLength(1);
      await advance(2000);
      expect(calls).toEqual([0, 12_000]);
    });
  });
});
