/**
 * Makes the calling script run inside a private mount namespace of its own: unless the
 * runner already made one (LINX_BENCH_HOST_MNTNS names the namespace it came from), the
 * script is run again under `unshare --mount --propagation private` and this process exits
 * with its status. Every mount the benchmark makes then vanishes with it.
 */
import { spawnSync } from "node:child_process"
import { readlinkSync } from "node:fs"
import { fileURLToPath } from "node:url"

export function ensurePrivateMountNamespace(scriptUrl, args) {
  const ownNs = readlinkSync("/proc/self/ns/mnt")
  const hostNs = process.env.LINX_BENCH_HOST_MNTNS
  if (hostNs !== undefined && hostNs !== ownNs) return
  const result = spawnSync(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "--",
      process.execPath,
      fileURLToPath(scriptUrl),
      ...args,
    ],
    { stdio: "inherit", env: { ...process.env, LINX_BENCH_HOST_MNTNS: ownNs } },
  )
  if (result.error) {
    console.error(`could not start unshare: ${result.error.message}`)
    process.exit(1)
  }
  process.exit(result.status ?? 1)
}
