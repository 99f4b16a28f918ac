import { activityKey, buildActivity, coreActivity, presencePayload } from "./activity.ts";
import type { ClientProperties, PresencePayload } from "./effects.ts";
import type { GatewayTimings, PresenceInput, PresenceSettings } from "./settings.ts";
import type { Playback, Track } from "./track.ts";

/**
 * Everything a presence machine remembers. Plain data, no secret: it is shown in the inspector.
 *
 * Every `assign` copies the top level of the context (`Object.assign`), and V8 (Node 20, Deno 2)
 * makes a copy of more than 19 keys a slow dictionary object: ~4-6 µs a copy instead of ~0.2 µs.
 * So the context keeps at most 16 top-level keys, and fields that change together live in small
 * groups: an assign copies the top level and the groups it changes, and passes the others along.
 */
export interface PresenceContext {
  user: string;
  /** Given at spawn and replaced only as a whole, by a reload (`user.restart`): they ride along in one reference. */
  settings: {
    presence: PresenceSettings;
    timings: GatewayTimings;
    properties: ClientProperties;
    /** `discord.gatewayUrl`: connect here and never discover; null = discover. */
    configuredGatewayUrl: string | null;
  };
  /** State of the seeded random generator (see random.ts). */
  random: number;
  /** What the next connect uses; grouped because ending a session resets them together. */
  gateway: GatewayState;
  /** The current socket; opening a new one starts it afresh. */
  socket: SocketState;
  /** Reconnect pacing: what the next backoff is worked out from, and what it came to. */
  retry: RetryState;
  /** Discord's per-user limits, which outlast any socket (the frame window is per socket: `socket`). */
  userLimits: UserLimits;

  // What to show.
  playback: Playback | null;
  artwork: { key: string; image: string | null; pending: boolean } | null;
  pausedImage: string | null;
  /** What this session shows now; always changed together. */
  shown: Shown;
  /**
   * Set by `service.shutdown`: "clear" clears what is shown and ends the session (the playback is
   * kept, so that the next start shows it again if it is still playing); "keep" leaves both for a
   * restart to resume. Null while running.
   */
  shutdown: "clear" | "keep" | null;
  /** What this user's gateway accepts in an op 3 (see `Compat`). */
  compat: Compat;

  // What the operator sees.
  lastError: string | null;
  /** Why this user was stopped for good; `byToken` when the token was rejected (4004, HTTP 401). */
  failure: { reason: string; byToken: boolean } | null;
  counters: {
    reconnects: number;
    /** Op 3 frames sent (their slots cycle through this count). */
    presenceUpdates: number;
    /** Op 3 frames the server refused: it closed the socket with 4002 within `PRESENCE_KEPT_MS`. */
    presenceRefused: number;
  };
}

/**
 * What the gateway was found to accept. Discord takes every activity field; a Discord-compatible
 * server (Spacebar) closes with 4002 on any key its schema does not know. `fields: "core"` sends
 * only `CORE_ACTIVITY_KEYS`; `refusedTrack` is the track (its `trackIdentity`) whose presence was
 * refused even so: it is not sent again (and no connection is held for it) until another track
 * plays. Both are forgotten at a restart, so that a server that learnt the newer fields gets them.
 */
export interface Compat {
  fields: "full" | "core";
  refusedTrack: string | null;
}

export interface GatewayState {
  /** Where to connect for a new session: configured or discovered; null = discover first. */
  url: string | null;
  /**
   * The session to resume, if any (a new socket resumes on its `resumeUrl`). Its last `s` is the
   * connection's: it reads every frame, the machine only those that change the session.
   */
  session: { id: string; resumeUrl: string | null } | null;
}

export interface SocketState {
  /** Number of the latest socket asked for; events carry it, so stale ones can be told apart. */
  number: number;
  /** Whether that socket still counts as ours (false once either side closed it). */
  open: boolean;
  /**
   * When READY or RESUMED came on this socket (its event time), null before: from then on the
   * socket is live (`isLive`: presence updates may be sent), and a session up `stableSessionMs`
   * resets the backoff.
   */
  liveSince: number | null;
}

export interface RetryState {
  /** Reconnect attempts since the last stable session. */
  attempt: number;
  /** The next reconnect may go at once (op 7, zombie, resumable close). */
  atOnce: boolean;
  /** A floor for the next backoff (4015 asks for a long wait). */
  minBackoffMs: number;
  backoffMs: number;
  invalidSessionWaitMs: number;
  /** Sockets closed in a row before READY or RESUMED came (a bad token, on some servers). */
  closesBeforeReady: number;
}

export interface UserLimits {
  /** Presence updates in the current 20 s window (docs/protocol.md: 5 / 20 s). */
  presenceInWindow: number;
  /** An identify went less than 5 s ago (docs/protocol.md: one per 5 s per token). */
  identifyCoolingDown: boolean;
}

export interface Shown {
  /** The op 3 payload this session sent last, as sent (null: nothing). */
  payload: PresencePayload | null;
  /**
   * The presence `payload` was shortened from, when it had to be shortened to fit 4096 bytes
   * (null nearly always: what was sent is what was wanted). `shownPresence` reads the two.
   */
  shortenedFrom: PresencePayload | null;
  /**
   * The op 3 went out less than `PRESENCE_KEPT_MS` ago on this socket: a close with 4002 now means
   * the server refused it. Until then it is not counted as shown.
   */
  pending: boolean;
}

