import { LRUCache } from "lru-cache";
import type { ArtworkRequest } from "../../actors/effects.ts";
import { isSafeUrl } from "../../actors/discord-protocol.ts";
import { type Track, trackIdentity } from "../../actors/track.ts";
import { errorText, PresenceError } from "../../errors.ts";
import type { DiscordRest } from "../discord/rest.ts";
import type { Logger } from "../logger.ts";
import { lruClock } from "../lru-clock.ts";
import { type FoundRelease, MusicBrainzClient } from "./musicbrainz.ts";
import { urlForLog } from "../url-for-log.ts";

/**
 * Where track art may come from (docs/protocol.md section 2), tried in the configured order; the config
 * schema lists the same.
 */
export const artworkSources = ["coverartarchive", "upload", "public"] as const;
export type ArtworkSource = (typeof artworkSources)[number];
/** "upload" (a temporary public host) is opt-in. */
export const defaultArtworkOrder: readonly ArtworkSource[] = ["coverartarchive", "public"];
export const defaultCoverArtArchiveUrl = "https://coverartarchive.org";

/**
 * The image shown when no source has art for a track, unless the config says otherwise: the
 * Navidrome logo, at the stable public URL that Navidrome's own Discord plugin uses.
 */
export const navidromeLogoUrl = "https://raw.githubusercontent.com/navidrome/website/refs/heads/master/assets/icons/logo.webp";

/**
 * The default image the config asks for: the Navidrome logo when it says nothing, none for
 * `"none"` (or `null`, as configs written before the logo became the default say it).
 */
export function defaultImageFrom(configured: string | null | undefined): string | null {
  if (configured === undefined) return navidromeLogoUrl;
  return configured === null || configured === "none" ? null : configured;
}

export interface ArtworkResolverOptions {
  rest: Pick<DiscordRest, "registerExternalAssets">;
  applicationId: string;
  /** The user's Discord token, needed only to register a URL that is not cached yet. */
  tokenFor(user: string): string | undefined;
  /** Default `https://coverartarchive.org`. */
  coverArtArchiveUrl?: string;
  /**
   * Look a track's release up on MusicBrainz by album and artist when it has no release or
   * release-group MBID, then ask the Cover Art Archive by that release. Default true.
   */
  musicBrainzLookup?: boolean;
  /** Default `https://musicbrainz.org`. */
  musicBrainzUrl?: string;
  /** How to wait for MusicBrainz's one request per second; injectable so tests need not sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** Public URL of the image shown when a track has no art; null: no image then. */
  defaultImage: string | null;
  /** Sources tried for a track, in any order. Default: Cover Art Archive, then the public URL. */
  order?: readonly ArtworkSource[];
  /**
   * The server's own public artwork URL for a track: a function, or a template for
   * `publicUrlFromTemplate` (e.g. `https://music.example.org/img/{coverArtId}`); none by default.
   */
  publicUrl?: string | ((track: Track) => string | null);
  /**
   * The "upload" source: puts the track's cover on a temporary public host and returns its URL
   * (see `createCoverUploader`), or null. Only called when the sources before it found nothing.
   */
  upload?: (track: Track) => Promise<string | null>;
  fetch?: typeof fetch;
  logger: Logger;
  /** `uploadMs` (default 2 h) keeps an uploaded URL below uguu.se's ~3 h file lifetime. */
  ttl?: { trackMs?: number; defaultMs?: number; failureMs?: number; uploadMs?: number };
  /** Clock for the caches' TTLs (ms); injectable so tests can move time. */
  now?: () => number;
  /** Sent on the existence checks and MusicBrainz lookups (MusicBrainz/CAA ask for a meaningful one). */
  userAgent?: string;
  /** Timeout of one existence check. Default 10 s. */
  checkTimeoutMs?: number;
}

/**
 * Resolves an ArtworkRequest to a Discord image key (`mp:external/...`), following docs/protocol.md
 * section 2: the configured sources in order (Cover Art Archive by release MBID, then by
 * release-group MBID, or by the release MusicBrainz finds for the album when the track has neither;
 * an upload of the cover to a temporary public host; the server's public URL), then the default
 * image; each registered through the external-assets endpoint.
 */
export class ArtworkResolver {
  readonly #options: ArtworkResolverOptions;
  readonly #caa: string;
  readonly #fetch: typeof fetch;
  readonly #ttl: { trackMs: number; defaultMs: number; failureMs: number; uploadMs: number };
  readonly #publicUrl: ((track: Track) => string | null) | undefined;
  /** `uploadId` -> public URL of the uploaded copy. */
  readonly #uploads: LRUCache<string, string>;
  readonly #uploadsInFlight = new Map<string, Promise<string | null>>();
  /** source URL -> mp key. docs/protocol.md section 2: 4 h for track art, 48 h for the default image. */
  readonly #keys: LRUCache<string, string>;
  /** source URL -> failed recently ("cache failures briefly", docs/protocol.md section 2). */
  readonly #failures: LRUCache<string, true>;
  readonly #inFlight = new Map<string, Promise<string | null>>();
  /** Null when the MusicBrainz lookup is off. */
  readonly #musicBrainz: MusicBrainzClient | null;

