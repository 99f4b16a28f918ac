import type { SavedTimer } from "./adapters/actor-timers.ts";
import type { JournalEntry } from "./adapters/journal.ts";

/**
 * The whole actor system at one journal seq: XState's persisted snapshot of the supervisor (its
 * shards and every user's machine inside), the timers they had pending, and what compaction needs.
 * A start restores it and replays only the entries after it, so that recovery takes time in
 * proportion to the tail, not to the history (a day of heartbeats for 10,000 users is millions
 * of entries). It holds no secret: machines never hold tokens.
 */
export interface Checkpoint {
  v: 1;
  /** The journal seq of the last input it includes. */
  seq: number;
  /** The service clock when it was taken. */
  at: number;
  /**
   * The configuration (users and their settings, no secrets) and machine definitions it was
   * taken under. A start under any other falls back to replaying the journal.
   */
  key: string;
  /** For compaction: the seq of the input that started each running machine. */
  started: Record<string, number>;
  snapshot: unknown;
  timers: SavedTimer[];
}

/** FNV-1a, 32 bits, as hex: a short, stable name for a long text (not a secret's hash). */
export function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** Why a checkpoint cannot be used for this start, or null if it can. */
export function checkpointProblem(checkpoint: Checkpoint, key: string): string | null {
  if (checkpoint.v !== 1) return `unknown checkpoint version ${String(checkpoint.v)}`;
  if (checkpoint.key !== key) return "the configuration or the machines changed since it was taken";
  return null;
}

/** The entries a start replays after a checkpoint. */
export function tailAfter(checkpoint: Checkpoint, entries: JournalEntry[]): JournalEntry[] {
  return entries.filter((entry) => entry.seq > checkpoint.seq);
}