/** READY or RESUMED was seen on this socket: presence updates may be sent. */
export function isLive(socket: SocketState): boolean {
  return socket.liveSince !== null;
}

/** Nothing shown: what a new session starts with (docs/protocol.md, READY), and a lost one ends with. */
export const NOTHING_SHOWN: Shown = Object.freeze({ payload: null, shortenedFrom: null, pending: false });

/** The presence this session's last op 3 was built from (before any shortening); null: nothing. */
export function shownPresence(shown: Shown): PresencePayload | null {
  return shown.shortenedFrom ?? shown.payload;
}

/**
 * Whether two presences are the same: the same object (nearly always, see `desiredPresence`), or
 * equal as JSON (payloads are built in a fixed key order), e.g. after a restart. Compared when
 * needed rather than kept as a key: a key is a few hundred bytes per user for the life of a track.
 */
export function samePresence(a: PresencePayload | null, b: PresencePayload | null): boolean {
  return a === b || (a !== null && b !== null && activityKey(a) === activityKey(b));
}

/** A machine's settings, from its user's profile (a checkpoint rebuilds them the same way). */
export function settingsOf(profile: Omit<PresenceInput, "seed">): PresenceContext["settings"] {
  return { presence: profile.presence, timings: profile.timings, properties: profile.properties, configuredGatewayUrl: profile.gatewayUrl };
}

export function initialContext(input: PresenceInput): PresenceContext {
  return {
    user: input.user,
    settings: settingsOf(input),
    random: input.seed,
    gateway: { url: input.gatewayUrl, session: null },
    socket: { number: 0, open: false, liveSince: null },
    retry: { attempt: 0, atOnce: false, minBackoffMs: 0, backoffMs: 0, invalidSessionWaitMs: 0, closesBeforeReady: 0 },
    userLimits: { presenceInWindow: 0, identifyCoolingDown: false },
    playback: null,
    artwork: null,
    pausedImage: null,
    shown: NOTHING_SHOWN,
    shutdown: null,
    compat: initialCompat(input.presence),
    lastError: null,
    failure: null,
    counters: { reconnects: 0, presenceUpdates: 0, presenceRefused: 0 },
  };
}

/** What a machine assumes of its gateway before it has learnt anything (and after a restart). */
export function initialCompat(presence: PresenceSettings): Compat {
  return { fields: presence.activityFields === "core" ? "core" : "full", refusedTrack: null };
}

/**
 * A disconnected machine whose context holds nothing (nothing to show, no open rate window, no
 * identify cooldown) is as good as a fresh one, so the supervisor may stop it.
 */
export function isIdleContext(c: PresenceContext): boolean {
  return c.playback === null && c.userLimits.presenceInWindow === 0 && !c.userLimits.identifyCoolingDown;
}

/**
 * What a context should show depends only on its playback, artwork, paused image and settings,
 * objects an assign passes along untouched (settings are only ever replaced whole). So it is worked out once per
 * playback object and reused while those stay the same, however many guards ask: a replay asks
 * thousands of times a second.
 */
interface Desired {
  artwork: PresenceContext["artwork"];
  pausedImage: string | null;
  presence: PresenceSettings;
  fields: Compat["fields"];
  payload: PresencePayload;
}
const desiredByPlayback = new WeakMap<Playback, Desired>();

/**
 * Whether this user should see a presence at all: `desiredPresence(context) !== null`, without
 * building it. Guards ask this after every step, and a track whose artwork is still coming need
 * not be built until the artwork is there.
 */
export function wantsPresence(context: PresenceContext): boolean {
  const { playback } = context;
  return (
    playback !== null &&
    !(playback.paused && context.settings.presence.onPause === "clear") &&
    // Shutting down clears what is shown; the playback is kept for the next start.
    context.shutdown !== "clear" &&
    context.compat.refusedTrack === null
  );
}

/** The presence this user should see now, or null for none (nothing playing, or paused with onPause "clear"). */
export function desiredPresence(context: PresenceContext): PresencePayload | null {
  const { playback, artwork, pausedImage } = context;
  if (!playback || !wantsPresence(context)) return null;
  const { presence } = context.settings;
  const { fields } = context.compat;
  const known = desiredByPlayback.get(playback);
  if (known && known.artwork === artwork && known.pausedImage === pausedImage && known.presence === presence && known.fields === fields) return known.payload;
  const activity = buildActivity(playback, presence, { large: artwork?.image ?? null, paused: pausedImage });
  const payload = presencePayload(fields === "core" ? coreActivity(activity) : activity, presence.status);
  desiredByPlayback.set(playback, { artwork, pausedImage, presence, fields, payload });
  return payload;
}

/**
 * Names a track's cover, so that an answer can be matched to the track that asked, and the next
 * track of the same album keeps the cover already found. Not `trackIdentity`: this names an album
 * (its release MBID, the server's cover id, or its artist and title), shared by all its tracks.
 */
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
