import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Buffer } from "node:buffer";
import WebSocket, { WebSocketServer } from "ws";
import { DIALECTS, isObject, keysOutsideCore, MAX_FRAME_BYTES, OTHER_CLIENT_OPS, RATE_LIMIT, RATE_WINDOW_MS, readyData } from "./gateway-protocol.ts";
import type { CloseInfo, DialectRules, FakeConnection, FakeGatewayOptions, GatewayDialect, ReceivedFrame } from "./gateway-protocol.ts";
import { withTimeout } from "./wait.ts";

export type { CloseInfo, FakeConnection, FakeGatewayOptions, GatewayDialect, ReceivedFrame, SentFrame } from "./gateway-protocol.ts";
export { CORE_ACTIVITY_KEYS, keysOutsideCore } from "./gateway-protocol.ts";

interface Live {
  ws: WebSocket;
  /** When the frames of the rate window came in (the 120 per 60 s limit). */
  received: number[];
  closing: boolean;
  /** Frames sent and received on this connection, ignored ones included (see `traffic`). */
  framesOut: number;
  framesIn: number;
}

/** What the fake has under way with its clients; an I/O barrier compares it with the client's side. */
export interface FakeTraffic {
  /** Connections accepted, no close started by either side as far as the fake knows. */
  open: number;
  /** Connections whose close handshake is under way ('close' not fired yet). */
  closing: number;
  /** Frames sent on the connections not closed yet. */
  sent: number;
  /** Frames received on those connections, ignored ones included. */
  received: number;
}

interface Session {
  token: string | undefined;
  seq: number;
}

/**
 * A scriptable fake Discord gateway: a real `ws` server on 127.0.0.1 (random port) that speaks the
 * gateway protocol (docs/protocol.md section 1), enforces Discord's limits, and records everything.
 * Script controls act on the latest connection unless a connection index is given. The `dialect`
 * option plays Spacebar's gateway instead (issue 17; see DIALECTS in gateway-protocol.ts).
 */
export class FakeGateway {
  readonly frames: ReceivedFrame[] = [];
  readonly connections: FakeConnection[] = [];
  heartbeatIntervalMs: number;
  autoHello: boolean;
  autoReady: boolean;
  autoAck: boolean;
  autoResume: boolean;
  ackPayload: null | Record<string, never>;
  validTokens: string[] | undefined;
  readonly dialect: GatewayDialect;
  readonly now: () => number;

  private readonly live = new Map<number, Live>();
  private readonly sessions = new Map<string, Session>();
  private readonly waiters = new Set<() => boolean>();
  private sessionCounter = 0;
  private readonly rules: DialectRules;

  /** Kept from the start: a closed server has no address, but a test may still ask for its url. */
  private readonly port: number;

  private constructor(
    private readonly server: WebSocketServer,
    options: FakeGatewayOptions,
  ) {
    this.port = (server.address() as AddressInfo).port;
    this.dialect = options.dialect ?? "discord";
    this.rules = DIALECTS[this.dialect];
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
    this.validTokens = options.validTokens;
    this.autoHello = options.autoHello ?? true;
    this.autoReady = options.autoReady ?? true;
    this.autoAck = options.autoAck ?? true;
    this.autoResume = options.autoResume ?? true;
    this.ackPayload = options.ackPayload === undefined ? this.rules.ackPayload : options.ackPayload;
    server.on("connection", (ws, req) => this.accept(ws, req));
  }

