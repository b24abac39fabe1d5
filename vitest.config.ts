import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Privileged tests share one private mount namespace (see test/setup), so files run in
    // forks and each file makes its own scratch tmpfs.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
