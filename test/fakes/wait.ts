/**
 * Real-time waiting helpers for tests that do socket I/O. The timer functions are captured when this
 * module loads, so they keep working in tests that later install fake timers (vi.useFakeTimers).
 */
import { setImmediate as realSetImmediate } from "node:timers";

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** Resolves after `ms` real milliseconds: a polling pace, never a way to let I/O settle (see io-barrier.ts). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** Resolves on the next turn of the event loop (a macrotask), once pending I/O callbacks have had their turn. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve));
}

/**
 * A real-time deadline for a waiting loop: `expired` turns true after `timeoutMs`. A real timer,
 * not Date.now(): fake timers may freeze the clock. `clear` it when the loop ends.
 */
export function deadline(timeoutMs: number): { readonly expired: boolean; clear(): void } {
  let expired = false;
  const timer = realSetTimeout(() => (expired = true), timeoutMs);
  return {
    get expired() {
      return expired;
    },
    clear: () => realClearTimeout(timer),
  };
}

/**
 * Polls `predicate` every few ms until it returns a truthy value, and resolves with that value.
 * Rejects with a descriptive error after `timeoutMs` (real time).
 */
export async function until<T>(predicate: () => T, timeoutMs = 2000, what = "condition"): Promise<NonNullable<T>> {
  const time = deadline(timeoutMs);
  try {
    for (;;) {
      const value = predicate();
      if (value) return value as NonNullable<T>;
      if (time.expired) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(5);
    }
  } finally {
    time.clear();
  }
}

/**
 * Races `promise` against a real-time timeout. Used by the fakes' waitFor* methods.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = realSetTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => realClearTimeout(timer));
}
