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
 * How this process was started, as a command a user can type again. Not `npm run` or `npx`: those
 * do not pass SIGTERM on to a service they start.
 * - the installed bin: `nd-presence` (a global install puts it on the PATH), or
 *   `node_modules/.bin/nd-presence` in the project that installed it locally;
 * - a checkout's build: `node dist/cli/main.js`;
 * - a checkout's sources: `node --import tsx src/cli/main.ts` on Node, and on Deno the Deno that
 *   npm installed, `node_modules/.bin/deno run -A src/cli/main.ts`.
 *
 * A checkout's command is relative to the checkout, the folder above `dist/` or `src/`; it is
 * printed with that folder when run from elsewhere.
 *
 * @example
 * invocationOf("/srv/nd/dist/cli/main.js", "/srv/nd", false); // { cli: "node dist/cli/main.js", from: null }
 */
export function invocationOf(script: string, cwd: string, deno: boolean): Invocation {
  const folder = dirname(script);
  if (basename(script) === "nd-presence") {
    // npm links a local install's bin into <project>/node_modules/.bin, which is not on the PATH.
    if (basename(folder) === ".bin" && basename(dirname(folder)) === "node_modules") {
      const project = dirname(dirname(folder));
      return { cli: "node_modules/.bin/nd-presence", from: resolve(cwd) === project ? null : project };
    }
    return { cli: "nd-presence", from: null };
  }
  const root = resolve(folder, "..", "..");
  // The package's own file, run by its path (as npm's shims on Windows do): the installed command.
  if (basename(dirname(root)) === "node_modules") return { cli: "nd-presence", from: null };
  const path = relative(root, script);
  const runtime = deno ? "node_modules/.bin/deno run -A" : /\.[cm]?ts$/.test(script) ? "node --import tsx" : "node";
  return { cli: `${runtime} ${path}`, from: resolve(cwd) === root ? null : root };
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
// 4 also when another nd-presence holds the journal (its lock): the journal is not this one's to write.
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
