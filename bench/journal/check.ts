import type { PresenceService } from "../../src/service.ts";
import type { PlainUser } from "./baseline.ts";

/**
 * A generated journal is only realistic if replaying it leaves every user where a live run would:
 * presenting the track on the session it opened first, never reconnected (a missing or misplaced
 * heartbeat ACK is a zombie, and the machine would reconnect). Throws naming the first user that is not.
 */
export function checkAllPlaying(service: PresenceService, users: number): void {
  const statuses = service.status().users;
  const wrong = statuses.filter((u) => u.state !== "presenting.playing" || u.reconnects !== 0 || u.showing === null);
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
