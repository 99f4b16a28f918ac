/** Time for the service: XState's clock (`SimulatedClock` in tests) plus the current time. */
export interface ServiceClock {
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/**
 * The longest delay one `setTimeout` can wait (about 24.8 days). Node, Deno and browsers keep the
 * delay in a signed 32-bit int, and fire a longer one after 1 ms.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * A timer longer than `setTimeout` can wait: armed in chunks of at most `MAX_TIMER_DELAY_MS` and
 * re-armed until the whole delay has passed. The object itself is the handle, so `clear()` stops
 * it whichever chunk is pending. It counts the delay down instead of comparing `Date.now()` with a
 * due time: timers run on a monotonic clock, and setting the wall clock must not move this one.
 */
class LongTimer {
  readonly #fn: () => void;
  #remainingMs: number;
  #pending: ReturnType<typeof setTimeout>;

  constructor(fn: () => void, delayMs: number) {
    this.#fn = fn;
    this.#remainingMs = delayMs;
    this.#pending = this.#armNextChunk();
  }

  clear(): void {
    clearTimeout(this.#pending);
  }

  #armNextChunk(): ReturnType<typeof setTimeout> {
    const chunkMs = Math.min(this.#remainingMs, MAX_TIMER_DELAY_MS);
    this.#remainingMs -= chunkMs;
    return setTimeout(() => {
      if (this.#remainingMs > 0) this.#pending = this.#armNextChunk();
      else this.#fn();
    }, chunkMs);
  }
}

/**
 * The real clock. Any delay works: one over `MAX_TIMER_DELAY_MS` (a track end at a slow playback
 * rate, a host's long duration, a peer's odd interval) becomes a `LongTimer`. Every other delay,
 * heartbeats for thousands of users among them, is a plain `setTimeout` with nothing allocated.
 */
export const systemClock: ServiceClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => (ms > MAX_TIMER_DELAY_MS ? new LongTimer(fn, ms) : setTimeout(fn, ms)),
  clearTimeout: (id) => (id instanceof LongTimer ? id.clear() : clearTimeout(id as ReturnType<typeof setTimeout>)),
};
