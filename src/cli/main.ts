#!/usr/bin/env node
/**
 * The `nd-presence` command, and the package's bin once built: `npm run build` compiles it to
 * `dist/cli/main.js` (tsc keeps the shebang), which `nd-presence` and `node dist/cli/main.js` run.
 * From the sources it runs on Node with `node --import tsx src/cli/main.ts` and on Deno with `deno
 * run -A src/cli/main.ts`: it uses only `process` and `node:` modules, which Deno provides.
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
