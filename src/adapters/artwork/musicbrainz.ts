import { LRUCache } from "lru-cache";
import { compact, isRecord } from "../../actors/objects.ts";
import { errorText } from "../../errors.ts";
import { systemClock } from "../../clock.ts";
import type { Logger } from "../logger.ts";
import { lruClock } from "../lru-clock.ts";

export const defaultMusicBrainzUrl = "https://musicbrainz.org";

/** What MusicBrainz found for an album: the release's MBID and, when it said, its release group's. */
export interface FoundRelease {
  release: string;
  releaseGroup?: string;
}

export interface MusicBrainzClientOptions {
  /** Default `https://musicbrainz.org`. */
  url?: string;
  /** MusicBrainz refuses anonymous clients: `name/version ( contact or project URL )`. */
  userAgent: string;
  logger: Logger;
  fetch?: typeof fetch;
  /** Clock (ms) for the request pacing and the caches' TTLs; injectable so tests can move time. */
  now?: () => number;
  /** How to wait for the next request slot; injectable so tests need not sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** Least time between the starts of two requests. Default 1000: MusicBrainz allows 1 per second. */
  intervalMs?: number;
  /**
   * Lookups allowed to wait for their slot; one more is skipped (not cached). Default 60: a minute
   * of lookups, longer than a track waits for its art, so a burst cannot queue up for hours.
   */
  maxWaiting?: number;
  /** The lowest search score (0-100) taken as the album. Default 90. */
  minScore?: number;
  /** `resultMs` (a release, or "no match"): default 24 h. `failureMs`: default 5 min. */
  ttl?: { resultMs?: number; failureMs?: number };
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
}

// Through the service's clock: the same way DiscordRest waits for a 429.
const defaultSleep = (ms: number) => new Promise<void>((resolve) => systemClock.setTimeout(() => resolve(), ms));

/**
 * Finds the MusicBrainz release of an album by its name and artist, for a track that came without
 * a release MBID, so that its art can be asked of the Cover Art Archive (docs/protocol.md section 2).
 *
 * One search per album: `GET {url}/ws/2/release/?query=release:"<album>" AND artist:"<artist>"&fmt=json&limit=1`,
 * the first release taken when its score is high enough. MusicBrainz's rules for API clients are
 * kept: a meaningful User-Agent, and at most one request per second for the whole client (one queue
 * for every user; the service makes one client). Answers are cached, "no match" included (24 h);
 * failures (5xx, 503 rate limiting, network, timeout) briefly (5 min), so that a MusicBrainz outage
 * costs one request per album every few minutes and never more than the default image.
 */
export class MusicBrainzClient {
  readonly #base: string;
  readonly #options: MusicBrainzClientOptions;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #intervalMs: number;
  /** album key -> the release found, or null for "no match". */
  readonly #results: LRUCache<string, { found: FoundRelease | null }>;
  /** album key -> the lookup failed recently. */
  readonly #failures: LRUCache<string, true>;
  readonly #inFlight = new Map<string, Promise<FoundRelease | null>>();
  /** The request queue: each lookup's turn starts once the one before it has had its turn. */
  #queue: Promise<void> = Promise.resolve();
  #waiting = 0;
  #nextSlotAt = Number.NEGATIVE_INFINITY;

  constructor(options: MusicBrainzClientOptions) {
    this.#options = options;
    this.#base = (options.url ?? defaultMusicBrainzUrl).replace(/\/+$/, "");
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#intervalMs = options.intervalMs ?? 1000;
    const clock = lruClock(options.now);
    this.#results = new LRUCache({ max: 5000, ttl: options.ttl?.resultMs ?? 24 * 3_600_000, ...clock });
    this.#failures = new LRUCache({ max: 5000, ttl: options.ttl?.failureMs ?? 5 * 60_000, ...clock });
  }

  /**
   * The release of `album` by `artist`, or null when MusicBrainz has no good match or could not be
   * asked. Never rejects. Concurrent lookups of the same album share one request.
   */
  findRelease(artist: string, album: string): Promise<FoundRelease | null> {
    const key = `${normalise(artist)}\n${normalise(album)}`;
    const cached = this.#results.get(key);
    if (cached !== undefined) return Promise.resolve(cached.found);
    if (this.#failures.has(key)) return Promise.resolve(null);
    const existing = this.#inFlight.get(key);
    if (existing) return existing;
    const promise = this.#lookUp(key, artist, album)
      .catch((error: unknown) => {
        // Only a broken `sleep` gets here: no art from MusicBrainz this time, and nothing cached.
        this.#options.logger.log("warn", "musicbrainz lookup failed", { album, error: errorText(error) });
        return null;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, promise);
    return promise;
  }

  async #lookUp(key: string, artist: string, album: string): Promise<FoundRelease | null> {
    if (this.#waiting >= (this.#options.maxWaiting ?? 60)) {
      this.#options.logger.log("debug", "musicbrainz lookup skipped: too many waiting for their turn", { album });
      return null;
    }
    await this.#turn();
    const outcome = await this.#search(artist, album);
    if (outcome === "failed") {
      this.#failures.set(key, true);
      return null;
    }
    this.#results.set(key, { found: outcome });
    return outcome;
  }

  /** Resolves when the next request may start: each start at least `intervalMs` after the last. */
  #turn(): Promise<void> {
    this.#waiting++;
    const turn = this.#queue
      .then(async () => {
        const waitMs = this.#nextSlotAt - this.#now();
        if (waitMs > 0) await this.#sleep(waitMs);
        this.#nextSlotAt = this.#now() + this.#intervalMs;
      })
      .finally(() => this.#waiting--);
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  /** One search request: the release, null for "no match", or "failed" (logged). */
  async #search(artist: string, album: string): Promise<FoundRelease | null | "failed"> {
    const url = new URL(`${this.#base}/ws/2/release/`);
    url.searchParams.set("query", `release:${phrase(album)} AND artist:${phrase(artist)}`);
    url.searchParams.set("fmt", "json");
    url.searchParams.set("limit", "1");
    const failed = (reason: Record<string, unknown>) => {
      this.#options.logger.log("warn", "musicbrainz lookup failed", { album, ...reason });
      return "failed" as const;
    };
    try {
      const response = await this.#fetch(url, {
        headers: { "User-Agent": this.#options.userAgent, Accept: "application/json" },
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return failed({ status: response.status });
      }
      const found = bestRelease(await response.json(), this.#options.minScore ?? 90);
      return found === "unexpected" ? failed({ error: "not a release search answer" }) : found;
    } catch (error) {
      return failed({ error: errorText(error) });
    }
  }
}

/** The first release of a search answer if it scored at least `minScore`; "unexpected" for another shape. */
function bestRelease(body: unknown, minScore: number): FoundRelease | null | "unexpected" {
  if (!isRecord(body) || !Array.isArray(body.releases)) return "unexpected";
  const first: unknown = body.releases[0];
  if (!isRecord(first) || typeof first.id !== "string" || first.id === "") return null;
  if (!(Number(first.score) >= minScore)) return null;
  const group = isRecord(first["release-group"]) ? first["release-group"].id : undefined;
  return compact({ release: first.id, releaseGroup: typeof group === "string" && group !== "" ? group : undefined });
}

/** A Lucene phrase: the value in double quotes, Lucene's special characters escaped. */
function phrase(value: string): string {
  return `"${value.replace(/[+\-&|!(){}[\]^"~*?:\\/]/g, "\\$&")}"`;
}

/** Case and surrounding spaces do not make another album. */
function normalise(value: string): string {
  return value.trim().toLowerCase();
}
