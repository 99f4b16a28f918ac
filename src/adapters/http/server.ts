import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ServiceStatus } from "../../service/status.ts";
import type { ListenBrainzReceiver } from "../sources/listenbrainz-receiver.ts";
import type { Logger } from "../logger.ts";
import { renderMetrics, type SourceStatus } from "./metrics.ts";
import { renderStatusPage } from "./status-page.ts";
import { errorText } from "../../errors.ts";

export interface HttpServerOptions {
  /** Default `127.0.0.1`: the status is not secret, but it is nobody else's business. */
  host?: string;
  /** Default 4534; 0 picks a free port (see `listen()`'s result). */
  port?: number;
  status: () => ServiceStatus;
  sources: () => SourceStatus[];
  /** The journal's size for `/metrics`; null or absent leaves the metric out. */
  journalBytes?: () => number | null;
  /** Inputs journaled since the last checkpoint, for `/metrics`; null or absent leaves it out. */
  entriesSinceCheckpoint?: () => number | null;
  /** Serves `/1/validate-token` and `/1/submit-listens` when set. */
  receiver?: ListenBrainzReceiver | null;
  /** Should be a redacting logger (see `redactingLogger`): errors are logged as they come. */
  logger: Logger;
  /**
   * Serves `POST /reload` when set: re-reads the config and answers with the outcome (`nd-presence
   * start` gives the same as SIGHUP). Only from this machine: see `mayReload`.
   */
  reload?: () => Promise<{ status: number; body: unknown }>;
  /** Why every request is answered 503 for now (the service is starting), or null. */
  unavailable?: () => string | null;
  /** The time the status page shows progress against. Default `Date.now`. */
  now?: () => number;
  /**
   * How long a client has to send a whole request (headers and body), in ms; a slower one gets
   * 408. Default 60 s: Navidrome sends a listen in milliseconds, and a client that trickles bytes
   * must not hold a connection for Node's default of five minutes.
   */
  requestTimeoutMs?: number;
}

export interface HttpServer {
  /** Starts listening; resolves with the port (the chosen one when `port` is 0). */
  listen(): Promise<number>;
  /** Stops listening and drops open (keep-alive) connections. */
  close(): Promise<void>;
}

/** Top-level machine states in which a user is, or is getting, what they asked for. */
const healthyStates = new Set(["idle", "disabled", "disconnected", "ready", "presenting", "clearing", "stopped"]);

/**
 * Why `/healthz` is not 200: each user whose machine is not where it should be (connecting,
 * backoff, failed, ...: docs/protocol.md's "not READY"), each source that is not ok, or a stopped
 * service. A state this code does not know is reported too, rather than hidden.
 */
export function healthReasons(status: ServiceStatus, sources: SourceStatus[]): string[] {
  const reasons: string[] = [];
  if (!status.running) reasons.push("service: not running");
  if (!status.journal.writable) reasons.push(`journal: cannot be written (${status.journal.lastError ?? "unknown error"})`);
  for (const user of status.users) {
    if (healthyStates.has(user.state.split(".")[0]!)) continue;
    const why = user.failure ?? user.lastError;
    reasons.push(`${user.user}: ${user.state}${why ? ` (${why})` : ""}`);
  }
  for (const source of sources) if (!source.ok) reasons.push(`source ${source.name}: ${source.lastError ?? "not ok"}`);
  return reasons;
}

/** `host:port`, an IPv6 host in brackets: how a URL or a message names where the server listens. */
export function hostAndPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Whether a peer address is this machine's loopback (127.0.0.0/8 or ::1, also as IPv4-mapped IPv6). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
  return v4.startsWith("127.") || address === "::1";
}

/**
 * Why a reload request is refused, or null. Only a client on this machine may ask (the address
 * may be 0.0.0.0 in a container, where the status is meant to be read from outside), and not a web
 * page: a browser's cross-site POST carries an `Origin`, a curl or a script does not.
 */
export function mayReload(req: IncomingMessage): string | null {
  if (!isLoopback(req.socket.remoteAddress)) return "reload is only taken from this machine (loopback); send the process SIGHUP instead";
  if (req.headers.origin !== undefined) return "reload is not taken from a web page";
  return null;
}

