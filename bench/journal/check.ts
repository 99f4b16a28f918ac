import type { PresenceService } from "../../src/service/service.ts";
import type { PlainUser } from "./baseline.ts";
import { type Phase, statesOf } from "./phases.ts";

/**
 * A generated journal is only realistic if replaying it leaves every user where a live run would:
 * presenting the track on the session it opened first, never reconnected (a missing or misplaced
 * heartbeat ACK is a zombie, and the machine would reconnect). Throws naming the first user that is not.
 */
export function checkAllPlaying(service: PresenceService, users: number): void {
  const statuses = service.status().users;
  // A presence sent in the last seconds of the journal is still "sending" (not yet known to be kept).
  const wrong = statuses.filter((u) => u.state !== "presenting.playing" || u.reconnects !== 0 || (u.showing ?? u.sending) === null);
  if (statuses.length !== users || wrong.length > 0) {
    const first = wrong[0];
    throw new Error(`replay left ${wrong.length} of ${statuses.length} users wrong (expected ${users}); first: ${JSON.stringify(first)}`);
  }
}

/** The same check on the raw baseline, so that it is known to have done the same work. */
export function checkPlainPlaying(state: Map<string, PlainUser>, users: number): void {
  const wrong = [...state.values()].filter((u) => u.state !== "playing");
  if (state.size !== users || wrong.length > 0) throw new Error(`baseline left ${wrong.length} of ${state.size} users not playing (expected ${users})`);
}

/**
 * A replay of a generated day (generate-day.ts) must leave each user in a state the day had them
 * in around its last entry, and never reconnected: a heartbeat ACK missing or out of place is a
 * zombie, and the machine would have reconnected. Throws naming the first user that is not.
 */
export function checkDayStates(service: PresenceService, expected: Array<[user: string, phases: Phase[]]>): void {
  const statuses = new Map(service.status().users.map((status) => [status.user, status]));
  const wrong = expected.filter(([user, phases]) => {
    const status = statuses.get(user);
    return !status || status.reconnects !== 0 || !phases.some((phase) => statesOf[phase](status.state));
  });
  if (wrong.length > 0) {
    const [user, phases] = wrong[0]!;
    throw new Error(
      `replay of the day left ${wrong.length} of ${expected.length} users wrong; first: ${user} expected ${phases.join(" or ")}, got ${
        JSON.stringify(statuses.get(user))
      }`,
    );
  }
}

/** The same on the raw baseline, for the users whose end is plain: playing, paused, or never played. */
export function checkPlainDay(state: Map<string, PlainUser>, expected: Array<[user: string, phases: Phase[]]>): void {
  const wrong = expected.filter(([user, phases]) => {
    if (phases.length !== 1) return false;
    const [phase] = phases;
    if (phase === "never") return state.has(user);
    return (phase === "playing" || phase === "paused") && state.get(user)?.state !== phase;
  });
  if (wrong.length > 0) {
    throw new Error(
      `baseline left ${wrong.length} users unlike the day; first: ${wrong[0]![0]} expected ${wrong[0]![1][0]}, got ${state.get(wrong[0]![0])?.state}`,
    );
  }
}
