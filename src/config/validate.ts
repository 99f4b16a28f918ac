import { childPath, type Problem } from "./problem.ts";
import { checkSchema } from "./schema-check.ts";
import { configSchema } from "./schema.ts";
import { isRecord } from "../actors/objects.ts";

export type { Problem } from "./problem.ts";

/**
 * Every problem with a config (already parsed, `env:` values already read), each with its JSON
 * path and what to do: first the schema (`configSchema`), then what a schema cannot say (unique
 * usernames and tokens, a token for every enabled user, the receiver needs the HTTP server).
 * An empty list means the config is valid. No message quotes a value from the config.
 *
 * @example
 * validateConfig({ discord: { applicationId: "123" }, users: [] });
 * // [{ path: "discord.applicationId", message: "must be 5 to 25 digits: ..." }]
 */
export function validateConfig(value: unknown): Problem[] {
  const problems: Problem[] = [];
  checkSchema(value, configSchema, "", problems);
  if (isRecord(value)) problems.push(...checkUsers(value.users), ...checkReceiver(value));
  return problems;
}

function checkUsers(users: unknown): Problem[] {
  if (!Array.isArray(users)) return [];
  const problems: Problem[] = [];
  const firstIndex = new Map<string, number>();
  // The supervisor routes by username and the receiver by token: two users sharing either would
  // get each other's plays. Two users on one Discord token would fight over one account's status.
  const unique = (index: number, field: string, what: string, value: unknown) => {
    if (typeof value !== "string" || value === "") return;
    const key = `${field}\u0000${value}`;
    const first = firstIndex.get(key);
    if (first === undefined) firstIndex.set(key, index);
    else problems.push({ path: childPath(childPath("users", index), field), message: `same as users[${first}].${field}; ${what}` });
  };
  users.forEach((user, index) => {
    if (!isRecord(user)) return;
    unique(index, "username", "each user must appear once", user.username);
    unique(index, "discordToken", "each user needs their own Discord token", user.discordToken);
    unique(index, "listenbrainzToken", "each user needs their own ListenBrainz token", user.listenbrainzToken);
    if (user.enabled !== false && user.discordToken === undefined) {
      problems.push({
        path: childPath(childPath("users", index), "discordToken"),
        message: 'missing; add the user\'s Discord token as "env:NAME", or set "enabled": false',
      });
    }
  });
  return problems;
}

function checkReceiver(config: Record<string, unknown>): Problem[] {
  const sources = isRecord(config.sources) ? config.sources : {};
  const listenbrainz = isRecord(sources.listenbrainz) ? sources.listenbrainz : {};
  const http = isRecord(config.http) ? config.http : {};
  if (listenbrainz.enabled !== true || http.enabled !== false) return [];
  return [{
    path: "sources.listenbrainz.enabled",
    message: "the ListenBrainz receiver is served by the HTTP server, which http.enabled turns off; enable one or disable the other",
  }];
}
