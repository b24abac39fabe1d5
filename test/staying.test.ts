/**
 * A pool thread that served a process's mount namespace stays there for the next ops for
 * the same process (native/ops.cc). These tests hold it to what a fresh `nsenter -t PID -m`
 * would do. A one-thread pool and several requests issued in one tick (one batch, run in
 * order by that thread) make sure the later requests meet the thread where the first left
 * it, still inside the target.
 */

import { readFileSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Mount, type MountEntry, Mounter } from "linx-mount"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { mountNamespaceTarget, pidNamespaceTarget, type Target } from "./support/targets.js"

describe.skipIf(!privileged)("a pool thread that stays in a process's namespace", () => {
  let runtime: ManagedRuntime.ManagedRuntime<Mounter, unknown>
  let base: string
  const targets: Array<Target> = []

  // Every effect in `effects` is issued in the same tick; each settles to "ok" or its error.
  const together = (effects: ReadonlyArray<Effect.Effect<void, unknown, Mounter>>) =>
    runtime.runPromise(
      Effect.all(
        effects.map(Effect.match({ onFailure: (error) => error, onSuccess: () => "ok" })),
        { concurrency: "unbounded" },
      ),
    )
  const table = (pid?: number): Promise<ReadonlyArray<MountEntry>> =>
    runtime.runPromise(pid === undefined ? Mount.list() : Mount.list({ pid }))
  const mountedAt = async (mountPoint: string, pid?: number) =>
    (await table(pid)).filter((entry) => entry.mountPoint === mountPoint)
  const target = async (make: () => Promise<Target>) => {
    const t = await make()
    targets.push(t)
    return t
  }

  beforeAll(() => {
    runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 1 }))
    base = scratchTmpfs("linx-staying-")
  })
  afterAll(async () => {
    for (const t of targets) t.kill()
    await runtime.dispose()
    removeScratch(base)
  })

  it("a mount stacked on the target's / is what the next op sees, as after a fresh setns", async () => {
    const t = await target(() => mountNamespaceTarget())
    const inT = { in: { pid: t.pid } }
    // The new tmpfs on / is empty: /tmp does not exist on it, so the second mount must fail
    // with ENOENT. A thread still rooted in the old / would find /tmp and succeed.
    const [stack, second] = await together([
      Mount.mount("stacked-root", "/", "tmpfs", { data: "size=1m", ...inT }),
      Mount.mount("under-stacked", "/tmp", "tmpfs", { data: "size=1m", ...inT }),
    ])
    expect(stack).toBe("ok")
    expect(second).toMatchObject({ operation: "mount", code: "ENOENT", path: "/tmp" })
    const roots = (await mountedAt("/", t.pid)).map((entry) => entry.source)
    expect(roots.at(-1)).toBe("stacked-root")
    expect((await table(t.pid)).some((entry) => entry.source === "under-stacked")).toBe(false)
  })

  it("after the mount under its / is detached, the next op sees the / underneath", async () => {
    const t = await target(() => mountNamespaceTarget())
    const inT = { in: { pid: t.pid } }
    await runtime.runPromise(Mount.mount("stacked-root", "/", "tmpfs", { data: "size=1m", ...inT }))
    // The first op of the batch enters afresh (the thread went home while idle) and lands
    // on the stacked tmpfs; detaching it must not leave the second op on a detached mount.
    const [detach, below] = await together([
      Mount.umount("/", { flags: ["detach"], ...inT }),
      Mount.mount("below-stacked", "/tmp", "tmpfs", { data: "size=1m", ...inT }),
    ])
    expect(detach).toBe("ok")
    expect(below).toBe("ok")
    expect((await mountedAt("/", t.pid)).map((entry) => entry.source)).not.toContain("stacked-root")
    expect((await mountedAt("/tmp", t.pid)).at(-1)?.source).toBe("below-stacked")
  })

  it("ops for two processes and for ourselves, interleaved in one batch, each land where asked", async () => {
    const x = await target(() => mountNamespaceTarget())
    const y = await target(() => mountNamespaceTarget())
    const where = [x.pid, y.pid, undefined, x.pid, x.pid, y.pid, undefined, y.pid] as const
    const results = await together(
      where.map((pid, i) =>
        Mount.mount(`interleaved-${i}`, `${base}`, "tmpfs", {
          data: "size=1m",
          ...(pid === undefined ? {} : { in: { pid } }),
        }),
      ),
    )
    expect(results).toEqual(where.map(() => "ok"))
    const sources = async (pid?: number) =>
      (await mountedAt(base, pid)).map((entry) => entry.source).filter((s) => s !== "linx-test")
    const expected = (pid?: number) =>
      where.flatMap((p, i) => (p === pid ? [`interleaved-${i}`] : []))
    expect(await sources(x.pid)).toEqual(expected(x.pid))
    expect(await sources(y.pid)).toEqual(expected(y.pid))
    expect(await sources()).toEqual(expected(undefined))
    // Take ours down again, top first (the tmpfs each stacked over the scratch directory).
    for (let i = 0; i < expected(undefined).length; i++) {
      await runtime.runPromise(Mount.umount(base))
    }
    expect(await sources()).toEqual([])
  })

  it("proc mounted by a thread that stayed still belongs to the target's PID namespace", async () => {
    const t = await target(() => pidNamespaceTarget())
    const inT = { in: { pid: t.pid } }
    const [bind, proc] = await together([
      Mount.mount("first", "/mnt", "tmpfs", { data: "size=1m", ...inT }),
      Mount.mount("proc", "/proc", "proc", inT),
    ])
    expect(bind).toBe("ok")
    expect(proc).toBe("ok")
    // Our view of the target's /proc: its root, then its pid 1's status, which names the
    // namespace's init (sleep) as seen from inside.
    const status = readFileSync(`/proc/${t.pid}/root/proc/1/status`, "utf8")
    expect(status).toMatch(/^Name:\s+sleep$/m)
    expect(status).toMatch(/^NSpid:\s+1$/m)
  })
})
