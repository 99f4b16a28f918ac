/**
 * The raw baseline of the replay and recovery scenarios: the journal applied to a plain Map of
 * small per-user records by a switch on the event type. No actors, no timers, no effects: the
 * yardstick of what rebuilding the same state costs without XState.
 */
import type { DomainEvent } from "../../src/actors/events.ts";
import type { JournalEntry } from "../../src/adapters/journal/journal.ts";

/** What the baseline remembers of a user: enough to say "playing X on a live session". */
export interface PlainUser {
  state: "connecting" | "identifying" | "ready" | "playing" | "paused";
  socket: number;
  sessionId: string | null;
  title: string | null;
  artworkKey: string | null;
  trackEndsAt: number;
  lastAckAt: number;
}

/** Applies `entries` in order; returns each user's record. */
export function applyPlain(entries: JournalEntry[], users = new Map<string, PlainUser>()): Map<string, PlainUser> {
  for (const entry of entries) applyOne(users, entry.event);
  return users;
}

function applyOne(users: Map<string, PlainUser>, event: DomainEvent): void {
  if (!("user" in event)) return;
  let user = users.get(event.user);
  if (!user) {
    if (event.type !== "playback.playing") return;
    user = { state: "connecting", socket: 1, sessionId: null, title: null, artworkKey: null, trackEndsAt: 0, lastAckAt: 0 };
    users.set(event.user, user);
  }
  // What the machine's track-end timer does, checked lazily at the next event.
  if (user.state === "playing" && event.at > user.trackEndsAt) user.state = "ready";
  switch (event.type) {
    case "playback.playing":
      user.title = event.track.title;
      user.artworkKey = event.track.coverArtId ?? null;
      user.trackEndsAt = event.at + (event.track.durationMs ?? 0) - (event.positionMs ?? 0) + 5_000;
      if (user.sessionId !== null) user.state = "playing";
      break;
    case "playback.paused":
      if (user.state === "playing") user.state = "paused";
      break;
    case "playback.stopped":
      user.title = null;
      if (user.sessionId !== null) user.state = "ready";
      break;
    case "gateway.hello":
      if (event.socket === user.socket) user.state = "identifying";
      break;
    case "gateway.ready":
      if (event.socket !== user.socket) break;
      user.sessionId = event.sessionId ?? null;
      user.state = user.title !== null ? "playing" : "ready";
      break;
    case "artwork.failed":
    case "artwork.resolved":
      if (event.key === user.artworkKey) user.artworkKey = null;
      break;
    default:
      // Today's journal has a heartbeat ACK per beat (not an event type once the connection owns the wire).
      if ((event.type as string) === "gateway.heartbeatAck" && (event as { socket: number }).socket === user.socket) user.lastAckAt = event.at;
      break;
  }
}
