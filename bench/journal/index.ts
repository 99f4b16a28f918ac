import type { Scenario } from "../figures.ts";
import { journalAppend } from "./append.ts";
import { recovery } from "./recovery.ts";
import { replayDay } from "./replay-day.ts";
import { replay } from "./replay.ts";

/** The journal scenarios of the benchmarks issue and issue 16, in the order they run. */
export const journalScenarios: Record<string, Scenario> = {
  "journal-append": journalAppend,
  replay,
  recovery,
  "replay-day": replayDay,
};
