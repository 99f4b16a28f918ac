import { createHash, randomBytes } from "node:crypto";
import type { Track } from "../../actors/track.ts";
import { errorText, PresenceError } from "../../errors.ts";
import type { Logger } from "../logger.ts";
import { trackLengthMs } from "./track-length.ts";
import { compact, isRecord } from "../../actors/objects.ts";

export interface SubsonicClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:4533` (a trailing `/rest` is tolerated). */
  url: string;
  username: string;
  /** A secret: it only ever leaves the process as md5(password + salt), or hex-encoded for legacy servers. */
  password: string;
  /** The `c` parameter. Default "nd-presence". */
  clientName?: string;
  userAgent?: string;
  fetch?: typeof fetch;
  logger: Logger;
  /** Salt source (at least 6 chars). Default: 8 random bytes as hex, a new salt per request. */
  random?: () => string;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
}

/** "token": `t`/`s` (API 1.13+); "password": `p=enc:<hex>` for servers that refuse token auth. */
export type SubsonicAuthMode = "token" | "password";

/** One `nowPlaying.entry`, normalised (docs/protocol.md section 3). */
export interface NowPlayingEntry {
  username: string;
  minutesAgo: number;
  playerId?: string;
  playerName?: string;
  track: Track;
  /** The song's album (its `albumId`), to ask `getAlbum` for the album's release MBID. */
  albumId?: string;
  /** OpenSubsonic playback report (Navidrome 0.62+), when the server sends it. */
  state?: "playing" | "paused";
  positionMs?: number;
  playbackRate?: number;
}

/** A Subsonic failure. `serverCode` is the Subsonic error code when the server answered one. */
export class SubsonicError extends PresenceError {
  readonly serverCode: number | null;
  constructor(code: string, message: string, serverCode: number | null = null) {
    super(code, message);
    this.name = "SubsonicError";
    this.serverCode = serverCode;
  }
}

type Envelope = Record<string, unknown>;
type Exchange = { kind: "json"; envelope: Envelope } | { kind: "binary"; bytes: Uint8Array; contentType: string };

const apiVersion = "1.16.1";

/**
 * A minimal Subsonic API client (docs/protocol.md section 3): token auth, the legacy password fallback
 * only when the server says token auth is unsupported, and the JSON quirks of getNowPlaying.
 * Never logs a request URL and never puts the password, a token or a salt in an error message.
 */
export class SubsonicClient {
  readonly #base: string;
  readonly #options: SubsonicClientOptions;
  readonly #fetch: typeof fetch;
  readonly #random: () => string;
  #mode: SubsonicAuthMode = "token";

  constructor(options: SubsonicClientOptions) {
    this.#options = options;
    this.#base = options.url.replace(/\/+$/, "").replace(/\/rest$/, "");
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#random = options.random ?? (() => hex(randomBytes(8)));
  }

  /** The auth scheme in use: "token" until the server refused it once, then "password" for good. */
  get authMode(): SubsonicAuthMode {
    return this.#mode;
  }

  /** Every user's now-playing entries. Rejects with a SubsonicError (a PresenceError). */
  async getNowPlaying(): Promise<NowPlayingEntry[]> {
    const result = await this.#exchange("getNowPlaying", {}, false);
    if (result.kind !== "json") throw new SubsonicError("subsonic_invalid_response", "Subsonic getNowPlaying: unexpected binary answer");
    const nowPlaying = result.envelope.nowPlaying;
    // Quirks: `nowPlaying: {}` (or missing) when nothing plays; `entry` may be one object, not an array.
    const raw = isRecord(nowPlaying) ? nowPlaying.entry : undefined;
    const list = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw];
    return list.map(toEntry).filter((entry): entry is NowPlayingEntry => entry !== null);
  }

  /**
   * The release MBID of album `id` (OpenSubsonic's `album.musicBrainzId` from getAlbum), or undefined
   * when the server has none (a plain Subsonic server never has). Rejects with a SubsonicError.
   */
  async getAlbumReleaseMbid(id: string, options: { timeoutMs?: number } = {}): Promise<string | undefined> {
    const result = await this.#exchange("getAlbum", { id }, false, options.timeoutMs);
    if (result.kind !== "json") throw new SubsonicError("subsonic_invalid_response", "Subsonic getAlbum: unexpected binary answer");
    const album = result.envelope.album;
    return isRecord(album) ? text(album.musicBrainzId) : undefined;
  }

  /** The cover image bytes for `id` (a `coverArt` value). Never hand out the URL: it carries credentials. */
  async getCoverArt(id: string, size?: number): Promise<{ bytes: Uint8Array; contentType: string }> {
    const params: Record<string, string> = { id };
    if (size !== undefined) params.size = String(size);
    const result = await this.#exchange("getCoverArt", params, true);
    if (result.kind !== "binary") throw new SubsonicError("subsonic_invalid_response", "Subsonic getCoverArt: answered JSON instead of an image");
    return { bytes: result.bytes, contentType: result.contentType };
  }

  async #exchange(endpoint: string, params: Record<string, string>, binary: boolean, timeoutMs = this.#options.timeoutMs ?? 10_000): Promise<Exchange> {
    const mode = this.#mode;
    const { url, secrets } = this.#url(endpoint, params, mode);
    const what = `Subsonic ${endpoint}`;
    let response: Response;
    try {
      response = await this.#fetch(url, {
        headers: this.#options.userAgent ? { "User-Agent": this.#options.userAgent } : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      // No `cause`: Deno's fetch errors quote the full URL, query (t, s, p) included.
      throw new SubsonicError("subsonic_unreachable", `${what} failed: ${scrub(errorText(error), secrets)}`);
    }
    const contentType = response.headers.get("content-type") ?? "";
    if (binary && response.ok && !/json|xml/i.test(contentType)) {
      return { kind: "binary", bytes: new Uint8Array(await response.arrayBuffer()), contentType: contentType || "application/octet-stream" };
    }
    const text = await response.text().catch(() => "");
    const envelope = parseEnvelope(text);
    const error = envelope?.status === "failed" && isRecord(envelope.error) ? envelope.error : undefined;
    if (error) {
      const code = typeof error.code === "number" ? error.code : Number(error.code);
      if (mode === "token" && tokenAuthUnsupported(code, envelope?.version)) {
        // docs/protocol.md section 3: fall back only when the server says so, and say it in the log
        // (once, even when several requests were refused at the same time).
        if (this.#mode === "token") {
          this.#mode = "password";
          this.#options.logger.log("warn", "server does not support token auth; falling back to password auth", { path: `/rest/${endpoint}`, code });
        }
        return this.#exchange(endpoint, params, binary, timeoutMs);
      }
      const message = typeof error.message === "string" ? scrub(error.message, secrets) : "no message";
      throw new SubsonicError("subsonic_error", `${what}: server error ${code} (${message})`, Number.isFinite(code) ? code : null);
    }
    if (!response.ok) throw new SubsonicError("subsonic_http", `${what}: HTTP ${response.status}`);
    // Errors come back as HTTP 200 with status "failed" (docs/protocol.md section 3); anything but "ok" is wrong.
    if (envelope?.status !== "ok") throw new SubsonicError("subsonic_invalid_response", `${what}: not a Subsonic JSON response`);
    return { kind: "json", envelope };
  }

  /** The request URL and the values that must never show up in a message for it. */
  #url(endpoint: string, params: Record<string, string>, mode: SubsonicAuthMode): { url: string; secrets: string[] } {
    const { username, password } = this.#options;
    const url = new URL(`${this.#base}/rest/${endpoint}`);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    url.searchParams.set("u", username);
    const hexPassword = hex(new TextEncoder().encode(password));
    const secrets = [password, hexPassword];
    if (mode === "token") {
      const salt = this.#random();
      const token = createHash("md5").update(password + salt, "utf8").digest("hex");
      url.searchParams.set("t", token);
      url.searchParams.set("s", salt);
      secrets.push(token, salt);
    } else {
      url.searchParams.set("p", `enc:${hexPassword}`);
    }
    url.searchParams.set("v", apiVersion);
    url.searchParams.set("c", this.#options.clientName ?? "nd-presence");
    url.searchParams.set("f", "json");
    return { url: url.toString(), secrets };
  }
}

