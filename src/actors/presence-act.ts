/**
 * What the presence machine's actions share: its own timer events, the rate limits, and the
 * helpers every action uses to leave effects through `perform`.
 */
import { enqueueActions, type EventObject, type ParameterizedObject } from "xstate";
import type { Effect, LogLevel, OutgoingFrame } from "./effects.ts";
import type { DomainEvent } from "./events.ts";
import type { PresenceContext } from "./presence-context.ts";
import { nextRandom } from "./random.ts";

/** Events the machine raises for itself (timers); never journaled, they follow from the clock. */
export type TimerEvent =
  | { type: "heartbeat.due"; socket: number }
  | { type: "frame.windowEnds"; socket: number }
  | { type: "presence.slotFreed" }
  | { type: "identify.cooldownOver" }
  | { type: "track.ended" }
  | { type: "artwork.waitOver"; key: string };

export type PresenceEvent = DomainEvent | TimerEvent;

/**
 * PROTOCOL.md: 120 frames / 60 s per connection. Frames are counted in fixed 60 s windows (one
 * timer per window, not one per frame: a replay fires every timer), and two fixed windows can
 * meet head-on, so each gets half: at most 120 frames in any 60 s. Real use is ~20 a minute
 * (5 presence updates / 20 s, 2 beats).
 *
 * Scheduled heartbeats are not counted: room is kept for them instead (`scheduledBeatsPerWindow`,
 * 2 at Discord's 41.25 s). Presence updates get at most 55 of the rest, which leaves room for
 * identify, resume and answers to op 1. So a session that only beats opens no window, and a
 * presenting user's steady state has no window timer.
 */
const FRAME_LIMIT = 60;
export const FRAME_BUDGET_OTHER = 55;
const FRAME_WINDOW_MS = 60_000;
/** PROTOCOL.md: 5 presence updates / 20 s. */
export const PRESENCE_LIMIT = 5;
export const PRESENCE_WINDOW_MS = 20_000;

/**
 * Room kept for scheduled beats in one frame window: as many as fall in it at this socket's
 * interval, up to the 5 that presence updates leave (beats go out whatever the count: an interval
 * under 12 s, which Discord never asks for, would need more).
 */
function scheduledBeatsPerWindow(context: PresenceContext): number {
  return Math.min(FRAME_LIMIT - FRAME_BUDGET_OTHER, Math.ceil(FRAME_WINDOW_MS / context.socket.heartbeatIntervalMs));
}

/** Frames other than scheduled beats this window still has room for. */
export function framesLeftInWindow(context: PresenceContext): number {
  return FRAME_LIMIT - scheduledBeatsPerWindow(context) - context.socket.framesInWindow;
}

/** Names of the machine's delays (see `presenceMachine`'s setup). */
export type PresenceDelay =
  | "heartbeatInterval" | "firstHeartbeat" | "helloTimeout" | "readyTimeout" | "idleTimeout"
  | "identifyInterval" | "invalidSessionWait" | "artworkWait" | "shutdownTimeout"
  | "backoff" | "untilTrackEnd";

type Params = ParameterizedObject["params"] | undefined;
/** The only action the others enqueue by name. */
type PerformAction = { type: "perform"; params: Effect };
type Collect<P extends Params> = Parameters<
  typeof enqueueActions<PresenceContext, PresenceEvent, P, PresenceEvent, never, PerformAction, never, PresenceDelay, EventObject>
>[0];
type Enqueue = Parameters<Collect<undefined>>[0]["enqueue"];

/** `enqueueActions`, typed for this machine (outside `setup` XState cannot infer the types). */
export function act<P extends Params = undefined>(collect: Collect<P>) {
  return enqueueActions<PresenceContext, PresenceEvent, P, PresenceEvent, never, PerformAction, never, PresenceDelay, EventObject>(collect);
}

/** Every effect leaves the machine through the one `perform` action, which the service provides. */
export function perform(enqueue: Enqueue, effect: Effect) {
  enqueue({ type: "perform", params: effect });
}

export function log(enqueue: Enqueue, level: LogLevel, message: string, data?: Record<string, unknown>) {
  perform(enqueue, data === undefined ? { type: "log", level, message } : { type: "log", level, message, data });
}

/** What `sendFrame` assigns along with the frame; `counters` are merged, not replaced. */
export type AlsoAssigned = Omit<Partial<PresenceContext>, "socket" | "counters"> & {
  counters?: Partial<PresenceContext["counters"]>;
};

/**
 * Sends a frame on the current socket and books it in the frame window (the first frame of a
 * window starts its timer). `also` is assigned in the same step: one context copy, not two.
 * Scheduled beats do not come through here: they have room kept for them (see `FRAME_LIMIT`).
 */
export function sendFrame(enqueue: Enqueue, context: PresenceContext, frame: OutgoingFrame, also: AlsoAssigned = {}) {
  perform(enqueue, { type: "socket.send", socket: context.socket.number, frame });
  if (context.socket.framesInWindow === 0) enqueue.raise({ type: "frame.windowEnds", socket: context.socket.number }, { delay: FRAME_WINDOW_MS, id: "frameWindow" });
  enqueue.assign(({ context: c }) => ({
    ...also,
    socket: { ...c.socket, framesInWindow: c.socket.framesInWindow + 1 },
    counters: { ...c.counters, ...also.counters, framesSent: c.counters.framesSent + 1 },
  }));
}

/** Draws the next random number in [0, 1) from the context's generator. */
export function draw(enqueue: Enqueue, context: PresenceContext): number {
  const [value, next] = nextRandom(context.random);
  enqueue.assign({ random: next });
  return value;
}

export function closeSocket(enqueue: Enqueue, context: PresenceContext, code: number, reason: string) {
  if (context.socket.open) perform(enqueue, { type: "socket.close", socket: context.socket.number, code, reason });
  forgetSocket(enqueue);
}

/** The socket is no longer ours (closed, or died with the previous process): stop its timers. */
export function forgetSocket(enqueue: Enqueue) {
  enqueue.cancel("heartbeat");
  enqueue.assign(({ context: c }) => ({ socket: { ...c.socket, open: false, liveSince: null, awaitingAck: false } }));
}
