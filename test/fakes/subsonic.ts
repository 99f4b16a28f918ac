/**
 * A fake Subsonic server (Navidrome flavour) as a real `node:http` server on loopback, speaking the
 * real JSON of docs/protocol.md section 3: token or legacy `enc:` password auth, `getNowPlaying` with its
 * quirks, errors as HTTP 200 `status:"failed"`, `getAlbum` (OpenSubsonic's album `musicBrainzId`)
 * and `getCoverArt` bytes.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** An entry as Navidrome sends it (Child fields + now-playing fields + OpenSubsonic playback report). */
export interface RawNowPlayingEntry {
  id: string;
  title: string;
  artist: string;
  album: string;
  albumArtist?: string;
  duration: number;
  track?: number;
  coverArt?: string;
  musicBrainzId?: string;
  username: string;
  minutesAgo: number;
  playerId: number | string;
  playerName: string;
  state?: string;
  positionMs?: number;
  playbackRate?: number;
  [field: string]: unknown;
}

/** An album as getAlbum answers it (its songs left out). `musicBrainzId` is OpenSubsonic's release MBID. */
export interface RawAlbum {
  name: string;
  musicBrainzId?: string;
  [field: string]: unknown;
}

export interface FakeSubsonicOptions {
  username: string;
  password: string;
  /** false: token auth is refused with `tokenAuthError` (default 41); `p=enc:` is accepted. */
  tokenAuth: boolean;
  tokenAuthError?: 10 | 41;
  /** Adds Navidrome's OpenSubsonic envelope fields (type, serverVersion, openSubsonic). Default true. */
  opensubsonic?: boolean;
  /** The API version the server answers. Default "1.16.1". */
  apiVersion?: string;
  /** coverArt id -> image bytes (served as image/jpeg). */
  covers?: Record<string, Uint8Array>;
  /** album id -> what getAlbum answers; any other id is error 70. */
  albums?: Record<string, RawAlbum>;
}

export interface SubsonicRequest {
  path: string;
  query: Record<string, string>;
  /** The raw request target, query included, to check that no secret travels in it. */
  raw: string;
}

export type SubsonicFailure = "http500" | "garbage" | "failedStatus";

export class FakeSubsonic {
  readonly requests: SubsonicRequest[] = [];
  /** Base URL, e.g. `http://127.0.0.1:1234`. */
  readonly url: string;
  quirk: "emptyObject" | "singleObject" | null = null;
  /** When true, every connection is destroyed before an answer (server down). */
  down = false;
  /** Delays every answer by this many real ms (to hold a poll in flight). */
  delayMs = 0;
  readonly covers: Map<string, Uint8Array>;
  readonly albums: Map<string, RawAlbum>;
  readonly #server: Server;
  readonly #options: FakeSubsonicOptions;
  readonly #failures: Array<{ kind: SubsonicFailure; endpoint: string | undefined }> = [];
  #entries: RawNowPlayingEntry[] = [];

  private constructor(server: Server, port: number, options: FakeSubsonicOptions) {
    this.#server = server;
    this.url = `http://127.0.0.1:${port}`;
    this.#options = options;
    this.covers = new Map(Object.entries(options.covers ?? {}));
    this.albums = new Map(Object.entries(options.albums ?? {}));
  }