type Route = (req: IncomingMessage, res: ServerResponse) => void;

/** A response with the headers every response of this server carries (the receiver's too). */
export function send(res: ServerResponse, code: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff", ...headers });
  res.end(body);
}

const json = (res: ServerResponse, code: number, body: unknown, headers?: Record<string, string>) =>
  send(res, code, "application/json; charset=utf-8", `${JSON.stringify(body)}\n`, headers);

/**
 * The service's HTTP server (docs/architecture.md, "Service contract"): the status page `/`, `/status` (JSON),
 * `/healthz`, `/metrics` (Prometheus text 0.0.4) and, when given, the ListenBrainz receiver. A
 * failing handler answers 500 and is logged; it never takes the server down.
 *
 * @example
 * const http = createHttpServer({ port: 4534, status: () => service.status(), sources: () => [receiver.status()], receiver, logger });
 * const port = await http.listen();
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { logger } = options;
  const now = options.now ?? Date.now;

  const routes: Record<string, Route> = {
    "/": (_, res) =>
      send(res, 200, "text/html; charset=utf-8", renderStatusPage(options.status(), options.sources(), now()), {
        // The page needs nothing but its own inline CSS; say so, so that nothing else can ever run.
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      }),
    "/status": (_, res) => json(res, 200, { ...options.status(), sources: options.sources() }),
    "/healthz": (_, res) => {
      const reasons = healthReasons(options.status(), options.sources());
      if (reasons.length === 0) json(res, 200, { ok: true });
      else json(res, 503, { ok: false, reasons });
    },
    "/metrics": (_, res) => {
      const journalBytes = options.journalBytes?.() ?? null;
      const entriesSinceCheckpoint = options.entriesSinceCheckpoint?.() ?? null;
      send(
        res,
        200,
        "text/plain; version=0.0.4; charset=utf-8",
        renderMetrics({ status: options.status(), sources: options.sources(), journalBytes, entriesSinceCheckpoint }),
      );
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const unavailable = options.unavailable?.();
    if (unavailable) {
      req.resume();
      return json(res, 503, { error: unavailable }, { "retry-after": "1" });
    }
    if (options.receiver && (await options.receiver.handle(req, res))) return;
    const path = (req.url ?? "/").split("?")[0]!;
    if (path === "/reload" && options.reload) {
      if (req.method !== "POST") return json(res, 405, { error: `method ${req.method} not allowed` }, { allow: "POST" });
      const refused = mayReload(req);
      if (refused) return json(res, 403, { error: refused });
      req.resume(); // the body, if any, means nothing: the config is read from its file
      const outcome = await options.reload();
      return json(res, outcome.status, outcome.body);
    }
    const route = routes[path];
    if (!route) return json(res, 404, { error: `not found: ${path}` });
    if (req.method !== "GET" && req.method !== "HEAD") return json(res, 405, { error: `method ${req.method} not allowed` }, { allow: "GET, HEAD" });
    route(req, res);
  }

  const requestTimeout = options.requestTimeoutMs ?? 60_000;
  const timeouts = {
    requestTimeout,
    headersTimeout: Math.min(requestTimeout, 60_000),
    // How often Node looks for requests past their time: often enough to answer near the limit.
    connectionsCheckingInterval: Math.max(10, Math.min(30_000, requestTimeout / 4)),
  };
  const server = createServer(timeouts, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.log("error", "http: request failed", { method: req.method, path: (req.url ?? "").split("?")[0], error: errorText(error) });
      if (!res.headersSent) json(res, 500, { error: "internal error" });
      else res.destroy(); // a half-sent answer cannot be repaired; the client sees a broken response
    });
  });
  // A client that misbehaves at the socket level must not crash the server. One that was too slow
  // is told so (408: it may retry); anything else it sent could not be parsed (400).
  server.on("clientError", (error: Error & { code?: string }, socket) => {
    const status = error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
    else socket.destroy();
  });

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once("error", onError);
        server.listen(options.port ?? 4534, options.host ?? "127.0.0.1", () => {
          server.off("error", onError);
          server.on("error", (error) => logger.log("error", "http: server error", { error: errorText(error) }));
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        // Keep-alive connections would hold `close` open for seconds; not every runtime has this.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
