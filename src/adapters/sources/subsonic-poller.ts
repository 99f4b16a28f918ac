import { LRUCache } from "lru-cache";
import type { PlaybackEventInput } from "../../actors/events.ts";
import { trackIdentity } from "../../actors/track.ts";
import type { Logger } from "../logger.ts";
import { lruClock } from "../lru-clock.ts";
import type { NowPlayingEntry, SubsonicAuthMode, SubsonicClient } from "./subsonic-client.ts";
import { errorText } from "../../errors.ts";
import { ignoredPlayer } from "./ignored-players.ts";

/** The timer port: the service's clock, or XState's `SimulatedClock` in tests. */
export interface PollerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export interface SubsonicPollerOptions {
  /** Without `getAlbumReleaseMbid`, tracks go out without their album's release MBID. */
  client: Pick<SubsonicClient, "getNowPlaying"> & Partial<Pick<SubsonicClient, "authMode" | "getAlbumReleaseMbid">>;
  pollIntervalMs: number;
  /** The configured, enabled usernames: entries of anybody else are ignored silently. */
  users: () => ReadonlySet<string>;
  /** Players (name or id) whose plays are ignored for `user`, as configured (see `ignoredPlayer`). */
  ignorePlayers: (user: string) => readonly string[];
  dispatch(event: PlaybackEventInput): void;
  clock: PollerClock;
  logger: Logger;
  /**
   * Retry pacing while the server fails. Default base 2 s, cap 10 s: a poll is one small request,
   * and a server that comes back (Navidrome restarted for an update) should show again within
   * seconds, not a minute.
   */
  backoff?: { baseMs?: number; capMs?: number };
  /** The jitter's source, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /**
   * The album release MBID lookups (see `AlbumReleases`): how long one may hold a poll up (default
   * 2 s), how long an answer is kept (default 24 h), a failure (default 5 min).
   */
  albums?: { timeoutMs?: number; ttlMs?: number; failureTtlMs?: number };
}

/** A type, not an interface, so that it fits `SourceStatus`'s index signature. */
export type SubsonicPollerStatus = {
  name: "subsonic";
  ok: boolean;
  polls: number;
  errors: number;
  consecutiveFailures: number;
  lastError: string | null;
  lastSuccessAt: number | null;
  authMode: SubsonicAuthMode | null;
};

/** What the poller last saw for one user. The anchor is the position it believes at `anchorAt`. */
interface Seen {
  /** The track's `trackIdentity`: another one is a new track. */
  key: string;
  paused: boolean;
  rate: number;
  anchorMs: number;
  anchorAt: number;
  /** The position as the server last reported it (undefined: plain Subsonic, no report). */
  reportedMs: number | undefined;
  minutesAgo: number;
}

/** A seek is a reported position this far from where playback should be. */
const seekThresholdMs = 10_000;

/**
 * Polls getNowPlaying and turns the differences between two polls into domain events
 * (docs/protocol.md section 3; docs/architecture.md "Domain events"): a new track -> playback.playing, a pause or a
 * resume (OpenSubsonic playback report) -> paused / playing, a seek -> playing, an entry gone ->
 * playback.stopped. While the server fails, nothing is stopped: the track is unknown, not ended.
 */
export class SubsonicPoller {
  readonly #options: SubsonicPollerOptions;
  readonly #seen = new Map<string, Seen>();
  readonly #backoff: { baseMs: number; capMs: number };
  #running = false;
  #timer: unknown = undefined;
  #inFlight: Promise<void> | undefined;
  #polls = 0;
  #errors = 0;
  #failures = 0;
  #lastError: string | null = null;
  #lastSuccessAt: number | null = null;
  readonly #albums: AlbumReleases | null;

  constructor(options: SubsonicPollerOptions) {
    this.#options = options;
    this.#backoff = { baseMs: options.backoff?.baseMs ?? 2000, capMs: options.backoff?.capMs ?? 10_000 };
    const { client, clock, logger } = options;
    this.#albums = client.getAlbumReleaseMbid
      ? new AlbumReleases({ getAlbumReleaseMbid: client.getAlbumReleaseMbid.bind(client), now: () => clock.now(), logger, ...options.albums })
      : null;
  }

