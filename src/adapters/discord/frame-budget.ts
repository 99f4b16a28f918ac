import { FRAME_LIMIT, FRAME_LIMIT_WINDOW_MS } from "../../actors/discord-protocol.ts";
import type { ServiceClock } from "../../clock.ts";

/**
 * docs/protocol.md: at most 120 frames per 60 s per connection, or Discord closes it with 4008. Frames
 * are counted in fixed 60 s windows that start with their first frame, and two fixed windows can
 * meet head-on, so each gets half: at most 120 in any 60 s.
 */
const FRAMES_PER_WINDOW = FRAME_LIMIT / 2;

/**
 * Scheduled beats are not counted: room is kept for as many as fall in a window at the
 * connection's interval (2 at Discord's 41.25 s), up to 5. What is left (55 or more) is for
 * identify, resume, presence updates (5 / 20 s at most) and answers to op 1.
 */
const MOST_BEATS_KEPT_FOR = 5;

/** One connection's frame budget. No timer: a window ends when a frame comes after its end. */
export class FrameBudget {
  readonly #clock: ServiceClock;
  #limit = FRAMES_PER_WINDOW - MOST_BEATS_KEPT_FOR;
  #windowStart = Number.NEGATIVE_INFINITY;
  #used = 0;

  constructor(clock: ServiceClock) {
    this.#clock = clock;
  }

  /** Hello: keep room for the beats that fall in a window at this interval. */
  keepRoomForBeats(intervalMs: number): void {
    this.#limit = FRAMES_PER_WINDOW - Math.min(MOST_BEATS_KEPT_FOR, Math.ceil(FRAME_LIMIT_WINDOW_MS / intervalMs));
  }

  /** Books one frame; false (nothing booked) when the window has no room left. */
  take(): boolean {
    const now = this.#clock.now();
    if (now >= this.#windowStart + FRAME_LIMIT_WINDOW_MS) {
      this.#windowStart = now;
      this.#used = 0;
    }
    if (this.#used >= this.#limit) return false;
    this.#used += 1;
    return true;
  }

  /** How long until the current window ends and frames may go again. */
  msUntilRoom(): number {
    return Math.max(0, this.#windowStart + FRAME_LIMIT_WINDOW_MS - this.#clock.now());
  }
}
