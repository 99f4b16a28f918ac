import type { InspectionEvent, Observer } from "xstate";
import type { ReplayClock } from "../adapters/journal/replay-clock.ts";
import type { Effect } from "../actors/effects.ts";
import { stateName } from "./status.ts";

/**
 * What the actor system did, as a determinism test or `nd-presence replay` sees it: every effect a
 * presence machine intended (with the input that caused it) and every state a machine entered.
 * `live` is false for what was recorded while the journal was replayed (effects switched off).
 */
export type TraceRecord =
  | { kind: "effect"; at: number; live: boolean; user: string; cause: string; causeSeq: number | null; effect: Effect }
  | { kind: "state"; at: number; live: boolean; user: string; state: string };

/**
 * An inspection observer that turns presence machines' snapshots into `state` records, one per
 * change of state value.
 */
export function stateTracer(record: (user: string, state: string) => void): (event: InspectionEvent) => void {
  const last = new Map<string, string>();
  return (event) => {
    if (event.type !== "@xstate.snapshot") return;
    const id = (event.actorRef as { id?: string }).id ?? "";
    if (!id.startsWith("presence:")) return;
    const snapshot = event.snapshot as { value?: unknown };
    if (snapshot.value === undefined) return;
    const state = stateName(snapshot.value);
    if (last.get(id) === state) return;
    last.set(id, state);
    record(id.slice("presence:".length), state);
  };
}

/** Who watches the actor system: the trace (`PresenceServiceOptions.trace`), the host's observer (`inspect`). */
export interface Watchers {
  trace?: ((record: TraceRecord) => void) | undefined;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
}

/** The actor system's inspection: the host's observer, plus machine states for the trace. */
export function inspector({ trace, inspect }: Watchers, clockOf: () => ReplayClock): (event: InspectionEvent) => void {
  const states = trace ? stateTracer((user, state) => trace({ kind: "state", at: clockOf().now(), live: !clockOf().replaying, user, state })) : null;
  return (event) => {
    states?.(event);
    if (typeof inspect === "function") inspect(event);
    else inspect?.next?.(event);
  };
}
