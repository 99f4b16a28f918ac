import type { ServiceClock } from "../../clock.ts";
import { MinHeap } from "./min-heap.ts";

interface Timer {
  id: number;
  dueAt: number;
  fn: () => void;
  handle?: unknown;
}

/**
 * The actor system's clock across a restart. While the journal is replayed, time is what the
 * journal says: `advanceTo(t)` fires every timer due by `t`, in order, so that the machines' delays
 * (backoffs, Hello and READY timeouts, track ends, rate windows) fire between the events exactly as
 * they did live. Heartbeats are not among them: they are the connection's, and a replay opens none. `goLive()` hands the
 * timers still pending to the real clock, due at the same moments, and from then on time is real.
 * (XState's persisted snapshot leaves pending timers out: a checkpoint saves them beside it, see
 * `ActorTimers`, and the replay of the entries after it sets theirs again as it goes.)
 */
export class ReplayClock implements ServiceClock {
  #live: ServiceClock;
  #replaying = true;
  #now: number;
  #nextId = 1;
  /** Timers set during the replay and not yet fired or cleared. */
  readonly #timers = new Set<Timer>();
  /** Timers by due time, then by age: a replay fires thousands of them per second. */
  readonly #queue = new MinHeap<Timer>(before);

  constructor(live: ServiceClock, startAt: number) {
    this.#live = live;
    this.#now = startAt;
  }

  get replaying(): boolean {
    return this.#replaying;
  }

  now(): number {
    return this.#replaying ? this.#now : this.#live.now();
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown {
    // Once live, a timer is the live clock's own: no bookkeeping on the busiest path (heartbeats).
    if (!this.#replaying) return this.#live.setTimeout(fn, ms);
    // A replay timer's handle is its own object, so `clearTimeout` can tell it from a live one.
    const timer: Timer = { id: this.#nextId++, dueAt: this.now() + ms, fn: () => fn() };
    this.#timers.add(timer);
    this.#queue.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    const timer = handle as Timer;
    if (!this.#timers.has(timer)) {
      if (!this.#replaying) this.#live.clearTimeout(handle);
      return;
    }
    this.#timers.delete(timer);
    if (timer.handle !== undefined) this.#live.clearTimeout(timer.handle);
  }

  /** Replay: moves time forward to `at`, firing every timer due by then, earliest (then oldest) first. */
  advanceTo(at: number): void {
    for (;;) {
      const next = this.#queue.peek();
      if (!next || next.dueAt > at) break;
      this.#queue.pop();
      // A cleared timer stays in the queue until it comes up (cheaper than removing it there).
      if (!this.#timers.delete(next)) continue;
      this.#now = Math.max(this.#now, next.dueAt);
      next.fn();
    }
    this.#now = Math.max(this.#now, at);
  }

  /** Ends the replay: time becomes the live clock's, and pending timers are armed on it. */
  goLive(): void {
    this.advanceTo(this.#live.now());
    this.#replaying = false;
    this.#queue.clear();
    for (const timer of this.#timers.values()) this.#arm(timer);
  }

  /** Any delay: a timer due in more than 2^31 ms (about 24.8 days) is the live clock's to re-arm. */
  #arm(timer: Timer): void {
    timer.handle = this.#live.setTimeout(() => {
      this.#timers.delete(timer);
      timer.fn();
    }, Math.max(0, timer.dueAt - this.#live.now()));
  }
}

const before = (a: Timer, b: Timer) => a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.id < b.id);
