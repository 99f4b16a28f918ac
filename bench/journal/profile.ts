/**
 * Profiling driver: one replay of a generated journal and nothing else, so that a CPU profile shows
 * the replay. `memory` (default) is the replay scenario (MemoryJournal); `file` is the recovery
 * scenario (a JsonlJournal file, read and parsed by `start()`).
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/journal/profile.ts 1000 300
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/journal/profile.ts 10000 20 file
 *   tsx bench/journal/profile-summary.ts /tmp/prof/*.cpuprofile
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Journal, MemoryJournal } from "../../src/adapters/journal/journal.ts";
import { JsonlJournal } from "../../src/adapters/journal/jsonl-journal.ts";
import { silentLogger } from "../../src/adapters/logger.ts";
import { createPresenceService } from "../../src/service/service.ts";
import { checkAllPlaying } from "./check.ts";
import { benchConfig, generateJournal } from "./generate.ts";

const users = Number(process.argv[2] ?? 1000);
const eventsPerUser = Number(process.argv[3] ?? 300);
const fromFile = process.argv[4] === "file";
const entries = generateJournal({ users, eventsPerUser });
const folder = mkdtempSync(join(tmpdir(), "nd-bench-profile-"));
try {
  let journal: () => Journal;
  if (fromFile) {
    const path = join(folder, "journal.jsonl");
    writeFileSync(path, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(""), { mode: 0o600 });
    journal = () => new JsonlJournal({ path, logger: silentLogger });
  } else {
    const memory = new MemoryJournal();
    memory.entries = entries;
    journal = () => memory;
  }
  const started = performance.now();
  const service = createPresenceService({ config: benchConfig(users), journal: journal(), mode: "replay", logger: silentLogger });
  await service.start();
  const ms = performance.now() - started;
  checkAllPlaying(service, users);
  console.log(
    `${users} users, ${entries.length} entries${fromFile ? " from a file" : ""}: ${ms.toFixed(0)} ms, ${Math.round((entries.length / ms) * 1000)} events/s`,
  );
} finally {
  rmSync(folder, { recursive: true, force: true });
}
