import type { ServiceClock } from "../service-clock.ts";

interface Timer {
  id: number;
  dueAt: number;
  fn: () => void;
  handle?: unknown;
}

/**
 * The actor system's clock across a restart. While the journal is replayed, time is what the
 * journal says: `advanceTo(t)` fires every timer due by `t`, in order, so that delays (heartbeats,
 * track ends, rate windows) fire between the events exactly as they did live. `goLive()` hands the
 * timers still pending to the real clock, due at the same moments, and from then on time is real.
 * (A persisted XState snapshot would lose pending timers; replaying events does not.)
 */
export class ReplayClock implements ServiceClock {
  #live: ServiceClock;
  #replaying = true;
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();

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

  setTimeout(fn: (...args: unknown[]) => void, ms: number): number {
    const timer: Timer = { id: this.#nextId++, dueAt: this.now() + ms, fn: () => fn() };
    this.#timers.set(timer.id, timer);
    if (!this.#replaying) this.#arm(timer);
    return timer.id;
  }

  clearTimeout(id: unknown): void {
    const timer = this.#timers.get(id as number);
    if (!timer) return;
    this.#timers.delete(timer.id);
    if (timer.handle !== undefined) this.#live.clearTimeout(timer.handle);
  }

  /** Replay: moves time forward to `at`, firing every timer due by then, earliest (then oldest) first. */
  advanceTo(at: number): void {
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.#timers.values()) {
        if (timer.dueAt <= at && (!next || timer.dueAt < next.dueAt)) next = timer;
      }
      if (!next) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.dueAt);
      next.fn();
    }
    this.#now = Math.max(this.#now, at);
  }

  /** Ends the replay: time becomes the live clock's, and pending timers are armed on it. */
  goLive(): void {
    this.advanceTo(this.#live.now());
    this.#replaying = false;
    for (const timer of this.#timers.values()) this.#arm(timer);
  }

  #arm(timer: Timer): void {
    timer.handle = this.#live.setTimeout(() => {
      this.#timers.delete(timer.id);
      timer.fn();
    }, Math.max(0, timer.dueAt - this.#live.now()));
  }
}
