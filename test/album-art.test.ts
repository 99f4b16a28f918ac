import { afterEach, describe, expect, it } from "vitest";
import type { Activity } from "../src/actors/effects.ts";
import { navidromeLogoUrl } from "../src/adapters/artwork/resolver.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { SubsonicClient } from "../src/adapters/sources/subsonic-client.ts";
import { SubsonicPoller } from "../src/adapters/sources/subsonic-poller.ts";
import { defaultUserAgent, type ServiceConfig } from "../src/config/service-config.ts";
import type { PlaybackEventInput } from "../src/service/event-validation.ts";
import { FakeDiscordRest, FakeImageHost } from "./fakes/discord-rest.ts";
import { FakeMusicBrainz } from "./fakes/musicbrainz.ts";
import { FakeSubsonic } from "./fakes/subsonic.ts";
import { type Harness, startHarness } from "./harness.ts";

// Album art for every track, end to end (docs/protocol.md sections 2 and 3): whatever MBIDs a source
// gives, or none, the presence ends with the Cover Art Archive's image, else the default image.
// Every service is a loopback fake: MusicBrainz and the Cover Art Archive included.

const RELEASE = "7d9b3a22-0000-4000-8000-000000000001";
const PASSWORD = "nd-SECRET-password-77";
const nothingKnown = { title: "Pyramid Song", artist: "Radiohead", album: "Amnesiac", durationMs: 289_000 };

let h: Harness | undefined;
const fakes: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

/** Starts a fake and closes it after the test. */
async function started<T extends { close(): Promise<void> }>(fake: Promise<T>): Promise<T> {
  const running = await fake;
  fakes.push(running);
  return running;
}

/** The service under the harness, its art from `images` (a Cover Art Archive) and `artwork`. */
async function service(images: FakeImageHost, artwork: ServiceConfig["artwork"] = {}): Promise<Harness> {
  h = await startHarness({ config: { artwork: { coverArtArchiveUrl: images.url, musicBrainzLookup: false, ...artwork } } });
  return h;
}

const largeImage = async (harness: Harness) => harness.activityOf(await harness.waitForPresence())?.assets?.large_image;
const mp = (url: string) => `mp:${FakeDiscordRest.assetPath(url)}`;
const registered = (harness: Harness) =>
  harness.rest.requests.filter((r) => r.path.endsWith("/external-assets")).flatMap((r) => (JSON.parse(r.body) as { urls: string[] }).urls);

describe("album art for every track", () => {
  it("a Subsonic track with no MBID of its own gets its album's release (getAlbum) and that release's cover", async () => {
    const images = await started(FakeImageHost.start({ known: [RELEASE] }));
    const subsonic = await started(
      FakeSubsonic.start({ username: "admin", password: PASSWORD, tokenAuth: true, albums: { "al-1": { name: "Amnesiac", musicBrainzId: RELEASE } } }),
    );
    subsonic.setNowPlaying([
      {
        id: "tr-1",
        title: "Pyramid Song",
        artist: "Radiohead",
        album: "Amnesiac",
        albumId: "al-1",
        duration: 289,
        username: "alice",
        minutesAgo: 0,
        playerId: 1,
        playerName: "Web",
      },
    ]);
    const harness = await service(images);
    const logger = memoryLogger();
    const poller = new SubsonicPoller({
      client: new SubsonicClient({ url: subsonic.url, username: "admin", password: PASSWORD, logger }),
      pollIntervalMs: 2000,
      users: () => new Set(["alice"]),
      ignorePlayers: () => [],
      dispatch: (event: PlaybackEventInput) => harness.dispatch(event),
      clock: harness.clock,
      logger,
    });
    await poller.pollOnce();

    const cover = `${images.url}/release/${RELEASE}/front-500`;
    expect(await largeImage(harness)).toBe(mp(cover));
    expect(registered(harness)).toEqual([cover]);
    // The journaled event carries the release: a replay needs no Subsonic server to show the same.
    const playing = harness.journal.load().map((entry) => entry.event).find((event) => event.type === "playback.playing");
    expect(playing).toMatchObject({ track: { mbids: { release: RELEASE } } });
    expect(logger.text()).not.toContain(PASSWORD);
  });

  it("a track with no MBID at all gets its cover through MusicBrainz (asked with the service's User-Agent)", async () => {
    const images = await started(FakeImageHost.start({ known: [RELEASE] }));
    const musicBrainz = await started(FakeMusicBrainz.start({ releases: [{ id: RELEASE, title: "Amnesiac", artist: "Radiohead" }] }));
    const harness = await service(images, { musicBrainzLookup: true, musicBrainzUrl: musicBrainz.url });
    harness.play(nothingKnown);

    expect(await largeImage(harness)).toBe(mp(`${images.url}/release/${RELEASE}/front-500`));
    expect(musicBrainz.searches.map((s) => [s.album, s.artist, s.headers["user-agent"]])).toEqual([["Amnesiac", "Radiohead", defaultUserAgent]]);
  });

  it("MusicBrainz failing does not hold the presence back: the default image (out of the box, the Navidrome logo)", async () => {
    const images = await started(FakeImageHost.start({ known: [] }));
    const musicBrainz = await started(FakeMusicBrainz.start());
    musicBrainz.failNext(503);
    const harness = await service(images, { musicBrainzLookup: true, musicBrainzUrl: musicBrainz.url });
    harness.play(nothingKnown);

    const activity: Activity | null = harness.activityOf(await harness.waitForPresence());
    expect(activity).toMatchObject({ details: "Pyramid Song", assets: { large_image: mp(navidromeLogoUrl), large_text: "Amnesiac" } });
    expect(registered(harness)).toEqual([navidromeLogoUrl]);
    expect(musicBrainz.searches).toHaveLength(1);
    expect(harness.logger.entries.some((e) => e.message === "musicbrainz lookup failed")).toBe(true);
  });

  it.each([["none"], [null]])("defaultImage %j turns the default image off: a track without art shows none", async (defaultImage) => {
    const images = await started(FakeImageHost.start({ known: [] }));
    const harness = await service(images, { defaultImage });
    harness.play(nothingKnown);

    const activity = harness.activityOf(await harness.waitForPresence());
    expect(activity?.details).toBe("Pyramid Song");
    expect(activity?.assets?.large_image).toBeUndefined();
    expect(registered(harness)).toEqual([]);
  });

  it("a default image of your own replaces the logo", async () => {
    const images = await started(FakeImageHost.start({ known: [] }));
    const own = `${images.url}/img/mine.png`;
    const harness = await service(images, { defaultImage: own });
    harness.play(nothingKnown);
    expect(await largeImage(harness)).toBe(mp(own));
  });
});
