import { Buffer } from "node:buffer";
import WebSocket from "ws";
import { MAX_FRAME_BYTES, Op } from "../../actors/discord-protocol.ts";
import type { OutgoingFrame } from "../../actors/effects.ts";
import { nextRandom, seedFrom } from "../../actors/random.ts";
import { errorText } from "../../errors.ts";
import type { ServiceClock } from "../../clock.ts";
import type { Logger } from "../logger.ts";
import { FrameBudget } from "./frame-budget.ts";
import { type ReadFrame, readFrameBytes, type SessionEventData } from "./frame-reader.ts";
import { Heartbeat } from "./heartbeat.ts";

/** The latest `s` is journaled at most this often per socket, so that a restart can resume. */
export const SEQ_NOTE_EVERY_MS = 60_000;

/**
 * What a user's connections share across sockets: the session's last `s` (a resumed session goes
 * on counting from it) and what the status page shows of the wire.
 */
export interface UserWire {
  /** Last non-null `s` of the session (docs/protocol.md: compared with != null; a server may send 0). */
  seq: number | null;
  /** When this user's `s` was last journaled (see `SEQ_NOTE_EVERY_MS`). */
  seqNotedAt: number;
  /** The round trip of the last answered heartbeat, in ms. */
  heartbeatRoundTripMs: number | null;
  /** Connections closed as zombies (no ACK between two beats) since the start. */
  zombieCloses: number;
}

export function newUserWire(): UserWire {
  return { seq: null, seqNotedAt: Number.NEGATIVE_INFINITY, heartbeatRoundTripMs: null, zombieCloses: 0 };
}

/** What a connection tells the registry that owns it (see `GatewaySockets`). */
export interface ConnectionEvents {
  /** Session-level input for the user's machine: Hello, READY, RESUMED, op 7, op 9. */
  session(event: SessionEventData): void;
  /** The session's `s`, at most once a minute: journaled so that a restart can resume. */
  seqNote(seq: number): void;
  /** READY or RESUMED: the handshake is over (the next waiting socket may start). */
  handshakeDone(): void;
  /**
   * The session on this socket is over, for the machine: the socket closed, or this side closed it
   * for want of ACKs (`zombie`). Once, and never for a socket that was replaced.
   */
  ended(code: number, reason: string, zombie: boolean): void;
  /** The socket is gone for good (its close handshake is over, or it never opened). Once. */
  gone(): void;
}

export interface ConnectionOptions {
  user: string;
  /** The machine's number for this socket: events carry it, so stale ones can be told apart. */
  socket: number;
  url: string;
  userAgent: string;
  /** The adapter alone sees tokens: it inserts them into identify and resume. */
  tokenFor(user: string): string | undefined;
  clock: ServiceClock;
  logger: Logger;
  wire: UserWire;
  events: ConnectionEvents;
}

/** One socket's traffic, for tests' I/O barrier (see `gatewayTraffic`). */
export interface Traffic {
  host: string;
  ws: WebSocket;
  sent: number;
  received: number;
}

/**
 * One gateway connection: it owns the wire, as discord.js's shard does. It heartbeats on its own
 * after Hello, answers op 1, notes ACKs, closes a zombie with 4000, tracks `s` from every frame,
 * keeps to Discord's frame budget, and drops every dispatch but READY and RESUMED without telling
 * anyone. Only what changes the session reaches the user's machine (and so the journal): a real
 * account receives several dispatches a second, and a beat and its ACK come every 41 s.
 */
export class GatewayConnection {
  readonly user: string;
  readonly socket: number;
  /** Null until the handshake gate lets it connect: nothing has been sent to the network yet. */
  ws: WebSocket | null = null;
  traffic: Traffic | undefined;
  /** False once the socket was replaced or its end was reported: nothing more is delivered. */
  current = true;
  lastError: string | undefined;

