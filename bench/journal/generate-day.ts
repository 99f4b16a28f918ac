/**
 * A day of listening for N users, as the journal of today's service records it, written to a JSONL
 * file: what `nd-presence start` would replay after running 24 hours (replay-day.ts times that).
 *
 * Each user listens in a few stints a day (1 to 4, of 15 to 120 minutes, at random times): a
 * track about every 4 minutes (3 to 5 minutes long, the next one a poll after the last ends),
 * now and then a pause of 10 s to 8 min, and at the end of a stint `playback.stopped` when the
 * track leaves Navidrome's now-playing list. The first play of a stint opens a connection (Hello,
 * READY); 5 minutes after the stop the machine closes it as idle (`idleTimeoutMs`), and the next
 * stint's play spawns a fresh machine on a new connection. A stint that starts before that
 * reuses the open one. While a connection is open, it journals its records (wire-records.ts):
 * today a heartbeat ACK after each beat (41.25 s), once the connection owns the wire a note of
 * `s` a minute.
 *
 * The shapes are generate.ts's (checked against a recorded run by record.ts), `playback.paused`
 * and `playback.stopped` as the Subsonic poller emits them. Not in it: the dispatches a real
 * account receives, which today's service journals too (`gateway.dispatch`, one a second per
 * connection at the bench's default rate: ~10,000 a day per user, 30 times the rest; a journal of
 * them for 10,000 users would not fit in memory to replay). The service that keeps dispatches
 * and beats in the connection journals neither.
 *
 * Users are generated one at a time, lazily, and merged in time order (a heap of 10,000 users'
 * next events), so that the day is never all in memory: the file can be 500 MB.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import type { DomainEvent } from "../../src/actors/events.ts";
import { defaultTimings } from "../../src/actors/settings.ts";
import type { JournalEntry } from "../../src/adapters/journal/journal.ts";
import { MinHeap } from "../../src/adapters/journal/min-heap.ts";
import { between, generator, hex } from "../seeded.ts";
import { randomTrack, START_AT, userName } from "./generate.ts";
import { type Phase, PhaseLog } from "./phases.ts";
import { HEARTBEAT_INTERVAL_MS, serviceWire, type WireRecords, wireRecords } from "./wire-records.ts";

export interface DayShape {
  users: number;
  /** 24 for a day; fewer for a smoke run. */
  hours: number;
  seed?: number;
  /** What an open connection journals (default: what the service in this tree does). */
  wire?: WireRecords;
}

export interface DayJournal {
  entries: number;
  bytes: number;
  byType: Record<string, number>;
  /** Time of the last entry: where the replay's clock stops. */
  lastAt: number;
  /** Per user, the phases the replay may leave them in (more than one near a change). */
  expected: Array<[user: string, phases: Phase[]]>;
}

const MINUTE = 60_000;
const PAUSE_CHANCE = 0.12;
/** The machine closes a connection this long after it has nothing left to show. */
const IDLE_MS = defaultTimings.idleTimeoutMs;

/** Writes the day's journal to `path` (replacing it) and says what it holds. */
export function writeDayJournal(path: string, shape: DayShape): DayJournal {
  const endAt = START_AT + shape.hours * 60 * MINUTE;
  const seed = shape.seed ?? 1;
  const logs = Array.from({ length: shape.users }, () => new PhaseLog());
  const days = logs.map((log, u) => userDay(userName(u), generator(seed * 1_000_003 + u), endAt, log, shape.wire ?? serviceWire));
  const byType: Record<string, number> = {};
  let seq = 0;
  let bytes = 0;
  let lastAt = START_AT;
  const fd = openSync(path, "w", 0o600);
  try {
    let lines: string[] = [];
    const flush = () => {
      const text = lines.join("");
      bytes += writeSync(fd, text);
      lines = [];
    };
    for (const [u, event] of mergeInTime(days, endAt)) {
      const entry: JournalEntry = { v: 1, seq: ++seq, at: event.at, stream: `user:${userName(u)}`, event };
      lines.push(`${JSON.stringify(entry)}\n`);
      byType[event.type] = (byType[event.type] ?? 0) + 1;
      lastAt = event.at;
      if (lines.length >= 20_000) flush();
    }
    flush();
  } finally {
    closeSync(fd);
  }
  const expected = logs.map((log, u): [string, Phase[]] => [userName(u), log.phasesAround(lastAt)]);
  return { entries: seq, bytes, byType, lastAt, expected };
}

/**
 * Every user's events up to `endAt` in time order (a tie goes to the lower user index), with the
 * user's index: a k-way merge over a binary heap keyed on each user's next event.
 */
