import { basename, dirname, relative, resolve } from "node:path";
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
  /**
   * How the user runs this CLI from where they are, for the commands it suggests ("next:" after
   * init). Default: the installed command, `nd-presence`.
   */
  invocation?: Invocation;
}

/** A command line that runs the CLI: `cli` followed by the arguments, run in `from` if it is set. */
export interface Invocation {
  cli: string;
  /** The folder to run it in (a checkout run from elsewhere), or null for anywhere. */
  from: string | null;
}

/**
 * How this process was started, as a command a user can type again: the installed bin, or from a
 * checkout `node --import tsx src/cli/main.ts` (Node) or the Deno that npm installed. Not `npm
 * run` or `npx`: those do not pass SIGTERM on to a service they start.
 */
export function invocationOf(script: string, cwd: string, deno: boolean): Invocation {
  if (basename(script) === "nd-presence") return { cli: "nd-presence", from: null };
  const root = resolve(dirname(script), "..", "..");
  const cli = `${deno ? "node_modules/.bin/deno run -A" : "node --import tsx"} ${relative(root, script)}`;
  return { cli, from: resolve(cwd) === root ? null : root };
}

/** The real process: `console.log` and `console.error` write synchronously to files and pipes. */
export const processIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  env: process.env,
  invocation: invocationOf(process.argv[1] ?? "", process.cwd(), "Deno" in globalThis),
};

/**
 * Exit codes (docs/architecture.md, "Service contract"; docs/deployment.md): 1 is anything
 * unexpected; 2 a config or command line to fix; 3 and 4 what `start` needs from the machine.
 */
export const exitCode = { ok: 0, failure: 1, usage: 2, cannotListen: 3, dataUnwritable: 4 } as const;

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