/**
 * Error 41 is "token authentication not supported". Error 10 ("required parameter missing") means
 * the same only from a server older than API 1.13, which does not know `t`/`s` (docs/protocol.md section 3).
 */
function tokenAuthUnsupported(code: number, version: unknown): boolean {
  if (code === 41) return true;
  if (code !== 10 || typeof version !== "string") return false;
  const [major = 0, minor = 0] = version.split(".").map((part) => Number.parseInt(part, 10));
  return major < 1 || (major === 1 && minor < 13);
}

function parseEnvelope(text: string): Envelope | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    const envelope = isRecord(body) ? body["subsonic-response"] : undefined;
    return isRecord(envelope) ? envelope : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Field names confirmed in Navidrome's `responses.NowPlayingEntry` (Child + username, minutesAgo,
 * playerId (an int), playerName, state, positionMs, playbackRate) and the OpenSubsonic docs.
 * `albumArtist` is not a Child field: assumed, with OpenSubsonic's `displayAlbumArtist` as fallback.
 * `musicBrainzId` of a song is its recording MBID; the release MBID is not in the entry, but its
 * album's is (getAlbum), so the entry keeps the song's `albumId`.
 */
function toEntry(raw: unknown): NowPlayingEntry | null {
  if (!isRecord(raw)) return null;
  const username = text(raw.username);
  const title = text(raw.title);
  if (username === undefined || title === undefined) return null;
  const recording = text(raw.musicBrainzId);
  const track: Track = compact({
    id: text(raw.id),
    title,
    artist: text(raw.artist) ?? text(raw.displayArtist) ?? "",
    album: text(raw.album),
    albumArtist: text(raw.albumArtist) ?? text(raw.displayAlbumArtist),
    durationMs: trackLengthMs(num(raw.duration), 1000), // Subsonic's duration is in seconds
    coverArtId: text(raw.coverArt),
    mbids: recording ? { recording } : undefined,
  });
  // "starting" (buffering) counts as playing; any other value (e.g. "" from a server that has no
  // report for this entry) means no report, and then positionMs/playbackRate mean nothing either.
  const state: NowPlayingEntry["state"] = raw.state === "playing" || raw.state === "starting" ? "playing" : raw.state === "paused" ? "paused" : undefined;
  const position = num(raw.positionMs);
  const rate = num(raw.playbackRate);
  const playerId = raw.playerId === undefined || raw.playerId === null ? undefined : String(raw.playerId);
  return compact<NowPlayingEntry>({
    username,
    minutesAgo: Math.max(0, num(raw.minutesAgo) ?? 0),
    playerId: playerId === "" ? undefined : playerId,
    playerName: text(raw.playerName),
    track,
    albumId: text(raw.albumId),
    state,
    positionMs: state && position !== undefined && position >= 0 ? Math.round(position) : undefined,
    playbackRate: state && rate !== undefined && rate > 0 ? rate : undefined,
  });
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : typeof value === "number" ? String(value) : undefined;
}

/** Numbers, also as numeric strings (some servers' JSON is converted from XML attributes). */
function num(value: unknown): number | undefined {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** Drops undefined fields, so events stay small and compare cleanly once journaled. */

/** Removes query strings (they carry t, s, p) and any known secret from a message. */
function scrub(message: string, secrets: string[]): string {
  let out = message.replace(/\?[^\s)'"]*/g, "");
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
  return out;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
