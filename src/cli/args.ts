import { parseArgs as nodeParseArgs } from "node:util";
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
  const options = Object.fromEntries(Object.entries(spec.flags).map(([name, flag]) => [name, { type: flag.takesValue ? "string" : "boolean" } as const]));
  // Not strict: in strict mode node:util throws messages of its own, without a "did you mean"; its
  // tokens let each problem be worded here. `-config` is read as `--config`, as it always was, not
  // as the short flags -c -o -n -f -i -g.
  const { tokens } = nodeParseArgs({
    args: argv.map((arg) => (/^-[^-]./.test(arg) ? `-${arg}` : arg)),
    options: { ...options, help: { type: "boolean", short: "h" } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const parsed: ParsedArgs = { flags: {}, positionals: [], help: false };
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    // As typed: the rewrite above is for flags only.
    const arg = argv[token.index]!;
    if (token.kind === "positional") {
      parsed.positionals.push(arg);
      continue;
    }
    if (arg === "-h" || arg === "--help") {
      parsed.help = true;
      continue;
    }
    const flag = Object.hasOwn(spec.flags, token.name) ? spec.flags[token.name] : undefined;
    if (!flag) throw new UsageError(unknownFlag(arg, Object.keys(spec.flags)));
    const { name, value, inlineValue } = token;
    if (!flag.takesValue) {
      if (inlineValue) throw new UsageError(`--${name} takes no value`);
      parsed.flags[name] = true;
    } else if (value === undefined || (!inlineValue && value.startsWith("-"))) {
      // node:util takes the next argument whatever it is: "--config --force" has left the path out.
      throw new UsageError(`--${name} needs a value, e.g. --${name} PATH`);
    } else {
      parsed.flags[name] = value;
    }
  }
  // --help wins over everything else: someone asking for help should get it, not an error.
  if (!parsed.help && parsed.positionals.length > spec.maxPositionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[spec.maxPositionals]}"`);
  }
  return parsed;
}

/** `unknown option "--confg"; did you mean "--config"?`, naming the option as it was typed. */
function unknownFlag(arg: string, known: string[]): string {
  const [typed] = arg.split("=");
  const near = closest(typed!.replace(/^--?/, ""), [...known, "help"]);
  return `unknown option "${typed}"${near ? `; did you mean "--${near}"?` : ""}`;
}
