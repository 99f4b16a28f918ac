/**
 * The people a fake account hears about: users (as READY lists friends, as a message names its
 * author) and guild members. Shared by the READY and the dispatch generators, so that both draw a
 * user the same way.
 */
import { hex, snowflake } from "../../seeded.ts";
import { isoTime, name } from "./words.ts";

/** A user object; `bot` is written only when given (READY's friends have it, a message author not). */
export function userOf(random: () => number, bot?: boolean): { id: string; username: string } & Record<string, unknown> {
  const username = name(random);
  return {
    username,
    public_flags: 0,
    id: snowflake(random),
    global_name: username,
    discriminator: "0",
    clan: null,
    ...(bot === undefined ? {} : { bot }),
    avatar_decoration_data: null,
    avatar: hex(random, 32),
  };
}

/** A guild member's own fields (without its user). */
export function memberOf(random: () => number): Record<string, unknown> {
  return {
    roles: [snowflake(random)],
    premium_since: null,
    pending: false,
    nick: null,
    mute: false,
    joined_at: isoTime(random),
    flags: 0,
    deaf: false,
    communication_disabled_until: null,
    avatar: null,
  };
}
