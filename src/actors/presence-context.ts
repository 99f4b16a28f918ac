import { activityKey, buildActivity, presencePayload } from "./activity.ts";
import type { ClientProperties, PresencePayload } from "./effects.ts";
import type { GatewayTimings, PresenceInput, PresenceSettings } from "./settings.ts";
import type { Playback, Track } from "./track.ts";

/** Everything a presence machine remembers. Plain data, no secret: it is shown in the inspector. */
export interface PresenceContext {
  user: string;
  presence: PresenceSettings;
  timings: GatewayTimings;
  properties: ClientProperties;
  configuredGatewayUrl: string | null;
  /** State of the seeded random generator (see random.ts). */
  random: number;

  // The connection.
  /** Where to connect for a new session: configured or discovered; null = discover first. */
  gatewayUrl: string | null;
  /** Number of the latest socket asked for; events carry it, so stale ones can be told apart. */
  socket: number;
  /** Whether that socket still counts as ours (false once either side closed it). */
  socketOpen: boolean;
  heartbeatIntervalMs: number;
  firstHeartbeatMs: number;
  /** A beat was sent and its ACK has not come yet: a second beat in this state is a zombie. */
  awaitingAck: boolean;
  session: { id: string; resumeUrl: string | null } | null;
  /** Last non-null `s` seen (PROTOCOL.md: compare with != null, a server may send s: 0). */
  seq: number | null;
  /** READY or RESUMED was seen on the current socket: presence updates may be sent. */
  live: boolean;
  /** Reconnect attempts since the last stable session. */
  attempt: number;
  /** The next reconnect may go at once (op 7, zombie, resumable close). */
  retryAtOnce: boolean;
  /** A floor for the next backoff (4015 asks for a long wait). */
  minBackoffMs: number;
  backoffMs: number;
  invalidSessionWaitMs: number;
  identifyCoolingDown: boolean;

  // Rate windows (PROTOCOL.md: 120 frames / 60 s per socket, 5 presence updates / 20 s).
  framesInWindow: number;
  presenceInWindow: number;

  // What to show.
  playback: Playback | null;
  artwork: { key: string; image: string | null; pending: boolean } | null;
  pausedImage: string | null;
  /** What this session shows now (null: nothing); `shownKey` compares cheaply. */
  shown: PresencePayload | null;
  shownKey: string | null;
  shutdownClears: boolean;

  // What the operator sees.
  lastError: string | null;
  /** Why this user was stopped for good; `byToken` when the token was rejected (4004, HTTP 401). */
  failure: { reason: string; byToken: boolean } | null;
  counters: { reconnects: number; presenceUpdates: number; framesSent: number };
}

export function initialContext(input: PresenceInput): PresenceContext {
  return {
    user: input.user,
    presence: input.presence,
    timings: input.timings,
    properties: input.properties,
    configuredGatewayUrl: input.gatewayUrl,
    random: input.seed,
    gatewayUrl: input.gatewayUrl,
    socket: 0,
    socketOpen: false,
    heartbeatIntervalMs: 41_250,
    firstHeartbeatMs: 0,
    awaitingAck: false,
    session: null,
    seq: null,
    live: false,
    attempt: 0,
    retryAtOnce: false,
    minBackoffMs: 0,
    backoffMs: 0,
    invalidSessionWaitMs: 0,
    identifyCoolingDown: false,
    framesInWindow: 0,
    presenceInWindow: 0,
    playback: null,
    artwork: null,
    pausedImage: null,
    shown: null,
    shownKey: null,
    shutdownClears: true,
    lastError: null,
    failure: null,
    counters: { reconnects: 0, presenceUpdates: 0, framesSent: 0 },
  };
}

/**
 * A disconnected machine whose context holds nothing (nothing to show, no open rate window, no
 * identify cooldown) is as good as a fresh one, so the supervisor may stop it.
 */
export function isIdleContext(c: PresenceContext): boolean {
  return c.playback === null && c.presenceInWindow === 0 && c.framesInWindow === 0 && !c.identifyCoolingDown;
}

/**
 * What a context should show depends only on its playback, artwork, paused image and settings,
 * objects an assign passes along untouched. So it is worked out once per playback object and
 * reused while those stay the same, however many guards ask: a replay asks thousands of times a
 * second.
 */
interface Desired {
  artwork: PresenceContext["artwork"];
  pausedImage: string | null;
  presence: PresenceSettings;
  payload: PresencePayload | null;
  key: string | null;
}
const desiredByPlayback = new WeakMap<Playback, Desired>();

function desired(context: PresenceContext): { payload: PresencePayload | null; key: string | null } {
  const { playback } = context;
  if (!playback) return { payload: null, key: null };
  const known = desiredByPlayback.get(playback);
  if (known && known.artwork === context.artwork && known.pausedImage === context.pausedImage && known.presence === context.presence) return known;
  const payload = buildDesired(context);
  const fresh: Desired = { artwork: context.artwork, pausedImage: context.pausedImage, presence: context.presence, payload, key: payload ? activityKey(payload) : null };
  desiredByPlayback.set(playback, fresh);
  return fresh;
}

function buildDesired(context: PresenceContext): PresencePayload | null {
  const { playback, presence } = context;
  if (!playback) return null;
  if (playback.paused && presence.onPause === "clear") return null;
  const activity = buildActivity(playback, presence, { large: context.artwork?.image ?? null, paused: context.pausedImage });
  return presencePayload(activity, presence.status);
}

/** The presence this user should see now, or null for none (nothing playing, or paused with onPause "clear"). */
export function desiredPresence(context: PresenceContext): PresencePayload | null {
  return desired(context).payload;
}

/** A cheap identity of `desiredPresence(context)`, to tell a change from an identical repeat. */
export function desiredKey(context: PresenceContext): string | null {
  return desired(context).key;
}

/** Names a track's artwork, so that an answer can be matched to the track that asked. */
export function artworkKey(track: Track): string {
  return track.mbids?.release ?? track.coverArtId ?? `${track.artist}\u0000${track.album ?? track.title}`;
}

/** Where the track is now, estimated from the last report (used when a pause carries no position). */
export function estimatedPositionMs(playback: Playback, at: number): number {
  if (playback.paused) return playback.positionMs;
  return playback.positionMs + Math.max(0, at - playback.at) * playback.playbackRate;
}

/**
 * Time until the presence of a playing track should be cleared: its end plus a grace, or, for a
 * track of unknown length (a ListenBrainz client may send none, and that path has no stop),
 * `unknownLengthMs` after it was reported. Null while paused.
 */
export function msUntilTrackEnd(playback: Playback, timings: Pick<GatewayTimings, "endGraceMs" | "unknownLengthMs">): number | null {
  if (playback.paused) return null;
  const duration = playback.track.durationMs;
  if (!duration || duration <= 0) return timings.unknownLengthMs;
  return Math.max(0, (duration - playback.positionMs) / playback.playbackRate) + timings.endGraceMs;
}

/** Adds the query every gateway connect needs, keeping any query the URL already has. */
export function withGatewayQuery(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("v", "10");
  parsed.searchParams.set("encoding", "json");
  return parsed.toString();
}
