import type { SnapshotFrom } from "xstate";
import type { Activity } from "../actors/effects.ts";
import { presenceOf, type supervisorMachine } from "../actors/supervisor-machine.ts";
import { isLive } from "../actors/presence-context.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import { errorText } from "../errors.ts";
import type { JournalStatus } from "./journal-health.ts";

/** One user as the status page, `/status` and `service.status()` show them. No secret. */
export interface UserStatusReport {
  user: string;
  /** The machine's state, e.g. `presenting.playing`, `backoff`, `failed`; `idle` when no machine runs. */
  state: string;
  /** The gateway session is READY (or RESUMED). */
  connected: boolean;
  /**
   * What the user's Discord status shows now: what was sent and kept (the server did not close the
   * socket with 4002 within a few seconds of it).
   */
  showing: Activity | null;
  /** Sent less than a few seconds ago and not yet known to be kept; null nearly always. */
  sending: Activity | null;
  lastError: string | null;
  /** Why the user was stopped for good (e.g. the token was rejected), with what to do. */
  failure: string | null;
  reconnects: number;
  /** Presence updates (op 3) the server kept. */
  presenceUpdates: number;
  /** Presence updates the server refused (it closed with 4002 right after them). */
  presenceRefused: number;
  /** The round trip of the last answered heartbeat on the user's connection, in ms; null before one. */
  heartbeatRoundTripMs: number | null;
  /** Connections closed as zombies (no heartbeat ACK between two beats) since the start. */
  zombieCloses: number;
}

type WireReport = Pick<UserStatusReport, "heartbeatRoundTripMs" | "zombieCloses">;
/** What a user's machine tells of them; the connection tells the rest. */
type MachineReport = Omit<UserStatusReport, keyof WireReport>;

/** What the connection knows of a user's wire (see `GatewaySockets.wireStatus`). */
export type WireStatusOf = (user: string) => WireReport;

const noWire: WireStatusOf = () => ({ heartbeatRoundTripMs: null, zombieCloses: 0 });

export interface ServiceStatus {
  running: boolean;
  users: UserStatusReport[];
  /** Events refused because their user is not configured, by user name. */
  refusedEvents: Record<string, number>;
  /** Whether the journal can be written (a service with no journal always can). */
  journal: JournalStatus;
}

/** `{ presenting: "playing" }` -> `presenting.playing`. */
export function stateName(value: unknown): string {
  if (typeof value === "string") return value;
  const [key, inner] = Object.entries(value as Record<string, unknown>)[0] ?? ["unknown", undefined];
  return inner === undefined ? key : `${key}.${stateName(inner)}`;
}

/**
 * Each configured user's report. One user whose machine cannot be read (a bug, a state restored
 * from a bad checkpoint) is reported as `unknown` with the reason; the others, and every endpoint
 * that shows them, are not affected.
 */
export function userStatuses(config: ServiceConfig, snapshot: SnapshotFrom<typeof supervisorMachine>, wire: WireStatusOf = noWire): UserStatusReport[] {
  return config.users.map((user, index) => {
    let report: MachineReport;
    try {
      report = userStatus(user, index, snapshot);
    } catch (error) {
      report = { ...noMachine(user.username, "unknown"), lastError: `status unavailable: ${errorText(error)}` };
    }
    return { ...report, ...wire(user.username) };
  });
}

/**
 * The first user whose status cannot be built from `snapshot`, with why, or null: a check of
 * machines restored from a checkpoint, before the service relies on them.
 */
export function unreadableUser(config: ServiceConfig, snapshot: SnapshotFrom<typeof supervisorMachine>): string | null {
  for (const [index, user] of config.users.entries()) {
    try {
      userStatus(user, index, snapshot);
    } catch (error) {
      return `${user.username}: ${errorText(error)}`;
    }
  }
  return null;
}

function noMachine(user: string, state: string): MachineReport {
  return { user, state, connected: false, showing: null, sending: null, lastError: null, failure: null, reconnects: 0, presenceUpdates: 0, presenceRefused: 0 };
}

function userStatus(user: ServiceConfig["users"][number], index: number, snapshot: SnapshotFrom<typeof supervisorMachine>): MachineReport {
  const machine = presenceOf(snapshot, user.username)?.getSnapshot();
  if (user.enabled === false || !machine) return noMachine(user.username, user.enabled === false ? "disabled" : "idle");
  const c = machine.context;
  return {
    user: user.username,
    state: stateName(machine.value),
    connected: isLive(c.socket),
    showing: c.shown.pending ? null : (c.shown.payload?.activities[0] ?? null),
    sending: c.shown.pending ? (c.shown.payload?.activities[0] ?? null) : null,
    lastError: c.lastError,
    failure: c.failure &&
      (c.failure.byToken
        ? `${c.failure.reason}: update users[${index}].discordToken and restart`
        : `${c.failure.reason}: a configuration or nd-presence bug; please report it`),
    reconnects: c.counters.reconnects,
    // Sent, less those refused and the one still unconfirmed: it only ever grows.
    presenceUpdates: c.counters.presenceUpdates - c.counters.presenceRefused - (c.shown.pending ? 1 : 0),
    presenceRefused: c.counters.presenceRefused,
  };
}
