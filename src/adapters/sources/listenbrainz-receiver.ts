import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PlaybackEventInput } from "../../actors/events.ts";
import type { Track } from "../../actors/track.ts";
import { errorText } from "../../errors.ts";
import { send } from "../http/server.ts";
import type { Logger } from "../logger.ts";
import { ignoredPlayer } from "./ignored-players.ts";
import { trackLengthMs } from "./track-length.ts";
import { compact, isRecord } from "../../actors/objects.ts";

export interface ListenBrainzReceiverOptions {
  /** The configured user whose `listenbrainzToken` this is (see `tokenLookup`). */
  userForToken(token: string): string | undefined;
  /** `users[].ignorePlayers` as configured: players whose plays must not reach Discord (see `ignoredPlayer`). */
  ignorePlayers(user: string): readonly string[];
  /** The service's `dispatch`: the receiver's only output besides forwarding. */
  dispatch(event: PlaybackEventInput): void;
  /** e.g. `https://api.listenbrainz.org`: accepted submissions are re-sent there. */
  forwardUrl?: string | null;
  /** Default 1 MiB: a playing_now is well under 2 KB, so this only guards memory. */
  maxBodyBytes?: number;
  /** Default 10 s. */
  forwardTimeoutMs?: number;
  userAgent: string;
  fetch?: typeof fetch;
  logger: Logger;
}

/**
 * The receiver's health and counters, as `/status`, `/metrics` and the status page show them. A type
 * alias, not an interface, so that it is assignable to `SourceStatus` (which has an index signature).
 */
export type ListenBrainzReceiverStatus = {
  name: "listenbrainz";
  /** False while the latest forward failed: the user's real scrobbles are being lost. */
  ok: boolean;
  /** `single` and `import` listens accepted (not requests: an import carries many). */
  listens: number;
  nowPlaying: number;
  /** Requests refused (401, 400, 413) or broken off by the client. */
  errors: number;
  lastError: string | null;
  forwarded: number;
  forwardErrors: number;
};

/** A validated submission: its type and, for each listen, the track and the player names it gave. */
export interface Submission {
  listenType: "playing_now" | "single" | "import";
  listens: Array<{ track: Track; players: string[] }>;
}

const listenTypes = new Set(["playing_now", "single", "import"]);
const text = (value: unknown): string | undefined => (typeof value === "string" && value.trim() !== "" ? value : undefined);
const count = (value: unknown): number | undefined => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined);

/**
 * Parses and validates a `submit-listens` body (docs/protocol.md section 3). Returns the problem, naming
 * the field, or the submission. Optional `additional_info` fields of the wrong type are ignored rather
 * than refused: clients disagree about them, and refusing would lose a forwarded scrobble.
 */
export function parseSubmission(body: string): Submission | { error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (error) {
    return { error: `body is not valid JSON: ${(error as Error).message}` };
  }
  if (!isRecord(doc)) return { error: "body must be a JSON object" };
  if (typeof doc.listen_type !== "string" || !listenTypes.has(doc.listen_type)) {
    return { error: "listen_type must be one of playing_now, single, import" };
  }
  const listenType = doc.listen_type as Submission["listenType"];
  if (!Array.isArray(doc.payload) || doc.payload.length === 0) return { error: "payload must be a non-empty array" };
  if (listenType === "playing_now" && doc.payload.length !== 1) return { error: "payload must contain exactly one listen for playing_now" };
  const listens: Submission["listens"] = [];
  for (const [index, listen] of doc.payload.entries()) {
    const at = `payload[${index}]`;
    if (!isRecord(listen)) return { error: `${at} must be an object` };
    if (listen.listened_at !== undefined && count(listen.listened_at) === undefined) return { error: `${at}.listened_at must be a unix time in seconds` };
    const meta = listen.track_metadata;
    if (meta === undefined) return { error: `${at}.track_metadata is missing` };
    if (!isRecord(meta)) return { error: `${at}.track_metadata must be an object` };
    for (const field of ["artist_name", "track_name"] as const) {
      if (meta[field] === undefined) return { error: `${at}.track_metadata.${field} is missing` };
      if (!text(meta[field])) return { error: `${at}.track_metadata.${field} must be a non-empty string` };
    }
    if (meta.release_name !== undefined && typeof meta.release_name !== "string") return { error: `${at}.track_metadata.release_name must be a string` };
    if (meta.additional_info !== undefined && !isRecord(meta.additional_info)) return { error: `${at}.track_metadata.additional_info must be an object` };
    listens.push(toTrack(meta));
  }
  return { listenType, listens };
}