  static async start(options: FakeGatewayOptions = {}): Promise<FakeGateway> {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    return new FakeGateway(server, options);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** `127.0.0.1:port`: how the service's gateway sockets name this fake (see `gatewayTraffic`). */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The live connections' traffic: a connection's counts leave when it closes, as on the client's side. */
  get traffic(): FakeTraffic {
    const traffic: FakeTraffic = { open: 0, closing: 0, sent: 0, received: 0 };
    for (const live of this.live.values()) {
      if (live.ws.readyState === WebSocket.OPEN) traffic.open += 1;
      else traffic.closing += 1;
      traffic.sent += live.framesOut;
      traffic.received += live.framesIn;
    }
    return traffic;
  }

  /** Drops every connection and stops listening. */
  async close(): Promise<void> {
    for (const live of this.live.values()) live.ws.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- waiting -------------------------------------------------------------------------------

  /**
   * The first frame (already received or future) matching `predicate`, among frames whose index is
   * at least `after` (pass `gw.frames.length` to wait for the next one).
   */
  waitForFrame(
    predicate: (frame: ReceivedFrame) => boolean,
    options: number | { timeoutMs?: number; after?: number } = {},
  ): Promise<ReceivedFrame> {
    const { timeoutMs = 2000, after = 0 } = typeof options === "number" ? { timeoutMs: options } : options;
    return this.waitFor(() => this.frames.slice(after).find(predicate), timeoutMs, "a matching frame");
  }

  /** The connection with index `n` (0-based), once it has been accepted. */
  waitForConnection(n = 0, timeoutMs = 2000): Promise<FakeConnection> {
    return this.waitFor(() => this.connections[n], timeoutMs, `connection ${n}`);
  }

  /** The close code and reason of connection `index` (default: the latest), once it has closed. */
  waitForClose(index?: number, timeoutMs = 2000): Promise<CloseInfo> {
    const pick = () => this.connections[index ?? this.connections.length - 1];
    return this.waitFor(() => pick()?.closedWith, timeoutMs, `connection ${index ?? "latest"} to close`);
  }

  private waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    let waiter: (() => boolean) | undefined;
    const found = new Promise<T>((resolve) => {
      waiter = () => {
        const value = check();
        if (value === undefined) return false;
        resolve(value);
        return true;
      };
      if (!waiter()) this.waiters.add(waiter);
    });
    return withTimeout(found, timeoutMs, what).finally(() => this.waiters.delete(waiter!));
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) if (waiter()) this.waiters.delete(waiter);
  }

  // ---- script controls -----------------------------------------------------------------------

  /** Sends any object as a JSON frame. */
  send(frame: unknown, connection?: number): void {
    this.transmit(this.pick(connection), JSON.stringify(frame));
  }

  /** Sends text as is (e.g. broken JSON). */
  sendRaw(text: string, connection?: number): void {
    this.transmit(this.pick(connection), text);
  }

  /**
   * Op 0 with `s` = the connection's last seq + 1, or the explicit `s` (0 allowed). Written as
   * Discord writes it: `t`, `s` and `op` before `d`.
   */
  dispatch(t: string, d: unknown, s?: number, connection?: number): void {
    const conn = this.pick(connection);
    this.send({ t, s: this.nextSeq(conn, s), op: 0, d }, conn.index);
  }

