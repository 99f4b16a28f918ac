import type { AdapterEventInput, DomainEventInput, PlaybackEventInput } from "../actors/events.ts";

export type { AdapterEventInput, PlaybackEventInput };

/**
 * Who an input comes from. A host may send only playback: a gateway or artwork event from it
 * would fail a user, or confuse a machine, with nothing on the wire to back it.
 */
export type InputSource = "host" | "adapter";

/**
 * Who may send which event type. Written as records over the union's types, so the compiler checks
 * them against src/actors/events.ts: an event type added there and not here, or a stale one here,
 * fails the type check. (The checks below are few and say what a user did wrong in their words,
 * which is why they are not a schema library's.)
 */
const hostEventTypes: Record<PlaybackEventInput["type"], true> = { "playback.playing": true, "playback.paused": true, "playback.stopped": true };

const adapterEventTypes: Record<AdapterEventInput["type"], true> = {
  "gateway.hello": true,
  "gateway.ready": true,
  "gateway.resumed": true,
  "gateway.reconnect": true,
  "gateway.invalidSession": true,
  "gateway.closed": true,
  "gateway.seq": true,
  "gateway.discovered": true,
  "gateway.discoveryFailed": true,
  "artwork.resolved": true,
  "artwork.failed": true,
  "discord.unauthorized": true,
};

const isTypeIn = (types: object, type: unknown): type is string => typeof type === "string" && Object.hasOwn(types, type);

const isText = (value: unknown): value is string => typeof value === "string" && value.trim() !== "";
const isOptionalString = (value: unknown) => value === undefined || typeof value === "string";
const isOptionalNumber = (value: unknown) => value === undefined || (typeof value === "number" && Number.isFinite(value));
/** A position or a length: a negative one is a source's bug, not something to clamp and show. */
const isOptionalNonNegative = (value: unknown) => value === undefined || (typeof value === "number" && Number.isFinite(value) && value >= 0);
const isOptionalPositive = (value: unknown) => value === undefined || (typeof value === "number" && Number.isFinite(value) && value > 0);

/**
 * Why an event handed to the service cannot be applied, or null when it can. Hosts and sources call
 * `dispatch` with data from outside: a bad one is refused with a reason, never applied half-way.
 * `from` says whose input it is: a host's may only be playback, an adapter's only its answers.
 *
 * @example
 * refusal({ type: "playback.playing", user: "alice", track: { title: "" } }, "host") // "track.title must be a non-empty string"
 * refusal({ type: "discord.unauthorized", user: "alice" }, "host") // "discord.unauthorized is the service's own input, ..."
 */
export function refusal(input: DomainEventInput | null | undefined, from: InputSource): string | null {
  if (typeof input !== "object" || input === null) return "an event must be an object";
  const event = input as unknown as Record<string, unknown>;
  if (!isTypeIn(from === "host" ? hostEventTypes : adapterEventTypes, event.type)) return unexpectedType(event.type, from);
  if (!isText(event.user)) return "user must be a non-empty string";
  if (!isOptionalNumber(event.at)) return "at must be a number (ms)";
  if (event.type === "playback.playing") {
    const track = event.track as Record<string, unknown> | undefined;
    if (typeof track !== "object" || track === null) return "track must be an object";
    if (!isText(track.title)) return "track.title must be a non-empty string";
    if (!isText(track.artist)) return "track.artist must be a non-empty string";
    // What the presence shows and the journal keeps: text, or absent.
    for (const key of ["id", "album", "albumArtist", "coverArtId"] as const) {
      if (!isOptionalString(track[key])) return `track.${key} must be a string when given`;
    }
    const mbids = track.mbids as Record<string, unknown> | undefined;
    if (mbids !== undefined && (typeof mbids !== "object" || mbids === null)) return "track.mbids must be an object when given";
    for (const key of ["recording", "release", "releaseGroup"] as const) {
      if (!isOptionalString(mbids?.[key])) return `track.mbids.${key} must be a string when given`;
    }
    if (mbids?.artists !== undefined && !(Array.isArray(mbids.artists) && mbids.artists.every((id) => typeof id === "string"))) {
      return "track.mbids.artists must be a list of strings when given";
    }
    if (!isOptionalNonNegative(track.durationMs)) return "track.durationMs must be a number (ms), not negative";
    if (!isOptionalNonNegative(event.positionMs)) return "positionMs must be a number (ms), not negative";
    if (!isOptionalPositive(event.playbackRate)) return "playbackRate must be a number above 0";
  }
  if (event.type === "playback.paused" && !isOptionalNonNegative(event.positionMs)) return "positionMs must be a number (ms), not negative";
  if (event.type === "gateway.seq" && !(typeof event.seq === "number" && Number.isSafeInteger(event.seq) && event.seq >= 0)) {
    return "seq must be a whole number, not negative";
  }
  return null;
}

/** Why `type` is not taken from `from`: unknown to the service, or someone else's input. */
function unexpectedType(type: unknown, from: InputSource): string {
  if (from === "host" && isTypeIn(adapterEventTypes, type)) {
    return `${type} is the service's own input, not a host's: a host dispatches playback.playing, playback.paused or playback.stopped`;
  }
  if (from === "adapter" && isTypeIn(hostEventTypes, type)) return `${type} is a host's input, not an adapter's`;
  return `unknown event type ${JSON.stringify(type)}`;
}
