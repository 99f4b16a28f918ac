import type { DomainEventInput } from "../actors/events.ts";

const userEventTypes = new Set([
  "playback.playing",
  "playback.paused",
  "playback.stopped",
  "gateway.hello",
  "gateway.ready",
  "gateway.resumed",
  "gateway.reconnect",
  "gateway.invalidSession",
  "gateway.closed",
  "gateway.seq",
  "gateway.discovered",
  "gateway.discoveryFailed",
  "artwork.resolved",
  "artwork.failed",
  "discord.unauthorized",
]);

const isText = (value: unknown): value is string => typeof value === "string" && value.trim() !== "";
const isOptionalNumber = (value: unknown) => value === undefined || (typeof value === "number" && Number.isFinite(value));
/** A position or a length: a negative one is a source's bug, not something to clamp and show. */
const isOptionalNonNegative = (value: unknown) => value === undefined || (typeof value === "number" && Number.isFinite(value) && value >= 0);
const isOptionalPositive = (value: unknown) => value === undefined || (typeof value === "number" && Number.isFinite(value) && value > 0);

/**
 * Why an event handed to `dispatch` cannot be applied, or null when it can. Hosts and sources call
 * `dispatch` with data from outside: a bad one is refused with a reason, never applied half-way.
 *
 * @example
 * refusal({ type: "playback.playing", user: "alice", track: { title: "" } }) // "track.title must be a non-empty string"
 */
export function refusal(input: DomainEventInput | null | undefined): string | null {
  if (typeof input !== "object" || input === null) return "an event must be an object";
  const event = input as unknown as Record<string, unknown>;
  if (typeof event.type !== "string" || !userEventTypes.has(event.type)) return `unknown event type ${JSON.stringify(event.type)}`;
  if (!isText(event.user)) return "user must be a non-empty string";
  if (!isOptionalNumber(event.at)) return "at must be a number (ms)";
  if (event.type === "playback.playing") {
    const track = event.track as Record<string, unknown> | undefined;
    if (typeof track !== "object" || track === null) return "track must be an object";
    if (!isText(track.title)) return "track.title must be a non-empty string";
    if (!isText(track.artist)) return "track.artist must be a non-empty string";
    if (!isOptionalNonNegative(track.durationMs)) return "track.durationMs must be a number (ms), not negative";
    if (!isOptionalNonNegative(event.positionMs)) return "positionMs must be a number (ms), not negative";
    if (!isOptionalPositive(event.playbackRate)) return "playbackRate must be a number above 0";
  }
  if (event.type === "playback.paused" && !isOptionalNonNegative(event.positionMs)) return "positionMs must be a number (ms), not negative";
  if (event.type === "gateway.seq" && !(typeof event.seq === "number" && Number.isSafeInteger(event.seq) && event.seq >= 0)) return "seq must be a whole number, not negative";
  return null;
}
