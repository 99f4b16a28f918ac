import { existsSync, readFileSync } from "node:fs";
import { Op } from "../actors/discord-protocol.ts";
import type { Activity } from "../actors/effects.ts";
import { type JournalEntry, MemoryJournal } from "../adapters/journal/journal.ts";
import { type JournalFileRead, readJournalFile } from "../adapters/journal/jsonl-journal.ts";
import { silentLogger } from "../adapters/logger.ts";
import { trackTime } from "../adapters/track-time.ts";
import { envNames } from "../config/env.ts";
import { parseJsonc } from "../config/jsonc.ts";
import { loadConfigFile } from "../config/load.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import { errorText } from "../errors.ts";
import { createPresenceService } from "../service/service.ts";
import type { TraceRecord } from "../service/trace.ts";
import type { ParsedArgs } from "./args.ts";
import { type CliIo, configPathFrom, exitCode, printProblems } from "./io.ts";

/**
 * `nd-presence replay --journal PATH [--user NAME] [--config PATH] [--json]`: replays a journal
 * with effects off and prints, per user, each presence update their Discord status got and why
 * (the input and its journal seq, or a timer), with state changes and connection effects indented
 * under it. Sends nothing anywhere and never prints the config. Exit 0, or 2 for a journal that
 * cannot be read, a config that is not valid, or bad usage.
 */
export async function replayCommand(args: ParsedArgs, io: CliIo): Promise<number> {
  const path = args.flags.journal;
  if (typeof path !== "string") {
    io.err("nd-presence replay: --journal PATH is required (see nd-presence replay --help)");
    return exitCode.usage;
  }
  let read: JournalFileRead;
  try {
    // The journal's own reader, which leaves the file as it is (the service may be writing it).
    read = readJournalFile(path);
  } catch (error) {
    io.err(`nd-presence replay: cannot read the journal ${path} (${readError(error)})`);
    return exitCode.usage;
  }
  if (read.torn.length > 0) io.err("nd-presence replay: note: dropped a torn last line (a write was cut short); the file is left as it is");
  if (read.damaged.length > 0) io.err(`nd-presence replay: note: skipped damaged line(s) ${read.damaged.map((line) => line.index).join(", ")}`);

  const users = [...new Set(read.entries.flatMap((entry) => (entry.stream.startsWith("user:") && entry.stream.length > 5 ? [entry.stream.slice(5)] : [])))];
  const config = await replayConfig(args, io, users, read.entries);
  if (typeof config === "number") return config;

  const only = typeof args.flags.user === "string" ? args.flags.user : null;
  const journal = new MemoryJournal(read.entries);
  const records: TraceRecord[] = [];
  const service = createPresenceService({ config, journal, mode: "replay", logger: silentLogger, trace: (record) => records.push(record) });
  await service.start();
  for (const record of records) {
    if (only !== null && record.user !== only) continue;
    const line = timelineLine(record);
    if (line !== null) io.out(args.flags.json === true ? JSON.stringify(record) : line);
  }
  return exitCode.ok;
}

/** The config the replay runs with: the user's (secrets never shown), or a minimal stand-in. */
async function replayConfig(args: ParsedArgs, io: CliIo, users: string[], entries: JournalEntry[]): Promise<ServiceConfig | number> {
  const path = configPathFrom(args.flags.config, io.env);
  if (typeof args.flags.config !== "string" && !existsSync(path)) {
    // Default settings: the text shown may differ from the live run's if its templates did.
    // The token is a placeholder: replay mode performs no effect, so nothing ever uses it.
    const discovered = entries.some((entry) => entry.event.type === "gateway.discovered" || entry.event.type === "gateway.discoveryFailed");
    const connected = entries.some((entry) => entry.event.type === "gateway.hello");
    return {
      discord: { applicationId: "00000", gatewayUrl: connected && !discovered ? "wss://gateway.invalid/" : null },
      users: users.map((username) => ({ username, discordToken: `replay-placeholder-${username}` })),
    };
  }
  // A replay needs no secret: a variable the config reads but that is not set gets a placeholder,
  // so that the replay can run where the service's environment is not available.
  const env = { ...io.env };
  for (const name of configEnvNames(path)) if (!env[name]) env[name] = `unset-for-replay-${name}`;
  const loaded = await loadConfigFile(path, env);
  if (!loaded.ok) {
    io.err("nd-presence replay: the config is not valid");
    printProblems(io.err, path, loaded.problems);
    return exitCode.usage;
  }
  const known = new Set(loaded.config.users.map((user) => user.username));
  const missing = users.filter((user) => !known.has(user));
  if (missing.length > 0) io.err(`nd-presence replay: note: not in the config, so ignored as the service ignores them: ${missing.join(", ")}`);
  return loaded.config;
}

/** The `env:NAME` variables of a config file; none if it cannot be read or parsed (loading reports that). */
function configEnvNames(path: string): string[] {
  try {
    return envNames(parseJsonc(readFileSync(path, "utf8")));
  } catch {
    return [];
  }
}

/**
 * One line of the timeline, or null for a record it leaves out (heartbeats, logs, artwork). A
 * presence update is flush left; state changes and connection effects are indented under it.
 *
 * @example
 * // 2024-11-23T19:33:20.000Z  alice  shows "Pyramid Song" — Radiohead (0:30 / 4:49)  ← playback.playing #1
 * //     2024-11-23T19:33:50.000Z  alice  state presenting.paused
 */
export function timelineLine(record: TraceRecord): string | null {
  const head = `${new Date(record.at).toISOString()}  ${record.user}`;
  if (record.kind === "state") return `    ${head}  state ${record.state}`;
  const cause = `  ← ${record.cause} ${record.causeSeq === null ? "(timer)" : `#${record.causeSeq}`}`;
  const effect = record.effect;
  if (effect.type === "socket.open") return `    ${head}  socket.open #${effect.socket}${cause}`;
  if (effect.type === "socket.close") return `    ${head}  socket.close #${effect.socket} code ${effect.code}${cause}`;
  if (effect.type === "socket.closeAny") return `    ${head}  socket.close (any) code ${effect.code}${cause}`;
  if (effect.type !== "socket.send") return null;
  const { frame } = effect;
  if (frame.op === Op.Identify) return `    ${head}  identify (op 2) on #${effect.socket}${cause}`;
  if (frame.op === Op.Resume) return `    ${head}  resume (op 6) on #${effect.socket}${cause}`;
  if (frame.op !== Op.PresenceUpdate) return null;
  const activity = frame.d.activities[0];
  return `${head}  ${activity ? shows(activity, record.at) : "cleared"}${cause}`;
}

/** `shows "Title" — Artist (0:30 / 4:49)`: what a status reads, with where the track was. */
function shows(activity: Activity, at: number): string {
  const main = activity.details ?? activity.name;
  const text = `shows "${main}"${activity.state ? ` — ${activity.state}` : ""}`;
  const { start, end } = activity.timestamps ?? {};
  if (start === undefined) return text;
  const position = trackTime(at - start);
  // A paused track is sent with `start` only (an elapsed clock) and the "Paused" small text.
  if (activity.assets?.small_text === "Paused") return `${text} (Paused at ${position})`;
  return end === undefined ? `${text} (${position} elapsed)` : `${text} (${position} / ${trackTime(end - start)})`;
}

/** Why a file could not be read, in words; no stack, no contents. */
function readError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return typeof code === "string" ? code : errorText(error);
}
