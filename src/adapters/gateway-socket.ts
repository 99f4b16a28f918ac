import { Buffer } from "node:buffer";
import WebSocket from "ws";
import type { OutgoingFrame } from "../actors/effects.ts";
import type { GatewayEvent } from "../actors/events.ts";
import type { Logger } from "./logger.ts";
import { errorText } from "../errors.ts";
import { HandshakeGate } from "./handshake-gate.ts";

/** A gateway event before the service stamps it with `at`. */
export type GatewayEventInput = GatewayEvent extends infer E
  ? E extends { at: number }
    ? Omit<E, "at">
    : never
  : never;

/** The part of a gateway event that a frame determines (everything but user, socket and at). */
export type GatewayFrameEvent = GatewayEventInput extends infer E
  ? E extends { user: string; socket: number }
    ? Omit<E, "user" | "socket">
    : never
  : never;

export interface GatewaySocketsOptions {
  /** Sent on the WebSocket upgrade (PROTOCOL.md: User-Agent). */
  userAgent: string;
  /** The adapter alone sees tokens: it inserts them into identify and resume. */
  tokenFor(user: string): string | undefined;
  /** Where translated events go (the service's dispatch). */
  deliver(event: GatewayEventInput): void;
  logger: Logger;
  /** Handshakes under way at once (see `DEFAULT_HANDSHAKE_LIMIT`); later sockets wait their turn. */
  handshakeLimit?: number;
}

interface Entry {
  user: string;
  socket: number;
  /** Null while the socket waits for a handshake slot: nothing has been sent to the network yet. */
  ws: WebSocket | null;
  /** Its traffic, from the moment its WebSocket exists until its 'close' (see `gatewayTraffic`). */
  wire?: Wire;
  /** False once the socket was replaced: nothing more is delivered for it. */
  current: boolean;
  closedDelivered: boolean;
  lastError?: string;
}

/** How long closeAll waits for close handshakes before terminating. */
const CLOSE_ALL_WAIT_MS = 1000;

/**
 * What this process's gateway sockets have under way with one gateway host. Read-only
 * observability for tests: their I/O barrier (test/fakes/io-barrier.ts) waits until the fake
 * gateway has seen the same counts. Process-wide and by host because the service builds its
 * GatewaySockets itself, so a test cannot reach the instance.
 */
export interface GatewayTraffic {
  /** Upgrades under way: sockets created, neither open nor closed yet. */
  connecting: number;
  /** Sockets open, no close started by either side as far as they know. */
  open: number;
  /** Sockets whose close handshake is under way ('close' not fired yet). */
  closing: number;
  /** Frames written on the sockets not closed yet. */
  sent: number;
  /** Frames those sockets received and handled (delivered, or ignored and logged). */
  received: number;
}

/** One socket's traffic. Its counts leave the totals at its 'close': nothing more can come of them. */
interface Wire {
  host: string;
  ws: WebSocket;
  sent: number;
  received: number;
}

/** Every socket of this process that has a WebSocket and has not closed yet. */
const wires = new Set<Wire>();

/** The traffic of this process's gateway sockets with `host` (`127.0.0.1:1234`); all 0 when there is none. */
export function gatewayTraffic(host: string): GatewayTraffic {
  const traffic: GatewayTraffic = { connecting: 0, open: 0, closing: 0, sent: 0, received: 0 };
  for (const wire of wires) {
    if (wire.host !== host) continue;
    const state = wire.ws.readyState;
    if (state === WebSocket.CONNECTING) traffic.connecting += 1;
    else if (state === WebSocket.OPEN) traffic.open += 1;
    else traffic.closing += 1;
    traffic.sent += wire.sent;
    traffic.received += wire.received;
  }
  return traffic;
}

/**
 * The Discord gateway socket adapter: carries out the presence machines' socket effects and turns
 * incoming frames into gateway events. One socket per user at a time, named by the machine's number.
 */
export class GatewaySockets {
  private readonly current = new Map<string, Entry>();
  /** Every socket whose 'close' has not fired yet, current or replaced. */
  private readonly live = new Set<Entry>();
  private readonly handshakes: HandshakeGate<Entry>;

  constructor(private readonly options: GatewaySocketsOptions) {
    this.handshakes = new HandshakeGate(options.handshakeLimit);
  }

  /** Sockets not closed yet (waiting for a handshake slot, connecting, open or closing), including replaced ones. */
  get openCount(): number {
    return this.live.size;
  }

  /** Handshakes under way (opened, no READY or RESUMED yet), and sockets waiting to start theirs. */
  get handshakeCounts(): { running: number; waiting: number } {
    return this.handshakes.counts;
  }