  /** Polls now, then every pollIntervalMs (or with backoff while failing). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#tick();
  }

  /** Stops the timer and waits for a poll in flight. What was seen is kept for a later start. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  /** One poll. A call while a poll is in flight shares it: polls never overlap. Never rejects. */
  pollOnce(): Promise<void> {
    this.#inFlight ??= this.#poll().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  status(): SubsonicPollerStatus {
    return {
      name: "subsonic",
      ok: this.#lastSuccessAt !== null && this.#failures === 0,
      polls: this.#polls,
      errors: this.#errors,
      consecutiveFailures: this.#failures,
      lastError: this.#lastError,
      lastSuccessAt: this.#lastSuccessAt,
      authMode: this.#options.client.authMode ?? null,
    };
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    await this.pollOnce();
    if (!this.#running || this.#timer !== undefined) return;
    const delay = this.#failures === 0 ? this.#options.pollIntervalMs : this.#retryDelay();
    this.#timer = this.#options.clock.setTimeout(() => void this.#tick(), delay);
  }

  /**
   * Exponential backoff while the server fails, capped, with "equal jitter": between half the step
   * and the step. Several nd-presence instances (or a restart of all of them with the server)
   * then do not retry in step, and a retry still comes at least every cap.
   */
  #retryDelay(): number {
    const step = Math.min(this.#backoff.capMs, this.#backoff.baseMs * 2 ** Math.min(this.#failures - 1, 30));
    return Math.round(step / 2 + (step / 2) * (this.#options.random ?? Math.random)());
  }

  async #poll(): Promise<void> {
    const { client, logger, clock } = this.#options;
    this.#polls++;
    let entries: NowPlayingEntry[];
    try {
      entries = await client.getNowPlaying();
    } catch (error) {
      this.#errors++;
      this.#failures++;
      // The client's messages carry no credentials; they name the endpoint and the error code.
      this.#lastError = errorText(error);
      if (this.#failures === 1) logger.log("warn", "subsonic poll failed; retrying with backoff", { error: this.#lastError });
      return;
    }
    if (this.#failures > 0) logger.log("info", "subsonic poll recovered", { failures: this.#failures });
    this.#failures = 0;
    this.#lastError = null; // the outage is over: status shows no error beside ok
    this.#lastSuccessAt = clock.now();
    try {
      const chosen = this.#choose(entries);
      // Before the events exist, so that the journaled track carries the release MBID (and a
      // replay needs no Subsonic server).
      await this.#withAlbumReleases(chosen);
      this.#apply(chosen, clock.now());
    } catch (error) {
      // A throwing dispatch must not kill the poll loop.
      logger.log("error", "subsonic poll: applying the entries failed", { error: errorText(error) });
    }
  }

  /** One entry per configured user (see `#better`). */
  #choose(entries: NowPlayingEntry[]): Map<string, NowPlayingEntry> {
    const configured = this.#options.users();
    const chosen = new Map<string, NowPlayingEntry>();
    for (const entry of entries) {
      if (!configured.has(entry.username)) continue;
      const current = chosen.get(entry.username);
      if (current === undefined || this.#better(entry, current)) chosen.set(entry.username, entry);
    }
    return chosen;
  }

  /**
   * Puts each chosen track's album release MBID (OpenSubsonic getAlbum) on it, for its Cover Art
   * Archive art. Cached per album, so a poll asks only for albums it has not seen; never rejects.
   */
  async #withAlbumReleases(chosen: Map<string, NowPlayingEntry>): Promise<void> {
    const albums = this.#albums;
    if (albums === null) return;
    await Promise.all(
      [...chosen].map(async ([user, entry]) => {
        if (entry.albumId === undefined || entry.track.mbids?.release || this.#ignored(entry)) return;
        const release = await albums.releaseOf(entry.albumId);
        if (release !== undefined) chosen.set(user, { ...entry, track: { ...entry.track, mbids: { ...entry.track.mbids, release } } });
      }),
    );
  }

  #apply(chosen: Map<string, NowPlayingEntry>, now: number): void {
    const configured = this.#options.users();
    for (const user of [...this.#seen.keys()]) {
      const entry = chosen.get(user);
      if (!configured.has(user)) {
        this.#seen.delete(user); // removed from the config: the supervisor ends that machine itself
      } else if (entry === undefined || this.#ignored(entry)) {
        // docs/protocol.md section 3: a stop is seen as the entry disappearing. An ignored player's entry
        // winning means the user moved to a player that shows its own presence: ours stops too.
        this.#seen.delete(user);
        this.#emit({ type: "playback.stopped", user, at: now });
      }
    }
    for (const [user, entry] of chosen) if (!this.#ignored(entry)) this.#diff(user, entry, now);
  }

  /** One entry per user: the most recent (smallest minutesAgo), then one from a non-ignored player. */
  #better(candidate: NowPlayingEntry, current: NowPlayingEntry): boolean {
    if (candidate.minutesAgo !== current.minutesAgo) return candidate.minutesAgo < current.minutesAgo;
    return this.#ignored(current) && !this.#ignored(candidate);
  }

  #ignored(entry: NowPlayingEntry): boolean {
    return ignoredPlayer(this.#options.ignorePlayers(entry.username), [entry.playerName, entry.playerId]) !== undefined;
  }

  #diff(user: string, entry: NowPlayingEntry, now: number): void {
    const key = trackIdentity(entry.track);
    const reported = entry.state !== undefined && entry.positionMs !== undefined ? entry.positionMs : undefined;
    const positionMs = reported ?? estimate(entry.minutesAgo, entry.track.durationMs);
    const paused = entry.state === "paused";
    const rate = entry.playbackRate ?? 1;
    const prev = this.#seen.get(user);
    const next: Seen = { key, paused, rate, anchorMs: positionMs, anchorAt: now, reportedMs: reported, minutesAgo: entry.minutesAgo };
    const playing = () =>
      this.#emit({
        type: "playback.playing",
        user,
        track: entry.track,
        positionMs,
        ...(entry.playbackRate !== undefined ? { playbackRate: entry.playbackRate } : {}),
        at: now,
      });
    const pausedEvent = () => this.#emit({ type: "playback.paused", user, positionMs, at: now });
    this.#seen.set(user, next);

    if (prev === undefined || prev.key !== key) {
      // A new track, or one first seen by this process (after a restart): same estimate.
      playing();
      if (paused) pausedEvent();
    } else if (paused !== prev.paused) {
      if (paused) pausedEvent();
      else playing();
    } else if (reported === undefined) {
      // Plain Subsonic: minutesAgo counts from the track's start, so going down means it restarted.
      if (entry.minutesAgo < prev.minutesAgo) playing();
    } else if (!paused) {
      const expected = prev.anchorMs + (now - prev.anchorAt) * prev.rate;
      // Only a new report can be a seek: a server that does not extrapolate repeats the last one.
      const fresh = reported !== prev.reportedMs;
      if (fresh && (Math.abs(reported - expected) > seekThresholdMs || rate !== prev.rate)) playing();
      else if (!fresh) this.#seen.set(user, { ...next, anchorMs: prev.anchorMs, anchorAt: prev.anchorAt });
    }
  }

  #emit(event: PlaybackEventInput): void {
    this.#options.dispatch(event);
  }
}

