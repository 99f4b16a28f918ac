/**
 * Sends every READY socket its dispatches at `perSecond` each, spread over time, from one timer for
 * all of them: 10,000 sockets must not mean 10,000 timers on the gateway's 2 cores.
 *
 * Every `TICK_MS` the pump works out how many dispatches are owed since the last tick (rate x
 * sockets x elapsed time, the fraction carried over) and sends that many, round-robin from where
 * the last tick stopped. So each socket gets `perSecond` a second, the sockets' frames fall in
 * different ticks (1,000 sockets at 1/s: 20 a tick, not 1,000 at once), and a late tick sends
 * what it owes instead of lowering the rate.
 */
import type { WebSocket } from "ws";
import { dispatchDeck } from "./dispatch-frames.ts";

/** A READY (or RESUMED) connection, as the pump knows it. */
export interface DispatchTarget {
  ws: WebSocket;
  /** The last `s` sent on this socket; each dispatch takes the next. */
  seq: number;
  /** Where it sits in the pump's list (for an O(1) removal); -1 when not in it. */
  slot: number;
}

const TICK_MS = 20;

export class DispatchPump {
  readonly #targets: DispatchTarget[] = [];
  readonly #deck = dispatchDeck();
  #next = 0;
  #card = 0;
  #owed = 0;
  #lastTick = performance.now();
  #timer: NodeJS.Timeout | null = null;
  /** Dispatches sent since the last `resetCount`. */
  sent = 0;

  constructor(private readonly perSecond: number) {}

  add(target: DispatchTarget): void {
    if (this.perSecond <= 0 || target.slot >= 0) return;
    target.slot = this.#targets.length;
    this.#targets.push(target);
    if (!this.#timer) {
      this.#lastTick = performance.now();
      this.#timer = setInterval(() => this.#tick(), TICK_MS);
    }
  }

  /** Swaps the last target into the removed one's place: the round-robin may skip or repeat one socket once. */
  remove(target: DispatchTarget): void {
    if (target.slot < 0) return;
    const last = this.#targets.pop()!;
    if (last !== target) {
      last.slot = target.slot;
      this.#targets[target.slot] = last;
    }
    target.slot = -1;
    if (this.#targets.length === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
      this.#owed = 0;
    }
  }

  resetCount(): void {
    this.sent = 0;
  }

  #tick(): void {
    const now = performance.now();
    const count = this.#targets.length;
    // At most a second's worth at once: a gateway stalled for a while does not flood its clients after.
    this.#owed = Math.min(this.#owed + (this.perSecond * count * (now - this.#lastTick)) / 1000, this.perSecond * count);
    this.#lastTick = now;
    let due = Math.floor(this.#owed);
    this.#owed -= due;
    while (due-- > 0 && count > 0) {
      if (this.#next >= this.#targets.length) this.#next = 0;
      const target = this.#targets[this.#next++]!;
      const frame = this.#deck[this.#card++ % this.#deck.length]!;
      target.seq += 1;
      target.ws.send(frame.head + target.seq + frame.tail);
      this.sent += 1;
    }
  }
}
