/**
 * The journal the bench gives nd-presence, wrapped so that it counts what the service journals:
 * records per event type since the start. The steady-dispatches scenario reads it around its
 * window to report how many records a user costs a minute between track changes (a real account's
 * dispatches, heartbeat ACKs, whatever the service chooses to keep).
 *
 * Counting is a property increment next to a JSON.stringify and a write: it does not move the
 * service's figures.
 */
import type { Journal, JournalEntry } from "../../src/adapters/journal/journal.ts";

/** Records appended since the journal was made: in all, and by the `type` of their event. */
export interface JournalRecords {
  total: number;
  byType: Record<string, number>;
}

export class CountingJournal implements Journal {
  readonly #inner: Journal;
  readonly #byType: Record<string, number> = Object.create(null);
  #total = 0;

  constructor(inner: Journal) {
    this.#inner = inner;
  }

  records(): JournalRecords {
    return { total: this.#total, byType: { ...this.#byType } };
  }

  append(entry: JournalEntry): void {
    this.#inner.append(entry);
    // Counted once written: an append that threw kept nothing.
    this.#total += 1;
    const type = entry.event.type;
    this.#byType[type] = (this.#byType[type] ?? 0) + 1;
  }

  load(afterSeq?: number) {
    return this.#inner.load(afterSeq);
  }
  compact(keep: Parameters<Journal["compact"]>[0]) {
    return this.#inner.compact(keep);
  }
  loadCheckpoint() {
    return this.#inner.loadCheckpoint();
  }
  saveCheckpoint(checkpoint: Parameters<Journal["saveCheckpoint"]>[0]) {
    return this.#inner.saveCheckpoint(checkpoint);
  }
  size() {
    return this.#inner.size();
  }
  close() {
    this.#inner.close();
  }
}

/** Records per user per minute between two readings `seconds` apart. */
export function recordsPerUserMinute(before: JournalRecords, after: JournalRecords, users: number, seconds: number): number {
  return (after.total - before.total) / users / (seconds / 60);
}

/** `gateway.dispatch 59.8, gateway.heartbeatAck 1.45` per user per minute, most first: what the records are. */
export function describeRecords(before: JournalRecords, after: JournalRecords, users: number, seconds: number): string {
  const rates = Object.keys(after.byType)
    .map((type) => [type, ((after.byType[type] ?? 0) - (before.byType[type] ?? 0)) / users / (seconds / 60)] as const)
    .filter(([, rate]) => rate > 0)
    .sort((a, b) => b[1] - a[1]);
  return rates.length === 0 ? "none" : rates.map(([type, rate]) => `${type} ${rate.toPrecision(3)}`).join(", ");
}
