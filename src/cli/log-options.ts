import type { LogLevel } from "../actors/effects.ts";
import { logLevels } from "../adapters/logger.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import { closest } from "../config/suggest.ts";
import { type ParsedArgs, UsageError } from "./args.ts";

/** `--log-level LEVEL`, for the commands that log (`start`; `replay` logs nothing). */
export const logLevelFlag = { "log-level": { takesValue: true } };

/**
 * Throws `UsageError` for a `--log-level` that is not a level, naming the levels: the CLI checks it
 * with the other usage errors, before the command reads its config.
 */
export function checkLogLevelFlag(args: ParsedArgs): void {
  const flag = args.flags["log-level"];
  if (flag !== undefined) logLevelOf(flag);
}

/**
 * The level to log at: `--log-level` if given, else the config's `log.level`, else "info". The
 * config is already checked by its schema; a bad flag throws `UsageError`.
 *
 * @example
 * logLevelFrom(args.flags["log-level"], config); // "debug" for --log-level debug
 */
export function logLevelFrom(flag: string | true | undefined, config: Pick<ServiceConfig, "log">): LogLevel {
  return flag === undefined ? config.log?.level ?? "info" : logLevelOf(flag);
}

function logLevelOf(flag: string | true): LogLevel {
  const level = logLevels.find((name) => name === flag);
  if (level !== undefined) return level;
  const near = typeof flag === "string" ? closest(flag, logLevels) : undefined;
  throw new UsageError(`--log-level must be one of ${logLevels.join(", ")}${near ? `; did you mean "${near}"?` : ""}`);
}
