import { closest } from "../config/suggest.ts";
import { type CommandSpec, parseArgs, type ParsedArgs, UsageError } from "./args.ts";
import { chartsCommand } from "./charts.ts";
import { checkCommand } from "./check.ts";
import { commandHelp, mainHelp } from "./help.ts";
import { initCommand } from "./init.ts";
import { type CliIo, exitCode } from "./io.ts";
import { checkLogLevelFlag, logLevelFlag } from "./log-options.ts";
import { replayCommand } from "./replay.ts";
import { startCommand } from "./start.ts";

interface Command {
  spec: CommandSpec;
  /** Checks the flags' values; throws `UsageError` for one the command cannot take. */
  check?(args: ParsedArgs): void;
  run(args: ParsedArgs, io: CliIo): number | Promise<number>;
}

const configFlag = { config: { takesValue: true } };

const commands: Record<string, Command> = {
  start: { spec: { flags: { ...configFlag, ...logLevelFlag }, maxPositionals: 0 }, check: checkLogLevelFlag, run: startCommand },
  check: { spec: { flags: configFlag, maxPositionals: 0 }, run: checkCommand },
  init: { spec: { flags: { force: { takesValue: false } }, maxPositionals: 1 }, run: initCommand },
  charts: { spec: { flags: { out: { takesValue: true } }, maxPositionals: 0 }, run: chartsCommand },
  replay: {
    spec: { flags: { journal: { takesValue: true }, user: { takesValue: true }, json: { takesValue: false }, ...configFlag }, maxPositionals: 0 },
    run: replayCommand,
  },
};

/**
 * Runs `nd-presence` with the arguments after the program name and resolves with the exit code:
 * 0 ok, 1 runtime failure, 2 bad config or usage. `start` resolves only once the service stopped.
 *
 * @example
 * process.exit(await runCli(process.argv.slice(2)));
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    io.out(mainHelp);
    return exitCode.ok;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    const near = closest(name, Object.keys(commands));
    const what = name.startsWith("-") ? `unknown option "${name}"` : `unknown command "${name}"`;
    return usage(io, `${what}${near ? `; did you mean "${near}"?` : ""}`, mainHelp);
  }
  let args: ParsedArgs;
  try {
    args = parseArgs(rest, command.spec);
    if (!args.help) command.check?.(args);
  } catch (error) {
    if (error instanceof UsageError) return usage(io, `${name}: ${error.message}`, commandHelp[name]!);
    throw error;
  }
  if (args.help) {
    io.out(commandHelp[name]!);
    return exitCode.ok;
  }
  return command.run(args, io);
}

function usage(io: CliIo, message: string, help: string): number {
  io.err(`nd-presence: ${message}\n`);
  io.err(help);
  return exitCode.usage;
}
