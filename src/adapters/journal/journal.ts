import type { DomainEvent } from "../../actors/events.ts";
import type { Checkpoint } from "../../service/checkpoint.ts";

/**
 * One journaled input (docs/architecture.md, "Event sourcing"): `{v, seq, at, stream, event}`, one JSON object
 * per line in the JSONL file. `stream` is `user:<name>` for a user's events, `service` for the
 * service's own (shutdown, resumed).
 */
export interface JournalEntry {
  v: 1;
  seq: number;
  at: number;
  stream: string;
  event: DomainEvent;
}

/** What a compaction did: entries kept and dropped, and damaged lines it removed. */
export interface CompactionOutcome {
  kept: number;
  dropped: number;
  /** Lines that were not entries (reported when the journal was loaded), now gone from it. */
  damaged: number;
}

/**
 * The journal port. Every method but `saveCheckpoint` is synchronous, and says so: the file
 * journal reads and writes with blocking calls, so nothing else (an artwork answer, a request
 * body) can run in the middle of one, and an append is on its way to the disk before the event is
 * applied. What "durable" means is the implementation's documented policy.
 */
export interface Journal {
  /**
   * Every entry in order (only those after `afterSeq`, if given: what follows a checkpoint). A
   * torn last line (a crash mid-write) is dropped with a warning; a damaged line is skipped with
   * an error.
   */
  load(afterSeq?: number): JournalEntry[];
  /** Adds one entry at the end. Throws if it cannot (a full disk): then nothing of it is kept. */
  append(entry: JournalEntry): void;
  /**
   * Replaces the journal with the entries `keep` selects from what it holds now, atomically, in
   * one step: no append can fall between the read and the rewrite and be lost. Damaged lines are
   * dropped with it (they were reported when they were loaded).
   */
  compact(keep: (entries: JournalEntry[]) => JournalEntry[]): CompactionOutcome;
  /** The last checkpoint saved, or null (none, or unreadable: the journal alone still recovers). */
  loadCheckpoint(): Checkpoint | null;
  /**
   * Replaces the checkpoint, atomically. Asynchronous: a checkpoint is large and written off the
   * event loop; appends made meanwhile come after its seq and are not affected.
   */
  saveCheckpoint(checkpoint: Checkpoint): Promise<void>;
  /** Size in bytes, for `/metrics`. */
  size(): number;
  /** Writes out (and syncs, as the policy says) whatever is pending, and lets go of the file. */
  close(): void;
}

/** The stream an event belongs to. */
export function streamOf(event: DomainEvent): string {
  return "user" in event ? `user:${event.user}` : "service";
}

/** No journal: a host that wants no history (the service's default). Nothing is kept. */
export class NoJournal implements Journal {
  load(): JournalEntry[] {
    return [];
  }
  append(): void {}
  compact(): CompactionOutcome {
    return { kept: 0, dropped: 0, damaged: 0 };
  }
  loadCheckpoint(): Checkpoint | null {
    return null;
  }
  async saveCheckpoint(): Promise<void> {}
  size(): number {
    return 0;
  }
  close(): void {}
}

/** A journal in memory, for tests and tools: it keeps every entry until compacted. */
export class MemoryJournal implements Journal {
  entries: JournalEntry[];
  checkpoint: Checkpoint | null = null;

  /** Starts with copies of `entries` (a journal read elsewhere, e.g. by `nd-presence replay`). */
  constructor(entries: JournalEntry[] = []) {
    this.entries = entries.map((entry) => structuredClone(entry));
  }
  load(afterSeq = 0): JournalEntry[] {
    return this.entries.filter((entry) => entry.seq > afterSeq);
  }
  append(entry: JournalEntry): void {
    this.entries.push(structuredClone(entry));
  }
  compact(keep: (entries: JournalEntry[]) => JournalEntry[]): CompactionOutcome {
    const before = this.entries.length;
    this.entries = keep(this.entries);
    return { kept: this.entries.length, dropped: before - this.entries.length, damaged: 0 };
  }
  loadCheckpoint(): Checkpoint | null {
    return this.checkpoint && structuredClone(this.checkpoint);
  }
  async saveCheckpoint(checkpoint: Checkpoint): Promise<void> {
    // Through JSON, as the file journal stores it: what cannot be written cannot be restored.
    this.checkpoint = JSON.parse(JSON.stringify(checkpoint)) as Checkpoint;
  }
  size(): number {
    return this.entries.reduce((bytes, entry) => bytes + JSON.stringify(entry).length + 1, 0);
  }
  close(): void {}
}
