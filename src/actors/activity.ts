/**
 * Pure building of the Listening activity and of the op 3 presence payload (docs/protocol.md section 1,
 * "Presence update (op 3)"). No I/O, no clock, no randomness: the same inputs give the same payload,
 * so that a replay sends, and deduplicates, exactly what the live run did.
 */
import { MAX_FRAME_BYTES, MAX_IMAGE_KEY_LENGTH, MAX_TEXT_LENGTH, Op, safeUrl } from "./discord-protocol.ts";
import type { Activity, PresencePayload, UserStatus } from "./effects.ts";
import type { PresenceSettings } from "./settings.ts";
import type { Playback, Track } from "./track.ts";
import { compact } from "./objects.ts";
import { wellFormedStrings } from "./well-formed.ts";

const ELLIPSIS = "\u2026";
const PAD = "\u200B";
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Fills `{title}`, `{artist}`, `{album}`, `{albumArtist}` from the track (a missing field is empty;
 * other placeholders stay as written), then collapses whitespace and trims.
 * @example fillTemplate("{title} - {album}", { title: "Song", artist: "A" }) // "Song -"
 */
export function fillTemplate(template: string, track: Track): string {
  type Field = "title" | "artist" | "album" | "albumArtist";
  return template
    .replace(/\{(title|artist|album|albumArtist)\}/g, (_, field: Field) => track[field] ?? "")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Cuts `text` to at most `max` UTF-16 code units, ellipsis included, on a grapheme boundary; pads a
 * one-character text to two with a zero width space.
 * @example truncateText("a".repeat(200)) // "a".repeat(127) + "…"
 * @example truncateText("x") // "x\u200B"
 */
export function truncateText(text: string, max = MAX_TEXT_LENGTH): string {
  // limits: text shorter than 2 chars is padded by some clients, so pad it ourselves (counted in code points,
  // as Discord counts; a lone emoji is one character)
  if (text.length > 0 && [...text].length < 2 && text.length < max) return text + PAD;
  if (text.length <= max) return text;
  // limits: text <= 128 chars, never split a surrogate pair (nor a combining or emoji sequence)
  const budget = Math.max(0, max - ELLIPSIS.length);
  let kept = "";
  for (const { segment } of graphemes.segment(text)) {
    if (kept.length + segment.length > budget) break;
    kept += segment;
  }
  if (kept === "") {
    // one grapheme longer than the budget (e.g. hundreds of combining marks): cut on a code point
    for (const ch of text) {
      if (kept.length + ch.length > budget) break;
      kept += ch;
    }
  }
  return kept.trimEnd() + ELLIPSIS;
}

/** An image key as sent, or undefined when empty or over the 313-char limit (limits: image keys <= 313). */
function imageKey(key: string | null | undefined): string | undefined {
  return key && key.length <= MAX_IMAGE_KEY_LENGTH ? key : undefined;
}

const displayType = { name: 0, state: 1, details: 2 } as const;

/** The image keys of the cover and of the paused image, when there are. */
type ImageKeys = { large?: string | null; paused?: string | null };

/** The Unix ms timestamps of the progress bar (playing) or of the elapsed clock (paused). */
function timestamps(p: Playback): Activity["timestamps"] {
  if (!Number.isFinite(p.at)) return undefined;
  const position = Number.isFinite(p.positionMs) && p.positionMs > 0 ? p.positionMs : 0;
  // Discord has no paused state: send only `start`, an elapsed clock
  if (p.paused) return { start: Math.round(p.at - position) };
  const rate = Number.isFinite(p.playbackRate) && p.playbackRate > 0 ? p.playbackRate : 1;
  // start = now - position/rate, end = start + duration/rate: start + end draws the progress bar
  const start = Math.round(p.at - position / rate);
  const duration = p.track.durationMs;
  if (duration === undefined || !Number.isFinite(duration) || duration <= 0) return { start };
  return { start, end: Math.round(start + duration / rate) };
}

/**
 * The Listening (type 2) activity for a playback. Fields whose text is empty are left out, and so
 * are `assets` and `timestamps` when empty. A lone surrogate in any text (track, template, image
 * key) is sent as U+FFFD. Whether a paused playback is shown at all (`settings.onPause`) is the
 * caller's choice.
 * @example
 * const track = { title: "Song", artist: "A", durationMs: 200_000 };
 * buildActivity({ track, positionMs: 0, playbackRate: 1, paused: false, at: 1e12 }, defaultPresenceSettings, {})
 * // { type: 2, name: "Navidrome", status_display_type: 2, details: "Song", state: "A",
 * //   timestamps: { start: 1e12, end: 1e12 + 200_000 } }
 */
export function buildActivity(playback: Playback, settings: PresenceSettings, art: ImageKeys): Activity {
  // The one door for text into an activity: a title, artist or album from a source or the host
  // API, a template from the config, an image key. A lone surrogate in any of them is sent as
  // U+FFFD; past this point every text is well-formed, and truncation never splits a pair.
  return listeningActivity(wellFormedStrings(playback), wellFormedStrings(settings), wellFormedStrings(art));
}

/** The activity of `buildActivity`, from inputs whose text is well-formed. */
function listeningActivity(playback: Playback, settings: PresenceSettings, art: ImageKeys): Activity {
  const { track } = playback;
  const text = (template: string) => truncateText(fillTemplate(template, track)) || undefined;
  const mb = settings.links === "musicbrainz" ? track.mbids : undefined;
  const mbUrl = (kind: string, id: string | undefined) => id ? safeUrl(`https://musicbrainz.org/${kind}/${encodeURIComponent(id)}`) : undefined;

  const details = text(settings.details);
  const state = text(settings.state);
  const assets: NonNullable<Activity["assets"]> = {
    large_image: imageKey(art.large),
    large_text: text(settings.largeText),
    large_url: mb?.release ? mbUrl("release", mb.release) : mbUrl("release-group", mb?.releaseGroup),
    small_image: playback.paused ? imageKey(art.paused) : undefined,
    small_text: playback.paused ? "Paused" : undefined,
  };

  // Fixed key order, so that activityKey() of two equal activities is equal.
  return compact<Activity>({
    type: 2,
    // limits: name 1-128 chars; an empty template would make Discord refuse the activity
    name: text(settings.name) ?? "Music",
    application_id: settings.applicationId || undefined,
    status_display_type: displayType[settings.statusDisplay],
    details,
    // a link on a line that is not shown has nothing to click on
    details_url: details ? mbUrl("recording", mb?.recording) : undefined,
    state,
    state_url: state ? mbUrl("artist", mb?.artists?.[0]) : undefined,
    timestamps: timestamps(playback),
    assets: Object.values(assets).some((v) => v !== undefined) ? compact(assets) : undefined,
  });
}

/**
 * The activity fields every Discord-compatible server takes. Discord takes more (the display type,
 * links, the small image); Spacebar's schema refuses any key it does not know, with close 4002.
 */
export const CORE_ACTIVITY_KEYS = ["type", "name", "details", "state", "timestamps", "assets", "application_id"] as const;
const CORE_ASSET_KEYS = ["large_image", "large_text"] as const;

/**
 * `activity` with only the core fields (`CORE_ACTIVITY_KEYS`, and of the assets only the large
 * image and its text), in the same key order.
 * @example coreActivity({ type: 2, name: "Navidrome", status_display_type: 2, details: "Song" })
 * // { type: 2, name: "Navidrome", details: "Song" }
 */
export function coreActivity(activity: Activity): Activity {
  const core = pick(activity, CORE_ACTIVITY_KEYS) as Activity;
  if (activity.assets) {
    const assets = pick(activity.assets, CORE_ASSET_KEYS);
    if (Object.keys(assets).length > 0) core.assets = assets;
    else delete core.assets;
  }
  return core;
}

/** The keys of `value` that are in `keys` (and defined), in `value`'s order. */
function pick<T extends object>(value: T, keys: readonly string[]): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([key, item]) => item !== undefined && keys.includes(key))) as Partial<T>;
}

