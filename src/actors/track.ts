/** What is playing, as every source reports it (docs/architecture.md, "Domain events"). */
export interface Track {
  id?: string;
  title: string;
  artist: string;
  album?: string;
  albumArtist?: string;
  durationMs?: number;
  trackNumber?: number;
  coverArtId?: string;
  mbids?: {
    recording?: string;
    release?: string;
    releaseGroup?: string;
    artists?: string[];
  };
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
  player?: string;
}
