/**
 * A realistic journal for N users: the entries a live nd-presence run writes when every user keeps
 * playing (Navidrome via the Subsonic poller, Discord's gateway, artwork that cannot be found).
 *
 * The shapes and the order were taken from a real journal, recorded by driving the real service
 * under `preciseClock` against the fake gateway (bench/journal/record.ts prints one):
 *
 *   playback.playing -> artwork.failed (same ms) -> gateway.hello (socket 1) -> gateway.ready
 *   (seq 1, sessionId, resumeUrl) -> the connection's records (wire-records.ts: a heartbeat ACK
 *   every 41,250 ms today, a note of `s` a minute once the connection owns the wire); a new
 *   track (playing, then its artwork.failed) when the previous one ends.
 *
 * The artwork answer comes first: a Navidrome track has no release MBID and without a `publicUrl`
 * there is no candidate to look up, so the resolver fails at once, before the socket's Hello.
 *
 * Heartbeat ACKs are placed a round trip after the beat the machine actually sends: the first beat
 * is `interval x random` after Hello, drawn from the machine's seeded generator, which is seeded
 * from the user's name and the time of their first event (supervisor `spawnPresence`). An ACK
 * before its beat would not break the replay, but a beat with no ACK before the next one is a
 * zombie, and the machine would reconnect: `checkAllPlaying` catches any such drift.
 */
import type { DomainEvent } from "../../src/actors/events.ts";
import type { Track } from "../../src/actors/track.ts";
import type { JournalEntry } from "../../src/adapters/journal/journal.ts";
import type { ServiceConfig } from "../../src/config/service-config.ts";
import { generator, hex } from "../seeded.ts";
import { HEARTBEAT_INTERVAL_MS, recordEveryMs, serviceWire, type WireRecords, wireRecords } from "./wire-records.ts";

export { HEARTBEAT_INTERVAL_MS };
/** 2024-11-23T19:33:20Z, as in the tests: a fixed start makes the journal reproducible. */
export const START_AT = 1_732_390_400_000;

/** Average track, and a track's share of the journal (its playing plus its artwork.failed). */
const TRACK_MS = { min: 180_000, max: 300_000 };
const AVERAGE_TRACK_MS = (TRACK_MS.min + TRACK_MS.max) / 2;
/** Users start within this window, so that their heartbeats do not all fall on the same ms. */
const STAGGER_MS = 120_000;

export interface JournalShape {
  users: number;
  /** About this many entries per user (users that start later in the stagger get a few less). */
  eventsPerUser: number;
  seed?: number;
  /** What an open connection journals: what the service in this tree does, unless a floor needs the other. */
  wire?: WireRecords;
}

/** `user00042`: fixed width, so that names sort like their numbers. */
export function userName(index: number): string {
  return `user${String(index).padStart(5, "0")}`;
}

/** A config with `users` users, connecting straight to the gateway (no discovery), like production. */
export function benchConfig(users: number): ServiceConfig {
  return {
    discord: { applicationId: "1234567890123456789", gatewayUrl: "wss://gateway.discord.gg" },
    users: Array.from({ length: users }, (_, i) => ({ username: userName(i), discordToken: `bench-token-${i}` })),
  };
}

/** How long a journal of `eventsPerUser` entries per user spans: the connection's records plus two entries per track. */
export function spanMs(eventsPerUser: number, wire: WireRecords = serviceWire): number {
  const perMs = 1 / recordEveryMs(wire) + 2 / AVERAGE_TRACK_MS;
  return Math.max(10_000, Math.round((eventsPerUser - 2) / perMs));
}

/** The journal, interleaved across users in time order, seq from 1. */
export function generateJournal(shape: JournalShape): JournalEntry[] {
  const random = generator(shape.seed ?? 1);
  const wire = shape.wire ?? serviceWire;
  const endAt = START_AT + spanMs(shape.eventsPerUser, wire);
  const events: DomainEvent[] = [];
  for (let u = 0; u < shape.users; u++) userTimeline(userName(u), endAt, random, wire, events);
  // Stable: events of one user at the same ms keep their causal order.
  events.sort((a, b) => a.at - b.at);
  return events.map((event, i) => ({ v: 1, seq: i + 1, at: event.at, stream: `user:${(event as { user: string }).user}`, event }));
}

/** One user's events from their first play until `endAt`, appended to `out`. */
function userTimeline(user: string, endAt: number, random: () => number, wire: WireRecords, out: DomainEvent[]): void {
  const between = (min: number, max: number) => Math.floor(min + random() * (max - min));
  const startAt = START_AT + between(0, STAGGER_MS);
  const push = (event: DomainEvent) => {
    if (event.at <= endAt) out.push(event);
  };

  // Tracks: the Subsonic poller sees the next one within a poll (2 s), well inside the 5 s grace
  // after which the machine would clear the presence.
  let trackAt = startAt;
  let first = true;
  while (trackAt <= endAt) {
    const track = randomTrack(random);
    push({ type: "playback.playing", user, track, positionMs: first ? 0 : between(0, 2_000), at: trackAt });
    push({ type: "artwork.failed", user, key: track.coverArtId!, reason: "no artwork found", at: trackAt });
    if (first) {
      // The machine opens socket 1 at once; Hello comes after TCP + TLS + upgrade, READY after IDENTIFY.
      const helloAt = trackAt + between(40, 120);
      const readyAt = helloAt + between(80, 250);
      push({ type: "gateway.hello", heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, user, socket: 1, at: helloAt });
      push({ type: "gateway.ready", seq: 1, sessionId: hex(random, 32), resumeUrl: "wss://gateway-us-east1-b.discord.gg", user, socket: 1, at: readyAt });
      wireRecords(wire, { user, spawnAt: startAt, helloAt, readyAt, until: endAt + 1 }, random, push);
    }
    trackAt += track.durationMs! + between(200, 2_000);
    first = false;
  }
}

/** A track as Navidrome's getNowPlaying gives it (subsonic-client `toEntry`): no release MBID, so the artwork key is its coverArtId. */
export function randomTrack(random: () => number): Track {
  const album = hex(random, 22);
  return {
    id: hex(random, 22),
    title: `Song ${hex(random, 6)}`,
    artist: `Artist ${hex(random, 4)}`,
    album: `Album ${album.slice(0, 8)}`,
    albumArtist: `Artist ${hex(random, 4)}`,
    durationMs: Math.round((TRACK_MS.min + random() * (TRACK_MS.max - TRACK_MS.min)) / 1000) * 1000,
    coverArtId: `al-${album}_${hex(random, 8)}`,
    mbids: { recording: `${hex(random, 8)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 12)}` },
  };
}