  readonly #options: ConnectionOptions;
  readonly #budget: FrameBudget;
  #heartbeat: Heartbeat | undefined;
  /** Frames that found no room in the budget, in order; a new presence replaces a held one. */
  #held: Array<{ op: number; text: string }> = [];
  #heldTimer: unknown = undefined;
  /** This side closed it: what still arrives on it (a late op 9, a dispatch) is not read. */
  #closing = false;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.user = options.user;
    this.socket = options.socket;
    this.#budget = new FrameBudget(options.clock);
  }

  /** Opens the WebSocket (the registry calls this when a handshake slot is free). */
  connect(onTraffic: (traffic: Traffic) => void): void {
    const { url, userAgent, logger, user, socket } = this.#options;
    let ws: WebSocket;
    try {
      // No UTF-8 check of whole frames: a dispatch's head is all that is read of most of them, and
      // a frame that is parsed turns any invalid byte into U+FFFD.
      ws = new WebSocket(url, { headers: { "User-Agent": userAgent }, perMessageDeflate: false, skipUTF8Validation: true });
    } catch (error) {
      const reason = errorText(error);
      logger.log("warn", "gateway socket could not be created", { user, socket, reason });
      queueMicrotask(() => this.end(1006, reason));
      return;
    }
    this.ws = ws;
    this.traffic = { host: new URL(url).host, ws, sent: 0, received: 0 };
    onTraffic(this.traffic);
    ws.on("open", () => logger.log("debug", "gateway socket open", { user, socket }));
    ws.on("message", (data, isBinary) => this.#guard("message", () => this.#onMessage(data, isBinary)));
    ws.on("error", (error) => this.#guard("error", () => this.#onError(error)));
    ws.on("close", (code, reason) => this.#guard("close", () => this.end(code, reason.toString("utf8"))));
  }

  /** Sends a frame the machine asked for: identify and resume get the token (and resume the seq). */
  send(frame: OutgoingFrame): void {
    const { user, socket, logger, wire } = this.#options;
    if (this.ws?.readyState !== WebSocket.OPEN) {
      logger.log("debug", "gateway frame dropped: socket not open", { user, socket, op: frame.op });
      return;
    }
    let text: string;
    if (frame.op === Op.Identify || frame.op === Op.Resume) {
      const token = this.#options.tokenFor(user);
      if (token === undefined) {
        logger.log("error", "gateway frame dropped: no token for user", { user, socket, op: frame.op });
        return;
      }
      // A new session counts from its READY: until then heartbeats say null (docs/protocol.md).
      if (frame.op === Op.Identify) wire.seq = null;
      // A resume asks the server to replay what came after the last `s` this side read: never
      // one ahead of what the server sent (an older one only replays more).
      const d = frame.op === Op.Resume ? { token, ...frame.d, seq: wire.seq } : { token, ...frame.d };
      text = JSON.stringify({ op: frame.op, d });
    } else {
      text = JSON.stringify(frame);
    }
    this.#sendBudgeted(frame.op, text);
  }

  /** Closes with `code`; a socket still connecting is terminated (docs/protocol.md), one waiting just ends. */
  shut(code: number, reason: string): void {
    const { ws } = this;
    this.#closing = true;
    this.#stopTimers();
    if (!ws) {
      queueMicrotask(() => this.end(1006, "closed before connecting"));
    } else if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
    } else if (ws.readyState === WebSocket.OPEN) {
      try {
        ws.close(code, reason);
      } catch (error) {
        // An invalid code or a reason over 123 bytes: still make sure the socket goes away.
        this.#options.logger.log("error", "gateway close failed; terminating", { user: this.user, socket: this.socket, code, reason: errorText(error) });
        ws.terminate();
      }
    }
  }

  /** The socket is gone (closed, or never created): the machine hears of it unless it heard already. */
  end(code: number, closeReason: string): void {
    this.#stopTimers();
    this.#report(code, closeReason || (code === 1006 ? (this.lastError ?? "") : ""), false);
    this.#options.events.gone();
  }

  #report(code: number, reason: string, zombie: boolean): void {
    if (!this.current) return;
    this.current = false;
    this.#options.events.ended(code, reason, zombie);
  }

  #sendBudgeted(op: number, text: string): void {
    if (this.#held.length > 0 || !this.#budget.take()) return this.#hold(op, text);
    this.#write(op, text);
  }

  #write(op: number, text: string): void {
    const { user, socket, logger } = this.#options;
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_FRAME_BYTES) logger.log("warn", `gateway frame exceeds ${MAX_FRAME_BYTES} bytes`, { user, socket, op, bytes });
    if (this.traffic) this.traffic.sent += 1;
    this.ws!.send(text, (error) => {
      if (error) logger.log("warn", "gateway send failed", { user, socket, op, reason: error.message });
    });
  }

  /**
   * Over the frame budget: the frame waits for the next window. Only the latest presence matters,
   * so a new one replaces one still waiting; an answer to op 1 is not worth keeping.
   */
  #hold(op: number, text: string): void {
    const { user, socket, logger } = this.#options;
    if (op === Op.Heartbeat) return logger.log("warn", "heartbeat request not answered: frame limit reached", { user, socket });
    const waiting = op === Op.PresenceUpdate ? this.#held.findIndex((frame) => frame.op === op) : -1;
    if (waiting >= 0) this.#held[waiting] = { op, text };
    else this.#held.push({ op, text });
    if (this.#heldTimer === undefined) this.#heldTimer = this.#options.clock.setTimeout(() => this.#sendHeld(), this.#budget.msUntilRoom());
  }

  #sendHeld(): void {
    this.#heldTimer = undefined;
    if (this.ws?.readyState !== WebSocket.OPEN) return void (this.#held = []);
    while (this.#held.length > 0 && this.#budget.take()) this.#write(this.#held[0]!.op, this.#held.shift()!.text);
    if (this.#held.length > 0) this.#heldTimer = this.#options.clock.setTimeout(() => this.#sendHeld(), this.#budget.msUntilRoom());
  }

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.traffic) this.traffic.received += 1;
    if (!this.current || this.#closing) return;
    const { user, socket, logger, wire, events } = this.#options;
    const read: ReadFrame = isBinary ? { kind: "problem", problem: "binary frame" } : readFrameBytes(rawToBuffer(data));
    switch (read.kind) {
      case "problem":
        // The op and the name only: a frame's content may be anyone's messages.
        logger.log("warn", `gateway frame ignored: ${read.problem}`, {
          user,
          socket,
          ...(read.op === undefined ? {} : { op: read.op }),
          ...(read.t === undefined ? {} : { t: read.t }),
        });
        return;
      case "dispatch":
        return this.#noteSeq(read.seq);
      case "heartbeatAck":
        this.#noteSeq(read.seq);
        wire.heartbeatRoundTripMs = this.#heartbeat?.acknowledged() ?? wire.heartbeatRoundTripMs;
        return;
      case "heartbeatRequest":
        // The server asks for a beat: at once, within the budget (docs/protocol.md).
        this.#noteSeq(read.seq);
        return this.#sendBudgeted(Op.Heartbeat, JSON.stringify({ op: Op.Heartbeat, d: wire.seq }));
      case "session":
        return this.#onSessionEvent(read.event, read.seq, events);
    }
  }

  #onSessionEvent(event: SessionEventData, seq: number | null, events: ConnectionEvents): void {
    const { wire, clock } = this.#options;
    switch (event.type) {
      case "gateway.hello":
        this.#startHeartbeat(event.heartbeatIntervalMs);
        break;
      case "gateway.ready":
      case "gateway.resumed":
        // The event carries the `s` into the journal: no separate note is due for a minute.
        if (seq !== null) wire.seq = seq;
        wire.seqNotedAt = clock.now();
        events.handshakeDone();
        break;
      case "gateway.invalidSession":
        // d: false: the session is gone, and its `s` with it.
        if (!event.resumable) wire.seq = null;
        break;
      default:
        this.#noteSeq(seq);
    }
    events.session(event);
  }

  #noteSeq(seq: number | null): void {
    if (seq === null) return;
    const { wire, clock, events } = this.#options;
    wire.seq = seq;
    const now = clock.now();
    if (now - wire.seqNotedAt < SEQ_NOTE_EVERY_MS) return;
    wire.seqNotedAt = now;
    events.seqNote(seq);
  }

  /** Hello: beat from now on, the first one at a point of the interval this user and socket draw. */
  #startHeartbeat(intervalMs: number): void {
    const { user, socket, clock, wire } = this.#options;
    this.#heartbeat?.stop();
    this.#budget.keepRoomForBeats(intervalMs);
    // Seeded by user and socket, not Math.random: a restart from a checkpoint and one from the
    // whole journal then beat at the same moments, and users still do not beat in lockstep.
    const [jitter] = nextRandom(seedFrom(user, socket));
    this.#heartbeat = new Heartbeat({
      clock,
      intervalMs,
      jitter,
      beat: () => this.#write(Op.Heartbeat, JSON.stringify({ op: Op.Heartbeat, d: wire.seq })),
      zombie: () => this.#closeZombie(),
    });
  }

  /** Zombie rule: no ACK between two beats -> close non-1000 and resume (docs/protocol.md). */
  #closeZombie(): void {
    const { user, socket, logger, wire } = this.#options;
    wire.zombieCloses += 1;
    logger.log("warn", "no heartbeat ACK: zombie connection, reconnecting", { user, socket });
    this.shut(4000, "zombie connection");
    // Reported now, not when the close handshake ends: the peer may never answer it.
    this.#report(4000, "zombie connection (no heartbeat ACK)", true);
  }

  #stopTimers(): void {
    this.#heartbeat?.stop();
    if (this.#heldTimer !== undefined) this.#options.clock.clearTimeout(this.#heldTimer);
    this.#heldTimer = undefined;
  }

  #onError(error: Error): void {
    this.lastError = error.message;
    this.#options.logger.log("debug", "gateway socket error", { user: this.user, socket: this.socket, reason: error.message });
  }

  /** Never let an exception escape a ws callback. */
  #guard(what: string, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#options.logger.log("error", `gateway socket ${what} handler failed`, { user: this.user, socket: this.socket, reason: errorText(error) });
    }
  }
}

function rawToBuffer(data: WebSocket.RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}
