/**
 * Profiling driver for a start from a checkpoint: the recovery scenario's second start, alone, so
 * that a CPU profile shows it (restoring the machines, then replaying the tail).
 *
 *   node --import tsx bench/journal/profile-checkpoint.ts 10000 /tmp/prof
 *   tsx bench/journal/profile-summary.ts /tmp/prof/checkpoint-start.cpuprofile
 */
import { Session } from "node:inspector/promises";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonlJournal } from "../../src/adapters/journal/jsonl-journal.ts";
import { silentLogger } from "../../src/adapters/logger.ts";
import { createPresenceService } from "../../src/service/service.ts";
import { checkAllPlaying } from "./check.ts";
import { benchConfig, generateJournal } from "./generate.ts";

const users = Number(process.argv[2] ?? 10_000);
const out = process.argv[3] ?? "/tmp/nd-bench-profile";
mkdirSync(out, { recursive: true });
const folder = mkdtempSync(join(tmpdir(), "nd-bench-checkpoint-"));
try {
  const path = join(folder, "journal.jsonl");
  const entries = generateJournal({ users, eventsPerUser: 20 });
  const cut = Math.floor(entries.length * 0.9);
  writeFileSync(path, entries.slice(0, cut).map((entry) => `${JSON.stringify(entry)}\n`).join(""));
  const journal = () => new JsonlJournal({ path, logger: silentLogger });
  const first = createPresenceService({ config: benchConfig(users), journal: journal(), mode: "replay", logger: silentLogger });
  await first.start();
  await first.checkpoint();
  first.actor?.stop();
  appendFileSync(path, entries.slice(cut).map((entry) => `${JSON.stringify(entry)}\n`).join(""));
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  const started = performance.now();
  const second = createPresenceService({ config: benchConfig(users), journal: journal(), mode: "replay", useCheckpoint: true, logger: silentLogger });
  await second.start();
  const ms = performance.now() - started;
  const { profile } = await session.post("Profiler.stop");
  writeFileSync(join(out, "checkpoint-start.cpuprofile"), JSON.stringify(profile));
  checkAllPlaying(second, users);
  second.actor?.stop();
  console.log(`${users} users from a checkpoint + ${entries.length - cut} entries: ${ms.toFixed(0)} ms; ${join(out, "checkpoint-start.cpuprofile")}`);
} finally {
  rmSync(folder, { recursive: true, force: true });
}
