import WebSocket from "ws";
import type { OutgoingFrame } from "../../actors/effects.ts";
import type { GatewayEvent, SeqNote } from "../../actors/events.ts";
import { errorText } from "../../errors.ts";
import { type ServiceClock, systemClock } from "../../clock.ts";
import type { Logger } from "../logger.ts";
import { GatewayConnection, newUserWire, type Traffic, type UserWire } from "./connection.ts";
import { HandshakeGate } from "./handshake-gate.ts";

/** A gateway event (or a seq note) before the service stamps it with `at`. */
export type GatewayEventInput = GatewayEvent | SeqNote extends infer E ? E extends { at: number } ? Omit<E, "at">
  : never
  : never;

export interface GatewaySocketsOptions {
  /** Sent on the WebSocket upgrade (docs/protocol.md: User-Agent). */
  userAgent: string;
  /** The adapter alone sees tokens: it inserts them into identify and resume. */
  tokenFor(user: string): string | undefined;
  /** Where session events and seq notes go (the service's dispatch). */
  deliver(event: GatewayEventInput): void;
  logger: Logger;
  /** The connections' heartbeats and frame windows run on it. Default: the system clock. */
  clock?: ServiceClock;
  /** Handshakes under way at once (see `DEFAULT_HANDSHAKE_LIMIT`); later sockets wait their turn. */
  handshakeLimit?: number;
}

/** What the status page, `/status` and `/metrics` show of a user's wire. */
export interface WireStatus {
  /** The round trip of the last answered heartbeat, in ms; null before the first. */
  heartbeatRoundTripMs: number | null;
  /** Connections closed as zombies (no ACK between two beats) since the start. */
  zombieCloses: number;
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
  /** Frames those sockets received and handled (delivered, dropped, or ignored and logged). */
  received: number;
}

/** Every socket of this process that has a WebSocket and has not closed yet. */
const wires = new Set<Traffic>();

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
 * The Discord gateway adapter: one connection per user at a time (named by the machine's number
 * for it), each owning its wire (see `GatewayConnection`). It carries out the machines' socket
 * effects, and hands them the session-level events the connections read.
 */
export class GatewaySockets {
  private readonly current = new Map<string, GatewayConnection>();
  /** Every connection whose socket is not gone yet, current or replaced. */
  private readonly live = new Set<GatewayConnection>();
  private readonly users = new Map<string, UserWire>();
  private readonly handshakes: HandshakeGate<GatewayConnection>;
  private readonly clock: ServiceClock;

  constructor(private readonly options: GatewaySocketsOptions) {
    this.handshakes = new HandshakeGate(options.handshakeLimit);
    this.clock = options.clock ?? systemClock;
  }

  /** Sockets not gone yet (waiting for a handshake slot, connecting, open or closing), including replaced ones. */
  get openCount(): number {
    return this.live.size;
  }

  /** Handshakes under way (opened, no READY or RESUMED yet), and sockets waiting to start theirs. */
  get handshakeCounts(): { running: number; waiting: number } {
    return this.handshakes.counts;
  }

  /** A user's heartbeat round trip and zombie closes. */
  wireStatus(user: string): WireStatus {
    const wire = this.users.get(user);
    return { heartbeatRoundTripMs: wire?.heartbeatRoundTripMs ?? null, zombieCloses: wire?.zombieCloses ?? 0 };
  }

  /**
   * After a restart: the session's last `s` as the journal knows it (from READY, RESUMED and the
   * connection's notes), so that the resume asks for what came after it.
   */
  restoreSeq(user: string, seq: number | null): void {
    this.wireOf(user).seq = seq;
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
    const connection: GatewayConnection = new GatewayConnection({
      user,
      socket,
      url,
      userAgent: this.options.userAgent,
      tokenFor: this.options.tokenFor,
      clock: this.clock,
      logger: this.options.logger,
      wire: this.wireOf(user),
      events: {
        session: (event) => this.deliver({ ...event, user, socket } as GatewayEventInput),
        seqNote: (seq) => this.deliver({ type: "gateway.seq", user, socket, seq }),
        handshakeDone: () => this.handshakes.leave(connection),
        ended: (code, reason, zombie) => this.ended(connection, code, reason, zombie),
        gone: () => this.gone(connection),
      },
    });
    this.current.set(user, connection);
    this.live.add(connection);
    this.handshakes.enter(connection, () => connection.connect((traffic) => wires.add(traffic)));
  }

  /** Sends `frame` on the user's socket `socket`, if it is still the current one and open. */
  send(user: string, socket: number, frame: OutgoingFrame): void {
    const connection = this.current.get(user);
    if (!connection || connection.socket !== socket) {
      this.options.logger.log("debug", "gateway frame dropped: socket not open", { user, socket, op: frame.op });
      return;
    }
    connection.send(frame);
  }

  /** Closes the user's socket `socket` with `code`; a socket still connecting is terminated. */
  close(user: string, socket: number, code: number, reason: string): void {
    const connection = this.current.get(user);
    if (!connection || connection.socket !== socket) {
      this.options.logger.log("debug", "gateway close ignored: not the current socket", { user, socket });
      return;
    }
    this.shut(connection, code, reason);
  }

  /** Closes the user's socket, whichever it is, without delivering its close event (the machine is gone). */
  closeUser(user: string, code: number, reason: string): void {
    const connection = this.current.get(user);
    if (!connection) return;
    connection.current = false;
    this.current.delete(user);
    this.shut(connection, code, reason);
  }

  /** Closes every socket (for shutdown); resolves once all are closed, terminating stragglers after ~1 s. */
  async closeAll(code: number, reason: string): Promise<void> {
    const connections = [...this.live];
    const closed = connections.map(({ ws }) =>
      !ws || ws.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise<void>((resolve) => ws.once("close", () => resolve()))
    );
    for (const connection of connections) this.shut(connection, code, reason);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bounded = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), CLOSE_ALL_WAIT_MS);
    });
    const outcome = await Promise.race([Promise.all(closed), bounded]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      for (const connection of connections) connection.ws?.terminate();
      await Promise.all(closed);
    }
  }

  private wireOf(user: string): UserWire {
    let wire = this.users.get(user);
    if (!wire) this.users.set(user, wire = newUserWire());
    return wire;
  }

  private shut(connection: GatewayConnection, code: number, reason: string): void {
    // One that never got a slot ends at once (as a socket closed while connecting would, 1006).
    if (!connection.ws) this.handshakes.leave(connection);
    connection.shut(code, reason);
  }

  /** The session on a socket is over: its machine hears of it, once. */
  private ended(connection: GatewayConnection, code: number, reason: string, zombie: boolean): void {
    const { user, socket } = connection;
    this.handshakes.leave(connection);
    if (this.current.get(user) === connection) this.current.delete(user);
    this.options.logger.log("info", "gateway socket closed", { user, socket, code, reason });
    this.deliver({ type: "gateway.closed", user, socket, code, reason, ...(zombie ? { zombie } : {}) });
  }

  /** The socket is gone: its slot and its place in the counts free. */
  private gone(connection: GatewayConnection): void {
    this.handshakes.leave(connection);
    this.live.delete(connection);
    if (connection.traffic) wires.delete(connection.traffic);
    if (this.current.get(connection.user) === connection) this.current.delete(connection.user);
  }

  private deliver(event: GatewayEventInput): void {
    try {
      this.options.deliver(event);
    } catch (error) {
      this.options.logger.log("error", "gateway event delivery failed", { user: event.user, socket: event.socket, type: event.type, reason: errorText(error) });
    }
  }
}
