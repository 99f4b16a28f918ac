/**
 * A Navidrome that plays one track for one user, for the household scenario: `getNowPlaying`
 * answers with that track (Navidrome's JSON, with state and position as 0.62+ reports them), every
 * other endpoint with an empty "ok". Authentication is not checked: the service's token auth
 * reaches it, and nothing here is a secret. On 127.0.0.1, in the bench's own process.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeNavidrome {
  /** The base URL for `sources.subsonic.url`. */
  url: string;
  close(): Promise<void>;
}

/** A track an hour long, so that it plays through any measurement. */
function nowPlaying(user: string): object {
  return {
    id: "tr-bench-0001",
    parent: "al-bench-0001",
    isDir: false,
    title: "Bench Song",
    album: "Bench Album",
    artist: "Bench Artist",
    track: 1,
    year: 2024,
    genre: "Rock",
    coverArt: "al-bench-0001_0",
    size: 86_400_000,
    contentType: "audio/mpeg",
    suffix: "mp3",
    duration: 3_600,
    bitRate: 192,
    path: "Bench Artist/Bench Album/01 - Bench Song.mp3",
    albumId: "al-bench-0001",
    artistId: "ar-bench-0001",
    type: "music",
    username: user,
    minutesAgo: 0,
    playerId: 1,
    playerName: "Feishin",
    state: "playing",
    positionMs: 1_000,
    playbackRate: 1,
  };
}

export async function startFakeNavidrome(user: string): Promise<FakeNavidrome> {
  const envelope = (extra: object) =>
    JSON.stringify({ "subsonic-response": { status: "ok", version: "1.16.1", type: "navidrome", serverVersion: "0.62.0", openSubsonic: true, ...extra } });
  const playing = envelope({ nowPlaying: { entry: [nowPlaying(user)] } });
  const empty = envelope({});
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(/\/rest\/getNowPlaying(\.view)?$/.test(path) ? playing : empty);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
