/**
 * How many gateway handshakes may be under way at once by default. A handshake is a socket from
 * its opening until READY or RESUMED (or its close): the upgrade, Hello, identify or resume.
 *
 * Why a limit: when many users start together (a restart that resumes a whole household, or
 * thousands of users on one service), opening every socket at once makes a burst that helps no
 * one. Each waiting user holds its half-done state for as long as the burst lasts, so the process
 * grows its heap for all of them at once and keeps those pages. At 10,000 users starting at once
 * (`bench/network/profile.ts --side nd --users 10000`): 41 KiB of RSS per user with every socket
 * opened together, 28.5 KiB with this limit (29.5 at 100, 29.4 at 1,000), all presenting in about
 * the same time. Discord, like any server, also sees a steady stream from one address rather than
 * a flood. 250 leaves a household, or a few hundred users, unthrottled.
 */
export const DEFAULT_HANDSHAKE_LIMIT = 250;

/**
 * Lets at most `limit` handshakes run at once; the others wait their turn, first come first served.
 * A key is one socket: it enters when asked to open, and leaves when its handshake is over or it
 * is given up (closed, replaced), whether it was running or still waiting.
 */
export class HandshakeGate<Key> {
  readonly #running = new Set<Key>();
  /** Waiting keys with what starts them; a Map keeps the order they came in. */
  readonly #waiting = new Map<Key, () => void>();

  constructor(readonly limit: number = DEFAULT_HANDSHAKE_LIMIT) {
    if (!(limit >= 1)) throw new RangeError(`handshake limit must be at least 1, not ${limit}`);
  }

  /** Handshakes under way, and sockets waiting to start theirs. */
  get counts(): { running: number; waiting: number } {
    return { running: this.#running.size, waiting: this.#waiting.size };
  }

  /** Starts `key` now (`start` is called before this returns) if a slot is free, else when one frees. */
  enter(key: Key, start: () => void): void {
    this.#waiting.set(key, start);
    this.#startWaiting();
  }

  /** `key`'s handshake is over, or it was given up: a waiting key never starts, a running one frees its slot. */
  leave(key: Key): void {
    if (this.#waiting.delete(key)) return;
    if (this.#running.delete(key)) this.#startWaiting();
  }

  #startWaiting(): void {
    for (const [key, start] of this.#waiting) {
      if (this.#running.size >= this.limit) return;
      this.#waiting.delete(key);
      this.#running.add(key);
      start();
    }
  }
}