/** ListenBrainz's track_metadata -> the domain Track, with only the fields that are present. */
function toTrack(meta: Record<string, unknown>): Submission["listens"][number] {
  const info = (meta.additional_info ?? {}) as Record<string, unknown>;
  // An absurd length in one field is no length: the other field may still have a sane one.
  const durationMs = trackLengthMs(info.duration_ms, 1) ?? trackLengthMs(info.duration, 1000);
  // Navidrome sends one entry per artist, "" for an artist without an MBID.
  const artists = Array.isArray(info.artist_mbids) ? info.artist_mbids.filter((id): id is string => !!text(id)) : [];
  const mbids = compact({
    recording: text(info.recording_mbid),
    release: text(info.release_mbid),
    releaseGroup: text(info.release_group_mbid),
    artists: artists.length > 0 ? artists : undefined,
  });
  const track: Track = compact({
    title: meta.track_name as string,
    artist: meta.artist_name as string,
    album: text(meta.release_name),
    durationMs,
    mbids: Object.keys(mbids).length > 0 ? mbids : undefined,
  });
  const players = [text(info.media_player), text(info.submission_client)].filter((name): name is string => !!name);
  return { track, players };
}

/**
 * Finds the user of a ListenBrainz token by comparing digests in constant time, so that response
 * timing tells nothing about a token. Users without a `listenbrainzToken` never match.
 */
export function tokenLookup(users: readonly { username: string; listenbrainzToken?: string }[]): (token: string) => string | undefined {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  const known = users.filter((u) => u.listenbrainzToken).map((u) => ({ user: u.username, hash: digest(u.listenbrainzToken!) }));
  return (token) => {
    const hash = digest(token);
    let found: string | undefined;
    for (const entry of known) if (timingSafeEqual(entry.hash, hash) && found === undefined) found = entry.user;
    return found;
  };
}

/**
 * The ListenBrainz-compatible receiver (docs/protocol.md section 3): `GET /1/validate-token` and
 * `POST /1/submit-listens`. A `playing_now` becomes `playback.playing` for the token's user;
 * `single` and `import` are counted and change nothing. With `forwardUrl`, accepted submissions are
 * also sent on, so that users keep their real scrobbles. Tokens are never logged.
 */