interface AlbumReleasesOptions extends NonNullable<SubsonicPollerOptions["albums"]> {
  getAlbumReleaseMbid: SubsonicClient["getAlbumReleaseMbid"];
  now: () => number;
  logger: Logger;
}

/**
 * Album id -> the album's release MBID, from OpenSubsonic's getAlbum (`album.musicBrainzId`), asked
 * once per album and cached: an album's MBID does not change while it plays. A failure or a timeout
 * only leaves the MBID out (cached briefly, logged once per album); a plain Subsonic server, which
 * has no such field, answers "none", cached like a release.
 */
class AlbumReleases {
  readonly #options: AlbumReleasesOptions;
  /** album id -> its release MBID, or null for none. */
  readonly #known: LRUCache<string, { release: string | null }>;
  readonly #failed: LRUCache<string, true>;
  /** Albums whose failure was logged: the next failures of the same album go to debug. */
  readonly #warned = new LRUCache<string, true>({ max: 1000 });
  readonly #inFlight = new Map<string, Promise<string | undefined>>();

  constructor(options: AlbumReleasesOptions) {
    this.#options = options;
    const clock = lruClock(options.now);
    this.#known = new LRUCache({ max: 5000, ttl: options.ttlMs ?? 24 * 3_600_000, ...clock });
    this.#failed = new LRUCache({ max: 5000, ttl: options.failureTtlMs ?? 5 * 60_000, ...clock });
  }

  /** The release MBID of album `albumId`, or undefined (none, or not known now). Never rejects. */
  releaseOf(albumId: string): Promise<string | undefined> {
    const known = this.#known.get(albumId);
    if (known !== undefined) return Promise.resolve(known.release ?? undefined);
    if (this.#failed.has(albumId)) return Promise.resolve(undefined);
    let lookup = this.#inFlight.get(albumId);
    if (lookup === undefined) {
      lookup = this.#ask(albumId).finally(() => this.#inFlight.delete(albumId));
      this.#inFlight.set(albumId, lookup);
    }
    return lookup;
  }

  async #ask(albumId: string): Promise<string | undefined> {
    try {
      const release = await this.#options.getAlbumReleaseMbid(albumId, { timeoutMs: this.#options.timeoutMs ?? 2000 });
      this.#known.set(albumId, { release: release ?? null });
      return release;
    } catch (error) {
      this.#failed.set(albumId, true);
      // The client's messages carry no credentials: they name the endpoint and the error code.
      const level = this.#warned.has(albumId) ? "debug" : "warn";
      this.#warned.set(albumId, true);
      this.#options.logger.log(level, "subsonic getAlbum failed; the track goes without its release MBID", { albumId, error: errorText(error) });
      return undefined;
    }
  }
}

/** Plain Subsonic has only minutesAgo (minute precision): 0 -> 0, n -> n minutes, capped at the duration. */
function estimate(minutesAgo: number, durationMs: number | undefined): number {
  const ms = minutesAgo * 60_000;
  return durationMs !== undefined ? Math.min(ms, durationMs) : ms;
}
