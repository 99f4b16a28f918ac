import type { Env } from "../config/env.ts";
import { formatProblem, type Problem } from "../config/problem.ts";
import { defaultConfigPath } from "./help.ts";

/** What a command talks to, so that it can be run with other streams and another environment. */
export interface CliIo {
  /** A line on stdout: what the command was asked for. */
  out(line: string): void;
  /** A line on stderr: errors, problems of a config that `start` cannot run with, logs. */
  err(line: string): void;
  env: Env;
}

/** The real process: `console.log` and `console.error` write synchronously to files and pipes. */
export const processIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  env: process.env,
};

/** Exit codes (DESIGN.md, "Service contract"). */
export const exitCode = { ok: 0, failure: 1, usage: 2 } as const;

/** `--config`, else `$ND_PRESENCE_CONFIG`, else `./nd-presence.json`. */
export function configPathFrom(flag: string | true | undefined, env: Env): string {
  if (typeof flag === "string") return flag;
  return env.ND_PRESENCE_CONFIG || defaultConfigPath;
}

/** Prints a config's problems, one per line under a heading that names the file. */
export function printProblems(write: (line: string) => void, path: string, problems: readonly Problem[]): void {
  write(`${path}: ${problems.length} problem${problems.length === 1 ? "" : "s"}`);
  for (const problem of problems) write(`  ${formatProblem(problem)}`);
}
