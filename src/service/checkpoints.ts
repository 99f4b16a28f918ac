import type { Actor } from "xstate";
import { presenceMachine } from "../actors/presence-machine.ts";
import { shardMachine } from "../actors/shard-machine.ts";
import { presenceOf, supervisorMachine } from "../actors/supervisor-machine.ts";
import { type Checkpoint, fingerprint, withoutProfiles } from "./checkpoint.ts";
import { usersLeaving } from "./reconfigure.ts";
import type { ServiceRuntime } from "./runtime.ts";

/**
 * What a checkpoint must have been taken under to be restored here (see `Checkpoint.key`): the
 * users' profiles and the machines' definitions. Worked out once, when first needed.
 */
export function checkpointKey(runtime: ServiceRuntime): string {
  return (runtime.checkpointKeyText ??= fingerprint(
    JSON.stringify({
      users: runtime.profiles,
      sweepIntervalMs: runtime.sweepIntervalMs,
      machines: [supervisorMachine, shardMachine, presenceMachine].map((m) => m.config),
    }),
  ));
}

/**
 * Saves a checkpoint of every machine and its pending timers, so that a start restores it and
 * replays only what follows it. Null before `start`, or while a removed user's machine is still
 * leaving; throws what the journal threw.
 */
export async function saveCheckpoint(runtime: ServiceRuntime): Promise<Checkpoint | null> {
  if (!runtime.actor) return null;
  // A machine of a user a reload removed has no profile to be restored with: wait the few seconds
  // it takes to clear and close (the next checkpoint is due soon; a compaction waits with it).
  if (usersLeaving(runtime.actor.getSnapshot()).length > 0) return null;
  // Taken in one synchronous step (a consistent cut: contexts are immutable), saved after.
  const checkpoint = takeCheckpoint(runtime, runtime.actor);
  try {
    await runtime.journal.saveCheckpoint(checkpoint);
  } catch (error) {
    runtime.health.failed("checkpoint", error);
    throw error;
  }
  // A checkpoint holds every input up to its seq, those that a failing journal could not append
  // included: from here on a restart loses nothing again.
  if (runtime.health.wrote()) runtime.logger.log("info", "journal: writing again (a checkpoint holds everything up to now)", { seq: checkpoint.seq });
  runtime.checkpointSeq = Math.max(runtime.checkpointSeq, checkpoint.seq);
  return checkpoint;
}

function takeCheckpoint(runtime: ServiceRuntime, running: Actor<typeof supervisorMachine>): Checkpoint {
  const current = running.getSnapshot();
  const started: Record<string, number> = {};
  for (const user of runtime.config.users) {
    const seq = runtime.history.startedAt(user.username);
    if (seq !== undefined && presenceOf(current, user.username)) started[user.username] = seq;
  }
  const snapshot = withoutProfiles(running.getPersistedSnapshot());
  const seqs = Object.fromEntries(runtime.sessionSeqs);
  return {
    v: 1,
    seq: runtime.nextSeq - 1,
    at: runtime.clock.now(),
    key: checkpointKey(runtime),
    started,
    sessionSeqs: seqs,
    snapshot,
    timers: runtime.timers!.save(running),
  };
}
