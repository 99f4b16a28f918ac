import type { ServiceClock } from "../../clock.ts";

export interface HeartbeatOptions {
  clock: ServiceClock;
  /** From Hello. */
  intervalMs: number;
  /** In [0, 1): where in the first interval the first beat falls (docs/protocol.md: interval x random). */
  jitter: number;
  /** Sends op 1 (with the connection's last `s`). */
  beat(): void;
  /** No ACK came between two beats: the connection is a zombie. The heartbeat has stopped. */
  zombie(): void;
}

/**
 * One connection's heartbeat, as discord.js's shard keeps it: the first beat after interval x
 * jitter, then one every interval; an ACK (op 11) answers the last beat, and a beat due while the
 * previous one is still unanswered means nobody is listening (the zombie rule). Each ACK tells
 * its beat's round trip, for the status page.
 *
 * It lives in the connection, not in the user's machine: a beat and its ACK every 41 s for every
 * user would otherwise be two machine steps and two journal entries each.
 */
export class Heartbeat {
  readonly #options: HeartbeatOptions;
  #timer: unknown = undefined;
  /** When the unanswered beat was sent, or null when the last one was answered. */
  #sentAt: number | null = null;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.#schedule(Math.floor(options.intervalMs * options.jitter));
  }

  /**
   * An ACK: the beat sent last was answered. Returns its round trip in ms, or null for an ACK
   * that answers no beat (a server's own), which changes nothing.
   */
  acknowledged(): number | null {
    if (this.#sentAt === null) return null;
    const roundTripMs = this.#options.clock.now() - this.#sentAt;
    this.#sentAt = null;
    return roundTripMs;
  }

  stop(): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    this.#timer = this.#options.clock.setTimeout(() => this.#due(), ms);
  }

  #due(): void {
    this.#timer = undefined;
    if (this.#sentAt !== null) return this.#options.zombie();
    this.#sentAt = this.#options.clock.now();
    this.#schedule(this.#options.intervalMs);
    this.#options.beat();
  }
}
