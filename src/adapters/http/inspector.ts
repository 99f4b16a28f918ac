import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createInspector, type StatelyInspectionEvent } from "@statelyai/inspect";
import { type WebSocket, WebSocketServer } from "ws";
import type { InspectionEvent, Observer } from "xstate";
import { errorText } from "../../errors.ts";
import { type Logger, scrubberFor, type SecretScrubber } from "../logger.ts";

export interface InspectorOptions {
  /** The relay's port (the config's `inspector.port`, default 4535); 0 picks a free one. */
  port: number;
  /** Loopback only: the stream shows who listens to what. */
  host?: "127.0.0.1";
  logger: Logger;
  /** Known secrets (tokens, passwords): scrubbed from every event before it leaves the process. */
  secrets?: () => Iterable<string>;
}

/** A running inspector relay, or a no-op one when the relay could not start. */
export interface Inspector {
  /** Pass to `createActor` (or `createPresenceService`) as `inspect`. */
  inspect: Observer<InspectionEvent>;
  /** The page that shows the actors in Stately's inspector (`http://127.0.0.1:4535/`); "" when off. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a relay that streams the actor system to the Stately inspector: open `url` in a browser
 * and the page (Stately's inspector in a frame) shows the supervisor and each user's machine live.
 * Events are converted by @statelyai/inspect's `createInspector`, then serialised and scrubbed of
 * every known secret; only that text leaves the process. Viewers connect by WebSocket to the same
 * address and send nothing: each gets the live actors and the recent events, then every new one.
 *
 * Why not @statelyai/inspect's own `createInspectorServer`: it listens on every interface, cannot
 * report a busy port other than as an uncaught exception, and cannot use port 0. This relay speaks
 * the same protocol (JSON inspection events, one per WebSocket message) on loopback only.
 *
 * If the port is taken, the error is logged and a no-op inspector is returned: the service runs on.
 *
 * @example
 * const inspector = await startInspector({ port: 4535, logger, secrets: () => configSecrets(config) });
 * const service = createPresenceService({ config, inspect: inspector.inspect });
 * // ... later
 * await inspector.stop();
 */
export async function startInspector(options: InspectorOptions): Promise<Inspector> {
  const host = options.host ?? "127.0.0.1";
  const { logger } = options;
  const relay = createRelay();
  const server = createServer((req, res) => servePage(req, res));
  // A WebSocket is not bound by CORS: without this, any web page open in the user's browser could
  // read the stream. Non-browser clients send no Origin.
  const allowedOrigins = new Set<string>();
  const sockets = new WebSocketServer({
    server,
    perMessageDeflate: false,
    verifyClient: ({ origin }: { origin?: string }) => !origin || allowedOrigins.has(origin),
  });
  sockets.on("connection", (ws) => relay.welcome(ws));
  sockets.on("error", () => {}); // the server's own listener (below) logs it

  let port: number;
  try {
    port = await listen(server, options.port, host);
  } catch (error) {
    sockets.close();
    logger.log("error", `inspector: cannot listen on ${host}:${options.port} (${errorText(error)}); running without it`);
    return { inspect: { next() {} }, url: "", async stop() {} };
  }
  server.on("error", (error) => logger.log("error", "inspector: server error", { error: errorText(error) }));
  for (const name of [host, "localhost"]) allowedOrigins.add(`http://${name}:${port}`);

  const scrubber = scrubberFor(options.secrets ?? (() => []));
  let open = true;
  const inspector = createInspector({
    send(event: StatelyInspectionEvent) {
      if (!open) return;
      const text = scrubbedJson(event, scrubber());
      if (text !== null) relay.publish(text, event);
    },
  });

  return {
    inspect: {
      next(event) {
        // Inspection must never break the actor system it watches.
        try {
          inspector.inspect.next?.(event);
        } catch (error) {
          logger.log("warn", "inspector: event dropped", { error: errorText(error) });
        }
      },
    },
    url: `http://${host}:${port}/`,
    async stop() {
      if (!open) return;
      // @statelyai/inspect converts events on a zero-delay timer: let those already queued (the
      // machines' last steps) reach the viewers before they are let go.
      await new Promise((resolve) => setTimeout(resolve, 0));
      open = false;
      for (const client of sockets.clients) client.close(1001, "nd-presence is stopping");
      // A viewer that does not answer the close would hold the server open for ws's 30 s timeout.
      const stragglers = setTimeout(() => sockets.clients.forEach((client) => client.terminate()), 1_000);
      sockets.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      clearTimeout(stragglers);
    },
  };
}

/** The inspector's fan-out: remembers enough for a viewer who connects late to see every live actor. */
function createRelay() {
  const recentLimit = 200;
  const actorLimit = 100;
  const recent: string[] = [];
  // Per live actor: its registration and latest snapshot, kept past the `recent` window, since a
  // viewer cannot show snapshots of an actor it was never told about.
  const actors = new Map<string, { registration: string; snapshot?: string }>();
  const viewers = new Set<WebSocket>();

  return {
    publish(text: string, event: StatelyInspectionEvent) {
      if (event.type === "@xstate.actor") {
        actors.set(event.sessionId, { registration: text });
        if (actors.size > actorLimit) actors.delete(actors.keys().next().value!);
      } else if (event.type === "@xstate.snapshot") {
        const actor = actors.get(event.sessionId);
        if (actor && event.snapshot.status === "active") actor.snapshot = text;
        else actors.delete(event.sessionId); // stopped, done or failed: nothing left to show
      }
      recent.push(text);
      if (recent.length > recentLimit) recent.shift();
      for (const viewer of viewers) viewer.send(text);
    },
    welcome(ws: WebSocket) {
      // Registrations first, then latest snapshots older than the window, then the window in order:
      // every actor is known before its events, and ends in its latest state.
      const inWindow = new Set(recent);
      for (const { registration } of actors.values()) if (!inWindow.has(registration)) ws.send(registration);
      for (const { snapshot } of actors.values()) if (snapshot && !inWindow.has(snapshot)) ws.send(snapshot);
      for (const text of recent) ws.send(text);
      viewers.add(ws);
      // Viewers only listen: whatever they send is ignored, so no one can inject into others' views.
      ws.on("close", () => viewers.delete(ws));
      ws.on("error", () => viewers.delete(ws));
    },
  };
}

/**
 * The event as JSON with every occurrence of a secret, in any form, replaced in its keys and values,
 * as the logger scrubs its data; or null when it cannot be serialised or still holds a secret
 * anywhere (a number that happens to hold a numeric password's digits: dropped, not sent).
 */
function scrubbedJson(event: unknown, scrubber: SecretScrubber): string | null {
  try {
    const text = scrubber.scrubJson(plainJson(event));
    return scrubber.foundIn(text) ? null : text;
  } catch {
    return null;
  }
}

/** JSON.stringify that survives cycles and very deep values (snapshots hold actor references). */
function plainJson(value: unknown, maxDepth = 16): string {
  const ancestors: unknown[] = [];
  return JSON.stringify(value, function (this: unknown, _key, item: unknown) {
    if (typeof item === "bigint") return String(item);
    if (typeof item !== "object" || item === null) return item;
    while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop();
    if (ancestors.includes(item)) return "[Circular]";
    if (ancestors.length >= maxDepth) return "[Object]";
    ancestors.push(item);
    return item;
  });
}

function listen(server: ReturnType<typeof createServer>, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function servePage(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0];
  if (path !== "/" || (req.method !== "GET" && req.method !== "HEAD")) {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    return;
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(bridgePage);
}

/**
 * Stately's inspector in a frame, fed from this relay. Same handshake as @statelyai/inspect's own
 * bridge: the frame announces `@statelyai.connected`; events are held until then, and posted only to
 * the origin that announced itself.
 */
const bridgePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nd-presence: Stately inspector</title>
<style>html, body, iframe { margin: 0; width: 100%; height: 100%; border: 0; display: block; }</style>
</head>
<body>
<iframe id="inspector" src="https://stately.ai/inspect" title="Stately inspector"></iframe>
<script>
  const frame = document.getElementById("inspector");
  const held = [];
  let target = null;
  addEventListener("message", (e) => {
    if (e.source !== frame.contentWindow || !e.data || e.data.type !== "@statelyai.connected") return;
    target = e.origin;
    for (const event of held.splice(0)) frame.contentWindow.postMessage(event, target);
  });
  const socket = new WebSocket("ws://" + location.host + "/");
  socket.onmessage = (e) => {
    const event = JSON.parse(e.data);
    if (target) frame.contentWindow.postMessage(event, target);
    else held.push(event);
  };
</script>
</body>
</html>
`;
