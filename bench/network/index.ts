import type { Scenario } from "../figures.ts";
export const networkScenarios: Record<string, Scenario> = {};
