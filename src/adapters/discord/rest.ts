import { isSafeUrl, MAX_IMAGE_KEY_LENGTH } from "../../actors/discord-protocol.ts";
import { errorText, PresenceError } from "../../errors.ts";
import { systemClock } from "../../clock.ts";
import type { Logger } from "../logger.ts";

export interface DiscordRestOptions {
  /** e.g. `https://discord.com/api` (no trailing slash needed). */
  apiBaseUrl: string;
  /** Sent on every request: Discord asks REST clients for one (docs/protocol.md section 1). */
  userAgent: string;
  logger: Logger;
  fetch?: typeof fetch;
  /** How to wait before a 429 retry; injectable so tests need not sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** Upper bound on a 429 wait, so one odd `retry_after` cannot stall art for minutes. Default 10 s. */
  maxRetryAfterMs?: number;
  /** Per-request timeout. Default 15 s. */
  timeoutMs?: number;
}

// Through the service's clock: a host's `maxRetryAfterMs` over 2^31 ms must not wait 1 ms instead.
const defaultSleep = (ms: number) => new Promise<void>((resolve) => systemClock.setTimeout(() => resolve(), ms));

/**
 * The API version paths asked, in order: Discord's current one, the one Spacebar (a
 * Discord-compatible server) still serves, then the unversioned routes that Navicord and
 * Navidrome's plugin call (issue 17: Spacebar answers 404 on everything under `/api/v10`).
 */
const apiVersions = ["/v10", "/v9", ""] as const;
type ApiVersion = (typeof apiVersions)[number];

/**
 * Statuses that say "this version of the route is not here" rather than "this server is broken":
 * discovery then asks the next version. A 5xx, a network error or a bad body fails at once.
 */
const versionMissingStatuses = new Set([400, 401, 404, 405]);

/** What `checkToken` concludes: only a 401 says "invalid"; anything inconclusive is "unknown". */
export type TokenCheck = "valid" | "invalid" | "unknown";

/**
 * The Discord REST calls of nd-presence: gateway discovery, the token check and external-asset
 * registration. Never puts the token or the Authorization header in an error or a log entry.
 */
export class DiscordRest {
  readonly #apiBase: string;
  readonly #userAgent: string;
  readonly #logger: Logger;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #maxRetryAfterMs: number;
  readonly #timeoutMs: number;
  #gatewayUrl: string | undefined;
  #discovery: Promise<string> | undefined;
  /** The version path that last answered 200 (discovery or the token check): asked first next time. */
  #apiVersion: ApiVersion | undefined;

