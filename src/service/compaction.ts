import { presenceOf } from "../actors/supervisor-machine.ts";
import type { CompactionOutcome, Journal, JournalEntry } from "../adapters/journal/journal.ts";
import { errorText } from "../errors.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { saveCheckpoint } from "./checkpoints.ts";
import type { ServiceRuntime } from "./runtime.ts";

/** For each user, the journal seq of the input that started their current machine. */
export class JournalHistory {
  readonly #startedAt = new Map<string, number>();

  started(user: string, seq: number): void {
    this.#startedAt.set(user, seq);
  }

  startedAt(user: string): number | undefined {
    return this.#startedAt.get(user);
  }
}

/**
 * The entries a replay still needs: those of each running machine since the input that started
 * it, and service-wide entries since the oldest of those. An idle user's history collapses to
 * nothing, because an idle machine is as good as a fresh one (the supervisor replaces it on the
 * next track either way), so a replay of what is kept rebuilds the same machines.
 */
function entriesToKeep(entries: JournalEntry[], history: JournalHistory, running: (user: string) => boolean): JournalEntry[] {
  // Worked out once per user, not once per entry: a journal holds thousands of entries per user.
  const sinceByUser = new Map<string, number | undefined>();
  const since = (user: string) => {
    if (!sinceByUser.has(user)) sinceByUser.set(user, running(user) ? history.startedAt(user) : undefined);
    return sinceByUser.get(user);
  };
  let oldest = Infinity;
  for (const entry of entries) if ("user" in entry.event && since(entry.event.user) === entry.seq) oldest = Math.min(oldest, entry.seq);
  return entries.filter((entry) => {
    if (!("user" in entry.event)) return entry.seq >= oldest;
    const start = since(entry.event.user);
    return start !== undefined && entry.seq >= start;
  });
}

/**
 * Rewrites the journal with only what a replay needs, looking only at entries up to `upTo` (the
 * checkpoint it follows) and keeping every later one. The journal reads, selects and rewrites in
 * one step (`Journal.compact`), so an entry appended while a compaction was pending is kept.
 */
export function compactJournal(journal: Journal, history: JournalHistory, running: (user: string) => boolean, upTo: number): CompactionOutcome {
  return journal.compact((entries) => [
    ...entriesToKeep(entries.filter((entry) => entry.seq <= upTo), history, running),
    ...entries.filter((entry) => entry.seq > upTo),
  ]);
}

/**
 * A checkpoint, then drops from the journal what a full replay no longer needs (idle users'
 * history). Never throws: a failure is logged and shows in the journal's health.
 */
export async function compact(runtime: ServiceRuntime): Promise<void> {
  if (!runtime.actor) return;
  const running = runtime.actor;
  // The checkpoint first: the journal is cut only behind a checkpoint that is safely written,
  // so that either a start restores it and replays the rest, or replays a journal that is whole.
  let checkpoint: Checkpoint | null;
  try {
    checkpoint = await saveCheckpoint(runtime);
  } catch (error) {
    runtime.logger.log("error", "journal checkpoint could not be saved, so the journal was not compacted", { error: errorText(error) });
    return;
  }
  if (!checkpoint) return;
  const snapshot = running.getSnapshot();
  try {
    compactJournal(runtime.journal, runtime.history, (user) => presenceOf(snapshot, user) !== undefined, checkpoint.seq);
  } catch (error) {
    // The rewrite is atomic: the journal is as it was.
    if (runtime.health.failed("compaction", error)) {
      runtime.logger.log("error", "journal compaction failed; the journal is as it was", { error: errorText(error) });
    }
  }
}
