import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AnyStateMachine } from "xstate";
import { guardText, toMermaid } from "./state-chart.ts";
import { presenceMachine } from "../actors/presence-machine.ts";
import { shardMachine } from "../actors/shard-machine.ts";
import { supervisorMachine } from "../actors/supervisor-machine.ts";
import { errorText } from "../errors.ts";
import type { ParsedArgs } from "./args.ts";
import { defaultChartsDir } from "./help.ts";
import { type CliIo, exitCode } from "./io.ts";

const machines: Record<string, AnyStateMachine> = { presence: presenceMachine, shard: shardMachine, supervisor: supervisorMachine };

/**
 * `nd-presence charts [--out DIR]`: writes each machine as `<name>.json` (its XState v5 config, for
 * Stately Studio's import) and `<name>.mmd` (Mermaid, as in the README). Exit 0, or 1 if it cannot write.
 */
export function chartsCommand(args: ParsedArgs, io: CliIo): number {
  const dir = typeof args.flags.out === "string" ? args.flags.out : defaultChartsDir;
  const written: string[] = [];
  try {
    mkdirSync(dir, { recursive: true });
    for (const [name, machine] of Object.entries(machines)) {
      const files: Array<[string, string]> = [
        [`${name}.json`, `${JSON.stringify(machineConfig(machine), null, 2)}\n`],
        [`${name}.mmd`, `${toMermaid(machine)}\n`],
      ];
      for (const [file, text] of files) {
        writeFileSync(join(dir, file), text);
        written.push(join(dir, file));
      }
    }
  } catch (error) {
    io.err(`nd-presence charts: cannot write to ${dir} (${errorText(error)})`);
    return exitCode.failure;
  }
  for (const path of written) io.out(`wrote ${path}`);
  io.out("Stately Studio: Import, and paste createMachine(<contents of a .json file>)");
  return exitCode.ok;
}

/**
 * A machine's config as JSON: states, transitions, and guards, actions and delays by name, which is
 * what Stately Studio imports (as `createMachine({...})`) and exports. Functions have no JSON form:
 * `and`/`or`/`not` guards become their expression (`fromOpenSocket && isZombie`), others (the
 * `context` factory) are left out. The root's `meta` lists every named implementation, since some
 * are only used from inside actions (`heartbeatInterval` is the delay of a raised `heartbeat.due`)
 * and would otherwise appear nowhere.
 *
 * @example
 * writeFileSync("presence.json", JSON.stringify(machineConfig(presenceMachine), null, 2));
 */
export function machineConfig(machine: AnyStateMachine): Record<string, unknown> {
  const config = JSON.parse(JSON.stringify(machine.config, (_key, value: unknown) => (typeof value === "function" ? guardText(value) : value)));
  const named = Object.fromEntries(Object.entries(machine.implementations).map(([kind, implementations]) => [kind, Object.keys(implementations)]));
  return { ...config, meta: { ...config.meta, implementations: named } };
}
