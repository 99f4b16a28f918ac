import { type Actor, createActor } from "xstate";
import type { supervisorMachine } from "../actors/supervisor-machine.ts";
import { ActorTimers } from "../adapters/journal/actor-timers.ts";
import type { JournalEntry } from "../adapters/journal/journal.ts";
import { ReplayClock } from "../adapters/journal/replay-clock.ts";
import { errorText } from "../errors.ts";
import { type Checkpoint, checkpointProblem, impossibleState, withProfiles } from "./checkpoint.ts";
import { checkpointKey } from "./checkpoints.ts";
import { apply, record } from "./journaling.ts";
import { usersMissing } from "./reconfigure.ts";
import type { ServiceRuntime } from "./runtime.ts";
import { unreadableUser } from "./status.ts";
import { inspector, type Watchers } from "./trace.ts";

/** How a start goes (`PresenceServiceOptions`: `mode`, `useCheckpoint`, `inspect`). */
export interface StartOptions extends Pick<Watchers, "inspect"> {
  mode?: "live" | "replay" | undefined;
  useCheckpoint?: boolean | undefined;
}

/**
 * Starts the actor system from what the journal holds: its checkpoint, when there is a usable one,
 * and the entries after it (or the whole journal), replayed with effects off; then goes live.
 */
export async function startFromJournal(runtime: ServiceRuntime, machine: typeof supervisorMachine, options: StartOptions): Promise<void> {
  let checkpoint = usableCheckpoint(runtime, options.useCheckpoint ?? options.mode !== "replay");
  // After a checkpoint only its tail is read (the lines before it are not even parsed).
  let entries = runtime.journal.load(checkpoint?.seq ?? 0);
  if (checkpoint) {
    try {
      runtime.actor = launch(runtime, machine, options, checkpoint, checkpoint.at);
      const unreadable = unreadableUser(runtime.config, runtime.actor.getSnapshot());
      if (unreadable) {
        runtime.actor.stop();
        throw new Error(`the status of ${unreadable}`);
      }
    } catch (error) {
      runtime.logger.log("warn", "checkpoint could not be restored; replaying the whole journal", { error: errorText(error) });
      checkpoint = null;
      entries = runtime.journal.load();
    }
  }
  if (!checkpoint) {
    // The first timers of a full replay start at the first entry's time.
    runtime.actor = launch(runtime, machine, options, null, entries[0]?.at ?? runtime.liveClock.now());
  }
  await recover(runtime, runtime.actor!, entries, checkpoint, options.mode);
}

/**
 * The checkpoint to start from, with its snapshot's profiles back in (what `launch` restores),
 * or null (none, unusable, or not `wanted`).
 */
function usableCheckpoint(runtime: ServiceRuntime, wanted: boolean): Checkpoint | null {
  if (!wanted) return null;
  const checkpoint = runtime.journal.loadCheckpoint();
  if (!checkpoint) return null;
  let problem = checkpointProblem(checkpoint, checkpointKey(runtime));
  let snapshot: unknown;
  if (!problem) {
    try {
      snapshot = withProfiles(checkpoint.snapshot, runtime.profiles);
      problem = impossibleState(snapshot, runtime.profiles);
    } catch (error) {
      problem = errorText(error);
    }
  }
  if (problem) runtime.logger.log("warn", `checkpoint not used (${problem}); replaying the whole journal`);
  // Built once: 10,000 users' machines are a large tree to copy twice at every start.
  return problem ? null : { ...checkpoint, snapshot };
}

/** A new supervisor: fresh, or restored from a checkpoint with its pending timers. */
function launch(
  runtime: ServiceRuntime,
  machine: typeof supervisorMachine,
  options: StartOptions,
  checkpoint: Checkpoint | null,
  startAt: number,
): Actor<typeof supervisorMachine> {
  runtime.clock = new ReplayClock(runtime.liveClock, startAt);
  const created = createActor(machine, {
    clock: runtime.clock,
    input: { users: runtime.profiles, sweepIntervalMs: runtime.sweepIntervalMs },
    // A checkpoint from `usableCheckpoint`, whose snapshot has its profiles back in.
    ...(checkpoint ? { snapshot: checkpoint.snapshot as never } : {}),
    // Inspection costs on every transition: only when someone looks.
    ...(runtime.trace || options.inspect ? { inspect: inspector({ trace: runtime.trace, inspect: options.inspect }, () => runtime.clock) } : {}),
  });
  const timers = (runtime.timers = new ActorTimers(created.system, () => runtime.clock.now()));
  created.subscribe({ error: (error) => runtime.logger.log("error", "supervisor failed", { error: errorText(error) }) });
  created.start();
  if (checkpoint) {
    try {
      timers.restore(created, checkpoint.timers);
    } catch (error) {
      created.stop(); // the start falls back to the journal with a new actor
      throw error;
    }
    for (const [user, seq] of Object.entries(checkpoint.started)) runtime.history.started(user, seq);
    for (const [user, seq] of Object.entries(checkpoint.sessionSeqs)) runtime.sessionSeqs.set(user, seq);
  }
  return created;
}

/**
 * Rebuilds every machine from the journal (after the checkpoint, if one was restored), effects
 * off, then goes live and says so (not in `replay` mode, which stops after the rebuild).
 */
async function recover(
  runtime: ServiceRuntime,
  running: Actor<typeof supervisorMachine>,
  entries: JournalEntry[],
  checkpoint: Checkpoint | null,
  mode: StartOptions["mode"],
): Promise<void> {
  for (const entry of entries) {
    runtime.clock.advanceTo(entry.at);
    apply(runtime, running, entry);
  }
  const lastSeq = Math.max(entries.at(-1)?.seq ?? 0, checkpoint?.seq ?? 0);
  runtime.nextSeq = lastSeq + 1;
  runtime.checkpointSeq = checkpoint?.seq ?? 0;
  if (mode === "replay") return;
  runtime.accepting = true;
  const lastAt = Math.max(entries.at(-1)?.at ?? -Infinity, checkpoint?.at ?? -Infinity);
  const recovered = lastSeq > 0;
  if (recovered) {
    // As far as the journal knows, the previous process stopped after its last entry: its
    // sockets died there, and the time it was down passes with no connection (a track that
    // ended meanwhile is known to have ended, and nothing pretends to have cleared it).
    runtime.clock.advanceTo(lastAt);
    record(runtime, { type: "runtime.stopped", at: lastAt });
  }
  runtime.clock.goLive();
  for (const [user, seq] of runtime.sessionSeqs) runtime.sockets.restoreSeq(user, seq);
  if (recovered) {
    runtime.logger.log("info", "journal replayed", { entries: entries.length, ...(checkpoint ? { afterCheckpoint: checkpoint.seq } : {}) });
    record(runtime, { type: "runtime.resumed", at: runtime.clock.now() });
    // The config this start was given wins over the journal's last reload (docs/architecture.md).
    const missing = usersMissing(running.getSnapshot(), runtime.profiles);
    if (missing.length > 0) {
      runtime.logger.log("info", "the config names users the journal's last reload removed: adding them", { users: missing });
      record(runtime, { type: "service.reconfigured", users: missing, removed: [], newToken: [], at: runtime.clock.now() });
    }
  }
}
