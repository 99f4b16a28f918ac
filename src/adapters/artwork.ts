import { LRUCache } from "lru-cache";
import type { ArtworkRequest } from "../actors/effects.ts";
import type { Track } from "../actors/track.ts";
import { PresenceError } from "../errors.ts";
import { isAcceptableAssetUrl, type DiscordRest } from "./discord-rest.ts";
import type { Logger } from "./logger.ts";

export type ArtworkSource = "coverartarchive" | "public";

export interface ArtworkResolverOptions {
  rest: Pick<DiscordRest, "registerExternalAssets">;
  applicationId: string;
  /** The user's Discord token, needed only to register a URL that is not cached yet. */
  tokenFor(user: string): string | undefined;
  /** Default `https://coverartarchive.org`. */
  coverArtArchiveUrl?: string;
  /** Public URL of the image shown when a track has no art; null: no image then. */
  defaultImage: string | null;
  /** Sources tried for a track, in order. Default: Cover Art Archive, then the public URL hook. */
  order?: ArtworkSource[];
  /** The server's own public artwork URL for a track (later issue); none by default. */
  publicUrl?: (track: Track) => string | null;
  fetch?: typeof fetch;
  logger: Logger;
  ttl?: { trackMs?: number; defaultMs?: number; failureMs?: number };
  /** Clock for the caches' TTLs (ms); injectable so tests can move time. */
  now?: () => number;
  /** Sent on the existence checks (MusicBrainz/CAA ask for a meaningful one). */
  userAgent?: string;
  /** Timeout of one existence check. Default 10 s. */
  checkTimeoutMs?: number;
}

/**
 * Resolves an ArtworkRequest to a Discord image key (`mp:external/...`), following PROTOCOL.md
 * section 2: Cover Art Archive by release MBID, then by release-group MBID, (then the public URL
 * hook), then the default image; each registered through the external-assets endpoint.
 */
export class ArtworkResolver {
  readonly #options: ArtworkResolverOptions;
  readonly #caa: string;
  readonly #fetch: typeof fetch;
  readonly #ttl: { trackMs: number; defaultMs: number; failureMs: number };
  /** source URL -> mp key. PROTOCOL.md section 2: 4 h for track art, 48 h for the default image. */
  readonly #keys: LRUCache<string, string>;
  /** source URL -> failed recently ("cache failures briefly", PROTOCOL.md section 2). */
  readonly #failures: LRUCache<string, true>;
  readonly #inFlight = new Map<string, Promise<string | null>>();

