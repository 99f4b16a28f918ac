import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ReplayClock } from "../src/adapters/journal/replay-clock.ts";
import { type ServiceClock, systemClock } from "../src/clock.ts";

// Issue 15: setTimeout keeps its delay in a signed 32-bit int, and Node and Deno fire a delay of
// 2^31 ms or more after 1 ms. Vitest's fake timers do the same, so these tests see what a user saw.

/** Just over what one setTimeout can wait (2^31 - 1 ms, about 24.8 days). */
const LONG_MS = 2 ** 31 + 1000;
const MAX_MS = 2 ** 31 - 1;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Each clock under test, set up the way the service uses it, with one long timer set on it. */
const clocks: Array<[string, (fn: () => void) => { clock: ServiceClock; handle: unknown }]> = [
  ["systemClock", (fn) => ({ clock: systemClock, handle: systemClock.setTimeout(fn, LONG_MS) })],
  [
    "a ReplayClock that goes live with the timer pending",
    (fn) => {
      const clock = new ReplayClock(systemClock, Date.now());
      const handle = clock.setTimeout(fn, LONG_MS);
      clock.goLive();
      return { clock, handle };
    },
  ],
];

describe.each(clocks)("a timer of 2^31 + 1000 ms on %s", (_name, start) => {
  it("does not fire after 1 ms nor after 2^31 - 1 ms, and fires once at its due time", () => {
    const fired = vi.fn();
    start(fired);
    vi.advanceTimersByTime(1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_MS - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(LONG_MS - MAX_MS - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * LONG_MS);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it("can be cleared before its first chunk ends: it never fires and leaves no timer behind", () => {
    const fired = vi.fn();
    const { clock, handle } = start(fired);
    vi.advanceTimersByTime(60_000);
    clock.clearTimeout(handle);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(2 * LONG_MS);
    expect(fired).not.toHaveBeenCalled();
  });

  it("can be cleared after it was re-armed for the rest of its delay", () => {
    const fired = vi.fn();
    const { clock, handle } = start(fired);
    vi.advanceTimersByTime(MAX_MS + 1);
    expect(vi.getTimerCount()).toBe(1);
    clock.clearTimeout(handle);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(2 * LONG_MS);
    expect(fired).not.toHaveBeenCalled();
  });
});

describe("systemClock's everyday timers", () => {
  it("fire and clear as setTimeout's do, up to and including the longest delay setTimeout takes", () => {
    const fired = vi.fn();
    systemClock.setTimeout(() => fired("beat"), 41_250);
    systemClock.setTimeout(() => fired("longest"), MAX_MS);
    systemClock.clearTimeout(systemClock.setTimeout(() => fired("cleared"), 5_000));
    vi.advanceTimersByTime(MAX_MS);
    expect(fired.mock.calls).toEqual([["beat"], ["longest"]]);
  });
});
