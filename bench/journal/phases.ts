/**
 * Where a generated day leaves each user, so that a replay of it can be checked: the day
 * generator logs every change of a user's phase, and the check compares the state the replay
 * left each machine in with the phases the user was in around the last entry (a change within
 * `MARGIN_MS` of it may or may not have happened yet, as far as the replay's clock goes).
 */

/** What a user is doing, as the generator knows it. */
export type Phase =
  /** No play yet: no machine. */
  | "never"
  /** Played, the connection not READY yet. */
  | "connecting"
  | "playing"
  | "paused"
  /** Stopped, the connection still open (nothing shown). */
  | "ready"
  /** The connection closed as idle. */
  | "closed";

const MARGIN_MS = 10_000;

/** The machine states (as `service.status()` names them) each phase allows. */
export const statesOf: Record<Phase, (state: string) => boolean> = {
  never: (state) => state === "idle",
  connecting: (state) => state.startsWith("connecting") || state.startsWith("identifying"),
  playing: (state) => state === "presenting.playing",
  paused: (state) => state === "presenting.paused",
  ready: (state) => state === "ready" || state === "clearing",
  // A closed machine is stopped at the next sweep, and then the user has none.
  closed: (state) => state === "disconnected" || state === "idle",
};

/** One user's phase changes, in time order. */
export class PhaseLog {
  readonly #times: number[] = [];
  readonly #phases: Phase[] = [];

  at(time: number, phase: Phase): void {
    this.#times.push(time);
    this.#phases.push(phase);
  }

  /** The phase at `lastAt - MARGIN_MS` and every phase entered up to `lastAt + MARGIN_MS`. */
  phasesAround(lastAt: number): Phase[] {
    const phases = new Set<Phase>();
    let current: Phase = "never";
    this.#times.forEach((time, i) => {
      if (time <= lastAt - MARGIN_MS) current = this.#phases[i]!;
      else if (time <= lastAt + MARGIN_MS) phases.add(this.#phases[i]!);
    });
    phases.add(current);
    return [...phases];
  }
}
