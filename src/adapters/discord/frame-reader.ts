import type { Buffer } from "node:buffer";
import { Op } from "../../actors/discord-protocol.ts";
import type { GatewayEvent } from "../../actors/events.ts";

/** A gateway event before the adapter adds the user, the socket and the time. */
export type SessionEventData = GatewayEvent extends infer E
  ? (E extends { user: string; socket: number; at: number } ? Omit<E, "user" | "socket" | "at"> : never)
  : never;

/**
 * What one incoming frame means to the connection:
 * - `session`: session-level input for the user's machine (Hello, READY, RESUMED, op 7, op 9);
 * - `dispatch`: any other dispatch: only its `s` matters, the connection drops the rest;
 * - `heartbeatRequest` (op 1) and `heartbeatAck` (op 11): the connection's own business;
 * - `problem`: unreadable, to be logged without its content and dropped.
 * Every kind but `problem` carries the frame's `s` (null when it has none).
 */
export type ReadFrame =
  | { kind: "session"; event: SessionEventData; seq: number | null }
  | { kind: "dispatch"; name: string; seq: number | null }
  | { kind: "heartbeatRequest"; seq: number | null }
  | { kind: "heartbeatAck"; seq: number | null }
  | { kind: "problem"; problem: string; op?: number | string; t?: string };

/** The longest Hello interval taken: Discord's is 41.25 s, and a beat 10 min apart is no liveness check. */
export const MAX_HEARTBEAT_INTERVAL_MS = 600_000;

/**
 * The head of a frame as Discord writes it: `t`, `s` and `op` before `d`. Matching it reads what
 * the connection needs from a dispatch without parsing its payload, which can be large (a guild's
 * member list, a message with embeds) and arrives many times a second on a busy account.
 */
const HEAD = /^\{"t":(?:null|"([A-Z0-9_]{1,64})"),"s":(?:null|(\d{1,15})),"op":(\d{1,3}),"d":/;

/** Dispatches the machine must see; every other one is dropped after its `s` is read. */
const SESSION_DISPATCHES = new Set(["READY", "RESUMED"]);

/** Enough of a frame for `HEAD`: a 64-character name and a 15-digit `s` fit with room to spare. */
const HEAD_BYTES = 128;

/**
 * Reads one text frame. A dispatch written in Discord's key order is read from its head alone, so
 * that a 1 MB dispatch costs what a 100 B one does; anything else (READY, RESUMED, the small
 * control frames, and a dispatch from a server that writes its keys in another order) is parsed.
 */
export function readFrame(text: string): ReadFrame {
  return dispatchAtHead(text) ?? parseFrame(text);
}

/**
 * `readFrame` on the frame's bytes, as the socket delivers them: only the head is decoded for a
 * dispatch, not the megabyte after it.
 */
export function readFrameBytes(bytes: Buffer): ReadFrame {
  return dispatchAtHead(bytes.toString("latin1", 0, Math.min(bytes.length, HEAD_BYTES))) ?? parseFrame(bytes.toString("utf8"));
}

/** The dispatch a frame's head names, unless it is READY or RESUMED or the head is not Discord's. */
function dispatchAtHead(head: string): ReadFrame | null {
  const match = HEAD.exec(head);
  if (!match || match[3] !== String(Op.Dispatch) || match[1] === undefined || SESSION_DISPATCHES.has(match[1])) return null;
  return { kind: "dispatch", name: match[1], seq: match[2] === undefined ? null : Number(match[2]) };
}

/** `readFrame` by a full parse. */
export function parseFrame(text: string): ReadFrame {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return { kind: "problem", problem: "invalid JSON" };
  }
  if (typeof message !== "object" || message === null || Array.isArray(message)) return { kind: "problem", problem: "not an object" };
  const { op, d, s, t } = message as { op?: unknown; d?: unknown; s?: unknown; t?: unknown };
  const name = typeof t === "string" ? t.slice(0, 64) : undefined;
  if (typeof op !== "number") return { kind: "problem", problem: "missing or non-numeric op", op: typeof op === "string" ? op.slice(0, 32) : typeof op };
  // Compared with != null: a server may send s: 0 (docs/protocol.md).
  const seq = typeof s === "number" && Number.isFinite(s) ? s : null;
  const data = typeof d === "object" && d !== null ? (d as Record<string, unknown>) : {};
  switch (op) {
    case Op.Dispatch:
      if (name === "READY") return { kind: "session", seq, event: readyEvent(seq, data) };
      if (name === "RESUMED") return { kind: "session", seq, event: { type: "gateway.resumed", seq } };
      if (name === undefined) return { kind: "problem", problem: "dispatch without a name", op };
      return { kind: "dispatch", name, seq };
    case Op.Heartbeat:
      return { kind: "heartbeatRequest", seq };
    case Op.Reconnect:
      return { kind: "session", seq, event: { type: "gateway.reconnect" } };
    case Op.InvalidSession:
      return { kind: "session", seq, event: { type: "gateway.invalidSession", resumable: d === true } };
    case Op.Hello: {
      const interval = data.heartbeat_interval;
      if (typeof interval !== "number" || !Number.isFinite(interval) || interval <= 0 || interval > MAX_HEARTBEAT_INTERVAL_MS) {
        return { kind: "problem", problem: `hello with a heartbeat_interval that is not in (0, ${MAX_HEARTBEAT_INTERVAL_MS}] ms`, op };
      }
      return { kind: "session", seq, event: { type: "gateway.hello", heartbeatIntervalMs: interval } };
    }
    case Op.HeartbeatAck:
      // Discord's ACK has d: null, some compatible servers send {}: d is never read (docs/protocol.md).
      return { kind: "heartbeatAck", seq };
    default:
      return { kind: "problem", problem: "unknown opcode", op, ...(name === undefined ? {} : { t: name }) };
  }
}

/**
 * READY is read only for what a session needs: its id and where to resume it (its `s` is the
 * frame's). Nothing else of it is kept: a user's READY is large, and whose it is matters to no one.
 */
function readyEvent(seq: number | null, data: Record<string, unknown>): SessionEventData {
  return {
    type: "gateway.ready",
    seq,
    sessionId: stringOrUndefined(data.session_id),
    resumeUrl: stringOrUndefined(data.resume_gateway_url),
  };
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
