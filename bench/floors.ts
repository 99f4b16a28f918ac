/**
 * The machines the floor rows run with nothing around them: nd-presence's presence machine, and
 * the minimal machine (minimal-machine.ts) that shows what one XState actor per user costs at all.
 * Both take a `PresenceInput`, the presence events and a `perform` action for their effects.
 */
import type { AnyStateMachine, SnapshotFrom } from "xstate";
import { presenceMachine } from "../src/actors/presence-machine.ts";
import { minimalMachine } from "./minimal-machine.ts";

export type FloorMachine = "presence" | "minimal";

export const floorMachines: Record<FloorMachine, AnyStateMachine> = { presence: presenceMachine, minimal: minimalMachine };

/** How a floor row names its machine. */
export const floorLabel: Record<FloorMachine, string> = {
  presence: "presence machines alone (floor)",
  minimal: "a minimal XState machine alone (floor of the design)",
};

/**
 * Whether a user's machine shows its track on the session it opened first: the presence machine
 * counts its reconnects; the minimal one never reconnects (a zombie leaves it idle).
 */
export function presentsOnFirstSession(machine: FloorMachine, snapshot: SnapshotFrom<AnyStateMachine>): boolean {
  if (machine === "minimal") return snapshot.matches("presenting");
  return snapshot.matches({ presenting: "playing" }) && snapshot.context.counters.reconnects === 0;
}
