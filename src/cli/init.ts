import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { envNames } from "../config/env.ts";
import { exampleConfig } from "../config/example.ts";
import { parseJsonc } from "../config/jsonc.ts";
import type { ParsedArgs } from "./args.ts";
import { defaultConfigPath } from "./help.ts";
import { type CliIo, exitCode } from "./io.ts";

/**
 * `nd-presence init [PATH] [--force]`: writes the commented example config and says what to do
 * next. Never overwrites a file unless told to.
 */
export function initCommand(args: ParsedArgs, io: CliIo): number {
  const path = args.positionals[0] ?? defaultConfigPath;
  const text = exampleConfig();
  try {
    mkdirSync(dirname(path), { recursive: true });
    // "wx" fails if the file exists, in the same call that creates it: no window between a check and the write.
    writeFileSync(path, text, { flag: args.flags.force === true ? "w" : "wx" });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "EEXIST") {
      io.err(`nd-presence init: ${path} already exists; pass --force to overwrite it, or give another PATH`);
      return exitCode.usage;
    }
    io.err(`nd-presence init: cannot write ${path} (${typeof code === "string" ? code : String(error)})`);
    return exitCode.failure;
  }
  // The commands as the user can run them from here: the installed bin, or the checkout's.
  const { cli, from } = io.invocation ?? { cli: "nd-presence", from: null };
  const shown = from === null ? path : resolve(path);
  const config = ` --config ${/^[\w./-]+$/.test(shown) ? shown : JSON.stringify(shown)}`;
  io.out(`wrote ${path}`);
  io.out("next:");
  io.out(`  1. edit it: set discord.applicationId to your Discord application's id, and the users`);
  io.out(`  2. set the variables it reads: ${envNames(parseJsonc(text)).join(", ")}`);
  if (from !== null) io.out(`  in ${from}:`);
  io.out(`  3. ${cli} check${config}`);
  io.out(`  4. ${cli} start${config}`);
  return exitCode.ok;
}
