import { defaultClientProperties, defaultPresenceSettings, defaultTimings } from "../actors/settings.ts";
import { artworkSources, defaultArtworkOrder, defaultCoverArtArchiveUrl, navidromeLogoUrl } from "../adapters/artwork/resolver.ts";
import { defaultMusicBrainzUrl } from "../adapters/artwork/musicbrainz.ts";
import { logLevels } from "../adapters/logger.ts";
import { LONGEST_TRACK_MS } from "../adapters/sources/track-length.ts";
import type { JsonSchema } from "./json-schema.ts";
import { defaultUserAgent } from "./service-config.ts";

/*
 * The config's JSON Schema (config.schema.json is generated from it, and `check` validates against
 * it), built with a few small helpers rather than a schema library. TypeBox was tried (issue 18):
 * its 266 ES modules cost every start 123 ms and 10 MiB, for checking one small file once; see
 * the commit that reverted it. The TypeScript type (service-config.ts) is kept beside it by hand:
 * a key added to one must be added to the other.
 */

/** The schema's patterns, named so that the validator can say what each asks for in plain words. */
export const patterns = {
  applicationId: "^[0-9]{5,25}$",
  httpUrl: "^https?://",
  httpUrlOrNone: "^(https?://|none$)",
  wsUrl: "^wss?://",
} as const;

type Extra = Omit<JsonSchema, "type" | "description">;

const string = (description: string, extra: Extra = {}): JsonSchema => ({ type: "string", description, ...extra });
const url = (description: string, extra: Extra = {}): JsonSchema => string(description, { pattern: patterns.httpUrl, ...extra });
const boolean = (description: string, def: boolean): JsonSchema => ({ type: "boolean", description, default: def });
const integer = (description: string, extra: Extra): JsonSchema => ({ type: "integer", description, ...extra });
const port = (description: string, def: number): JsonSchema => integer(description, { minimum: 0, maximum: 65535, default: def });
const oneOfStrings = (description: string, values: readonly string[], def?: string): JsonSchema =>
  string(description, { enum: values, ...(def === undefined ? {} : { default: def }) });

/** `T | null`: the description and default sit outside, so each property still has one of each. */
const nullable = (schema: JsonSchema, description: string): JsonSchema => {
  const { description: _inner, ...branch } = schema;
  return { description, default: null, oneOf: [branch, { type: "null" }] };
};