function* mergeInTime(days: Iterator<DomainEvent>[], endAt: number): Generator<[number, DomainEvent]> {
  const heap = new MinHeap<{ u: number; event: DomainEvent }>((a, b) => a.event.at < b.event.at || (a.event.at === b.event.at && a.u < b.u));
  // A user's events stop at the day's end: the rest of their day is never generated.
  const next = (u: number) => {
    const step = days[u]!.next();
    if (!step.done && step.value.at <= endAt) heap.push({ u, event: step.value });
  };
  days.forEach((_, u) => next(u));
  while (heap.size > 0) {
    const { u, event } = heap.pop()!;
    yield [u, event];
    next(u);
  }
}

/** An open connection: the events of its stints, and when it closes as idle. */
interface Connection {
  spawnAt: number;
  helloAt: number;
  readyAt: number;
  events: DomainEvent[];
  closeAt: number;
}

/**
 * One user's day, in time order, a connection at a time: its events are sorted and handed out
 * once its close is known (a later stint may keep it open), with its heartbeat ACKs.
 */
function* userDay(user: string, random: () => number, endAt: number, log: PhaseLog, wire: WireRecords): Generator<DomainEvent> {
  let connection: Connection | null = null;
  const finish = function* (open: Connection): Generator<DomainEvent> {
    log.at(open.closeAt, "closed");
    wireRecords(
      wire,
      { user, spawnAt: open.spawnAt, helloAt: open.helloAt, readyAt: open.readyAt, until: open.closeAt },
      random,
      (record) => open.events.push(record),
    );
    // Stable: a play and its artwork answer at the same ms keep their order.
    yield* open.events.sort((a, b) => a.at - b.at);
  };
  let stoppedAt = -Infinity;
  for (const planned of plannedStints(random, endAt)) {
    const start = Math.max(planned.start, stoppedAt + between(random, MINUTE, 20 * MINUTE));
    if (start > endAt) break;
    if (connection && start >= connection.closeAt) {
      yield* finish(connection);
      connection = null;
    }
    if (!connection) {
      // A fresh machine (the idle one is replaced), seeded from this play: socket 1 again.
      const helloAt = start + between(random, 40, 120);
      const readyAt = helloAt + between(random, 80, 250);
      connection = { spawnAt: start, helloAt, readyAt, events: [], closeAt: Infinity };
      connection.events.push(
        { type: "gateway.hello", heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, user, socket: 1, at: helloAt },
        { type: "gateway.ready", seq: 1, sessionId: hex(random, 32), resumeUrl: "wss://gateway-us-east1-b.discord.gg", user, socket: 1, at: readyAt },
      );
      log.at(start, "connecting");
      log.at(readyAt, "playing");
    } else {
      log.at(start, "playing");
    }
    stoppedAt = playStint(user, start, planned.lengthMs, random, connection.events, log);
    connection.closeAt = stoppedAt + IDLE_MS;
  }
  if (connection) yield* finish(connection);
}

/** 1 to 4 stints at random times of the day, 15 to 120 minutes each. */
function plannedStints(random: () => number, endAt: number): Array<{ start: number; lengthMs: number }> {
  const count = [1, 1, 2, 2, 2, 3, 3, 4][Math.floor(random() * 8)]!;
  return Array.from({ length: count }, () => ({ start: between(random, START_AT, endAt), lengthMs: between(random, 15 * MINUTE, 120 * MINUTE) }))
    .sort((a, b) => a.start - b.start);
}

/** A stint's tracks from `start` until `lengthMs` has passed, then the stop; returns the stop's time. */
function playStint(user: string, start: number, lengthMs: number, random: () => number, out: DomainEvent[], log: PhaseLog): number {
  let at = start;
  let first = true;
  do {
    const track = randomTrack(random);
    const durationMs = track.durationMs!;
    // The Subsonic poller sees the next track within a poll (2 s), well inside the 5 s end grace.
    const positionMs = first ? 0 : between(random, 0, 2_000);
    out.push({ type: "playback.playing", user, track, positionMs, at });
    out.push({ type: "artwork.failed", user, key: track.coverArtId!, reason: "no artwork found", at });
    if (!first) log.at(at, "playing");
    let endsAt = at + durationMs - positionMs;
    if (random() < PAUSE_CHANCE) {
      const pausedAt = at + between(random, 20_000, durationMs - positionMs - 20_000);
      const pausedPosition = positionMs + (pausedAt - at);
      const resumedAt = pausedAt + between(random, 10_000, 8 * MINUTE);
      out.push({ type: "playback.paused", user, positionMs: pausedPosition, at: pausedAt });
      // The same track again: same artwork key, so no artwork answer this time.
      out.push({ type: "playback.playing", user, track, positionMs: pausedPosition, at: resumedAt });
      log.at(pausedAt, "paused");
      log.at(resumedAt, "playing");
      endsAt = resumedAt + durationMs - pausedPosition;
    }
    at = endsAt + between(random, 200, 2_000);
    first = false;
  } while (at < start + lengthMs);
  // The last track left the now-playing list: the poller saw it gone within a poll.
  out.push({ type: "playback.stopped", user, at });
  log.at(at, "ready");
  return at;
}
