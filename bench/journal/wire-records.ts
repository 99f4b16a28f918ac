/**
 * What an open gateway connection adds to the journal besides the session's own events. The two
 * designs the bench measures differ here:
 *
 * - `acks`, today's: the presence machine beats, so each heartbeat ACK is journaled, a round trip
 *   after each beat the machine sends (every 41.25 s, the first at interval x the machine's first
 *   draw after Hello). One missing would be a zombie on replay.
 * - `seq`, issue 16's: the connection owns the wire (beats, ACKs, dispatches) and journals only the
 *   session's `s`, at most once a minute (`gateway.seq`), for a resume after a restart; `s`
 *   advances with the account's dispatches (one a second, the bench's default).
 *
 * The bench runs against either service, so it asks the presence machine in this tree which one it
 * is, and builds the records as plain objects: one of the two event types is not in events.ts.
 */
import type { DomainEvent } from "../../src/actors/events.ts";
import { presenceMachine } from "../../src/actors/presence-machine.ts";
import { nextRandom, seedFrom } from "../../src/actors/random.ts";
import { DEFAULT_ACCOUNT } from "../network/account/traffic.ts";
import { between } from "../seeded.ts";

export type WireRecords = "acks" | "seq";

/** What the service in this tree journals: `acks` while its presence machine still takes heartbeat ACKs. */
export const serviceWire: WireRecords = Object.hasOwn(presenceMachine.config.on ?? {}, "gateway.heartbeatAck") ? "acks" : "seq";

/** Discord's heartbeat interval (op 10 Hello), as production gateways send it. */
export const HEARTBEAT_INTERVAL_MS = 41_250;
/** The connection notes the session's `s` at most this often (issue 16). */
const SEQ_NOTE_MS = 60_000;

/** A connection of a machine spawned at `spawnAt` (its seed), its first socket, open until `until`. */
export interface OpenConnection {
  user: string;
  spawnAt: number;
  helloAt: number;
  readyAt: number;
  until: number;
}

/** How often `wire` adds a record to an open connection, ms: for sizing a journal. */
export const recordEveryMs = (wire: WireRecords) => (wire === "acks" ? HEARTBEAT_INTERVAL_MS : SEQ_NOTE_MS);

/**
 * Pushes the records `wire` journals for `connection` (each before `until`), in time order, with
 * `random` drawing each ACK's round trip (20-90 ms) or how late in its second a noted dispatch came.
 */
export function wireRecords(wire: WireRecords, connection: OpenConnection, random: () => number, push: (event: DomainEvent) => void): void {
  const { user, until } = connection;
  // Not in today's or in issue 16's events.ts, depending on the service: written as the journal has them.
  const record = (event: { type: string; user: string; socket: number; seq?: number; at: number }) => {
    if (event.at < until) push(event as unknown as DomainEvent);
  };
  if (wire === "acks") {
    const [draw] = nextRandom(seedFrom(user, connection.spawnAt));
    for (let beatAt = connection.helloAt + Math.floor(HEARTBEAT_INTERVAL_MS * draw); beatAt < until; beatAt += HEARTBEAT_INTERVAL_MS) {
      record({ type: "gateway.heartbeatAck", user, socket: 1, at: beatAt + between(random, 20, 90) });
    }
    return;
  }
  // READY carried s = 1; a note is due with the first dispatch a minute after the last one.
  const late = () => between(random, 0, 1_000);
  for (let at = connection.readyAt + SEQ_NOTE_MS + late(); at < until; at += SEQ_NOTE_MS + late()) {
    record({ type: "gateway.seq", user, socket: 1, seq: 1 + Math.floor(((at - connection.readyAt) / 1000) * DEFAULT_ACCOUNT.dispatchRate), at });
  }
}
