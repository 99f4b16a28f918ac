/**
 * Fakes of the HTTP services the artwork path talks to, as real `node:http` servers on loopback so
 * that the adapters are tested over the wire (headers, redirects, status codes) and not against a
 * stubbed `fetch`:
 * - `FakeDiscordRest`: gateway discovery, `users/@me` and external assets (docs/protocol.md sections
 *   1 and 2), under the API versions it is told to serve (Spacebar serves no v10: issue 17);
 * - `FakeImageHost`: a Cover Art Archive look-alike (307 to the image for known MBIDs, else 404).
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the fake received it. `path` includes the query string. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

async function shutdown(server: Server): Promise<void> {
  // fetch keeps connections alive: drop them, or close() waits for the keep-alive timeout.
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/**
 * An API version as the path writes it: `"v10"` for `/api/v10/...`, `""` for the unversioned
 * `/api/...` routes.
 */
export type ApiVersion = "v10" | "v9" | "v8" | "v7" | "v6" | "";

/** Every version Discord serves: the default, so a fake without `versions` answers as before. */
export const ALL_API_VERSIONS: readonly ApiVersion[] = ["v10", "v9", "v8", "v7", "v6", ""];

export interface FakeDiscordRestOptions {
  /** What gateway discovery answers. */
  gatewayUrl: string;
  /** Tokens taken by `users/@me` and external assets; without a list any token is taken. */
  validTokens?: string[];
  /** The versions served; any other answers 404 on every route. Spacebar: `["v9", ""]`. */
  versions?: readonly ApiVersion[];
}

/** `/api`, an optional `/v<n>`, then the route: `/api/v9/gateway` -> `v9`, `/gateway`. */
const versionedPath = /^\/api(?:\/(v\d+))?(\/.*)$/;
/** Discord's answer to a missing or refused token. */
const unauthorized = { message: "401: Unauthorized", code: 0 };
const externalAssetsRoute = /^\/applications\/([^/]+)\/external-assets$/;

/** A fake of the parts of Discord's REST API this project uses. */
export class FakeDiscordRest {
  /** Every request received, in order (also the ones answered with a scripted failure). */
  readonly requests: RecordedRequest[] = [];
  /** When true, `GET /api/<version>/gateway` answers 502. */
  gatewayDown = false;
  /** When true, external assets answer 404, as on Spacebar (issue 17). */
  externalAssetsMissing = false;
  /** Base URL, with the `/api` prefix, like Discord's apiBase. */
  readonly url: string;
  readonly #server: Server;
  readonly #gatewayUrl: string;
  readonly #validTokens: Set<string> | undefined;
  readonly #versions: ReadonlySet<string>;
  readonly #failures: Array<{ status: number; body: unknown }> = [];

  private constructor(server: Server, port: number, options: FakeDiscordRestOptions) {
    this.#server = server;
    this.url = `http://127.0.0.1:${port}/api`;
    this.#gatewayUrl = options.gatewayUrl;
    this.#validTokens = options.validTokens && new Set(options.validTokens);
    this.#versions = new Set(options.versions ?? ALL_API_VERSIONS);
  }

  static async start(options: FakeDiscordRestOptions): Promise<FakeDiscordRest> {
    // Assigned once the server listens; its handler, called later, reads it.
    // deno-lint-ignore prefer-const
    let fake: FakeDiscordRest | undefined;
    const { server, port } = await listen((req, res) => {
      fake!.#handle(req, res).catch((error: unknown) => sendJson(res, 500, { message: String(error) }));
    });
    fake = new FakeDiscordRest(server, port, options);
    return fake;
  }

  /**
   * Answer the next `times` requests (any route) with `status` and `body`. A 429 also gets a
   * `Retry-After` header taken from `body.retry_after` (seconds), as Discord sends both.
   */
  failNext(status: number, body: unknown = { message: `fake failure ${status}`, code: 0 }, times = 1): void {
    for (let i = 0; i < times; i++) this.#failures.push({ status, body });
  }

  /** The `external_asset_path` the fake answers for `url`: stable, so tests can predict keys. */
  static assetPath(url: string): string {
    const parsed = new URL(url);
    const hash = createHash("sha256").update(url).digest("hex").slice(0, 24);
    return `external/${hash}/${parsed.host}${parsed.pathname}`;
  }

