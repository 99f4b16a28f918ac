import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
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

  it("cites only documents the repository contains", () => {
    const root = new URL("..", import.meta.url).pathname;
    const files = (dir: string): string[] =>
      readdirSync(join(root, dir)).flatMap((name) => {
        const path = join(dir, name);
        return statSync(join(root, path)).isDirectory() ? files(path) : /\.(ts|md|json)$/.test(name) ? [path] : [];
      });
    // Spelled in pieces, so that this file does not cite them itself.
    const outside = new RegExp(["\\.\\./shared", "PROTO" + "COL\\.md", "DES" + "IGN\\.md"].join("|"));
    const cited = new Set<string>();
    for (const file of ["README.md", "config.schema.json", ...["src", "test", "bench", "scripts", "docs"].flatMap(files)]) {
      const text = readFileSync(join(root, file), "utf8");
      expect(outside.exec(text)?.[0], file).toBeUndefined();
      for (const [doc] of text.matchAll(/docs\/[\w-]+\.md/g)) cited.add(doc);
    }
    expect([...cited].sort()).toEqual(["docs/architecture.md", "docs/deployment.md", "docs/protocol.md"]);
    for (const doc of cited) expect(existsSync(join(root, doc)), doc).toBe(true);
  });
});