  constructor(options: DiscordRestOptions) {
    this.#apiBase = options.apiBaseUrl.replace(/\/+$/, "");
    this.#userAgent = options.userAgent;
    this.#logger = options.logger;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#sleep = options.sleep ?? defaultSleep;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  /**
   * The gateway URL (`wss://...`) from `GET {apiBase}/v10/gateway`, else `/v9/gateway`, else
   * `/gateway` when a version is missing (404, 401, 400, 405: see `apiVersions`). Cached:
   * docs/protocol.md section 1 says "cache it; re-fetch only after a failed connect", so pass
   * `refresh: true` only then; a refresh asks the version that answered last time first.
   * Concurrent calls share one request. Rejects with PresenceError "gateway_discovery".
   */
  discoverGateway(refresh = false): Promise<string> {
    if (this.#discovery) return this.#discovery;
    if (!refresh && this.#gatewayUrl !== undefined) return Promise.resolve(this.#gatewayUrl);
    const discovery = this.#fetchGateway().finally(() => {
      if (this.#discovery === discovery) this.#discovery = undefined;
    });
    this.#discovery = discovery;
    return discovery;
  }

  async #fetchGateway(): Promise<string> {
    const tried: string[] = [];
    for (const version of this.#versionsToTry()) {
      const path = `${version}/gateway`;
      const url = `${this.#apiBase}${path}`;
      let response: Response;
      try {
        // No Authorization: discovery needs no auth (docs/protocol.md section 1).
        response = await this.#get(url);
      } catch (error) {
        throw new PresenceError("gateway_discovery", `Gateway discovery failed: cannot reach ${url}`, { cause: error });
      }
      const body = await readJson(response);
      if (versionMissingStatuses.has(response.status)) {
        tried.push(`${path}: HTTP ${response.status}`);
        continue;
      }
      if (!response.ok) throw new PresenceError("gateway_discovery", `Gateway discovery failed: HTTP ${response.status} from ${url}`);
      const gateway = (body as { url?: unknown } | undefined)?.url;
      if (typeof gateway !== "string" || !isWebSocketUrl(gateway)) {
        throw new PresenceError("gateway_discovery", `Gateway discovery failed: ${url} did not answer a ws:// or wss:// URL`);
      }
      this.#gatewayUrl = gateway;
      this.#apiVersion = version;
      this.#logger.log("debug", "gateway discovered", { gateway, path });
      return gateway;
    }
    throw new PresenceError("gateway_discovery", `Gateway discovery failed: no gateway route at ${this.#apiBase} (tried ${tried.join(", ")})`);
  }

  /**
   * Whether Discord (or a compatible server) takes `token`: `GET {apiBase}/<version>/users/@me`
   * with the raw token. 200 -> "valid", 401 -> "invalid", anything else (network, timeout, 5xx,
   * 429, another status) -> "unknown". Never rejects.
   *
   * Asked after three gateway closes in a row with no READY, to tell a bad token on a server that
   * does not close with 4004 (Spacebar closes with 4000, issue 17) from a server that is just
   * unwell. Uses the version discovery found; before any discovery (a configured gateway URL) it
   * walks the same v10 -> v9 -> unversioned order on 404. The token goes in the Authorization
   * header only: never in a URL, a log line or an error.
   */
  async checkToken(token: string): Promise<TokenCheck> {
    // A 401 from a version not known to be served may only mean "no such version here" (as
    // discovery reads it): then every version must say 401 before the token is called invalid.
    const served = this.#apiVersion;
    let refused = false;
    for (const version of this.#versionsToTry()) {
      const path = `${version}/users/@me`;
      let response: Response;
      try {
        response = await this.#get(`${this.#apiBase}${path}`, token);
      } catch (error) {
        // fetch's own error: it never carries request headers.
        this.#logger.log("debug", "token check inconclusive", { path, error: errorText(error) });
        return "unknown";
      }
      await readJson(response); // drain the body so the connection can be reused
      if (response.status === 404) continue;
      if (response.status === 401 && version !== served) {
        refused = true;
        continue;
      }
      const result = tokenCheckOf(response.status);
      // Only a 200 proves the version is served: a server may check the token before it routes.
      if (result === "valid") this.#apiVersion = version;
      this.#logger.log("debug", "token checked", { path, status: response.status, result });
      return result;
    }
    if (refused) {
      this.#logger.log("debug", "token checked", { status: 401, result: "invalid", versions: "every one answered 401 or 404" });
      return "invalid";
    }
    this.#logger.log("debug", "token check inconclusive", { error: "no users/@me route answered" });
    return "unknown";
  }

  /** Every API version, the one that answered last time first. */
  #versionsToTry(): ApiVersion[] {
    const known = this.#apiVersion;
    return known === undefined ? [...apiVersions] : [known, ...apiVersions.filter((v) => v !== known)];
  }

  /** A GET with the User-Agent (docs/protocol.md section 1) and the request timeout; the raw token when given. */
  #get(url: string, token?: string): Promise<Response> {
    const headers: Record<string, string> = { "User-Agent": this.#userAgent };
    if (token !== undefined) headers.Authorization = token;
    return this.#fetch(url, { headers, signal: AbortSignal.timeout(this.#timeoutMs) });
  }

