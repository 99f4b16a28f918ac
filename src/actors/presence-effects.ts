/**
 * What the presence machine's actions share: its own timer events, and the helpers every action
 * uses to leave effects through `perform`. Discord's rate limits are in discord-protocol.ts.
 */
import { enqueueActions, type EventObject, type ParameterizedObject } from "xstate";
import type { Effect, LogLevel, OutgoingFrame } from "./effects.ts";
import type { DomainEvent } from "./events.ts";
import type { PresenceContext } from "./presence-context.ts";
import { nextRandom } from "./random.ts";
import type { PresenceInput } from "./settings.ts";

/** Events the machine raises for itself (timers); never journaled, they follow from the clock. */
export type TimerEvent =
  | { type: "presence.slotFreed" }
  | { type: "identify.cooldownOver" }
  | { type: "track.ended" }
  | { type: "artwork.waitOver"; key: string }
  | { type: "presence.kept"; socket: number };

/**
 * From the machine's shard, on a configuration reload that changed this user (`service.reconfigured`):
 * restart the session with the new profile. Not journaled itself: it follows from the journaled reload.
 */
export type RestartEvent = { type: "user.restart"; profile: Omit<PresenceInput, "seed">; newToken: boolean };

export type PresenceEvent = DomainEvent | TimerEvent | RestartEvent;

/**
 * How long the socket must stay open after an op 3 for the presence to count as shown. A server
 * that refuses one closes at once (Discord and Spacebar: 4002 within milliseconds).
 */
export const PRESENCE_KEPT_MS = 5_000;

/** Names of the machine's delays (see `presenceMachine`'s setup). */
export type PresenceDelay =
  | "helloTimeout"
  | "readyTimeout"
  | "idleTimeout"
  | "identifyInterval"
  | "invalidSessionWait"
  | "artworkWait"
  | "shutdownTimeout"
  | "backoff"
  | "untilTrackEnd";

type Params = ParameterizedObject["params"] | undefined;
/** The only action the others enqueue by name. */
type PerformAction = { type: "perform"; params: Effect };
type Collect<P extends Params> = Parameters<
  typeof enqueueActions<PresenceContext, PresenceEvent, P, PresenceEvent, never, PerformAction, never, PresenceDelay, EventObject>
>[0];
export type Enqueue = Parameters<Collect<undefined>>[0]["enqueue"];

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
export type AlsoAssigned = Omit<Partial<PresenceContext>, "counters"> & {
  counters?: Partial<PresenceContext["counters"]>;
};

/**
 * Sends a frame on the current socket; `also` is assigned in the same step. The connection keeps
 * to Discord's frame budget (120 / 60 s): a frame over it waits there.
 */
export function sendFrame(enqueue: Enqueue, context: PresenceContext, frame: OutgoingFrame, also: AlsoAssigned = {}) {
  perform(enqueue, { type: "socket.send", socket: context.socket.number, frame });
  if (Object.keys(also).length > 0) enqueue.assign(({ context: c }) => ({ ...also, counters: { ...c.counters, ...also.counters } }));
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

/** The socket is no longer ours (closed, or died with the previous process). */
export function forgetSocket(enqueue: Enqueue) {
  enqueue.assign(({ context: c }) => ({ socket: { ...c.socket, open: false, liveSince: null } }));
}
