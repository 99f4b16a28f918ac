/**
 * replay-day: the start-up that replays a whole day. For each user count, a journal of 24 hours of
 * listening (generate-day.ts: stints of tracks about every 4 minutes with pauses, connections that
 * open and close as idle, heartbeat ACKs while open) is written to a JSONL file; then a fresh
 * process times `createPresenceService({ journal, mode: "replay" })` to `start()` resolved, reading
 * and parsing the file included (replay-day-process.ts), and checks where every user was left.
 * Target (issue 16): at most 30 s for 10,000 users. Raw: the file read, parsed and applied to a Map.
 *
 * --quick replays 1 hour instead of 24.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchOptions, Figure } from "../figures.ts";
import { writeDayJournal } from "./generate-day.ts";
import { type DayReplay, replayDayInChild } from "./replay-day-process.ts";

const TARGET_S = 30;

export async function replayDay(options: BenchOptions): Promise<Figure[]> {
  const hours = options.quick ? 1 : 24;
  const folder = mkdtempSync(join(tmpdir(), "nd-bench-day-"));
  try {
    const figures: Figure[] = [];
    for (const users of options.users) {
      const path = join(folder, `day-${users}.jsonl`);
      const generating = performance.now();
      const day = writeDayJournal(path, { users, hours });
      const types = Object.entries(day.byType).sort((a, b) => b[1] - a[1]).map(([type, n]) => `${type} ${n}`).join(", ");
      options.log(
        `  ${users} users, ${hours} h: ${day.entries} entries, ${(day.bytes / 2 ** 20).toFixed(0)} MiB, written in ${
          ((performance.now() - generating) / 1000).toFixed(1)
        } s (${types})`,
      );
      const run = async (kind: "nd" | "raw"): Promise<DayReplay> =>
        replayDayInChild({ kind, path, users, expected: day.expected }).catch((error: unknown) => {
          options.log(
            `  ${kind === "nd" ? "nd-presence" : "raw"} ${users}: the replay failed: ${error instanceof Error ? error.message.split("\n")[0] : error}`,
          );
          return { ms: Number.NaN };
        });
      const raw = await run("raw");
      const nd = await run("nd");
      options.log(
        `  ${users} users: nd-presence ${(nd.ms / 1000).toFixed(1)} s (of which reading and parsing the file ${
          ((nd.loadMs ?? Number.NaN) / 1000).toFixed(1)
        } s), raw ${(raw.ms / 1000).toFixed(2)} s`,
      );
      const perSecond = (r: DayReplay) => day.entries / (r.ms / 1000);
      const base = { scenario: "replay-day", users };
      figures.push(
        {
          ...base,
          metric: `start-up, full replay of ${hours} h`,
          unit: "s",
          ndPresence: nd.ms / 1000,
          raw: raw.ms / 1000,
          better: "lower",
          ...(users >= 10_000 && hours === 24 ? { target: { op: "<=" as const, value: TARGET_S } } : {}),
        },
        { ...base, metric: `entries/s, full replay of ${hours} h`, unit: "entries/s", ndPresence: perSecond(nd), raw: perSecond(raw), better: "higher" },
      );
    }
    return figures;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
