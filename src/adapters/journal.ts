import type { DomainEvent } from "../actors/events.ts";
import type { Checkpoint } from "../checkpoint.ts";

/**
 * One journaled input (DESIGN.md, "Event sourcing"): `{v, seq, at, stream, event}`, one JSON object
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

/**
 * The journal port. Appends are ordered and happen before the event is applied; what "durable"
 * means is the implementation's documented policy.
 */
export interface Journal {
  /**
   * Every entry in order (only those after `afterSeq`, if given: what follows a checkpoint). A
   * torn last line (a crash mid-write) is dropped with a warning.
   */
  load(afterSeq?: number): Promise<JournalEntry[]>;
  append(entry: JournalEntry): void;
  /** Writes out (and syncs) whatever is pending. */
  flush(): Promise<void>;
  /** Replaces the whole journal with `entries`, atomically (compaction). */
  rewrite(entries: JournalEntry[]): Promise<void>;
  /** The last checkpoint saved, or null (none, or unreadable: the journal alone still recovers). */
  loadCheckpoint(): Promise<Checkpoint | null>;
  /** Replaces the checkpoint, atomically. */
  saveCheckpoint(checkpoint: Checkpoint): Promise<void>;
  /** Size in bytes, for `/metrics`. */
  size(): number;
  close(): Promise<void>;
}

/** The stream an event belongs to. */
export function streamOf(event: DomainEvent): string {
  return "user" in event ? `user:${event.user}` : "service";
}

/** No journal: a host that wants no history (the service's default). Nothing is kept. */
export class NoJournal implements Journal {
  async load(): Promise<JournalEntry[]> {
    return [];
  }
  append(): void {}
  async flush(): Promise<void> {}
  async rewrite(): Promise<void> {}
  async loadCheckpoint(): Promise<Checkpoint | null> {
    return null;
  }
  async saveCheckpoint(): Promise<void> {}
  size(): number {
    return 0;
  }
  async close(): Promise<void> {}
}

/** A journal in memory, for tests and tools: it keeps every entry until rewritten. */
export class MemoryJournal implements Journal {
  entries: JournalEntry[] = [];
  async load(afterSeq = 0): Promise<JournalEntry[]> {
    return this.entries.filter((entry) => entry.seq > afterSeq);
  }
  append(entry: JournalEntry): void {
    this.entries.push(structuredClone(entry));
  }
  async flush(): Promise<void> {}
  async rewrite(entries: JournalEntry[]): Promise<void> {
    this.entries = entries.map((entry) => structuredClone(entry));
  }
  checkpoint: Checkpoint | null = null;
  async loadCheckpoint(): Promise<Checkpoint | null> {
    return this.checkpoint && structuredClone(this.checkpoint);
  }
  async saveCheckpoint(checkpoint: Checkpoint): Promise<void> {
    // Through JSON, as the file journal stores it: what cannot be written cannot be restored.
    this.checkpoint = JSON.parse(JSON.stringify(checkpoint)) as Checkpoint;
  }
  size(): number {
    return this.entries.reduce((bytes, entry) => bytes + JSON.stringify(entry).length + 1, 0);
  }
  async close(): Promise<void> {}
}
