import { loadConfigFile } from "../config/load.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import type { ParsedArgs } from "./args.ts";
import { type CliIo, configPathFrom, exitCode, printProblems } from "./io.ts";

/**
 * `nd-presence check`: validates the config (env values read) and prints every problem, or a
 * one-line summary. Exit 0 when valid, 2 when not.
 */
export async function checkCommand(args: ParsedArgs, io: CliIo): Promise<number> {
  const path = configPathFrom(args.flags.config, io.env);
  const result = await loadConfigFile(path, io.env);
  if (!result.ok) {
    printProblems(io.out, path, result.problems);
    return exitCode.usage;
  }
  io.out(`config OK: ${summary(result.config)}`);
  return exitCode.ok;
}

/**
 * `2 users, sources: subsonic, listenbrainz`. Names only: a URL may have come from the environment,
 * and no env value is ever printed.
 */
export function summary(config: ServiceConfig): string {
  const users = config.users.length;
  const disabled = config.users.filter((user) => user.enabled === false).length;
  const sources = enabledSources(config);
  return `${users} user${users === 1 ? "" : "s"}${disabled > 0 ? ` (${disabled} disabled)` : ""}, sources: ${sources.length > 0 ? sources.join(", ") : "none"}`;
}

/** The now-playing sources the config turns on, by name. */
export function enabledSources(config: ServiceConfig): string[] {
  const sources: string[] = [];
  if (config.sources?.subsonic) sources.push("subsonic");
  if (config.sources?.listenbrainz?.enabled === true) sources.push("listenbrainz");
  return sources;
}