const object = (description: string, properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({
  type: "object",
  description,
  ...(required.length > 0 ? { required } : {}),
  additionalProperties: false,
  properties,
});

const userStatuses = ["online", "idle", "dnd", "invisible"] as const;
const template = "Placeholders: {title}, {artist}, {album}, {albumArtist}.";

/** `presence`, both at the top level and as a user's override (`users[].presence`). */
function presenceSchema(description: string): JsonSchema {
  const d = defaultPresenceSettings;
  return object(description, {
    name: string(`The "Listening to ..." line. ${template}`, { minLength: 1, default: d.name }),
    details: string(`The first line under the name. ${template}`, { default: d.details }),
    state: string(`The second line. ${template}`, { default: d.state }),
    largeText: string(`The album art's tooltip. ${template}`, { default: d.largeText }),
    statusDisplay: oneOfStrings("What the member list shows: the name, the state line or the details line.", ["name", "state", "details"], d.statusDisplay),
    status: oneOfStrings("The Discord status set while connected.", userStatuses, d.status),
    onPause: oneOfStrings('Paused: "show" keeps an elapsed clock with a "Paused" image; "clear" removes the activity.', ["show", "clear"], d.onPause),
    links: oneOfStrings("MusicBrainz links on title, artist and album when their MBIDs are known.", ["musicbrainz", "none"], d.links),
    pausedImage: nullable(url('Image URL for the small "Paused" icon.'), 'Image URL (http:// or https://) for the small "Paused" icon; none when null.'),
  });
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * An integer number of ms. Every one has a maximum: a timer cannot wait 2^31 ms or more (about
 * 24.8 days; Node and Deno fire it after 1 ms), and each maximum says how long the wait can
 * usefully be, well under that.
 */
const duration = (description: string, range: { minimum: number; maximum: number }, def: number): JsonSchema =>
  integer(description, { ...range, default: def });

/** Each gateway timing: what it is, and its range (the reason for a bound is in its comment). */
const gatewayTimings: Record<keyof typeof defaultTimings, { description: string; minimum: number; maximum: number }> = {
  // Discord sends Hello and READY at once: minutes of silence is a dead socket, not a slow one.
  helloTimeoutMs: { description: "How long to wait for the gateway's Hello (ms).", minimum: SECOND, maximum: 10 * MINUTE },
  readyTimeoutMs: { description: "How long to wait for READY or RESUMED (ms).", minimum: SECOND, maximum: 10 * MINUTE },
  // A day with nothing to show is long enough to hold a socket open for.
  idleTimeoutMs: { description: "Close the socket after this long with nothing to show (ms).", minimum: SECOND, maximum: DAY },
  // Backoffs of more than an hour leave a user off Discord for hours after one network blip.
  backoffBaseMs: { description: "First reconnect backoff (ms); it doubles, with full jitter.", minimum: 100, maximum: HOUR },
  backoffCapMs: { description: "Longest reconnect backoff (ms).", minimum: SECOND, maximum: HOUR },
  // Discord's daily session start limit resets within 24 h: waiting longer after 4015 never helps.
  tooManySessionsBackoffMs: { description: "Wait at least this long after close 4015, too many sessions (ms).", minimum: SECOND, maximum: DAY },
  stableSessionMs: { description: "A session up this long resets the backoff (ms).", minimum: 0, maximum: DAY },
  // A player that has not said what comes next an hour after a track ended has stopped.
  endGraceMs: { description: "Clear the presence this long after a track's end with no further event (ms).", minimum: 0, maximum: HOUR },
  // No longer than the longest track a source may report: an audiobook whose length is unknown.
  unknownLengthMs: {
    description: "Clear a track of unknown length this long after it was reported, unless replaced (ms).",
    minimum: SECOND,
    maximum: LONGEST_TRACK_MS,
  },
  // A track waiting longer than a minute for its art shows nothing for a minute.
  artworkWaitMs: { description: "How long a new track waits for its artwork before showing without (ms).", minimum: 0, maximum: MINUTE },
  // Discord allows one identify per 5 s per token: a lower value would break that rule. More than
  // 10 min between identifies only delays reconnects.
  identifyIntervalMs: { description: "At most one identify per this many ms per token (Discord's limit is 5000).", minimum: 5 * SECOND, maximum: 10 * MINUTE },
  // A stop that takes longer than a minute is hung: service managers kill it long before that
  // matters (systemd waits 90 s).
  shutdownTimeoutMs: { description: "How long a shutdown waits to send the clear (ms).", minimum: 0, maximum: MINUTE },
};

const gatewaySchema = object(
  "Gateway timing and pacing. The defaults follow Discord's rules; change them only with a reason.",
  Object.fromEntries(
    Object.entries(gatewayTimings).map(([key, { description, ...range }]) => [
      key,
      duration(description, range, defaultTimings[key as keyof typeof defaultTimings]),
    ]),
  ),
);

const discordSchema = object("The Discord application and how to reach Discord.", {
  applicationId: string("The Discord application whose name and assets the card shows: its numeric id from the developer portal.", {
    pattern: patterns.applicationId,
    examples: ["1234567890123456789"],
  }),
  apiBaseUrl: url("Discord's REST API (gateway discovery, external assets).", { default: "https://discord.com/api" }),
  gatewayUrl: nullable(
    string("", { pattern: patterns.wsUrl }),
    "Connect to this ws:// or wss:// URL instead of discovering the gateway (a Discord-compatible server, or a test fake).",
  ),
  activityFields: oneOfStrings(
    'Which activity fields an op 3 carries. "auto": all of them, and only the core set (type, name, details, state, timestamps, large image and text) to a gateway that refuses one with 4002, as some Discord-compatible servers do; "full" or "core" forces a set.',
    ["auto", "full", "core"],
    "auto",
  ),
  properties: object("The identify properties the gateway sees.", {
    os: string("Operating system reported to Discord.", { default: defaultClientProperties.os }),
    browser: string("Client name reported to Discord.", { default: defaultClientProperties.browser }),
    device: string("Device reported to Discord.", { default: defaultClientProperties.device }),
    system_locale: string("Locale reported to Discord.", { default: defaultClientProperties.system_locale }),
  }),
  userAgent: string("User-Agent of REST requests.", { minLength: 1, default: defaultUserAgent }),
}, ["applicationId"]);

const artworkSchema = object("Where album art comes from.", {
  order: {
    type: "array",
    description: 'Art sources, tried in this order. "upload" sends cover bytes to a temporary public host and is opt-in.',
    items: { type: "string", enum: [...artworkSources] },
    uniqueItems: true,
    default: [...defaultArtworkOrder],
  },
  defaultImage: {
    description: 'Image URL shown when no source has art for a track (default: the Navidrome logo); "none" for no image (null means "none" too).',
    default: navidromeLogoUrl,
    oneOf: [{ type: "string", pattern: patterns.httpUrlOrNone }, { type: "null" }],
  },
  coverArtArchiveUrl: url("The Cover Art Archive's base URL.", { default: defaultCoverArtArchiveUrl }),
  musicBrainzLookup: boolean(
    "For a track without a release MBID, find its album's release on MusicBrainz (by album and artist, at most 1 request per second) and ask the Cover Art Archive for it.",
    true,
  ),
  musicBrainzUrl: url("MusicBrainz's base URL, for that lookup.", { default: defaultMusicBrainzUrl }),
  uploadUrl: url('Temporary public host for "upload" (uguu.se\'s API).', { default: "https://uguu.se/upload" }),
  publicUrl: nullable(url(""), 'Public artwork URL template for "public", e.g. https://music.example.org/img/{coverArtId}; off when null.'),
});

const sourcesSchema = object("Where now-playing comes from.", {
  subsonic: nullable(
    object("", {
      url: url("The server's base URL, e.g. http://127.0.0.1:4533."),
      username: string("A user of the server; any user sees every user's now-playing.", { minLength: 1 }),
      password: string('That user\'s password. A secret: write "env:NAME".', { minLength: 1 }),
      // Polled less often than every 10 min, whole tracks would come and go unseen.
      pollIntervalMs: duration("How often to ask the server what is playing (ms).", { minimum: 500, maximum: 10 * MINUTE }, 2000),
    }, ["url", "username", "password"]),
    "Poll a Navidrome or other Subsonic server's now-playing list; off when null or absent.",
  ),
  listenbrainz: object("A ListenBrainz-compatible receiver on the HTTP server: point Navidrome's ListenBrainz.BaseURL at it.", {
    enabled: boolean("Serve /1/validate-token and /1/submit-listens.", false),
    forwardUrl: nullable(url(""), "Also forward every submission to this ListenBrainz server (e.g. https://api.listenbrainz.org); off when null."),
    maxBodyBytes: integer("Largest request body accepted (bytes).", { minimum: 1024, default: 1_048_576 }),
  }),
});

/** The JSON Schema of the config file: exactly `ServiceConfig`, plus `$schema` for editors. */
export const configSchema: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "nd-presence configuration",
  description: 'Configuration of nd-presence. Any string value may be "env:NAME" to read it from the environment; secrets should use that form.',
  type: "object",
  required: ["discord", "users"],
  additionalProperties: false,
  properties: {
    $schema: string("The JSON Schema this file follows, for editors. Ignored by nd-presence."),
    discord: discordSchema,
    presence: presenceSchema("How activities read, for every user."),
    artwork: artworkSchema,
    sources: sourcesSchema,
    http: object("The HTTP server: status page, health, metrics and the ListenBrainz receiver.", {
      enabled: boolean("Run the HTTP server.", true),
      host: string("Address to listen on; keep it on loopback unless a proxy is in front.", { minLength: 1, default: "127.0.0.1" }),
      port: port("Port to listen on; 0 picks a free one.", 4534),
    }),
    journal: object("The event journal (crash recovery, replay).", {
      path: string("The JSONL journal file, relative to the working directory.", { minLength: 1, default: "data/journal.jsonl" }),
      fsync: oneOfStrings(
        "When the journal is fsynced. always: after every append (survives power loss); interval: every fsyncIntervalMs (a crash of the process loses nothing, a power loss at most the interval); never: left to the OS.",
        ["always", "interval", "never"],
        "interval",
      ),
      // A power loss loses at most this much: beyond a minute, say fsync "never" instead.
      fsyncIntervalMs: duration("How often the journal is fsynced under fsync: interval (ms).", { minimum: 10, maximum: MINUTE }, 1000),
    }),
    inspector: object("The Stately inspector.", {
      enabled: boolean("Serve the inspector stream.", false),
      port: port("Port for the inspector.", 4535),
    }),
    log: object("The log, on stderr: JSON lines, or short lines in a terminal.", {
      level: oneOfStrings("The least severe level logged; start --log-level overrides it.", logLevels, "info"),
    }),
    gateway: gatewaySchema,
    // Idle machines hold memory until a sweep: a day between sweeps is the most that is of use.
    sweepIntervalMs: duration("How often machines with nothing to do are stopped (ms).", { minimum: SECOND, maximum: DAY }, 60_000),
    users: {
      type: "array",
      description: "The people whose Discord status shows what they play. `username` is their name on the music server.",
      items: object("One user.", {
        username: string("The user's name on the music server (as Subsonic and ListenBrainz report it).", { minLength: 1 }),
        discordToken: string('The user\'s Discord token. A secret: write "env:NAME". Required unless the user is disabled.', { minLength: 1 }),
        listenbrainzToken: string('The token this user\'s player sends to the ListenBrainz receiver. A secret: write "env:NAME".', { minLength: 1 }),
        status: oneOfStrings("This user's Discord status; overrides presence.status.", userStatuses),
        enabled: boolean("Set false to keep the user in the file but off Discord.", true),
        presence: presenceSchema("This user's overrides of the top-level presence."),
        ignorePlayers: {
          type: "array",
          description: "Players whose plays are ignored for this user (a player that shows its own presence).",
          items: { type: "string", minLength: 1 },
          uniqueItems: true,
          default: [],
        },
      }, ["username"]),
    },
  },
};

/** `config.schema.json` as `npm run schema` writes it; a test keeps the file and this in step. */
export function configSchemaText(): string {
  return `${JSON.stringify(configSchema, null, 2)}\n`;
}
