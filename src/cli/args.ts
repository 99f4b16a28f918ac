import { closest } from "../config/suggest.ts";

/** What a command accepts: its flags (with whether each takes a value) and how many positionals. */
export interface CommandSpec {
  flags: Record<string, { takesValue: boolean }>;
  maxPositionals: number;
}

/** A command line, parsed against a `CommandSpec`. */
export interface ParsedArgs {
  /** Flag values by name without dashes; `true` for a flag without a value. */
  flags: Record<string, string | true>;
  positionals: string[];
  help: boolean;
}

/** A command line that does not fit its command: exit 2 with this message and the help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses one command's arguments: `--flag`, `--flag VALUE`, `--flag=VALUE`, `-h`/`--help`, and
 * positionals. Anything else throws `UsageError` with a "did you mean" when a flag is near.
 *
 * @example
 * parseArgs(["--config", "a.json"], { flags: { config: { takesValue: true } }, maxPositionals: 0 });
 * // { flags: { config: "a.json" }, positionals: [], help: false }
 */
export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const parsed: ParsedArgs = { flags: {}, positionals: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") {
      parsed.help = true;
    } else if (arg === "--") {
      parsed.positionals.push(...argv.slice(i + 1));
      break;
    } else if (arg.startsWith("-") && arg !== "-") {
      const [name, inline] = splitFlag(arg);
      const flag = spec.flags[name];
      if (!flag) throw new UsageError(unknownFlag(arg, name, Object.keys(spec.flags)));
      if (!flag.takesValue) {
        if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
        parsed.flags[name] = true;
        continue;
      }
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith("-"))) throw new UsageError(`--${name} needs a value, e.g. --${name} PATH`);
      parsed.flags[name] = value;
    } else {
      parsed.positionals.push(arg);
    }
  }
  // --help wins over everything else: someone asking for help should get it, not an error.
  if (!parsed.help && parsed.positionals.length > spec.maxPositionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[spec.maxPositionals]}"`);
  }
  return parsed;
}

function splitFlag(arg: string): [string, string | undefined] {
  const body = arg.replace(/^--?/, "");
  const eq = body.indexOf("=");
  return eq < 0 ? [body, undefined] : [body.slice(0, eq), body.slice(eq + 1)];
}

function unknownFlag(arg: string, name: string, known: string[]): string {
  const near = closest(name, [...known, "help"]);
  return `unknown option "${arg.split("=")[0]}"${near ? `; did you mean "--${near}"?` : ""}`;
}