/**
 * The op 3 presence object. A clear is `activities: []` (never null, never [null]).
 * @example presencePayload(null, "online") // { since: 0, status: "online", afk: true, activities: [] }
 */
export function presencePayload(activity: Activity | null, status: UserStatus): PresencePayload {
  // `afk: true` keeps phone push notifications (unconfirmed, docs/protocol.md)
  return { since: 0, status, afk: true, activities: activity ? [activity] : [] };
}

/**
 * Bytes of the UTF-8 encoding of `text` (a lone surrogate counts as U+FFFD, 3 bytes).
 * @example utf8Length("a€😀") // 1 + 3 + 4 = 8
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** Drops a field of an activity (`assets.x` for its assets), or shortens it to `max`; true if it changed. */
function giveUp(activity: Activity, field: string, max?: number): boolean {
  const inAssets = field.startsWith("assets.");
  const obj = (inAssets ? activity.assets : activity) as Record<string, unknown> | undefined;
  const key = inAssets ? field.slice("assets.".length) : field;
  const value = obj?.[key];
  if (obj === undefined || typeof value !== "string") return false;
  if (max === undefined) delete obj[key];
  else if (value.length > max) obj[key] = truncateText(value, max);
  else return false;
  return true;
}

// What to give up first when a frame is too big: the links, then the paused image, then long texts.
const texts = ["details", "state", "assets.large_text"];
const steps: Array<[field: string, max?: number]> = [
  ["details_url"],
  ["state_url"],
  ["assets.large_url"],
  ["assets.small_image"],
  ["assets.small_text"],
  ...texts.map((field): [string, number] => [field, 64]),
  ...texts.map((field): [string, number] => [field, 32]),
];

