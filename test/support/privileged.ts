/**
 * Helpers for tests that need root: they make real mounts, so they must run inside the
 * private mount namespace that `test/run.mjs` creates, on a tmpfs the test mounts itself.
 * Under CI a missing privilege is a failure, never a skip.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readlinkSync, rmdirSync } from "node:fs"

/** True when this process may mount, and is inside a mount namespace other than the host's. */
export const privileged: boolean = (() => {
  if (process.getuid?.() !== 0) return false
  const host = process.env.LINX_MOUNT_HOST_MNTNS
  return host !== undefined && host !== readlinkSync("/proc/self/ns/mnt")
})()

if (!privileged && process.env.CI) {
  throw new Error(
    "CI is set, but these tests are not running as root inside the private mount namespace " +
      "made by test/run.mjs (run them with `npm test`): privileged tests must run in CI.",
  )
}

/** Mounts a fresh tmpfs on a new directory under /tmp and returns its path. */
export function scratchTmpfs(prefix = "linx-test-"): string {
  const dir = mkdtempSync(`/tmp/${prefix}`)
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "linx-test", dir])
  execFileSync("mount", ["--make-private", dir])
  return dir
}

/**
 * Detaches everything mounted at and below `dir` (one recursive lazy unmount), then removes
 * the directory: /tmp is the host's, so an empty directory left here outlives the run.
 */
export function removeScratch(dir: string): void {
  execFileSync("umount", ["--recursive", "--lazy", dir])
  rmdirSync(dir)
}