  /**
   * Opens `url` (it already carries `?v=10&encoding=json`), replacing the user's previous socket
   * silently: at once, or when a handshake slot frees. The machine's Hello timeout covers the wait.
   */
  open(user: string, socket: number, url: string): void {
    const previous = this.current.get(user);
    if (previous) {
      previous.current = false;
      this.current.delete(user);
      this.shut(previous, 4000, "replaced");
    }
    const entry: Entry = { user, socket, ws: null, current: true, closedDelivered: false };
    this.current.set(user, entry);
    this.live.add(entry);
    this.handshakes.enter(entry, () => this.connect(entry, url));
  }

  private connect(entry: Entry, url: string): void {
    const { user, socket } = entry;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, { headers: { "User-Agent": this.options.userAgent }, perMessageDeflate: false });
    } catch (error) {
      const reason = errorText(error);
      this.options.logger.log("warn", "gateway socket could not be created", { user, socket, reason });
      queueMicrotask(() => this.ended(entry, 1006, reason));
      return;
    }
    entry.ws = ws;
    entry.wire = { host: new URL(url).host, ws, sent: 0, received: 0 };
    wires.add(entry.wire);
    ws.on("open", () => this.options.logger.log("debug", "gateway socket open", { user, socket }));
    ws.on("message", (data, isBinary) => this.guard(entry, "message", () => this.onMessage(entry, data, isBinary)));
    ws.on("error", (error) => this.guard(entry, "error", () => this.onError(entry, error)));
    ws.on("close", (code, reason) => this.guard(entry, "close", () => this.ended(entry, code, reason.toString("utf8"))));
  }

  /** Sends `frame` as JSON; identify and resume get the user's token as the first key of `d`. */
  send(user: string, socket: number, frame: OutgoingFrame): void {
    const entry = this.current.get(user);
    if (!entry || entry.socket !== socket || entry.ws?.readyState !== WebSocket.OPEN) {
      this.options.logger.log("debug", "gateway frame dropped: socket not open", { user, socket, op: frame.op });
      return;
    }
    let text: string;
    if (frame.op === 2 || frame.op === 6) {
      const token = this.options.tokenFor(user);
      if (token === undefined) {
        this.options.logger.log("error", "gateway frame dropped: no token for user", { user, socket, op: frame.op });
        return;
      }
      text = JSON.stringify({ op: frame.op, d: { token, ...frame.d } });
    } else {
      text = JSON.stringify(frame);
    }
    const bytes = Buffer.byteLength(text);
    if (bytes > 4096) this.options.logger.log("warn", "gateway frame exceeds 4096 bytes", { user, socket, op: frame.op, bytes });
    entry.wire!.sent += 1;
    entry.ws.send(text, (error) => {
      if (error) this.options.logger.log("warn", "gateway send failed", { user, socket, op: frame.op, reason: error.message });
    });
  }

  /** Closes the user's socket `socket` with `code`; a socket still connecting is terminated. */
  close(user: string, socket: number, code: number, reason: string): void {
    const entry = this.current.get(user);
    if (!entry || entry.socket !== socket) {
      this.options.logger.log("debug", "gateway close ignored: not the current socket", { user, socket });
      return;
    }
    this.shut(entry, code, reason);
  }

  /** Closes the user's socket, whichever it is, without delivering its close event (the machine is gone). */
  closeUser(user: string, code: number, reason: string): void {
    const entry = this.current.get(user);
    if (!entry) return;
    entry.current = false;
    this.current.delete(user);
    this.shut(entry, code, reason);
  }

  /** Closes every socket (for shutdown); resolves once all are closed, terminating stragglers after ~1 s. */
  async closeAll(code: number, reason: string): Promise<void> {
    const entries = [...this.live];
    const closed = entries.map(({ ws }) =>
      !ws || ws.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise<void>((resolve) => ws.once("close", () => resolve())),
    );
    for (const entry of entries) this.shut(entry, code, reason);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bounded = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), CLOSE_ALL_WAIT_MS);
    });
    const outcome = await Promise.race([Promise.all(closed), bounded]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      for (const entry of entries) entry.ws?.terminate();
      await Promise.all(closed);
    }
  }

  private shut(entry: Entry, code: number, reason: string): void {
    const { ws } = entry;
    if (!ws) {
      // It never got a slot: it ends here, as a socket closed while connecting would (1006).
      this.handshakes.leave(entry);
      queueMicrotask(() => this.ended(entry, 1006, "closed before connecting"));
    } else if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
    } else if (ws.readyState === WebSocket.OPEN) {
      try {
        ws.close(code, reason);
      } catch (error) {
        // An invalid code or a reason over 123 bytes: still make sure the socket goes away.
        this.options.logger.log("error", "gateway close failed; terminating", { user: entry.user, socket: entry.socket, code, reason: errorText(error) });
        ws.terminate();
      }
    }
  }

  private onMessage(entry: Entry, data: WebSocket.RawData, isBinary: boolean): void {
    entry.wire!.received += 1;
    if (!entry.current) return;
    const text = isBinary ? undefined : rawToString(data);
    const result = text === undefined ? { problem: "binary frame" } : translateFrame(text);
    if ("problem" in result) {
      this.options.logger.log("warn", `gateway frame ignored: ${result.problem}`, {
        user: entry.user,
        socket: entry.socket,
        ...(result.op === undefined ? {} : { op: result.op }),
      });
      return;
    }
    // The session is up: the next waiting socket may start its handshake.
    if (result.type === "gateway.ready" || result.type === "gateway.resumed") this.handshakes.leave(entry);
    this.safeDeliver({ ...result, user: entry.user, socket: entry.socket } as GatewayEventInput);
  }

  private onError(entry: Entry, error: Error): void {
    entry.lastError = error.message;
    this.options.logger.log("debug", "gateway socket error", { user: entry.user, socket: entry.socket, reason: error.message });
  }

  /** The socket is gone (closed, or never created): its slot frees, and its machine hears of it once. */
  private ended(entry: Entry, code: number, closeReason: string): void {
    if (entry.wire) wires.delete(entry.wire);
    this.handshakes.leave(entry);
    this.live.delete(entry);
    if (this.current.get(entry.user) === entry) this.current.delete(entry.user);
    if (!entry.current || entry.closedDelivered) return;
    entry.current = false;
    entry.closedDelivered = true;
    const reason = closeReason || (code === 1006 ? entry.lastError ?? "" : "");
    this.options.logger.log("info", "gateway socket closed", { user: entry.user, socket: entry.socket, code, reason });
    this.safeDeliver({ type: "gateway.closed", user: entry.user, socket: entry.socket, code, reason });
  }

  private safeDeliver(event: GatewayEventInput): void {
    try {
      this.options.deliver(event);
    } catch (error) {
      this.options.logger.log("error", "gateway event delivery failed", { user: event.user, socket: event.socket, type: event.type, reason: errorText(error) });
    }
  }

  /** Never let an exception escape a ws callback. */
  private guard(entry: Entry, what: string, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.options.logger.log("error", `gateway socket ${what} handler failed`, { user: entry.user, socket: entry.socket, reason: errorText(error) });
    }
  }
}

