/** The help texts: `nd-presence --help` and `nd-presence <command> --help`. */

/** Where `start`, `check` and `init` look when given no path and no `ND_PRESENCE_CONFIG`. */
export const defaultConfigPath = "./nd-presence.json";

/** Where `charts` writes when given no `--out`. */
export const defaultChartsDir = "./charts";

const configLine = `The config path defaults to $ND_PRESENCE_CONFIG, else ${defaultConfigPath}.`;
const exitCodes =
  "Exit codes: 0 ok, 1 runtime failure, 2 bad, missing or unreadable config, or usage;\nstart also 3 (the HTTP port cannot be listened on) and 4 (the journal cannot be written, or another nd-presence holds it).";

/** `nd-presence --help`, and what `nd-presence` alone prints. */
export const mainHelp = `nd-presence: Discord Rich Presence for Navidrome

Usage:
  nd-presence start [--config PATH]    run the service
  nd-presence check [--config PATH]    validate the config and list every problem
  nd-presence init [PATH] [--force]    write a commented example config
  nd-presence charts [--out DIR]       write the state machines as JSON and Mermaid
  nd-presence replay --journal PATH    show what each user's status showed, and why
  nd-presence <command> --help         help on one command

First run:
  nd-presence init, edit the file, set the variables it names, nd-presence check, nd-presence start

${configLine}
${exitCodes}`;

/** Help for each command, by name. */
export const commandHelp: Record<string, string> = {
  start: `Usage: nd-presence start [--config PATH] [--log-level LEVEL]

Runs the service: one Discord presence per configured user, fed by the configured sources, with
the HTTP server (status page, health, metrics, ListenBrainz receiver) when it is enabled.
Stops cleanly on SIGINT (Ctrl+C) or SIGTERM: clears every presence and closes the sockets.

Options:
  --config PATH      the config file
  --log-level LEVEL  debug, info, warn or error: the least severe level logged; overrides the
                     config's log.level (default info)
  -h, --help         this help

${configLine}
Logs go to stderr: short lines in a terminal, else one JSON object per line (journald, docker
logs, jq). ${exitCodes}`,

  check: `Usage: nd-presence check [--config PATH]

Validates the config, with its env:NAME values read from the environment, and prints every problem
with its JSON path. Prints nothing secret.

Options:
  --config PATH   the config file
  -h, --help      this help

${configLine}
Exit codes: 0 valid, 2 invalid or usage.`,

  init: `Usage: nd-presence init [PATH] [--force]

Writes a commented example config (JSON with comments) to PATH, default ${defaultConfigPath}.
Secrets in it are env:NAME references: set those variables, then run nd-presence check.

Options:
  --force         overwrite PATH if it exists
  -h, --help      this help

${exitCodes}`,

  charts: `Usage: nd-presence charts [--out DIR]

Writes each state machine (presence, supervisor) to DIR, default ${defaultChartsDir}:
  <name>.json   its XState v5 config, with guards, actions and delays by name; open it in
                Stately Studio with Import, as createMachine(<the file's contents>)
  <name>.mmd    a Mermaid state diagram (the one in the README)
Needs no config.

Options:
  --out DIR       where to write (created if missing; existing files are replaced)
  -h, --help      this help

${exitCodes}`,

  replay: `Usage: nd-presence replay --journal PATH [--user NAME] [--config PATH] [--json]

Replays a journal with every effect switched off (nothing is sent anywhere, the file is not
changed) and prints each presence update a user's Discord status got, with what caused it: an
input and its journal seq (#12), or a timer. State changes and connection effects (socket open
and close, identify, resume) are indented under them.

Options:
  --journal PATH  the journal file, e.g. data/journal.jsonl
  --user NAME     only this user
  --config PATH   the config the service ran with, for its presence settings; without it (and
                  without a file at the default path) default settings are assumed
  --json          one JSON trace record per line instead
  -h, --help      this help

${configLine}
Exit codes: 0 ok, 2 journal unreadable, bad config or usage.`,
};
