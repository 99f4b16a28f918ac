import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readmeWithBench } from "../scripts/readme-bench.ts";
import { readmeWithChart } from "../scripts/readme-chart.ts";

describe("README", () => {
  it("shows the presence machine's chart as the code defines it (run npm run readme:chart)", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    expect(readme).toBe(readmeWithChart(readme));
    expect(readme).toContain("stateDiagram-v2");
    expect(readme).toContain("presenting_paused");
  });

  it("shows the figures the bench last wrote (run npm run readme:bench)", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const results = JSON.parse(readFileSync(new URL("../bench/results/latest.json", import.meta.url), "utf8"));
    expect(readme).toBe(readmeWithBench(readme, results));
    expect(readme).toMatch(/\| recovery \| start-up from a checkpoint/);
  });

  it("names the test command that CI runs", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const ci = readFileSync(new URL("../.ci/run", import.meta.url), "utf8");
    expect(readme).toContain("npm test");
    expect(ci).toMatch(/^npm test$/m);
  });
});
