/** What is playing, as every source reports it (docs/architecture.md, "Domain events"). */
export interface Track {
  id?: string;
  title: string;
  artist: string;
  album?: string;
  albumArtist?: string;
  durationMs?: number;
  coverArtId?: string;
  mbids?: {
    recording?: string;
    release?: string;
    releaseGroup?: string;
    artists?: string[];
  };
}

/**
 * What identifies a track: the source's id together with its title, artist and album, as one
 * string. The same track reported again (by the next poll, after a pause, by a restart's replay)
 * has the same identity; another track, or the same song on another album, has another. The id
 * alone is not enough: a ListenBrainz client sends none, and ids are only unique on their server.
 * @example trackIdentity({ id: "tr-1", title: "Song", artist: "A" }) // "tr-1\u0000Song\u0000A\u0000"
 */
export function trackIdentity(track: Track): string {
  return `${track.id ?? ""}\u0000${track.title}\u0000${track.artist}\u0000${track.album ?? ""}`;
}

/**
 * A user's playback as the presence machine remembers it. `at` is the wall-clock time (ms) of the
 * event that set it, so that timestamps can be computed without reading a clock.
 */
export interface Playback {
  track: Track;
  /** Position in the track when `at` was observed. */
  positionMs: number;
  playbackRate: number;
  paused: boolean;
  at: number;
}
