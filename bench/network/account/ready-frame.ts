/**
 * The READY a real Discord user account receives: large (~100 KB for a modest account, 1 MB and
 * more for one in many guilds), shaped like Discord's, `{"t":"READY","s":1,"op":0,"d":{...}}`
 * with `d`'s keys in the order Discord writes them (reverse alphabetical: `session_id` and
 * `resume_gateway_url` come after `users`, `user_guild_settings` and `user`, not first).
 *
 * Built once per size, as text cut around the three fields that differ per connection (the user
 * id, the session id and the resume URL), so that a connection's READY costs a few string
 * concatenations, not a JSON.stringify of 100 KB.
 */
import { between, generator, hex, pick, snowflake } from "../../seeded.ts";
import { userOf } from "./people.ts";
import { channelName, guildName, isoTime, name } from "./words.ts";

/** What differs between two connections' READY. */
export interface ReadyFields {
  userId: string;
  sessionId: string;
  resumeUrl: string;
}

export type ReadyFrame = (fields: ReadyFields) => string;

/** Placeholders in the built text, replaced per connection (`@@` cannot occur in the generated JSON). */
const PLACEHOLDER: Record<keyof ReadyFields, string> = { userId: "@@userId@@", sessionId: "@@sessionId@@", resumeUrl: "@@resumeUrl@@" };
const PLACEHOLDERS = /@@(userId|sessionId|resumeUrl)@@/;

const built = new Map<number, ReadyFrame>();

/** A READY of about `bytes` bytes (at least the skeleton's ~3 KB), the same text for every call with that size. */
export function readyFrame(bytes: number): ReadyFrame {
  let frame = built.get(bytes);
  if (!frame) {
    frame = template(JSON.stringify({ t: "READY", s: 1, op: 0, d: readyData(bytes) }));
    built.set(bytes, frame);
  }
  return frame;
}

/** The text split around its placeholders: literal, field name, literal, ... */
function template(text: string): ReadyFrame {
  const parts = text.split(PLACEHOLDERS);
  return (fields) => {
    let out = parts[0]!;
    for (let i = 1; i < parts.length; i += 2) out += fields[parts[i] as keyof ReadyFields] + parts[i + 1]!;
    return out;
  };
}

type Json = Record<string, unknown>;

/** `d`: the skeleton, then guilds, friends and DMs added in proportion until it is `bytes` long. */
function readyData(bytes: number): Json {
  const random = generator(bytes);
  const guilds: Json[] = [];
  const mergedMembers: Json[][] = [];
  const guildSettings: Json[] = [];
  const relationships: Json[] = [];
  const users: Json[] = [];
  const privateChannels: Json[] = [];
  const readStates: Json[] = [];
  const d: Json = {
    v: 9,
    users,
    user_settings_proto: base64(random, 1_400),
    user_guild_settings: { version: between(random, 1, 9_999), partial: false, entries: guildSettings },
    user: {
      verified: true,
      username: "bench",
      purchased_flags: 0,
      premium_type: 0,
      premium: false,
      phone: null,
      nsfw_allowed: true,
      mobile: false,
      mfa_enabled: false,
      id: PLACEHOLDER.userId,
      global_name: "Bench",
      flags: 0,
      email: "bench@example.invalid",
      discriminator: "0",
      desktop: false,
      bio: "",
      banner_color: null,
      banner: null,
      avatar_decoration_data: null,
      avatar: hex(random, 32),
    },
    tutorial: null,
    sessions: [{ status: "unknown", session_id: PLACEHOLDER.sessionId, client_info: { version: 0, os: "linux", client: "web" }, activities: [] }],
    session_type: "normal",
    session_id: PLACEHOLDER.sessionId,
    resume_gateway_url: PLACEHOLDER.resumeUrl,
    relationships,
    read_state: { version: between(random, 1, 9_999), partial: false, entries: readStates },
    private_channels: privateChannels,
    merged_members: mergedMembers,
    guilds,
    guild_join_requests: [],
    guild_experiments: Array.from(
      { length: 6 },
      () => [between(random, 1e8, 4e9), null, between(random, 0, 3), [[[between(random, 0, 2), [{ s: 0, e: 10_000 }]]]], [], [], []],
    ),
    geo_ordered_rtc_regions: ["newark", "us-east", "us-central", "atlanta", "us-south"],
    friend_suggestion_count: 0,
    experiments: Array.from({ length: 30 }, () => [between(random, 1e8, 4e9), 0, between(random, 0, 3), -1, 0, 0, 0, 0]),
    country_code: "US",
    consents: { personalization: { consented: true } },
    connected_accounts: [],
    auth_session_id_hash: base64(random, 44),
    auth: { authenticator_types: [] },
    api_code_version: 1,
    analytics_token: base64(random, 120),
  };
  // Each item's share of the text, counted as it is added: stringifying the whole each round would be quadratic.
  let size = JSON.stringify({ t: "READY", s: 1, op: 0, d }).length;
  const add = (list: unknown[], item: unknown) => {
    list.push(item);
    size += JSON.stringify(item).length + 1;
  };
  while (size < bytes) {
    const guild = guildOf(random);
    add(guilds, guild);
    add(mergedMembers, [{
      user_id: PLACEHOLDER.userId,
      roles: [],
      premium_since: null,
      pending: false,
      nick: null,
      mute: false,
      joined_at: guild.joined_at,
      flags: 0,
      deaf: false,
    }]);
    add(guildSettings, {
      version: 0,
      suppress_roles: false,
      suppress_everyone: false,
      muted: false,
      mobile_push: true,
      message_notifications: 1,
      guild_id: guild.id,
      flags: 0,
      channel_overrides: [],
    });
    for (let i = 0; i < 8; i++) {
      const friend = userOf(random, false);
      add(users, friend);
      add(relationships, { user_id: friend.id, type: 1, since: isoTime(random), nickname: null, id: friend.id });
    }
    for (let i = 0; i < 3; i++) {
      add(privateChannels, { type: 1, recipient_ids: [pick(random, users).id], last_message_id: snowflake(random), id: snowflake(random), flags: 0 });
    }
    for (let i = 0; i < 6; i++) {
      add(readStates, { mention_count: between(random, 0, 3), last_pin_timestamp: isoTime(random), last_message_id: snowflake(random), id: snowflake(random) });
    }
  }
  return d;
}

