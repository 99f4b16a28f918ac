import type { Effect } from "../actors/effects.ts";
import { presenceMachine } from "../actors/presence-machine.ts";
import { shardMachine } from "../actors/shard-machine.ts";
import { supervisorMachine } from "../actors/supervisor-machine.ts";
import { type EffectPorts, runEffect } from "../adapters/effect-runner.ts";
import type { ServiceRuntime } from "./runtime.ts";

/** What becomes of one effect a user's machine intended, with the input that caused it. */
export type Perform = (user: string, cause: { type: string }, effect: Effect) => void;

/**
 * Traces every effect and carries it out through `ports` once live. During the replay effects are
 * switched off: they are traced, never carried out.
 */
export function performer(runtime: ServiceRuntime, ports: EffectPorts): Perform {
  return (user, cause, effect) => {
    const live = !runtime.clock.replaying;
    runtime.trace?.({ kind: "effect", at: runtime.clock.now(), live, user, cause: cause.type, causeSeq: runtime.seqOf.get(cause) ?? null, effect });
    if (live) runEffect(ports, user, effect);
  };
}

/** The supervisor, its shards and every user's presence machine, each handing its effects to `perform`. */
export function machinesPerforming(perform: Perform): typeof supervisorMachine {
  const performFor = ({ event }: { event: { type: string } }, { user, effect }: { user: string; effect: Effect }) => perform(user, event, effect);
  return supervisorMachine.provide({
    actions: { perform: performFor },
    actors: {
      shard: shardMachine.provide({
        actions: { perform: performFor },
        actors: {
          presence: presenceMachine.provide({
            actions: { perform: ({ context, event }, effect: Effect) => perform(context.user, event, effect) },
          }),
        },
      }),
    },
  });
}
