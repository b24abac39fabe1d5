#!/usr/bin/env node
// Runs the vitest suite inside a private mount namespace of its own, so every mount the
// privileged tests make disappears with the run, whatever happens to it. Without root the
// suite runs as is and the privileged tests skip, except under CI, where they must run.
// /tmp is the host's: a temporary directory the tests leave there fails the run.
import { spawnSync } from "node:child_process"
import { readdirSync, readlinkSync } from "node:fs"

const ours = () => new Set(readdirSync("/tmp").filter((name) => name.startsWith("linx-")))
const before = ours()

const args = process.argv.slice(2)
const vitest = ["node_modules/.bin/vitest", "run", ...args]
const isRoot = process.getuid?.() === 0

const command = isRoot
  ? ["unshare", "--mount", "--propagation", "private", "--", ...vitest]
  : vitest
if (!isRoot && process.env.CI) {
  console.error("CI is set but the tests are not running as root: privileged tests must run in CI.")
  process.exit(1)
}
const result = spawnSync(command[0], command.slice(1), {
  stdio: "inherit",
  env: { ...process.env, LINX_MOUNT_HOST_MNTNS: readlinkSync("/proc/self/ns/mnt") },
})
if (result.error) {
  console.error(`could not start ${command[0]}: ${result.error.message}`)
  process.exit(1)
}
const left = [...ours()].filter((name) => !before.has(name))
if (left.length > 0) {
  console.error(`the tests left ${left.length} directories in /tmp: ${left.slice(0, 5).join(" ")}`)
  process.exit(1)
}
process.exit(result.status ?? 1)
