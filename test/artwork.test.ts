import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ArtworkRequest } from "../src/actors/effects.ts";
import type { Track } from "../src/actors/track.ts";
import { ArtworkResolver, type ArtworkResolverOptions, defaultImageFrom, navidromeLogoUrl, publicUrlFromTemplate } from "../src/adapters/artwork/resolver.ts";
import { createCoverUploader } from "../src/adapters/artwork/cover-upload.ts";
import { DiscordRest } from "../src/adapters/discord/rest.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { MusicBrainzClient } from "../src/adapters/artwork/musicbrainz.ts";
import { SubsonicClient } from "../src/adapters/sources/subsonic-client.ts";
import { FakeDiscordRest, FakeImageHost } from "./fakes/discord-rest.ts";
import { FakeMusicBrainz } from "./fakes/musicbrainz.ts";
import { FakeSubsonic } from "./fakes/subsonic.ts";
import { FakeUploadHost } from "./fakes/upload-host.ts";
import { until } from "./fakes/wait.ts";

const TOKEN = "mfa.alice-token-SECRET-1234567890";
const APP = "123456789012345678";
const UA = "nd-presence/test";
const RELEASE = "5b7a2e0c-0000-4000-8000-000000000001";
const GROUP = "5b7a2e0c-0000-4000-8000-000000000002";
const MISSING = "5b7a2e0c-0000-4000-8000-0000000000ff";
const DEFAULT_IMAGE = "https://img.example.org/nd-default.png";
const HOUR = 3_600_000;

const track = (mbids: Track["mbids"]): ArtworkRequest => ({ kind: "track", key: `k-${JSON.stringify(mbids)}`, track: { title: "T", artist: "A", mbids } });
const mp = (url: string) => `mp:${FakeDiscordRest.assetPath(url)}`;