  hello(connection?: number): void {
    this.send({ op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs } }, connection);
  }

  /** READY; `overrides` replace fields of `d` (`{ session_id: undefined }` sends a READY without one). */
  ready(overrides: Record<string, unknown> = {}, connection?: number): void {
    const conn = this.pick(connection);
    const d: Record<string, unknown> = { ...readyData(this.sessionCounter += 1, this.url), ...overrides };
    const s = this.nextSeq(conn, this.rules.readySeq);
    if (typeof d.session_id === "string") {
      conn.sessionId = d.session_id;
      this.sessions.set(d.session_id, { token: conn.token, seq: s });
    }
    this.send({ t: "READY", s, op: 0, d }, conn.index);
  }

  requestHeartbeat(connection?: number): void {
    this.send({ op: 1, d: null }, connection);
  }

  reconnect(connection?: number): void {
    this.send({ op: 7, d: null }, connection);
  }

  /** Op 9. With `d: false` the session is gone: the connection expects a fresh identify. */
  invalidSession(resumable: boolean, connection?: number): void {
    const conn = this.pick(connection);
    if (!resumable) {
      conn.identified = false;
      if (conn.sessionId !== undefined) this.sessions.delete(conn.sessionId);
    }
    this.send({ op: 9, d: resumable }, conn.index);
  }

  /** Closes with a close frame. */
  closeWith(code: number, reason = "", connection?: number): void {
    const conn = this.pick(connection);
    const live = this.live.get(conn.index);
    if (!live || live.closing) return;
    live.closing = true;
    conn.serverClosedWith = { code, reason };
    live.ws.close(code, reason);
  }

  /** Drops the TCP connection without a close frame (the client sees 1006). */
  drop(connection?: number): void {
    const conn = this.pick(connection);
    const live = this.live.get(conn.index);
    if (!live) return;
    live.closing = true;
    conn.dropped = true;
    live.ws.terminate();
  }

  // ---- connection handling -------------------------------------------------------------------

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const conn: FakeConnection = {
      index: this.connections.length,
      url: req.url ?? "",
      headers: req.headers,
      identified: false,
      seq: 0,
      dropped: false,
      sentByServer: [],
    };
    this.connections.push(conn);
    this.live.set(conn.index, { ws, received: [], closing: false, framesOut: 0, framesIn: 0 });
    ws.on("message", (data, isBinary) => this.receive(conn, data, isBinary));
    ws.on("close", (code, reason) => {
      this.live.delete(conn.index);
      conn.closedWith = { code, reason: reason.toString() };
      this.notify();
    });
    ws.on("error", () => {}); // 'close' follows; the client's misbehaviour is recorded there
    if (this.autoHello) this.hello(conn.index);
    this.notify();
  }

  private receive(conn: FakeConnection, data: WebSocket.RawData, isBinary: boolean): void {
    const live = this.live.get(conn.index);
    if (live) live.framesIn += 1;
    if (!live || live.closing) return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
    const raw = bytes.toString("utf8");
    const at = this.now();
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    const message = isObject(parsed) && typeof parsed.op === "number" && !isBinary ? parsed : undefined;
    const op = message ? (message.op as number) : -1;
    this.frames.push({ index: this.frames.length, connection: conn.index, op, d: message?.d, at, raw });
    this.notify();

    if (bytes.length > MAX_FRAME_BYTES) return this.closeWith(4002, "Decode error.", conn.index);
    live.received = live.received.filter((t) => t > at - RATE_WINDOW_MS);
    live.received.push(at);
    if (live.received.length > RATE_LIMIT) return this.closeWith(4008, "Rate limited.", conn.index);
    if (!message) return this.closeWith(4002, "Decode error.", conn.index);
    this.handle(conn, op, message.d);
  }

  private handle(conn: FakeConnection, op: number, d: unknown): void {
    if (op === 1) {
      if (this.autoAck) this.send({ op: 11, d: this.ackPayload }, conn.index);
      return;
    }
    // Spacebar has no resume: it answers every op 6 with op 9 d:false, before looking at it.
    if (op === 6 && this.rules.refusesResume) return this.invalidSession(false, conn.index);
    if (op === 2 || op === 6) {
      if (conn.identified) return this.closeWith(4005, "Already authenticated.", conn.index);
      const token = isObject(d) && typeof d.token === "string" ? d.token : undefined;
      if (token === undefined || (this.validTokens && !this.validTokens.includes(token))) {
        const { code, reason } = this.rules.authFailed;
        return this.closeWith(code, reason, conn.index);
      }
      conn.token = token;
      if (op === 2) {
        conn.identified = true;
        if (this.autoReady) this.ready({}, conn.index);
      } else {
        this.resume(conn, d as Record<string, unknown>);
      }
      return;
    }
    if (!conn.identified) return this.closeWith(4003, "Not authenticated.", conn.index);
    if (!OTHER_CLIENT_OPS.has(op)) return this.closeWith(4001, "Unknown opcode.", conn.index);
    if (op === 3 && this.rules.strictActivities) this.refuseUnknownActivityKeys(conn, d);
  }

  /** Spacebar's presence schema refuses keys it does not know: close 4002, empty reason (issue 17). */
  private refuseUnknownActivityKeys(conn: FakeConnection, d: unknown): void {
    const refused = keysOutsideCore(d);
    if (refused.length === 0) return;
    conn.refusedKeys = refused;
    this.closeWith(4002, "", conn.index);
  }

  private resume(conn: FakeConnection, d: Record<string, unknown>): void {
    const sessionId = typeof d.session_id === "string" ? d.session_id : undefined;
    const session = sessionId === undefined ? undefined : this.sessions.get(sessionId);
    if (!this.autoResume) {
      conn.identified = true;
      conn.sessionId = sessionId;
      return;
    }
    if (!session) return this.invalidSession(false, conn.index);
    conn.identified = true;
    conn.sessionId = sessionId;
    conn.seq = Math.max(session.seq, typeof d.seq === "number" ? d.seq : 0);
    this.dispatch("RESUMED", { _trace: ['["fake-gateway",{"micros":1}]'] }, undefined, conn.index);
  }

  private transmit(conn: FakeConnection, raw: string): void {
    const live = this.live.get(conn.index);
    if (!live || live.ws.readyState !== WebSocket.OPEN) return;
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      data = undefined;
    }
    conn.sentByServer.push({ at: this.now(), raw, data });
    live.framesOut += 1;
    live.ws.send(raw);
  }

  private pick(index?: number): FakeConnection {
    const conn = this.connections[index ?? this.connections.length - 1];
    if (!conn) throw new Error(`fake gateway: no connection ${index ?? "yet"}`);
    return conn;
  }

  private nextSeq(conn: FakeConnection, explicit?: number): number {
    conn.seq = explicit ?? conn.seq + 1;
    const session = conn.sessionId === undefined ? undefined : this.sessions.get(conn.sessionId);
    if (session) session.seq = conn.seq;
    return conn.seq;
  }
}
