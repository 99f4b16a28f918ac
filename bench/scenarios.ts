import type { Scenario } from "./figures.ts";
import { journalScenarios } from "./journal/index.ts";
import { networkScenarios } from "./network/index.ts";

/** Every scenario, in the order they run. */
export const scenarios: Record<string, Scenario> = { ...networkScenarios, ...journalScenarios };