  static async start(options: FakeSubsonicOptions): Promise<FakeSubsonic> {
    // Assigned once the server listens; its handler, called later, reads it.
    // deno-lint-ignore prefer-const
    let fake: FakeSubsonic | undefined;
    const server = createServer((req, res) => fake!.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    fake = new FakeSubsonic(server, (server.address() as AddressInfo).port, options);
    return fake;
  }

  /** What getNowPlaying answers from now on. */
  setNowPlaying(entries: RawNowPlayingEntry[]): void {
    this.#entries = entries.map((entry) => ({ ...entry }));
  }

  /** The next request (any route, or only `endpoint`, e.g. "getAlbum") fails this way. */
  failNext(kind: SubsonicFailure, times = 1, endpoint?: string): void {
    for (let i = 0; i < times; i++) this.#failures.push({ kind, endpoint });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? "/";
    const parsed = new URL(target, this.url);
    this.requests.push({ path: parsed.pathname, query: Object.fromEntries(parsed.searchParams), raw: target });
    req.resume();
    if (this.down) return void req.socket.destroy();
    const answer = () => this.#answer(parsed, res);
    if (this.delayMs > 0) setTimeout(answer, this.delayMs);
    else answer();
  }

  #answer(url: URL, res: ServerResponse): void {
    const endpoint = url.pathname.replace(/\.view$/, "");
    const index = this.#failures.findIndex((f) => f.endpoint === undefined || `/rest/${f.endpoint}` === endpoint);
    const failure = index < 0 ? undefined : this.#failures.splice(index, 1)[0]!.kind;
    if (failure === "http500") {
      res.writeHead(500, { "content-type": "text/plain" });
      return void res.end("Internal Server Error");
    }
    if (failure === "garbage") {
      res.writeHead(200, { "content-type": "text/html" });
      return void res.end("<html><body>Bad Gateway</body></html>");
    }
    if (failure === "failedStatus") return this.#error(res, 0, "A generic error");
    const authError = this.#checkAuth(url.searchParams);
    if (authError) return this.#error(res, authError.code, authError.message);

    if (endpoint === "/rest/ping") return this.#ok(res, {});
    if (endpoint === "/rest/getNowPlaying") return this.#ok(res, { nowPlaying: this.#nowPlaying() });
    if (endpoint === "/rest/getAlbum") {
      const id = url.searchParams.get("id") ?? "";
      const album = this.albums.get(id);
      if (!album) return this.#error(res, 70, "Album not found");
      return this.#ok(res, { album: { id, songCount: 0, ...album, song: [] } });
    }
    if (endpoint === "/rest/getCoverArt") {
      const bytes = this.covers.get(url.searchParams.get("id") ?? "");
      if (!bytes) return this.#error(res, 70, "Artwork not found");
      res.writeHead(200, { "content-type": "image/jpeg", "content-length": String(bytes.length) });
      return void res.end(Buffer.from(bytes));
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("404 page not found");
  }

  #nowPlaying(): unknown {
    if (this.#entries.length === 0) return {};
    if (this.quirk === "emptyObject") return {};
    if (this.quirk === "singleObject") return { entry: this.#entries[0] };
    return { entry: this.#entries };
  }

  /** Subsonic auth: error 10 (missing parameter), 40 (wrong credentials), 41 (no token auth). */
  #checkAuth(query: URLSearchParams): { code: number; message: string } | null {
    const { username, password } = this.#options;
    const [u, t, s, p] = ["u", "t", "s", "p"].map((name) => query.get(name));
    if (!u || !query.get("v") || !query.get("c")) return { code: 10, message: "Required parameter is missing" };
    if (t && s) {
      if (!this.#options.tokenAuth) {
        const code = this.#options.tokenAuthError ?? 41;
        return code === 41 ? { code, message: "Token authentication not supported" } : { code, message: "Required parameter is missing" };
      }
      const expected = createHash("md5").update(password + s, "utf8").digest("hex");
      return u === username && t === expected ? null : { code: 40, message: "Wrong username or password" };
    }
    if (p) {
      const given = p.startsWith("enc:") ? Buffer.from(p.slice(4), "hex").toString("utf8") : p;
      return u === username && given === password ? null : { code: 40, message: "Wrong username or password" };
    }
    return { code: 10, message: "Required parameter is missing" };
  }

  #envelope(status: "ok" | "failed"): Record<string, unknown> {
    const base: Record<string, unknown> = { status, version: this.#options.apiVersion ?? "1.16.1" };
    if (this.#options.opensubsonic !== false) Object.assign(base, { type: "navidrome", serverVersion: "0.55.0", openSubsonic: true });
    return base;
  }

  #ok(res: ServerResponse, body: Record<string, unknown>): void {
    this.#send(res, { ...this.#envelope("ok"), ...body });
  }

  /** Errors are HTTP 200 with status "failed" (docs/protocol.md section 3). */
  #error(res: ServerResponse, code: number, message: string): void {
    this.#send(res, { ...this.#envelope("failed"), error: { code, message } });
  }

  #send(res: ServerResponse, envelope: Record<string, unknown>): void {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ "subsonic-response": envelope }));
  }
}
