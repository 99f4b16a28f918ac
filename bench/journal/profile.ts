/**
 * Profiling driver: replays a generated journal once, nothing else, so that a CPU profile shows
 * only the replay. `node --cpu-prof --cpu-prof-dir=<dir> --import tsx bench/journal/profile.ts 1000 300`,
 * then `tsx bench/journal/profile-summary.ts <dir>/<file>.cpuprofile`.
 */
import { MemoryJournal } from "../../src/adapters/journal.ts";
import { silentLogger } from "../../src/adapters/logger.ts";
import { createPresenceService } from "../../src/service.ts";
import { checkAllPlaying } from "./check.ts";
import { benchConfig, generateJournal } from "./generate.ts";

const users = Number(process.argv[2] ?? 1000);
const eventsPerUser = Number(process.argv[3] ?? 300);
const entries = generateJournal({ users, eventsPerUser });
const journal = new MemoryJournal();
journal.entries = entries;
const started = performance.now();
const service = createPresenceService({ config: benchConfig(users), journal, mode: "replay", logger: silentLogger });
await service.start();
const ms = performance.now() - started;
checkAllPlaying(service, users);
console.log(`${users} users, ${entries.length} entries: ${ms.toFixed(0)} ms, ${Math.round((entries.length / ms) * 1000)} events/s`);