/**
 * Translates one text frame into the event it stands for, or names the problem (with the opcode when
 * there is one) so the caller can log it without the frame's content.
 */
export function translateFrame(text: string): GatewayFrameEvent | { problem: string; op?: unknown } {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return { problem: "invalid JSON" };
  }
  if (typeof message !== "object" || message === null || Array.isArray(message)) return { problem: "not an object" };
  const { op, d, s, t } = message as { op?: unknown; d?: unknown; s?: unknown; t?: unknown };
  if (typeof op !== "number") return { problem: "missing or non-numeric op", op: typeof op === "string" ? op.slice(0, 32) : typeof op };
  const seq = typeof s === "number" ? s : null;
  const data = typeof d === "object" && d !== null ? (d as Record<string, unknown>) : {};
  switch (op) {
    case 0:
      if (t === "READY") {
        const user = typeof data.user === "object" && data.user !== null ? (data.user as Record<string, unknown>) : {};
        return {
          type: "gateway.ready",
          seq,
          sessionId: stringOrUndefined(data.session_id),
          resumeUrl: stringOrUndefined(data.resume_gateway_url),
          userId: stringOrUndefined(user.id),
        };
      }
      if (t === "RESUMED") return { type: "gateway.resumed", seq };
      if (typeof t !== "string") return { problem: "dispatch without a name", op };
      return { type: "gateway.dispatch", seq, name: t };
    case 1:
      return { type: "gateway.heartbeatRequest" };
    case 7:
      return { type: "gateway.reconnect" };
    case 9:
      return { type: "gateway.invalidSession", resumable: d === true };
    case 10: {
      const interval = data.heartbeat_interval;
      if (typeof interval !== "number" || !Number.isFinite(interval) || interval <= 0) return { problem: "hello without a valid heartbeat_interval", op };
      return { type: "gateway.hello", heartbeatIntervalMs: interval };
    }
    case 11:
      return { type: "gateway.heartbeatAck" };
    default:
      return { problem: "unknown opcode", op };
  }
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(data).toString("utf8");
}
