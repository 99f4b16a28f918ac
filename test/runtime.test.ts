import { describe, expect, it } from "vitest";

// `deno task test` sets ND_EXPECT_RUNTIME=deno: this proves the suite really ran inside Deno (its
// workers included), not in a Node process that Deno happened to start.
describe("runtime", () => {
  it("runs in the runtime the test command asked for", () => {
    const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
    if (process.env.ND_EXPECT_RUNTIME === "deno") expect(deno?.version.deno).toMatch(/^2\./);
    else expect(deno).toBeUndefined();
  });
});
