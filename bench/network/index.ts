/**
 * The network scenarios of the benchmarks issue and of issue 16 (a real account's traffic). Each
 * runs nd-presence and the raw baseline (`raw-client.ts`) in separate child processes against a
 * fake gateway in a third (`gateway-process.ts`), all on 127.0.0.1, and returns both values from
 * the same run.
 */
import type { Scenario } from "../figures.ts";
import { coldstart } from "./coldstart.ts";
import { fanout } from "./fanout.ts";
import { household } from "./household.ts";
import { latency } from "./latency.ts";
import { shutdown } from "./shutdown.ts";
import { steadyDispatches } from "./steady-dispatches.ts";
import { steady } from "./steady.ts";

export const networkScenarios: Record<string, Scenario> = { fanout, steady, "steady-dispatches": steadyDispatches, latency, shutdown, coldstart, household };
