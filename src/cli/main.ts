#!/usr/bin/env -S npx tsx
/**
 * The `nd-presence` command. Runs on Node (`tsx src/cli/main.ts`, or the package's bin) and on Deno
 * (`deno run -A src/cli/main.ts`): it uses only `process` and `node:` modules, which Deno provides.
 */
import { processIo } from "./io.ts";
import { runCli } from "./run.ts";
import { errorText } from "../errors.ts";

try {
  process.exit(await runCli(process.argv.slice(2), processIo));
} catch (error) {
  // Only a bug gets here; say so without a stack that could carry a config value.
  console.error(`nd-presence: unexpected error: ${errorText(error)}`);
  process.exit(1);
}
