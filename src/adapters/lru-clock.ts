/**
 * lru-cache options that make a cache's TTLs follow an injected clock (ms), so that tests can move
 * time; `{}` (lru-cache's own clock) without one.
 *
 * lru-cache v11 takes its clock as `perf`. It treats a start time of 0 as "no TTL", so the injected
 * clock is shifted to start at 1; `ttlResolution: 0` makes it read the clock on every check instead
 * of caching it for 1 ms of real time (a test clock jumps).
 *
 * @example
 * new LRUCache<string, string>({ max: 100, ttl: 60_000, ...lruClock(() => clock.now()) });
 */
export function lruClock(now: (() => number) | undefined): { perf?: { now(): number }; ttlResolution?: number } {
  if (!now) return {};
  const epoch = now();
  return { perf: { now: () => now() - epoch + 1 }, ttlResolution: 0 };
}
