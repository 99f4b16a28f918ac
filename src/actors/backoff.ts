/** How a reconnect is paced; all values in ms. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/**
 * Delay before reconnect attempt number `attempt` (0 = first retry after a working session).
 *
 * docs/protocol.md, "Backoff": the first retry after op 7 or a resumable close is immediate; after that,
 * exponential backoff with full jitter (AWS architecture blog's "full jitter"): a random delay in
 * [0, min(cap, base * 2^n)]. A floor of a quarter of the base keeps even an unlucky draw from
 * turning into a tight loop.
 *
 * Our own, not a retry library's: the machine draws `random` from its seeded generator, so a replay
 * waits exactly as long as the live run did; retry libraries call Math.random and own the timer.
 *
 * @example
 * backoffDelay(0, true, { baseMs: 1000, capMs: 60000 }, 0.5)  // 0: resume at once
 * backoffDelay(3, false, { baseMs: 1000, capMs: 60000 }, 0.5) // 4000 (half of 8000)
 */
export function backoffDelay(attempt: number, immediateFirst: boolean, policy: BackoffPolicy, random: number): number {
  if (attempt === 0 && immediateFirst) return 0;
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(policy.baseMs / 4, Math.round(random * ceiling));
}
