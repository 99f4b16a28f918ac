/**
 * The dispatches a real account's socket receives between heartbeats: friends' presences
 * (PRESENCE_UPDATE, ~600 B, most of them), typing (TYPING_START) and messages (MESSAGE_CREATE),
 * in Discord's shapes.
 *
 * Discord writes a frame's keys as `t`, `s`, `op`, `d`; not every server (or proxy) does, so one
 * frame in ten is written `d` first, `{"op":0,"d":{...},"s":N,"t":"X"}`: a client that peeks at
 * `t` and `s` before `d` must fall back to a full parse for those.
 *
 * The frames' text is built once, cut around `s`: a frame for a connection is `head + s + tail`,
 * so that 10,000 sockets at 1 dispatch/s cost the gateway a concatenation each, not a JSON.stringify.
 */
import { between, generator, hex, pick, snowflake } from "../../seeded.ts";
import { memberOf, userOf } from "./people.ts";
import { GAMES, isoTime, name, sentence } from "./words.ts";

/** A frame with its sequence number left out: `head + s + tail`. */
export interface DispatchFrame {
  t: string;
  head: string;
  tail: string;
}

/** How many frames the deck holds: enough variety that consecutive frames differ. */
const DECK_SIZE = 100;
/** One frame in this many is written `d` first. */
const D_FIRST_EVERY = 10;

let deck: DispatchFrame[] | null = null;

/** The gateway's frames, in the order it sends them (cycled): 70% presences, 20% typing, 10% messages, shuffled. */
export function dispatchDeck(): DispatchFrame[] {
  if (deck) return deck;
  const random = generator(16);
  const kinds: string[] = Array.from({ length: DECK_SIZE }, (_, i) => (i < 70 ? "PRESENCE_UPDATE" : i < 90 ? "TYPING_START" : "MESSAGE_CREATE"));
  // Fisher-Yates: the kinds mixed, the same way every run.
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  deck = kinds.map((t, i) => frame(t, dataOf(t, random), i % D_FIRST_EVERY === D_FIRST_EVERY - 1));
  return deck;
}

function frame(t: string, d: object, dFirst: boolean): DispatchFrame {
  const data = JSON.stringify(d);
  return dFirst ? { t, head: `{"op":0,"d":${data},"s":`, tail: `,"t":"${t}"}` } : { t, head: `{"t":"${t}","s":`, tail: `,"op":0,"d":${data}}` };
}

function dataOf(t: string, random: () => number): object {
  if (t === "PRESENCE_UPDATE") return presence(random);
  if (t === "TYPING_START") return typing(random);
  return message(random);
}

/** A friend's presence, as a user account gets it (no guild_id): status, devices, a game or a song. */
function presence(random: () => number): object {
  const startedAt = 1_732_390_400_000 - between(random, 0, 3_600_000);
  const game = {
    type: 0,
    timestamps: { start: startedAt },
    state: pick(random, ["In a match", "In the lobby", "Exploring", "Building a base", "Ranked"]),
    session_id: hex(random, 32),
    platform: "desktop",
    name: pick(random, GAMES),
    id: hex(random, 16),
    details: `${pick(random, ["Ranked", "Casual", "Story", "Co-op"])} - ${between(random, 1, 5)} / 5`,
    created_at: startedAt + between(random, 0, 5_000),
    assets: { small_text: `Level ${between(random, 1, 99)}`, small_image: snowflake(random), large_text: pick(random, GAMES), large_image: snowflake(random) },
    application_id: snowflake(random),
  };
  const song = {
    type: 2,
    timestamps: { start: startedAt, end: startedAt + between(random, 150_000, 300_000) },
    sync_id: hex(random, 22),
    state: `${name(random)}; ${name(random)}`,
    session_id: hex(random, 32),
    party: { id: `spotify:${snowflake(random)}` },
    name: "Spotify",
    id: "spotify:1",
    flags: 48,
    details: sentence(random).slice(0, 24),
    created_at: startedAt,
    assets: { large_text: `${name(random)} (Deluxe)`, large_image: `spotify:ab67616d0000b273${hex(random, 24)}` },
  };
  const status = pick(random, ["online", "idle", "dnd"]);
  return {
    user: { id: snowflake(random) },
    status,
    last_modified: startedAt,
    client_status: random() < 0.3 ? { desktop: status, mobile: "idle" } : { desktop: status },
    broadcast: null,
    activities: [random() < 0.6 ? game : song],
  };
}

/** Someone typing, in a guild channel (with their member) or in a DM. */
function typing(random: () => number): object {
  const at = 1_732_390_400 + between(random, 0, 86_400);
  if (random() < 0.3) return { user_id: snowflake(random), timestamp: at, channel_id: snowflake(random) };
  const username = name(random);
  return {
    user_id: snowflake(random),
    timestamp: at,
    member: {
      user: {
        username,
        public_flags: 0,
        id: snowflake(random),
        global_name: username,
        display_name: username,
        discriminator: "0",
        bot: false,
        avatar_decoration_data: null,
        avatar: hex(random, 32),
      },
      ...memberOf(random),
    },
    channel_id: snowflake(random),
    guild_id: snowflake(random),
  };
}

/** A message in a guild channel, with its author and member (~1.2 KB). */
function message(random: () => number): object {
  const author = userOf(random);
  return {
    type: 0,
    tts: false,
    timestamp: isoTime(random),
    pinned: false,
    nonce: snowflake(random),
    mentions: [],
    mention_roles: [],
    mention_everyone: false,
    member: {
      ...memberOf(random),
    },
    id: snowflake(random),
    flags: 0,
    embeds: [],
    edited_timestamp: null,
    content: Array.from({ length: between(random, 1, 4) }, () => sentence(random)).join(" "),
    components: [],
    channel_id: snowflake(random),
    author,
    attachments: [],
    guild_id: snowflake(random),
    referenced_message: null,
    channel_type: 0,
  };
}