function guildOf(random: () => number): { id: string; joined_at: string } & Json {
  const id = snowflake(random);
  const category = snowflake(random);
  const channels = Array.from({ length: 12 }, (_, position) => ({
    version: between(random, 1e12, 2e12),
    type: position === 0 ? 4 : position % 5 === 4 ? 2 : 0,
    topic: position % 3 === 0 ? null : `All about ${channelName(random)}`,
    rate_limit_per_user: 0,
    position,
    permission_overwrites: [{ type: 0, id, deny: "0", allow: "1024" }],
    parent_id: position === 0 ? null : category,
    nsfw: false,
    name: channelName(random),
    last_message_id: snowflake(random),
    id: position === 0 ? category : snowflake(random),
    flags: 0,
  }));
  const roles = Array.from({ length: 8 }, (_, position) => ({
    version: between(random, 1e12, 2e12),
    unicode_emoji: null,
    tags: {},
    position,
    permissions: "1071698660929",
    name: position === 0 ? "@everyone" : name(random),
    mentionable: false,
    managed: false,
    id: position === 0 ? id : snowflake(random),
    icon: null,
    hoist: position % 3 === 1,
    flags: 0,
    color: between(random, 0, 0xffffff),
  }));
  const emojis = Array.from(
    { length: 5 },
    () => ({ roles: [], require_colons: true, name: name(random), managed: false, id: snowflake(random), available: true, animated: false }),
  );
  const joinedAt = isoTime(random);
  return {
    version: between(random, 1e12, 2e12),
    threads: [],
    stickers: [],
    stage_instances: [],
    roles,
    properties: {
      name: guildName(random),
      icon: hex(random, 32),
      description: null,
      features: ["COMMUNITY", "NEWS", "ANIMATED_ICON"],
      owner_id: snowflake(random),
      preferred_locale: "en-US",
      premium_tier: between(random, 0, 3),
      verification_level: 1,
      nsfw_level: 0,
      system_channel_id: channels[1]!.id,
      rules_channel_id: null,
      afk_timeout: 300,
      id,
    },
    premium_subscription_count: between(random, 0, 14),
    member_count: between(random, 20, 5_000),
    lazy: true,
    large: false,
    joined_at: joinedAt,
    id,
    guild_scheduled_events: [],
    emojis,
    data_mode: "full",
    channels,
    application_command_counts: {},
  };
}

function base64(random: () => number, length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let text = "";
  for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * 64)];
  return text;
}
