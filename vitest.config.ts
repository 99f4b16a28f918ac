import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Any fetch beyond 127.0.0.1 fails the test that made it.
    setupFiles: ["test/setup/loopback-only.ts"],
    testTimeout: 10_000,
  },
});