  async close(): Promise<void> {
    await shutdown(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    this.requests.push({ method, path, headers: req.headers, body });

    const failure = this.#failures.shift();
    if (failure) {
      const retryAfter = (failure.body as { retry_after?: unknown } | null)?.retry_after;
      const headers: Record<string, string> = failure.status === 429 && typeof retryAfter === "number" ? { "retry-after": String(retryAfter) } : {};
      return sendJson(res, failure.status, failure.body, headers);
    }

    const route = this.#servedRoute(path.split("?")[0]!);
    if (method === "GET" && route === "/gateway") {
      // Discovery needs no auth (docs/protocol.md section 1).
      if (this.gatewayDown) return sendJson(res, 502, { message: "502: Bad Gateway", code: 0 });
      return sendJson(res, 200, { url: this.#gatewayUrl });
    }
    if (method === "GET" && route === "/users/@me") return this.#currentUser(req, res);
    const assets = route === undefined ? null : externalAssetsRoute.exec(route);
    if (method === "POST" && assets && !this.externalAssetsMissing) return this.#externalAssets(req, res, body);
    return sendJson(res, 404, { message: "404: Not Found", code: 0 });
  }

  /** The route after `/api/<version>`, or undefined when the version is not served (a 404). */
  #servedRoute(pathname: string): string | undefined {
    const match = versionedPath.exec(pathname);
    if (!match || !this.#versions.has(match[1] ?? "")) return undefined;
    return match[2];
  }

  /** The raw user token, never "Bot ..." (docs/protocol.md section 2); any token when no list was given. */
  #takesToken(req: IncomingMessage): boolean {
    const token = req.headers.authorization;
    return !!token && (this.#validTokens === undefined || this.#validTokens.has(token));
  }

  #currentUser(req: IncomingMessage, res: ServerResponse): void {
    if (!this.#takesToken(req)) return sendJson(res, 401, unauthorized);
    return sendJson(res, 200, { id: "1000000000000000001", username: "fake-user" });
  }

  #externalAssets(req: IncomingMessage, res: ServerResponse, body: string): void {
    if (!this.#takesToken(req)) return sendJson(res, 401, unauthorized);
    let urls: unknown;
    try {
      urls = (JSON.parse(body) as { urls?: unknown }).urls;
    } catch {
      return sendJson(res, 400, { message: "400: Bad Request", code: 50109 });
    }
    const valid = Array.isArray(urls) &&
      urls.length >= 1 &&
      urls.length <= 2 &&
      urls.every((u) => typeof u === "string" && u.length <= 256 && /^https?:\/\/[^/]/.test(u));
    if (!valid) return sendJson(res, 400, { message: "Invalid Form Body", code: 50035 });
    const assets = (urls as string[]).map((url) => ({ url, external_asset_path: FakeDiscordRest.assetPath(url) }));
    return sendJson(res, 200, assets);
  }
}

/**
 * A Cover Art Archive look-alike: `/release/{mbid}/front-500` and `/release-group/{mbid}/front-500`
 * answer 307 to `/img/{mbid}.jpg` (200 image/jpeg) when the MBID is in `known`, else 404.
 */
export class FakeImageHost {
  readonly requests: Array<Omit<RecordedRequest, "body">> = [];
  /** MBIDs that have art; mutable so a test can make a cover appear later. */
  readonly known: Set<string>;
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:1234`: use as `coverArtArchiveUrl`. */
  readonly url: string;
  readonly #server: Server;

  private constructor(server: Server, port: number, known: Iterable<string>) {
    this.#server = server;
    this.url = `http://127.0.0.1:${port}`;
    this.known = new Set(known);
  }

  static async start(options: { known: Iterable<string> }): Promise<FakeImageHost> {
    // Assigned once the server listens; its handler, called later, reads it.
    // deno-lint-ignore prefer-const
    let fake: FakeImageHost | undefined;
    const { server, port } = await listen((req, res) => fake!.#handle(req, res));
    fake = new FakeImageHost(server, port, options.known);
    return fake;
  }

  async close(): Promise<void> {
    await shutdown(this.#server);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    this.requests.push({ method, path, headers: req.headers });
    req.resume();
    const art = /^\/(?:release|release-group)\/([^/?]+)\/front-500$/.exec(path);
    if (art && this.known.has(decodeURIComponent(art[1]!))) {
      res.writeHead(307, { location: `/img/${art[1]}.jpg` });
      return void res.end();
    }
    const img = /^\/img\/([^/?]+)\.jpg$/.exec(path);
    if (img && this.known.has(decodeURIComponent(img[1]!))) {
      // A JPEG's SOI/EOI markers: enough bytes to look like an image.
      const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0xff, 0xd9]);
      res.writeHead(200, { "content-type": "image/jpeg", "content-length": String(bytes.length) });
      return void res.end(method === "HEAD" ? undefined : bytes);
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end(method === "HEAD" ? undefined : "Not Found");
  }
}
