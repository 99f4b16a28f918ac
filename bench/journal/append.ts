import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as turn } from "node:timers/promises";
import type { JournalEntry } from "../../src/adapters/journal/journal.ts";
import { JsonlJournal } from "../../src/adapters/journal/jsonl-journal.ts";
import { silentLogger } from "../../src/adapters/logger.ts";
import { type BenchOptions, type Figure, median } from "../figures.ts";
import { generateJournal } from "./generate.ts";

/**
 * Live, appends come from events, and the event loop turns between them: that is when the
 * `interval` policy's timer fsyncs. Both sides yield every CHUNK appends so that it can.
 */
const CHUNK = 1_000;
const FSYNC_INTERVAL_MS = 1_000;

/**
 * journal-append: appends per second to `JsonlJournal` (fsync "interval", the default) in a temp
 * folder, for 200,000 realistic entries, closed (last fsync) at the end. Raw baseline: the same
 * JSON lines with `fs.writeSync` on an fd, fsynced on the same 1 s schedule and at the end. The
 * median of three alternating runs each (one in --quick, on 20,000 entries).
 */
export async function journalAppend(options: BenchOptions): Promise<Figure[]> {
  const count = options.quick ? 20_000 : 200_000;
  const entries = generateJournal({ users: 1_000, eventsPerUser: Math.ceil((count * 1.1) / 1_000) }).slice(0, count);
  if (entries.length < count) throw new Error(`generated ${entries.length} entries, wanted ${count}`);
  const folder = mkdtempSync(join(tmpdir(), "nd-bench-append-"));
  try {
    const nd: number[] = [];
    const raw: number[] = [];
    for (let run = 0; run < (options.quick ? 1 : 3); run++) {
      nd.push(await appendWithJournal(entries, join(folder, `nd-${run}.jsonl`)));
      raw.push(await appendRaw(entries, join(folder, `raw-${run}.jsonl`)));
      options.log(`  run ${run + 1}: nd-presence ${nd.at(-1)!.toFixed(0)}/s, raw ${raw.at(-1)!.toFixed(0)}/s`);
    }
    return [{
      scenario: "journal-append",
      metric: `appends/s, ${count} entries`,
      unit: "appends/s",
      ndPresence: median(nd),
      raw: median(raw),
      better: "higher",
    }];
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

async function appendWithJournal(entries: JournalEntry[], path: string): Promise<number> {
  const started = performance.now();
  const journal = new JsonlJournal({ path, logger: silentLogger });
  for (let i = 0; i < entries.length; i++) {
    journal.append(entries[i]!);
    if (i % CHUNK === CHUNK - 1) await turn();
  }
  await journal.close();
  return entries.length / ((performance.now() - started) / 1000);
}

async function appendRaw(entries: JournalEntry[], path: string): Promise<number> {
  const started = performance.now();
  const fd = openSync(path, "a", 0o600);
  let syncedAt = performance.now();
  for (let i = 0; i < entries.length; i++) {
    writeSync(fd, `${JSON.stringify(entries[i])}\n`);
    if (i % CHUNK === CHUNK - 1) {
      if (performance.now() - syncedAt >= FSYNC_INTERVAL_MS) {
        fsyncSync(fd);
        syncedAt = performance.now();
      }
      await turn();
    }
  }
  fsyncSync(fd);
  closeSync(fd);
  return entries.length / ((performance.now() - started) / 1000);
}
