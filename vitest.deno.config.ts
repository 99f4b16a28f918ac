import { defineConfig } from "vitest/config";

/** The suite that `deno task test` runs under real Deno: the same sources, the same tests. */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 10_000,
  },
});