/**
 * Makes the op 3 frame fit in `maxBytes` UTF-8 bytes by giving up fields in a fixed order, stopping
 * as soon as it fits. Returns the payload and the fields dropped or shortened, or null when even the
 * smallest form is too big (the caller must not send it). The input is never changed.
 * @example fitPresenceFrame(presencePayload(null, "online")) // { payload: {...}, dropped: [] }
 */
export function fitPresenceFrame(
  payload: PresencePayload,
  maxBytes = MAX_FRAME_BYTES,
): { payload: PresencePayload; dropped: string[] } | null {
  // frame size: <= 4096 bytes per outgoing frame (over -> close 4002, and never resend it)
  const fits = (p: PresencePayload) => utf8Length(JSON.stringify({ op: Op.PresenceUpdate, d: p })) <= maxBytes;
  // Nearly always it fits as it is: then the payload itself is what is sent and shown (no copy).
  if (fits(payload)) return { payload, dropped: [] };
  // a deep copy that keeps key order; payloads are plain JSON
  const copy = JSON.parse(JSON.stringify(payload)) as PresencePayload;
  const dropped: string[] = [];
  for (const [field, max] of steps) {
    if (fits(copy)) return { payload: copy, dropped };
    let changed = false;
    for (const activity of copy.activities) {
      if (giveUp(activity, field, max)) changed = true;
      if (activity.assets && Object.keys(activity.assets).length === 0) delete activity.assets;
    }
    if (changed && !dropped.includes(field)) dropped.push(field);
  }
  return fits(copy) ? { payload: copy, dropped } : null;
}

/**
 * A stable key of a payload, to drop identical repeats (payloads are built in a fixed key order).
 * @example activityKey(a) === activityKey(structuredClone(a)) // true
 */
export function activityKey(payload: PresencePayload): string {
  return JSON.stringify(payload);
}
