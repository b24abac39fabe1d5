/**
 * Without CAP_SYS_ADMIN — a node process started by setpriv with the capability dropped
 * from its bounding set — the same calls a container runtime makes each fail with a
 * MountError EPERM at the stage the kernel refuses: the syscall itself here, setns for
 * another namespace. The process never crashes (nor do its worker threads: every call runs
 * on one), and reading mount tables still works.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import * as Promises from "linx-mount/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { comparable } from "./support/probes.js"
import { mountNamespaceTarget, pidNamespaceTarget, type Target } from "./support/targets.js"

// Each refusal at the first step that needs the capability: for this namespace the syscall
// that does the work (open_tree copies a tree, fsopen makes a filesystem context, fspick
// opens one for reconfiguration, mount_setattr changes a mount, move_mount moves one); for
// another namespace setns, after every path and namespace file was opened at home (a bind
// whose source is looked up at home included: the batch fails as a whole when its namespace
// cannot be entered); a namespace file that is our own namespace is not entered at all.
const expected: Record<string, readonly [string, string]> = {
  "bind here": ["open_tree", "EPERM"],
  "bind ro here": ["open_tree", "EPERM"],
  "mount bind here": ["open_tree", "EPERM"],
  "mount tmpfs here": ["fsopen", "EPERM"],
  "remount here": ["fspick", "EPERM"],
  "remount bind ro here": ["mount_setattr", "EPERM"],
  "move here": ["move_mount", "EPERM"],
  "umount here": ["umount", "EPERM"],
  "umount detach here": ["umount", "EPERM"],
  "makePrivate here": ["mount_setattr", "EPERM"],
  "setAttributes here": ["mount_setattr", "EPERM"],
  "pivotRoot here": ["pivot_root", "EPERM"],
  "bind into another namespace": ["setns", "EPERM"],
  "bind from home into another namespace": ["setns", "EPERM"],
  "umount in another namespace": ["setns", "EPERM"],
  "create + bind in another namespace": ["setns", "EPERM"],
  "pivotRoot in another namespace": ["setns", "EPERM"],
  "proc into a PID namespace": ["setns", "EPERM"],
  "proc via in { path } and pidIn { path }": ["setns", "EPERM"],
  "bind via in { path } to our own namespace": ["open_tree", "EPERM"],
}

describe.skipIf(!privileged)(
  `without CAP_SYS_ADMIN: ${Object.keys(expected).length} calls, each MountError EPERM`,
  () => {
    let base: string
    let live: Target
    let pidNs: Target
    let report: { results: Record<string, Record<string, unknown>>; mounts: number; capEff: string }
    let before: Array<unknown>

    beforeAll(async () => {
      base = scratchTmpfs("linx-privilege-")
      const dir = `${base}/dir`
      const mounted = `${base}/mounted`
      mkdirSync(dir)
      mkdirSync(mounted)
      execFileSync("mount", ["-t", "tmpfs", "linx-privilege", mounted])
      live = await mountNamespaceTarget()
      pidNs = await pidNamespaceTarget()
      before = comparable(await Promises.list(), base)
      const config = JSON.stringify({ dir, mounted, livePid: live.pid, pidNsPid: pidNs.pid })
      const fixture = new URL("./fixtures/unprivileged.mjs", import.meta.url).pathname
      const child = spawnSync(
        "setpriv",
        ["--inh-caps=-all", "--bounding-set=-sys_admin", "--", process.execPath, fixture, config],
        { encoding: "utf8", timeout: 30_000 },
      )
      expect(child.signal).toBeNull()
      expect(child.stderr).toBe("")
      expect(child.status).toBe(0)
      report = JSON.parse(child.stdout)
    })
    afterAll(async () => {
      live?.kill()
      pidNs?.kill()
      await Promises.close()
      removeScratch(base)
    })

    it("the child really lacks CAP_SYS_ADMIN (bit 21 of CapEff) and survived every call", () => {
      expect(BigInt(`0x${report.capEff}`) & (1n << 21n)).toBe(0n)
      expect(Object.keys(report.results).sort()).toEqual(Object.keys(expected).sort())
      expect(report.mounts).toBeGreaterThan(0)
    })

    it.each(Object.entries(expected))("%s → MountError %s %s", (name, [operation, code]) => {
      expect(report.results[name]).toEqual({
        tag: "MountError",
        class: "MountError",
        operation,
        code,
      })
    })

    it("nothing was mounted or unmounted", async () => {
      expect(comparable(await Promises.list(), base)).toEqual(before)
    })
  },
)