  constructor(options: ArtworkResolverOptions) {
    this.#options = options;
    this.#caa = (options.coverArtArchiveUrl ?? defaultCoverArtArchiveUrl).replace(/\/+$/, "");
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    const trackMs = options.ttl?.trackMs ?? 4 * 3_600_000;
    this.#ttl = {
      trackMs,
      defaultMs: options.ttl?.defaultMs ?? 48 * 3_600_000,
      failureMs: options.ttl?.failureMs ?? 5 * 60_000,
      // An uploaded copy is never kept longer than track art.
      uploadMs: Math.min(trackMs, options.ttl?.uploadMs ?? 2 * 3_600_000),
    };
    this.#publicUrl = typeof options.publicUrl === "string" ? publicUrlFromTemplate(options.publicUrl) : options.publicUrl;
    const clock = lruClock(options.now);
    this.#keys = new LRUCache<string, string>({ max: 5000, ttl: this.#ttl.trackMs, ...clock });
    this.#failures = new LRUCache<string, true>({ max: 5000, ttl: this.#ttl.failureMs, ...clock });
    this.#uploads = new LRUCache<string, string>({ max: 5000, ttl: this.#ttl.uploadMs, ...clock });
    this.#musicBrainz = options.musicBrainzLookup === false ? null : this.#musicBrainzClient();
  }

  #musicBrainzClient(): MusicBrainzClient {
    const { musicBrainzUrl, userAgent, fetch, now, sleep, logger } = this.#options;
    return new MusicBrainzClient({
      // MusicBrainz refuses requests without a User-Agent; the service always passes its own.
      userAgent: userAgent ?? "nd-presence",
      logger,
      ...(musicBrainzUrl ? { url: musicBrainzUrl } : {}),
      ...(fetch ? { fetch } : {}),
      ...(now ? { now } : {}),
      ...(sleep ? { sleep } : {}),
      ttl: { failureMs: this.#ttl.failureMs },
    });
  }

  /**
   * The image key for `request`, registered with `user`'s token, or null when no image can be had.
   * Rejects only with PresenceError "token_invalid" (the caller treats it like close 4004); any
   * other failure is logged and leads to the next source. Concurrent resolves of the same request
   * for the same user share one promise.
   */
  resolve(user: string, request: ArtworkRequest): Promise<string | null> {
    const candidates: Candidate[] = request.kind === "url" ? [{ kind: "url", url: request.url }] : this.#trackCandidates(request.track);
    const flightKey = `${user}\n${request.kind}\n${candidates.map(candidateKey).join("\n")}`;
    const existing = this.#inFlight.get(flightKey);
    if (existing) return existing;
    // An explicit URL is registered as is; track candidates are checked to exist first.
    // Only track art falls back to the default image: a failed paused icon is just no icon.
    const isTrack = request.kind === "track";
    const promise = this.#resolve(user, candidates, isTrack).finally(() => this.#inFlight.delete(flightKey));
    this.#inFlight.set(flightKey, promise);
    return promise;
  }

  async #resolve(user: string, candidates: Candidate[], isTrack: boolean): Promise<string | null> {
    for (const candidate of candidates) {
      const key = await this.#keyOf(user, candidate, isTrack);
      if (key !== null) return key;
    }
    const fallback = isTrack ? this.#options.defaultImage : null;
    if (fallback === null) return null;
    // The default image is the operator's own choice: registered without a check, cached 48 h.
    return this.#try(user, fallback, false, this.#ttl.defaultMs);
  }

  /** One candidate's image key, or null to try the next. */
  async #keyOf(user: string, candidate: Candidate, isTrack: boolean): Promise<string | null> {
    switch (candidate.kind) {
      case "url":
        return this.#try(user, candidate.url, isTrack, this.#ttl.trackMs);
      case "upload": {
        // Our own fresh upload: no existence check; cached below the host's file lifetime.
        const url = await this.#uploaded(candidate);
        return url === null ? null : this.#try(user, url, false, this.#ttl.uploadMs);
      }
      case "musicbrainz": {
        const found = await this.#musicBrainz!.findRelease(candidate.artist, candidate.album);
        for (const url of found === null ? [] : this.#coverArtArchiveUrls(found)) {
          const key = await this.#try(user, url, true, this.#ttl.trackMs);
          if (key !== null) return key;
        }
        return null;
      }
    }
  }

  /** Candidates for a track, in the configured source order (docs/protocol.md section 2). */
  #trackCandidates(track: Track): Candidate[] {
    const candidates: Candidate[] = [];
    for (const source of this.#options.order ?? defaultArtworkOrder) {
      if (source === "coverartarchive") {
        candidates.push(...this.#coverArtArchiveCandidates(track));
      } else if (source === "upload") {
        // Lazy: an upload costs a cover download and a post, so only when the sources before failed.
        if (this.#options.upload) candidates.push({ kind: "upload", id: uploadId(track), track });
      } else {
        const url = this.#publicUrl?.(track);
        if (url) candidates.push({ kind: "url", url });
      }
    }
    return candidates;
  }

  /**
   * The Cover Art Archive by the track's release, then release-group MBID; without either, by the
   * release MusicBrainz finds for its album (looked up only when the candidates before it failed).
   */
  #coverArtArchiveCandidates(track: Track): Candidate[] {
    const { release, releaseGroup } = track.mbids ?? {};
    if (release || releaseGroup) return this.#coverArtArchiveUrls({ release, releaseGroup }).map((url) => ({ kind: "url", url }));
    // The album's own artist finds a compilation ("Various Artists") that the track's artist would not.
    const artist = track.albumArtist ?? track.artist;
    if (this.#musicBrainz === null || !track.album || !artist) return [];
    return [{ kind: "musicbrainz", artist, album: track.album }];
  }

  #coverArtArchiveUrls({ release, releaseGroup }: Partial<FoundRelease>): string[] {
    const urls: string[] = [];
    if (release) urls.push(`${this.#caa}/release/${encodeURIComponent(release)}/front-500`);
    if (releaseGroup) urls.push(`${this.#caa}/release-group/${encodeURIComponent(releaseGroup)}/front-500`);
    return urls;
  }

  /** The public URL of the uploaded cover: cached, negatively cached, one upload at a time per cover. */
  #uploaded({ id, track }: { id: string; track: Track }): Promise<string | null> {
    const cached = this.#uploads.get(id);
    if (cached !== undefined) return Promise.resolve(cached);
    const failureKey = `upload\n${id}`;
    if (this.#failures.has(failureKey)) return Promise.resolve(null);
    const existing = this.#uploadsInFlight.get(id);
    if (existing) return existing;
    const upload = this.#options.upload!;
    const promise = Promise.resolve()
      .then(() => upload(track))
      .catch((error: unknown) => {
        this.#options.logger.log("warn", "artwork upload failed", { error: errorText(error) });
        return null;
      })
      .then((url) => {
        if (url === null) this.#failures.set(failureKey, true);
        else this.#uploads.set(id, url);
        return url;
      })
      .finally(() => this.#uploadsInFlight.delete(id));
    this.#uploadsInFlight.set(id, promise);
    return promise;
  }

  /** One source URL -> its mp key, or null (logged, and negatively cached when it failed). */
  async #try(user: string, url: string, check: boolean, ttl: number): Promise<string | null> {
    if (!isSafeUrl(url)) {
      // Never send a URL with credentials to Discord (docs/protocol.md section 2). Log no part of it.
      this.#options.logger.log("warn", "artwork URL skipped: not http(s), over 256 chars, or carries credentials");
      return null;
    }
    const cached = this.#keys.get(url);
    if (cached !== undefined) return cached;
    if (this.#failures.has(url)) return null;
    const shown = urlForLog(url);
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
    const shown = urlForLog(url);
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

/**
 * A source of art to try: a URL to register (checked first when it is track art), an upload still
 * to be made, or a MusicBrainz lookup of the album whose answer gives Cover Art Archive URLs.
 */
type Candidate =
  | { kind: "url"; url: string }
  | { kind: "upload"; id: string; track: Track }
  | { kind: "musicbrainz"; artist: string; album: string };

/**
 * Names what an upload puts on the host: the server's cover (`coverArtId`, what the uploader
 * reads), shared by every track of an album, so that one upload serves them all; a host's own
 * `upload` hook may find a cover without one, per track (`trackIdentity`). Not `artworkKey`:
 * that prefers the release MBID, and two editions of a release on the server have two covers.
 */
function uploadId(track: Track): string {
  return track.coverArtId ?? trackIdentity(track);
}

/** What makes two candidate lists the same work (for sharing one resolve between callers). */
function candidateKey(candidate: Candidate): string {
  if (candidate.kind === "url") return candidate.url;
  if (candidate.kind === "upload") return `upload:${candidate.id}`;
  return `musicbrainz:${candidate.artist}\n${candidate.album}`;
}

/**
 * A `publicUrl` hook from a template such as `https://music.example.org/img/{coverArtId}?size=600`:
 * `{coverArtId}` and `{id}` are replaced by the track's values, URL-encoded. Null when a field the
 * template uses is missing (docs/protocol.md section 2: the server's own public artwork URL).
 */
export function publicUrlFromTemplate(template: string): (track: Track) => string | null {
  return (track) => {
    let missing = false;
    const url = template.replace(/\{(coverArtId|id)\}/g, (_, field: "coverArtId" | "id") => {
      const value = track[field];
      if (value === undefined || value === "") missing = true;
      return encodeURIComponent(value ?? "");
    });
    return missing ? null : url;
  };
}