  constructor(options: ArtworkResolverOptions) {
    this.#options = options;
    this.#caa = (options.coverArtArchiveUrl ?? "https://coverartarchive.org").replace(/\/+$/, "");
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#ttl = {
      trackMs: options.ttl?.trackMs ?? 4 * 3_600_000,
      defaultMs: options.ttl?.defaultMs ?? 48 * 3_600_000,
      failureMs: options.ttl?.failureMs ?? 5 * 60_000,
    };
    // lru-cache v11 takes its clock as `perf`. It treats a start time of 0 as "no TTL", so the
    // injected clock is shifted to start at 1; ttlResolution 0 makes it read the clock on every
    // check instead of caching it for 1 ms of real time (a test clock jumps).
    const now = options.now;
    const epoch = now ? now() : 0;
    const clock = now ? { perf: { now: () => now() - epoch + 1 }, ttlResolution: 0 } : {};
    this.#keys = new LRUCache<string, string>({ max: 5000, ttl: this.#ttl.trackMs, ...clock });
    this.#failures = new LRUCache<string, true>({ max: 5000, ttl: this.#ttl.failureMs, ...clock });
  }

  /**
   * The image key for `request`, registered with `user`'s token, or null when no image can be had.
   * Rejects only with PresenceError "token_invalid" (the caller treats it like close 4004); any
   * other failure is logged and leads to the next source. Concurrent resolves of the same request
   * for the same user share one promise.
   */
  resolve(user: string, request: ArtworkRequest): Promise<string | null> {
    const candidates = request.kind === "url" ? [request.url] : this.#trackCandidates(request.track);
    const flightKey = `${user}\n${request.kind}\n${candidates.join("\n")}`;
    const existing = this.#inFlight.get(flightKey);
    if (existing) return existing;
    // An explicit URL is registered as is; track candidates are checked to exist first.
    // Only track art falls back to the default image: a failed paused icon is just no icon.
    const isTrack = request.kind === "track";
    const promise = this.#resolve(user, candidates, isTrack).finally(() => this.#inFlight.delete(flightKey));
    this.#inFlight.set(flightKey, promise);
    return promise;
  }

  async #resolve(user: string, candidates: string[], isTrack: boolean): Promise<string | null> {
    for (const url of candidates) {
      const key = await this.#try(user, url, isTrack, this.#ttl.trackMs);
      if (key !== null) return key;
    }
    const fallback = isTrack ? this.#options.defaultImage : null;
    if (fallback === null) return null;
    // The default image is the operator's own choice: registered without a check, cached 48 h.
    return this.#try(user, fallback, false, this.#ttl.defaultMs);
  }

  /** Candidate URLs for a track, in the configured source order (PROTOCOL.md section 2). */
  #trackCandidates(track: Track): string[] {
    const urls: string[] = [];
    for (const source of this.#options.order ?? ["coverartarchive", "public"]) {
      if (source === "coverartarchive") {
        const { release, releaseGroup } = track.mbids ?? {};
        if (release) urls.push(`${this.#caa}/release/${encodeURIComponent(release)}/front-500`);
        if (releaseGroup) urls.push(`${this.#caa}/release-group/${encodeURIComponent(releaseGroup)}/front-500`);
      } else {
        const url = this.#options.publicUrl?.(track);
        if (url) urls.push(url);
      }
    }
    return urls;
  }

  /** One source URL -> its mp key, or null (logged, and negatively cached when it failed). */
  async #try(user: string, url: string, check: boolean, ttl: number): Promise<string | null> {
    if (!isAcceptableAssetUrl(url)) {
      // Never send a URL with credentials to Discord (PROTOCOL.md section 2). Log no part of it.
      this.#options.logger.log("warn", "artwork URL skipped: not http(s), over 256 chars, or carries credentials");
      return null;
    }
    const cached = this.#keys.get(url);
    if (cached !== undefined) return cached;
    if (this.#failures.has(url)) return null;
    const shown = describe(url);
    if (check && !(await this.#exists(url))) {
      this.#failures.set(url, true);
      return null;
    }
    const token = this.#options.tokenFor(user);
    if (token === undefined) {
      // Per user, so not negatively cached: another user may have a token.
      this.#options.logger.log("warn", "artwork not registered: no Discord token for user", { user });
      return null;
    }
    try {
      const [key] = await this.#options.rest.registerExternalAssets(token, this.#options.applicationId, [url]);
      if (key === undefined) throw new PresenceError("external_assets", "Discord returned no image key");
      this.#keys.set(url, key, { ttl });
      return key;
    } catch (error) {
      if (error instanceof PresenceError && error.code === "token_invalid") throw error;
      this.#options.logger.log("warn", "artwork registration failed", { url: shown, error: errorText(error) });
      this.#failures.set(url, true);
      return null;
    }
  }

  /** Whether `url` answers 2xx after redirects (CAA answers 307 to the image: follow it). */
  async #exists(url: string): Promise<boolean> {
    const shown = describe(url);
    try {
      const init = {
        redirect: "follow" as const,
        headers: this.#options.userAgent ? { "User-Agent": this.#options.userAgent } : undefined,
        signal: AbortSignal.timeout(this.#options.checkTimeoutMs ?? 10_000),
      };
      let response = await this.#fetch(url, { ...init, method: "HEAD" });
      if (response.status === 405 || response.status === 501) {
        // Some hosts refuse HEAD: ask with GET and drop the body.
        response = await this.#fetch(url, { ...init, method: "GET" });
      }
      await response.body?.cancel();
      if (response.ok) return true;
      this.#options.logger.log(response.status === 404 ? "debug" : "warn", "artwork not found", { url: shown, status: response.status });
      return false;
    } catch (error) {
      this.#options.logger.log("warn", "artwork check failed", { url: shown, error: errorText(error) });
      return false;
    }
  }
}

/** Origin and path only: a query is never logged, in case it carries something private. */
function describe(url: string): string {
  try {
    const { origin, pathname } = new URL(url);
    return origin + pathname;
  } catch {
    return "(invalid URL)";
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
