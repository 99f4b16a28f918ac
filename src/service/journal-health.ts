import { errorText } from "../errors.ts";

/** Whether the journal can be written, as `/healthz`, `/status`, the page and `/metrics` show it. */
export interface JournalStatus {
  /** The last write (an append or a checkpoint) went through. */
  writable: boolean;
  /** Writes that failed since the start. */
  failures: number;
  /** Why the last write failed, while it is still failing; null once a write went through. */
  lastError: string | null;
}

/**
 * Keeps track of journal writes. A journal that cannot be written (a full disk, a data folder the
 * service may not write) does not stop the service: presence matters more to a user than a replay
 * of it. But it must not go unseen: a restart would lose what was not written.
 */
export class JournalHealth {
  #writable = true;
  #failures = 0;
  #lastError: string | null = null;
  /** The kind of write that failed last. */
  #failing: string | null = null;

  /** A write went through. True if the journal had been failing until now. */
  wrote(): boolean {
    if (this.#writable) return false; // every append comes here: nothing to do
    this.#writable = true;
    this.#lastError = null;
    return true;
  }

  /**
   * A write (`what`: append, checkpoint, ...) failed. True if it is the first of its kind since the
   * journal last worked: worth a log line, where the thousands that follow are not.
   */
  failed(what: string, error: unknown): boolean {
    const first = this.#writable || this.#failing !== what;
    this.#writable = false;
    this.#failing = what;
    this.#failures++;
    this.#lastError = `${what}: ${errorText(error)}`;
    return first;
  }

  get writable(): boolean {
    return this.#writable;
  }

  status(): JournalStatus {
    return { writable: this.#writable, failures: this.#failures, lastError: this.#lastError };
  }
}
