import type { ClientProperties, UserStatus } from "./effects.ts";

/** How a user's activity reads (docs/architecture.md config `presence`, with per-user overrides applied). */
export interface PresenceSettings {
  /** Discord application whose name and assets the activity uses. */
  applicationId: string;
  /** Templates: `{title}`, `{artist}`, `{album}`, `{albumArtist}`. `name` is the "Listening to" line. */
  name: string;
  details: string;
  state: string;
  largeText: string;
  /** What the member list shows: the activity name, the state line or the details line. */
  statusDisplay: "name" | "state" | "details";
  status: UserStatus;
  /** Paused: keep showing an elapsed clock with a "Paused" small image, or clear. */
  onPause: "show" | "clear";
  links: "musicbrainz" | "none";
  /** Image URL registered for the paused small image; none when null. */
  pausedImage: string | null;
  /**
   * `discord.activityFields`: "auto" sends every field and falls back to the core set
   * (`CORE_ACTIVITY_KEYS`) when the server refuses one with 4002; "full" and "core" force a set.
   */
  activityFields: "auto" | "full" | "core";
}

/** Gateway timing and pacing; every value in ms. Defaults follow docs/protocol.md. */
export interface GatewayTimings {
  helloTimeoutMs: number;
  readyTimeoutMs: number;
  /** Close the socket with 1000 after this long with nothing to show. */
  idleTimeoutMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Close code 4015 (too many sessions): wait at least this long. */
  tooManySessionsBackoffMs: number;
  /** A session that has been up this long resets the backoff. */
  stableSessionMs: number;
  /** How long after a track's end (with no further event) the presence is cleared. */
  endGraceMs: number;
  /** A track of unknown length is cleared this long after it was reported, unless replaced. */
  unknownLengthMs: number;
  /** How long a new track waits for its artwork before it is shown without. */
  artworkWaitMs: number;
  /** At most one identify per this many ms per token. */
  identifyIntervalMs: number;
  /** How long a shutdown waits for a presence slot to send the clear. */
  shutdownTimeoutMs: number;
}

/** Everything a presence machine is started with. Contains no secret. */
export interface PresenceInput {
  user: string;
  presence: PresenceSettings;
  timings: GatewayTimings;
  properties: ClientProperties;
  /** Skip discovery and connect here (`discord.gatewayUrl`). */
  gatewayUrl: string | null;
  /** Seeds the machine's own random numbers (jitter) so that a replay draws the same ones. */
  seed: number;
}

export const defaultPresenceSettings: PresenceSettings = {
  applicationId: "",
  name: "Navidrome",
  details: "{title}",
  state: "{artist}",
  largeText: "{album}",
  statusDisplay: "details",
  status: "online",
  onPause: "show",
  links: "musicbrainz",
  pausedImage: null,
  activityFields: "auto",
};

export const defaultTimings: GatewayTimings = {
  helloTimeoutMs: 30_000,
  readyTimeoutMs: 15_000,
  idleTimeoutMs: 5 * 60_000,
  backoffBaseMs: 1_000,
  backoffCapMs: 120_000,
  tooManySessionsBackoffMs: 15 * 60_000,
  stableSessionMs: 60_000,
  endGraceMs: 5_000,
  unknownLengthMs: 15 * 60_000,
  artworkWaitMs: 2_000,
  identifyIntervalMs: 5_000,
  shutdownTimeoutMs: 4_000,
};

export const defaultClientProperties: ClientProperties = {
  os: "Linux",
  browser: "Discord Client",
  device: "",
  system_locale: "en-US",
};