  /**
   * Registers 1-2 image URLs as external assets of `applicationId` (docs/protocol.md section 2) and
   * returns their image keys (`"mp:" + external_asset_path`) in the order of `urls`.
   * Rejects with PresenceError "token_invalid" on 401 (treat like close 4004), and
   * "external_assets" for anything else (bad URL, network, other status, a second 429).
   */
  async registerExternalAssets(token: string, applicationId: string, urls: string[]): Promise<string[]> {
    if (urls.length < 1 || urls.length > 2) throw new PresenceError("external_assets", `External assets take 1 or 2 URLs, got ${urls.length}`);
    // Defence in depth: the caller should already have refused these (docs/protocol.md section 2).
    if (!urls.every(isSafeUrl)) {
      throw new PresenceError("external_assets", "Refused to register an image URL that is not http(s), is over 256 chars or carries credentials");
    }
    const endpoint = `${this.#apiBase}/v9/applications/${encodeURIComponent(applicationId)}/external-assets`;
    let response = await this.#post(endpoint, token, urls);
    if (response.status === 429) {
      // Honour 429 retry_after (docs/protocol.md section 2), capped, then retry once.
      const waitMs = retryAfterMs(await readJson(response), response.headers, this.#maxRetryAfterMs);
      this.#logger.log("warn", "external assets rate limited, retrying once", { waitMs });
      await this.#sleep(waitMs);
      response = await this.#post(endpoint, token, urls);
    }
    const body = await readJson(response);
    if (response.status === 401) {
      // 401 = invalid token, treat like close 4004 (docs/protocol.md section 2). No token in the message.
      throw new PresenceError("token_invalid", "Discord rejected the user token (HTTP 401 on external assets): set a new token");
    }
    if (!response.ok) throw new PresenceError("external_assets", `Registering external assets failed: HTTP ${response.status}`);
    return urls.map((url, index) => imageKey(body, url, index));
  }

  async #post(endpoint: string, token: string, urls: string[]): Promise<Response> {
    try {
      return await this.#fetch(endpoint, {
        method: "POST",
        // The raw user token, no "Bot " prefix (docs/protocol.md section 2).
        headers: { Authorization: token, "Content-Type": "application/json", "User-Agent": this.#userAgent },
        body: JSON.stringify({ urls }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      // `cause` is fetch's own error: it never carries request headers.
      throw new PresenceError("external_assets", "Registering external assets failed: Discord unreachable", { cause: error });
    }
  }
}

/** Only 401 says the token is refused; 403 may be a missing scope or a blocked route, not a bad token. */
function tokenCheckOf(status: number): TokenCheck {
  if (status === 200) return "valid";
  if (status === 401) return "invalid";
  return "unknown";
}

function isWebSocketUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === "ws:" || protocol === "wss:";
  } catch {
    return false;
  }
}

/** The body as JSON, or undefined (an HTML error page from a proxy is not an exception here). */
async function readJson(response: Response): Promise<unknown> {
  try {
    return JSON.parse(await response.text()) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * `retry_after` (seconds) from the body, else the `Retry-After` header, else 1 s; capped at `capMs`
 * (10 s unless the host says otherwise). The server chooses this number: one that says 1e12 s
 * waits the cap, not years and not 1 ms; one that is negative or no number at all waits 1 s. The
 * cap can be short because the wait is retried once only and art is optional: a track already
 * shows without it after artworkWaitMs.
 */
function retryAfterMs(body: unknown, headers: Headers, capMs: number): number {
  const fromBody = (body as { retry_after?: unknown } | undefined)?.retry_after;
  const seconds = typeof fromBody === "number" ? fromBody : Number(headers.get("retry-after") ?? "1");
  const ms = Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : 1000;
  return Math.min(ms, capMs);
}

/** The image key Discord answered for `url`; keys are limited to 313 chars (docs/protocol.md section 1). */
function imageKey(body: unknown, url: string, index: number): string {
  const assets = Array.isArray(body) ? (body as Array<{ url?: unknown; external_asset_path?: unknown }>) : [];
  // Match by URL; fall back to position in case Discord normalised the URL.
  const asset = assets.find((a) => a?.url === url) ?? assets[index];
  const path = asset?.external_asset_path;
  if (typeof path !== "string" || path === "" || path.length + "mp:".length > MAX_IMAGE_KEY_LENGTH) {
    throw new PresenceError("external_assets", "Registering external assets failed: unexpected response from Discord");
  }
  return `mp:${path}`;
}