describe("ArtworkResolver", () => {
  let discord: FakeDiscordRest;
  let host: FakeImageHost;
  let logger: ReturnType<typeof memoryLogger>;
  let clock: number;
  let tokens: Record<string, string>;

  const caa = (kind: "release" | "release-group", mbid: string) => `${host.url}/${kind}/${mbid}/front-500`;
  const registered = () => discord.requests.map((r) => (JSON.parse(r.body) as { urls: string[] }).urls);
  const resolver = (overrides: Partial<ArtworkResolverOptions> = {}) =>
    new ArtworkResolver({
      rest: new DiscordRest({ apiBaseUrl: discord.url, userAgent: UA, logger, sleep: async () => {} }),
      applicationId: APP,
      tokenFor: (user) => tokens[user],
      coverArtArchiveUrl: host.url,
      defaultImage: DEFAULT_IMAGE,
      musicBrainzLookup: false, // test/musicbrainz.test.ts covers it, against a fake
      logger,
      userAgent: UA,
      now: () => clock,
      ...overrides,
    });

  beforeEach(async () => {
    discord = await FakeDiscordRest.start({ gatewayUrl: "wss://gateway.example.test", validTokens: [TOKEN] });
    host = await FakeImageHost.start({ known: [RELEASE, GROUP] });
    logger = memoryLogger();
    clock = 1_700_000_000_000;
    tokens = { alice: TOKEN };
  });
  afterEach(async () => {
    await discord.close();
    await host.close();
  });

  it("registers the Cover Art Archive URL of a known release (docs/protocol.md section 2)", async () => {
    const key = await resolver().resolve("alice", track({ release: RELEASE, releaseGroup: GROUP }));
    expect(key).toBe(mp(caa("release", RELEASE)));
    expect(registered()).toEqual([[caa("release", RELEASE)]]);
    expect(discord.requests[0]!.headers.authorization).toBe(TOKEN);
    // The 307 was followed to the image before registering.
    expect(host.requests.map((r) => r.path)).toEqual([`/release/${RELEASE}/front-500`, `/img/${RELEASE}.jpg`]);
    for (const r of host.requests) expect(r.headers["user-agent"]).toBe(UA);
  });

  it("tries the release group when the release has no art", async () => {
    const key = await resolver().resolve("alice", track({ release: MISSING, releaseGroup: GROUP }));
    expect(key).toBe(mp(caa("release-group", GROUP)));
    expect(registered()).toEqual([[caa("release-group", GROUP)]]);
  });

  it("falls back to the default image for an unknown MBID", async () => {
    const key = await resolver().resolve("alice", track({ release: MISSING }));
    expect(key).toBe(mp(DEFAULT_IMAGE));
    expect(registered()).toEqual([[DEFAULT_IMAGE]]);
    expect(host.requests.map((r) => r.path)).toEqual([`/release/${MISSING}/front-500`]);
  });

  it('takes the Navidrome logo as the default image unless the config says another, or "none" (null too)', () => {
    expect(defaultImageFrom(undefined)).toBe(navidromeLogoUrl);
    expect(navidromeLogoUrl).toBe("https://raw.githubusercontent.com/navidrome/website/refs/heads/master/assets/icons/logo.webp");
    expect(defaultImageFrom(DEFAULT_IMAGE)).toBe(DEFAULT_IMAGE);
    expect(defaultImageFrom("none")).toBeNull();
    expect(defaultImageFrom(null)).toBeNull();
  });

  it("returns null when the default image fails too, or there is none", async () => {
    discord.failNext(500);
    expect(await resolver().resolve("alice", track({ release: MISSING }))).toBeNull();
    expect(await resolver({ defaultImage: null }).resolve("alice", track({}))).toBeNull();
    expect(logger.text()).toContain("artwork registration failed");
  });

  it("serves a second resolve of the same track from the cache", async () => {
    const art = resolver();
    const first = await art.resolve("alice", track({ release: RELEASE }));
    const missing = await art.resolve("alice", track({ release: MISSING }));
    const [discordBefore, hostBefore] = [discord.requests.length, host.requests.length];
    expect(await art.resolve("alice", track({ release: RELEASE }))).toBe(first);
    expect(await art.resolve("alice", track({ release: MISSING }))).toBe(missing);
    expect([discord.requests.length, host.requests.length]).toEqual([discordBefore, hostBefore]);
  });

  it("shares one lookup and one registration between concurrent resolves", async () => {
    const art = resolver();
    const keys = await Promise.all([1, 2, 3].map(() => art.resolve("alice", track({ release: RELEASE }))));
    expect(new Set(keys)).toEqual(new Set([mp(caa("release", RELEASE))]));
    expect(discord.requests).toHaveLength(1);
    expect(host.requests.filter((r) => r.path.startsWith("/release/"))).toHaveLength(1);
  });

  it("caches a missing cover briefly and looks again after failureMs", async () => {
    const art = resolver({ defaultImage: null, ttl: { failureMs: 5 * 60_000 } });
    const request = track({ release: MISSING });
    expect(await art.resolve("alice", request)).toBeNull();
    expect(host.requests).toHaveLength(1);
    host.known.add(MISSING);
    clock += 5 * 60_000 - 1;
    expect(await art.resolve("alice", request)).toBeNull();
    expect(host.requests).toHaveLength(1);
    clock += 2;
    expect(await art.resolve("alice", request)).toBe(mp(caa("release", MISSING)));
    expect(registered()).toEqual([[caa("release", MISSING)]]);
  });

  it("caches a failed registration briefly too", async () => {
    const art = resolver({ defaultImage: null });
    discord.failNext(503);
    expect(await art.resolve("alice", track({ release: RELEASE }))).toBeNull();
    expect(await art.resolve("alice", track({ release: RELEASE }))).toBeNull();
    expect(discord.requests).toHaveLength(1);
    clock += 5 * 60_000 + 1;
    expect(await art.resolve("alice", track({ release: RELEASE }))).toBe(mp(caa("release", RELEASE)));
    expect(discord.requests).toHaveLength(2);
  });

  it("keeps track art 4 h and the default image 48 h", async () => {
    const art = resolver();
    await art.resolve("alice", track({ release: RELEASE }));
    await art.resolve("alice", track({ release: MISSING }));
    expect(registered()).toEqual([[caa("release", RELEASE)], [DEFAULT_IMAGE]]);
    clock += 4 * HOUR + 1;
    await art.resolve("alice", track({ release: RELEASE }));
    expect(registered()).toHaveLength(3);
    clock += 44 * HOUR - 2;
    await art.resolve("alice", { kind: "url", key: "d", url: DEFAULT_IMAGE });
    expect(registered()).toHaveLength(3);
    clock += 2;
    await art.resolve("alice", { kind: "url", key: "d", url: DEFAULT_IMAGE });
    expect(registered()).toHaveLength(4);
  });

  it("never sends a URL that carries credentials to Discord", async () => {
    const leaky = [
      "https://nd.example.org/rest/getCoverArt?id=al-1&u=admin&t=26719a1196d2a940705a59634eb18eab&s=c19b2d",
      "https://nd.example.org/rest/getCoverArt?id=al-1&p=enc:73656372657431",
      "https://img.example.org/cover.jpg?apiKey=k1",
      "https://admin:hunter2@img.example.org/cover.jpg",
    ];
    const art = resolver({ publicUrl: () => leaky[0]!, order: ["public", "coverartarchive"] });
    // A refused explicit URL gives no image at all (only track art falls back to the default image).
    for (const url of leaky) expect(await art.resolve("alice", { kind: "url", key: url, url })).toBeNull();
    expect(await art.resolve("alice", track({ release: RELEASE }))).toBe(mp(caa("release", RELEASE)));
    const sent = discord.requests.map((r) => r.body).join("\n");
    for (const secret of ["u=admin", "t=26719a", "enc:7365", "apiKey", "hunter2", "getCoverArt"]) {
      expect(sent).not.toContain(secret);
      expect(logger.text()).not.toContain(secret);
    }
    expect(host.requests.some((r) => r.path.includes("getCoverArt"))).toBe(false);
  });

  it("propagates token_invalid and never logs the token", async () => {
    const badToken = "mfa.revoked-token-SECRET-0987654321";
    tokens = { bob: badToken };
    await expect(resolver().resolve("bob", track({ release: RELEASE }))).rejects.toMatchObject({ code: "token_invalid" });
    expect(logger.text()).not.toContain(badToken);
  });

  it("registers an explicit URL without checking it, and needs no token for a cached key", async () => {
    const art = resolver();
    const url = "https://img.example.org/covers/x.jpg";
    expect(await art.resolve("alice", { kind: "url", key: "x", url })).toBe(mp(url));
    expect(host.requests).toHaveLength(0);
    expect(await art.resolve("carol", { kind: "url", key: "x", url })).toBe(mp(url));
    expect(await art.resolve("carol", { kind: "url", key: "y", url: "https://img.example.org/covers/y.jpg" })).toBeNull();
    expect(discord.requests).toHaveLength(1);
    expect(logger.text()).toContain("no Discord token");
  });

  describe("the MusicBrainz lookup, for a track without a release MBID", () => {
    let musicBrainz: FakeMusicBrainz;
    let start: number;
    /** The resolver with the lookup on; the pacing waits pass at once, moving the clock (but in the pacing test). */
    const lookingUp = (overrides: Partial<ArtworkResolverOptions> = {}) =>
      resolver({ musicBrainzLookup: true, musicBrainzUrl: musicBrainz.url, sleep: async (ms) => void (clock += ms), ...overrides });
    const albumTrack = (album: string, over: Partial<Track> = {}): ArtworkRequest => {
      const track: Track = { title: "Pyramid Song", artist: "Radiohead", album, ...over };
      return { kind: "track", key: `k-${JSON.stringify(track)}`, track };
    };

    beforeEach(async () => {
      start = clock;
      tokens.bob = TOKEN;
      musicBrainz = await FakeMusicBrainz.start({
        releases: [{ id: RELEASE, title: "Amnesiac", artist: "Radiohead", releaseGroup: GROUP }],
        now: () => clock,
      });
    });
    afterEach(async () => {
      await musicBrainz.close();
    });

    it("finds the release by album and artist, then registers its Cover Art Archive image", async () => {
      expect(await lookingUp().resolve("alice", albumTrack("Amnesiac"))).toBe(mp(caa("release", RELEASE)));
      expect(registered()).toEqual([[caa("release", RELEASE)]]);
      const [search] = musicBrainz.searches;
      expect(musicBrainz.searches).toHaveLength(1);
      expect(search!.query).toEqual({ query: 'release:"Amnesiac" AND artist:"Radiohead"', fmt: "json", limit: "1" });
      // MusicBrainz asks every client for a meaningful User-Agent.
      expect(search!.headers["user-agent"]).toBe(UA);
      expect(search!.headers.accept).toBe("application/json");
    });

    it("takes the release group's image when the release has none", async () => {
      musicBrainz.releases.splice(0, 1, { id: MISSING, title: "Amnesiac", artist: "Radiohead", releaseGroup: GROUP });
      expect(await lookingUp().resolve("alice", albumTrack("Amnesiac"))).toBe(mp(caa("release-group", GROUP)));
      expect(host.requests.map((r) => r.path).filter((path) => !path.startsWith("/img/"))).toEqual([
        `/release/${MISSING}/front-500`,
        `/release-group/${GROUP}/front-500`,
      ]);
    });

    it("asks by the album's artist, with Lucene's special characters escaped", async () => {
      const album = 'Live: "Rock" (1992) [Disc 1/2] + more!';
      musicBrainz.releases.push({ id: MISSING, title: album, artist: "AC/DC" });
      host.known.add(MISSING);
      const key = await lookingUp().resolve("alice", albumTrack(album, { artist: "Brian Johnson", albumArtist: "AC/DC" }));
      expect(key).toBe(mp(caa("release", MISSING)));
      const [search] = musicBrainz.searches;
      expect(search).toMatchObject({ album, artist: "AC/DC" });
      expect(search!.query.query).toBe('release:"Live\\: \\"Rock\\" \\(1992\\) \\[Disc 1\\/2\\] \\+ more\\!" AND artist:"AC\\/DC"');
    });

    it("is not asked when the track has a release or release-group MBID, or no album, or the lookup is off", async () => {
      const art = lookingUp();
      await art.resolve("alice", albumTrack("Amnesiac", { mbids: { release: RELEASE } }));
      await art.resolve("alice", albumTrack("Amnesiac", { mbids: { releaseGroup: GROUP } }));
      await art.resolve("alice", { kind: "track", key: "no-album", track: { title: "T", artist: "Radiohead" } });
      expect(await lookingUp({ musicBrainzLookup: false }).resolve("alice", albumTrack("Amnesiac"))).toBe(mp(DEFAULT_IMAGE));
      expect(musicBrainz.searches).toEqual([]);
    });

    it("keeps an answer a day, a weak match (score under 90) or no match included", async () => {
      musicBrainz.releases.push({ id: MISSING, title: "Kid A", artist: "Radiohead", score: 89 });
      const art = lookingUp();
      expect(await art.resolve("alice", albumTrack("Kid A"))).toBe(mp(DEFAULT_IMAGE));
      expect(await art.resolve("alice", albumTrack("OK Computer"))).toBe(mp(DEFAULT_IMAGE));
      expect(await art.resolve("alice", albumTrack("Amnesiac"))).toBe(mp(caa("release", RELEASE)));
      expect(musicBrainz.searches).toHaveLength(3);
      // Another track of the same albums (spelled in another case) asks nothing again within the day.
      const okComputerAskedAt = musicBrainz.searches[1]!.at; // each search came 1 s after the one before
      clock = start + 24 * HOUR;
      for (const album of ["KID A", "ok computer", "Amnesiac "]) await art.resolve("alice", albumTrack(album, { title: "Another" }));
      expect(musicBrainz.searches).toHaveLength(3);
      clock = okComputerAskedAt + 24 * HOUR + 1;
      musicBrainz.releases.push({ id: RELEASE, title: "OK Computer", artist: "Radiohead" });
      expect(await art.resolve("alice", albumTrack("OK Computer", { title: "Later" }))).toBe(mp(caa("release", RELEASE)));
      expect(musicBrainz.searches).toHaveLength(4);
    });

    it("sends at most one request per second for the whole resolver, whichever user asks", async () => {
      const held: Array<{ ms: number; pass(): void }> = [];
      const art = lookingUp({ sleep: (ms) => new Promise<void>((resolve) => held.push({ ms, pass: () => ((clock += ms), resolve()) })) });
      for (const album of ["Kid A", "Hail to the Thief"]) musicBrainz.releases.push({ id: RELEASE, title: album, artist: "Radiohead" });
      const keys = Promise.all([
        art.resolve("alice", albumTrack("Amnesiac")),
        art.resolve("bob", albumTrack("Kid A")),
        art.resolve("alice", albumTrack("Hail to the Thief")),
      ]);
      // Each search waits for the pause after the one before: the next goes out only when it passes.
      for (const sent of [1, 2]) {
        await until(() => musicBrainz.searches.length === sent && held.length === sent, 2000, `search ${sent} and the wait after it`);
        expect(held[sent - 1]!.ms).toBe(1000);
        held[sent - 1]!.pass();
      }
      expect(await keys).toEqual([mp(caa("release", RELEASE)), mp(caa("release", RELEASE)), mp(caa("release", RELEASE))]);
      expect(musicBrainz.searches.map((s) => s.at - start)).toEqual([0, 1000, 2000]);
      expect(musicBrainz.searches.map((s) => s.album)).toEqual(["Amnesiac", "Kid A", "Hail to the Thief"]);
      // A lookup a while after the last goes out at once.
      clock += 5000;
      expect(await art.resolve("bob", albumTrack("OK Computer"))).toBe(mp(DEFAULT_IMAGE));
      expect(held).toHaveLength(2);
      expect(musicBrainz.searches.at(-1)!.at - start).toBe(7000);
    });

    it("caches a failure (503, 500, no server) for 5 min; the default image stands in", async () => {
      const art = lookingUp();
      musicBrainz.failNext(503);
      expect(await art.resolve("alice", albumTrack("Amnesiac"))).toBe(mp(DEFAULT_IMAGE));
      expect(await art.resolve("alice", albumTrack("Amnesiac", { title: "Knives Out" }))).toBe(mp(DEFAULT_IMAGE));
      expect(musicBrainz.searches).toHaveLength(1);
      expect(logger.entries.filter((e) => e.message === "musicbrainz lookup failed").map((e) => e.data)).toEqual([{ album: "Amnesiac", status: 503 }]);
      clock += 5 * 60_000 + 1;
      expect(await art.resolve("alice", albumTrack("Amnesiac", { title: "Morning Bell" }))).toBe(mp(caa("release", RELEASE)));
      expect(musicBrainz.searches).toHaveLength(2);

      musicBrainz.failNext(500);
      expect(await art.resolve("alice", albumTrack("Kid A"))).toBe(mp(DEFAULT_IMAGE));
      const gone = await FakeMusicBrainz.start();
      await gone.close();
      expect(await lookingUp({ musicBrainzUrl: gone.url }).resolve("alice", albumTrack("Amnesiac"))).toBe(mp(DEFAULT_IMAGE));
      expect(logger.entries.filter((e) => e.message === "musicbrainz lookup failed")).toHaveLength(3);
    });

    it("skips a lookup when too many already wait for their turn, and caches nothing for it", async () => {
      const held: Array<() => void> = [];
      const client = new MusicBrainzClient({
        url: musicBrainz.url,
        userAgent: UA,
        logger,
        now: () => clock,
        sleep: (ms) => new Promise<void>((resolve) => held.push(() => ((clock += ms), resolve()))),
        maxWaiting: 2,
      });
      musicBrainz.releases.push({ id: MISSING, title: "Kid A", artist: "Radiohead" });
      const first = client.findRelease("Radiohead", "Amnesiac");
      const second = client.findRelease("Radiohead", "Kid A");
      expect(await client.findRelease("Radiohead", "OK Computer")).toBeNull();
      expect(logger.text()).toContain("musicbrainz lookup skipped");
      await until(() => held.length === 1, 2000, "the second lookup's wait");
      held[0]!();
      expect(await Promise.all([first, second])).toEqual([{ release: RELEASE, releaseGroup: GROUP }, { release: MISSING }]);
      clock += 1000;
      expect(await client.findRelease("Radiohead", "OK Computer")).toBeNull();
      expect(musicBrainz.searches.map((s) => s.album)).toEqual(["Amnesiac", "Kid A", "OK Computer"]);
    });
  });
});

