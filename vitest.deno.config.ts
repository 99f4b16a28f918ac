import { defineConfig } from "vitest/config";

/** The suite that `deno task test` runs under real Deno: the same sources, the same tests. */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Any fetch beyond 127.0.0.1 fails the test that made it.
    setupFiles: ["test/setup/loopback-only.ts"],
    testTimeout: 10_000,
  },
});
