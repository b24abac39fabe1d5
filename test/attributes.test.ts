/**
 * Mount.setAttributes over mount_setattr(2), and idmapped binds: checked with what the
 * kernel shows (mountinfo, and the owners stat(2) reports through the mount).
 */
import { execFileSync, spawn } from "node:child_process"
import { chownSync, mkdirSync, statSync, writeFileSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { InvalidArgument, Mount, type MountEntry, Mounter } from "linx-mount"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { mountNamespaceTarget, type Target } from "./support/targets.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(!privileged)("mount attributes (real kernel)", () => {
  let runtime: ManagedRuntime.ManagedRuntime<Mounter, unknown>
  let base: string
  const targets: Array<Target> = []
  const run = <A, E>(effect: Effect.Effect<A, E, Mounter>) => runtime.runPromise(effect)
  const failure = <A, E>(effect: Effect.Effect<A, E, Mounter>) =>
    runtime.runPromise(Effect.flip(effect))
  const dir = (...parts: Array<string>) => {
    const path = [base, ...parts].join("/")
    mkdirSync(path, { recursive: true })
    return path
  }
  const table = (pid?: number): Promise<ReadonlyArray<MountEntry>> =>
    Effect.runPromise(pid === undefined ? Mount.list() : Mount.list({ pid }))
  const options = async (path: string, pid?: number) =>
    (await table(pid)).find((e) => e.mountPoint === path)?.mountOptions.split(",")

  beforeAll(() => {
    runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
    base = scratchTmpfs("linx-attr-")
  })
  afterAll(async () => {
    for (const t of targets) t.kill()
    await runtime.dispose()
    removeScratch(base)
  })

  describe("setAttributes", () => {
    it("recursive read-only: a whole tree at once, and back", async () => {
      const top = dir("tree")
      execFileSync("mount", ["-t", "tmpfs", "top", top])
      for (const sub of ["a", "b", "b/c"]) {
        mkdirSync(`${top}/${sub}`, { recursive: true })
        execFileSync("mount", ["-t", "tmpfs", sub, `${top}/${sub}`])
      }
      const points = [top, `${top}/a`, `${top}/b`, `${top}/b/c`]
      await run(Mount.setAttributes(top, { set: ["ro", "nosuid"], recursive: true }))
      for (const p of points)
        expect(await options(p)).toEqual(expect.arrayContaining(["ro", "nosuid"]))
      expect(() => writeFileSync(`${top}/b/c/x`, "")).toThrow(
        expect.objectContaining({ code: "EROFS" }),
      )
      await run(Mount.setAttributes(top, { clear: ["ro"], recursive: true }))
      for (const p of points) expect((await options(p))?.[0]).toBe("rw")
      expect(await options(`${top}/b/c`)).toContain("nosuid")
      // Without recursive, only the top mount.
      await run(Mount.setAttributes(top, { set: ["noexec"] }))
      expect(await options(top)).toContain("noexec")
      expect(await options(`${top}/a`)).not.toContain("noexec")
      execFileSync("umount", ["--recursive", top])
    })

    it("atime modes replace each other; propagation changes with them", async () => {
      const point = dir("atime")
      execFileSync("mount", ["-t", "tmpfs", "atime", point])
      await run(Mount.setAttributes(point, { set: ["noatime"], propagation: "shared" }))
      const entry = (await table()).find((e) => e.mountPoint === point)
      expect(entry?.mountOptions.split(",")).toContain("noatime")
      expect(entry?.mountOptions.split(",")).not.toContain("relatime")
      expect(entry?.propagation).toEqual([expect.objectContaining({ kind: "shared" })])
      await run(Mount.setAttributes(point, { set: ["strictatime"], propagation: "private" }))
      const again = (await table()).find((e) => e.mountPoint === point)
      expect(again?.mountOptions.split(",").some((o) => o.endsWith("atime"))).toBe(false)
      expect(again?.propagation).toEqual([])
      await run(Mount.setAttributes(point, { clear: ["strictatime"] }))
      expect(await options(point)).toContain("relatime")
      execFileSync("umount", [point])
    })

    it("works in another namespace too", async () => {
      const t = await mountNamespaceTarget()
      targets.push(t)
      const inT = { in: { pid: t.pid } }
      await run(Mount.mount("attrs", "/mnt", "tmpfs", inT))
      await run(Mount.setAttributes("/mnt", { set: ["ro", "nodev"], ...inT }))
      expect(await options("/mnt", t.pid)).toEqual(expect.arrayContaining(["ro", "nodev"]))
      expect(await options("/mnt")).toBeUndefined()
      await run(Mount.umount("/mnt", inT))
    })

    it("refuses what means nothing, before anything is touched", async () => {
      const point = dir("refuse")
      for (const [opts, argument] of [
        [{}, "set"],
        [{ set: ["ro"], clear: ["ro"] }, "clear"],
        [{ set: ["noatime", "relatime"] }, "set"],
        [{ set: ["bogus"] }, "set"],
        [{ propagation: "rshared" }, "propagation"],
      ] as const) {
        const error = await failure(Mount.setAttributes(point, opts as never))
        expect(error).toBeInstanceOf(InvalidArgument)
        expect(error).toMatchObject({ argument })
      }
    })
  })

  describe("idmapped binds", () => {
    it("a file owned by uid 1000 shows as the uid the user namespace maps it to", async () => {
      // A process in a new user namespace whose 1000 is our 5000 (written as root).
      const child = spawn("unshare", ["--user", "sleep", "600"], { stdio: "ignore" })
      targets.push({ pid: child.pid!, kill: () => child.kill("SIGKILL") })
      let pid: number | undefined
      for (let i = 0; i < 200 && pid === undefined; i++) {
        await sleep(10)
        try {
          if (
            execFileSync("readlink", [`/proc/${child.pid}/exe`])
              .toString()
              .includes("sleep")
          )
            pid = child.pid
        } catch {
          // not yet
        }
      }
      expect(pid).toBeDefined()
      writeFileSync(`/proc/${pid}/uid_map`, "1000 5000 1\n")
      writeFileSync(`/proc/${pid}/gid_map`, "1000 5000 1\n")
      const src = dir("idmap", "src")
      const dst = dir("idmap", "dst")
      writeFileSync(`${src}/owned`, "")
      chownSync(`${src}/owned`, 1000, 1000)
      await run(Mount.bind(src, dst, { idmap: { pid: pid! } }))
      expect(statSync(`${src}/owned`)).toMatchObject({ uid: 1000, gid: 1000 })
      expect(statSync(`${dst}/owned`)).toMatchObject({ uid: 5000, gid: 5000 })
      expect(await options(dst)).toContain("idmapped")
      await run(Mount.umount(dst))
      // The same, through the user namespace's file, read-only and recursive.
      await run(
        Mount.bind(src, dst, { idmap: { path: `/proc/${pid}/ns/user` }, flags: ["rec", "ro"] }),
      )
      expect(statSync(`${dst}/owned`)).toMatchObject({ uid: 5000 })
      expect(await options(dst)).toEqual(expect.arrayContaining(["ro", "idmapped"]))
      await run(Mount.umount(dst))
    })

    it("refuses a file that is not a user namespace (open_userns, EINVAL)", async () => {
      const src = dir("idmap-bad", "src")
      const dst = dir("idmap-bad", "dst")
      const error = await failure(Mount.bind(src, dst, { idmap: { path: "/proc/self/ns/mnt" } }))
      expect(error).toMatchObject({ _tag: "MountError", operation: "open_userns", code: "EINVAL" })
      expect(await options(dst)).toBeUndefined()
    })
  })
})
