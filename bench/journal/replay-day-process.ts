/**
 * The replay of a day's journal, in a fresh process (forked by replay-day.ts), as a start-up
 * after a day of running finds it: nothing warmed up, no garbage from generating the file.
 *
 * - nd-presence: `createPresenceService({ journal: JsonlJournal, mode: "replay" })` and `start()`,
 *   timed from creating the service to `start()` resolved: the file read and parsed, every entry
 *   applied. Then checked (`checkDayStates`), and the file's read and parse timed again alone, to
 *   tell that share from the machines'.
 * - raw: the file read, parsed and applied to a plain Map (baseline.ts).
 */
import { readFileSync } from "node:fs";
import type { JournalEntry } from "../../src/adapters/journal/journal.ts";
import { Child, serve } from "../network/ipc.ts";
import type { Phase } from "./phases.ts";

export interface DayReplay {
  /** Creating the service (or reading the file) to the state rebuilt, ms. */
  ms: number;
  /** nd-presence only: `JsonlJournal.load()` alone, ms. */
  loadMs?: number;
}

interface Request {
  kind: "nd" | "raw";
  path: string;
  users: number;
  expected: Array<[string, Phase[]]>;
}

async function replayService({ path, users, expected }: Request): Promise<DayReplay> {
  const { createPresenceService } = await import("../../src/service/service.ts");
  const { JsonlJournal } = await import("../../src/adapters/journal/jsonl-journal.ts");
  const { silentLogger } = await import("../../src/adapters/logger.ts");
  const { benchConfig } = await import("./generate.ts");
  const { checkDayStates } = await import("./check.ts");
  const config = benchConfig(users);
  const started = performance.now();
  const service = createPresenceService({ config, journal: new JsonlJournal({ path, logger: silentLogger }), mode: "replay", logger: silentLogger });
  await service.start();
  const ms = performance.now() - started;
  checkDayStates(service, expected);
  service.actor?.stop();
  const loading = performance.now();
  new JsonlJournal({ path, logger: silentLogger }).load();
  return { ms, loadMs: performance.now() - loading };
}

async function replayPlain({ path, expected }: Request): Promise<DayReplay> {
  const { applyPlain } = await import("./baseline.ts");
  const { checkPlainDay } = await import("./check.ts");
  const started = performance.now();
  // Line by line from one string would not do for a 500 MB file (V8's longest string is 512 MiB): by chunks of lines.
  const bytes = readFileSync(path);
  const state = new Map();
  for (let from = 0; from < bytes.length;) {
    const to = Math.min(bytes.length, bytes.lastIndexOf(0x0a, from + 64 * 2 ** 20) + 1 || bytes.length);
    const entries = bytes.subarray(from, to).toString("utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as JournalEntry);
    applyPlain(entries, state);
    from = to;
  }
  const ms = performance.now() - started;
  checkPlainDay(state, expected);
  return { ms };
}

/** Replays the day's journal at `path` in a fresh process; rejects if the process fails (e.g. out of memory). */
export async function replayDayInChild(request: Request): Promise<DayReplay> {
  const child = new Child(new URL(import.meta.url), { args: ["--bench-replay-day"] });
  try {
    return await child.call<DayReplay>("replay", request);
  } finally {
    await child.kill();
  }
}

if (process.argv.includes("--bench-replay-day")) {
  serve({ replay: (request: Request) => (request.kind === "nd" ? replayService(request) : replayPlain(request)) });
}
