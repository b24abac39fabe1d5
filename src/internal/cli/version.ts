/**
 * The package's version, read from its package.json (found upward from this module: it
 * runs from dist/src/internal/cli when installed, from src/internal/cli under the tests).
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

let cached: string | undefined

/** The `version` field of linx-mount's package.json. */
export const version = (): string => {
  if (cached !== undefined) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = join(dir, "package.json")
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown }
      if (pkg.name === "linx-mount" && typeof pkg.version === "string") {
        cached = pkg.version
        return cached
      }
    }
    const parent = dirname(dir)
    if (parent === dir) return "unknown"
    dir = parent
  }
}