export class ListenBrainzReceiver {
  private readonly counters = { listens: 0, nowPlaying: 0, errors: 0, forwarded: 0, forwardErrors: 0 };
  private lastError: string | null = null;
  private lastForwardFailed = false;
  private forwardError: string | null = null;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: ListenBrainzReceiverOptions) {}

  /** Answers the request if the path is the receiver's; false (nothing written) otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? "/").split("?")[0]!.replace(/(.)\/+$/, "$1");
    if (path === "/1/validate-token") {
      if (req.method !== "GET" && req.method !== "HEAD") this.reply(res, 405, { code: 405, error: "use GET" }, { allow: "GET, HEAD" });
      else this.validate(req, res);
      return true;
    }
    if (path !== "/1/submit-listens") return false;
    if (req.method !== "POST") this.reply(res, 405, { code: 405, error: "use POST" }, { allow: "POST" });
    else await this.submit(req, res);
    return true;
  }

  status(): ListenBrainzReceiverStatus {
    return { name: "listenbrainz", ok: !this.lastForwardFailed, ...this.counters, lastError: this.lastError };
  }

  /** Resolves when every forward under way has ended (for tests and a clean shutdown). */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private validate(req: IncomingMessage, res: ServerResponse): void {
    const user = this.userOf(req);
    if (user) return this.reply(res, 200, { code: 200, message: "Token valid.", valid: true, user_name: user });
    this.problem(undefined, "validate-token: unknown or missing token");
    this.reply(res, 401, { code: 401, message: "Invalid authorization token.", valid: false });
  }

  private async submit(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const user = this.userOf(req);
    if (!user) return this.refuse(res, 401, "Invalid authorization token.", undefined, "submit-listens: unknown or missing token");
    const limit = this.options.maxBodyBytes ?? 1_048_576;
    const tooLarge = `body over ${limit} bytes`;
    if (Number(req.headers["content-length"] ?? 0) > limit) return this.refuse(res, 413, tooLarge, user);
    const body = await readBody(req, limit);
    if (body === "too-large") return this.refuse(res, 413, tooLarge, user);
    if (body === "aborted") return void this.problem(user, "the client broke off the request");
    const parsed = parseSubmission(body.toString("utf8"));
    if ("error" in parsed) return this.refuse(res, 400, parsed.error, user);

    if (parsed.listenType === "playing_now") {
      this.counters.nowPlaying += 1;
      const { track, players } = parsed.listens[0]!;
      const player = ignoredPlayer(this.options.ignorePlayers(user), players);
      if (player) this.options.logger.log("debug", "listenbrainz: playing_now from an ignored player", { user, player });
      else this.options.dispatch({ type: "playback.playing", user, track, positionMs: 0 });
    } else {
      this.counters.listens += parsed.listens.length;
    }
    this.reply(res, 200, { status: "ok" });
    // After answering: the submitting server must not wait on, or fail because of, ListenBrainz.
    if (this.options.forwardUrl) this.track(this.forward(user, req, body));
  }

  private async forward(user: string, req: IncomingMessage, body: Buffer): Promise<void> {
    const base = this.options.forwardUrl!.replace(/\/+$/, "").replace(/\/1$/, ""); // accept Navidrome-style ".../1/"
    const doFetch = this.options.fetch ?? fetch;
    try {
      const response = await doFetch(`${base}/1/submit-listens`, {
        method: "POST",
        headers: { authorization: String(req.headers.authorization), "content-type": "application/json", "user-agent": this.options.userAgent },
        body: new Uint8Array(body),
        signal: AbortSignal.timeout(this.options.forwardTimeoutMs ?? 10_000),
      });
      await response.arrayBuffer().catch(() => undefined); // frees the connection
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.counters.forwarded += 1;
      // Forwarding works again: its failure is no longer the receiver's last word.
      if (this.lastForwardFailed && this.lastError === this.forwardError) this.lastError = null;
      this.lastForwardFailed = false;
    } catch (error) {
      this.counters.forwardErrors += 1;
      this.lastForwardFailed = true;
      const reason = (error as Error).name === "TimeoutError" ? "timed out" : errorText(error);
      this.lastError = this.forwardError = `${user}: forwarding to ${base} failed: ${reason}`;
      this.options.logger.log("warn", "listenbrainz: forwarding failed", { user, url: base, reason });
    }
  }

  private track(work: Promise<void>): void {
    const done: Promise<void> = work.finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  /** The user of the `Authorization: Token <token>` header, if the token is known. */
  private userOf(req: IncomingMessage): string | undefined {
    const match = /^\s*token\s+(\S+)\s*$/i.exec(String(req.headers.authorization ?? ""));
    return match ? this.options.userForToken(match[1]!) : undefined;
  }

  private refuse(res: ServerResponse, code: number, message: string, user?: string, what = message): void {
    this.problem(user, what);
    // On 401 and 413 the body was not read, and may still be arriving: close rather than read the rest.
    this.reply(res, code, { code, error: message }, code === 400 ? {} : { connection: "close" });
  }

  private problem(user: string | undefined, what: string): void {
    this.counters.errors += 1;
    this.lastError = user ? `${user}: ${what}` : what;
    this.options.logger.log("warn", "listenbrainz: request refused", { ...(user ? { user } : {}), problem: what });
  }

  private reply(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
    // ListenBrainz answers bare JSON, with no line feed after it.
    send(res, code, "application/json; charset=utf-8", JSON.stringify(body), headers);
  }
}

/** The request body, or why there is none. Stops reading as soon as the limit is passed. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too-large" | "aborted"> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: Buffer | "too-large" | "aborted") => {
      req.off("data", onData).off("end", onEnd).off("error", onAbort).off("close", onAbort);
      if (result === "too-large") req.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer) => ((size += chunk.length) > limit ? finish("too-large") : chunks.push(chunk));
    const onEnd = () => finish(Buffer.concat(chunks));
    const onAbort = () => finish("aborted");
    req.on("data", onData).on("end", onEnd).on("error", onAbort).on("close", onAbort);
  });
}
