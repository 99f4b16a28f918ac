import type { CompactionOutcome, Journal, JournalEntry } from "../adapters/journal/journal.ts";

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