describe("ArtworkResolver: upload and public URL sources (docs/protocol.md section 2)", () => {
  const PASSWORD = "nd-Pa55word-SECRET";
  const COVER = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0xff, 0xd9]);
  let discord: FakeDiscordRest;
  let host: FakeImageHost;
  let subsonic: FakeSubsonic;
  let uploads: FakeUploadHost;
  let logger: ReturnType<typeof memoryLogger>;
  let clock: number;

  const registered = () => discord.requests.map((r) => (JSON.parse(r.body) as { urls: string[] }).urls);
  const uploader = () =>
    createCoverUploader({
      client: new SubsonicClient({ url: subsonic.url, username: "admin", password: PASSWORD, logger }),
      uploadUrl: uploads.uploadUrl,
      userAgent: UA,
      logger,
    });
  const resolver = (overrides: Partial<ArtworkResolverOptions> = {}) =>
    new ArtworkResolver({
      rest: new DiscordRest({ apiBaseUrl: discord.url, userAgent: UA, logger, sleep: async () => {} }),
      applicationId: APP,
      tokenFor: (user) => (user === "alice" ? TOKEN : undefined),
      coverArtArchiveUrl: host.url,
      defaultImage: DEFAULT_IMAGE,
      order: ["coverartarchive", "upload", "public"],
      musicBrainzLookup: false,
      upload: uploader(),
      logger,
      userAgent: UA,
      now: () => clock,
      ...overrides,
    });
  const request = (over: Partial<Track> = {}): ArtworkRequest => ({
    kind: "track",
    key: `k-${JSON.stringify(over)}`,
    track: { id: "tr-1", title: "T", artist: "A", coverArtId: "al-1", mbids: { release: MISSING }, ...over },
  });

  beforeEach(async () => {
    discord = await FakeDiscordRest.start({ gatewayUrl: "wss://gateway.example.test", validTokens: [TOKEN] });
    host = await FakeImageHost.start({ known: [RELEASE] });
    subsonic = await FakeSubsonic.start({ username: "admin", password: PASSWORD, tokenAuth: true, covers: { "al-1": COVER, [RELEASE]: COVER } });
    uploads = await FakeUploadHost.start();
    logger = memoryLogger();
    clock = 1_700_000_000_000;
  });
  afterEach(async () => {
    await Promise.all([discord.close(), host.close(), subsonic.close(), uploads.close()]);
  });

  it("uploads the cover when the Cover Art Archive has none, and registers the public URL", async () => {
    const art = resolver();
    const key = await art.resolve("alice", request());
    const [upload] = uploads.uploads;
    expect(upload).toMatchObject({ field: "files[]", contentType: "image/jpeg", userAgent: UA, bytes: COVER });
    expect(key).toBe(mp(upload!.url));
    expect(registered()).toEqual([[upload!.url]]);
    // The cover was read with token auth; the credentialled URL never went to Discord or the log.
    const read = subsonic.requests.find((r) => r.path === "/rest/getCoverArt")!;
    expect(read.query).toMatchObject({ id: "al-1", u: "admin" });
    expect(read.query.p).toBeUndefined();
    const sent = discord.requests.map((r) => r.body).join("\n");
    for (const secret of ["getCoverArt", "u=admin", read.query.t!, PASSWORD]) {
      expect(sent).not.toContain(secret);
      expect(logger.text()).not.toContain(secret);
    }
    // Cached like track art: the same cover (even for another track) is neither uploaded nor registered again.
    expect(await art.resolve("alice", request())).toBe(key);
    expect(await art.resolve("alice", request({ id: "tr-2", title: "Other" }))).toBe(key);
    expect([uploads.uploads.length, discord.requests.length]).toEqual([1, 1]);
  });

  it("tries the sources in the configured order", async () => {
    const publicUrl = `${host.url}/img/{coverArtId}.jpg`;
    const track = request({ coverArtId: RELEASE, mbids: {} });
    expect(await resolver({ order: ["public", "upload"], publicUrl }).resolve("alice", track)).toBe(mp(`${host.url}/img/${RELEASE}.jpg`));
    expect(uploads.uploads).toHaveLength(0);
    const hostRequests = host.requests.length;
    const key = await resolver({ order: ["upload", "public"], publicUrl }).resolve("alice", track);
    expect(key).toBe(mp(uploads.uploads[0]!.url));
    expect(host.requests).toHaveLength(hostRequests);
    // Without "upload" in the order, the hook is never called.
    expect(await resolver({ order: ["coverartarchive"] }).resolve("alice", request({ id: "tr-3", coverArtId: "al-1" }))).toBe(mp(DEFAULT_IMAGE));
    expect(uploads.uploads).toHaveLength(1);
  });

  it("caches a failed upload briefly, then uploads again", async () => {
    const art = resolver({ ttl: { failureMs: 60_000 } });
    uploads.failNext("refused");
    expect(await art.resolve("alice", request())).toBe(mp(DEFAULT_IMAGE));
    expect(await art.resolve("alice", request({ title: "again" }))).toBe(mp(DEFAULT_IMAGE));
    expect(uploads.requests.filter((r) => r.startsWith("POST"))).toHaveLength(1);
    expect(logger.text()).toContain("cover upload: the host refused the file");
    clock += 60_001;
    const key = await art.resolve("alice", request({ title: "later" }));
    expect(key).toBe(mp(uploads.uploads[0]!.url));
    // No cover id, or a cover the server does not have: no upload, the default image.
    expect(await art.resolve("alice", request({ id: "x", coverArtId: undefined }))).toBe(mp(DEFAULT_IMAGE));
    expect(await art.resolve("alice", request({ id: "y", coverArtId: "nope" }))).toBe(mp(DEFAULT_IMAGE));
    expect(uploads.uploads).toHaveLength(1);
    expect(logger.text()).not.toContain(PASSWORD);
  });

  it("still refuses an uploaded URL that carries credentials, and survives a throwing hook", async () => {
    const leaky = resolver({ upload: async () => "https://files.example.org/a.jpg?token=abc" });
    expect(await leaky.resolve("alice", request())).toBe(mp(DEFAULT_IMAGE));
    const throwing = resolver({
      upload: () => {
        throw new Error("hook exploded");
      },
    });
    expect(await throwing.resolve("alice", request())).toBe(mp(DEFAULT_IMAGE));
    expect(new Set(registered().flat())).toEqual(new Set([DEFAULT_IMAGE]));
    expect(logger.text()).toContain("artwork upload failed");
  });

  it("builds public URLs from a template, encoded, or null when a field is missing", () => {
    const fromTemplate = publicUrlFromTemplate("https://music.example.org/img/{coverArtId}?track={id}&size=600");
    expect(fromTemplate({ title: "T", artist: "A", id: "tr 1", coverArtId: "al-1/x" })).toBe("https://music.example.org/img/al-1%2Fx?track=tr%201&size=600");
    expect(fromTemplate({ title: "T", artist: "A", coverArtId: "al-1" })).toBeNull();
    expect(publicUrlFromTemplate("https://music.example.org/cover.png")({ title: "T", artist: "A" })).toBe("https://music.example.org/cover.png");
  });
});
