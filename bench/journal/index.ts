import type { Scenario } from "../figures.ts";
export const journalScenarios: Record<string, Scenario> = {};
