/**
 * Mount.batch: one message, one worker, the namespace entered once, the ops in order; on the
 * first failure the completed ops are undone in reverse and the batch fails with a
 * BatchError saying what failed and what was (and was not) undone. Checked against the
 * kernel: the mount table after a failed batch is the table before it, field by field.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import {
  BatchError,
  InvalidArgument,
  Mount,
  type MountEntry,
  MountError,
  Mounter,
} from "linx-mount"
import * as Promises from "linx-mount/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { mountNamespaceTarget, type Target } from "./support/targets.js"

describe.skipIf(!privileged)("Mount.batch (real kernel)", () => {
  let runtime: ManagedRuntime.ManagedRuntime<Mounter, unknown>
  let base: string
  let container: Target
  const run = <A, E>(effect: Effect.Effect<A, E, Mounter>) => runtime.runPromise(effect)
  const failure = <A, E>(effect: Effect.Effect<A, E, Mounter>) =>
    runtime.runPromise(Effect.flip(effect))
  const dir = (...parts: Array<string>) => {
    const path = [base, ...parts].join("/")
    mkdirSync(path, { recursive: true })
    return path
  }
  // The part of a table a batch may touch: under our scratch tmpfs.
  const under = (table: ReadonlyArray<MountEntry>) =>
    table.filter((e) => e.mountPoint.startsWith(base)).map((e) => e.toJSON())

  beforeAll(async () => {
    runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
    base = scratchTmpfs("linx-batch-")
    container = await mountNamespaceTarget()
  })
  afterAll(async () => {
    container.kill()
    await runtime.dispose()
    removeScratch(base)
  })

  // Six ops of every undoable kind, on paths of `root`; each runs only if the ones before did.
  const plan = (root: string): Array<Mount.BatchOp> => [
    { verb: "bind", source: `${root}/src`, target: `${root}/a` },
    { verb: "mount", source: "batch", target: `${root}/b`, fstype: "tmpfs", data: "size=1m" },
    { verb: "setAttributes", target: `${root}/a`, set: ["ro", "nosuid"] },
    { verb: "makeShared", target: `${root}/b` },
    { verb: "move", source: `${root}/b`, target: `${root}/c` },
    { verb: "remount", target: `${root}/a`, flags: ["bind", "nodev"] },
    { verb: "bind", source: `${root}/src`, target: `${root}/d`, flags: ["ro"], create: true },
  ]
  // What makes op `k` fail: its source or target missing.
  const broken = (op: Mount.BatchOp, root: string): Mount.BatchOp =>
    "target" in op ? { ...op, target: `${root}/missing/x` } : op

  for (const where of ["this namespace", "a container"] as const) {
    describe(where, () => {
      const inOption = () => (where === "a container" ? { in: { pid: container.pid } } : {})
      const table = () =>
        Effect.runPromise(
          where === "a container" ? Mount.list({ pid: container.pid }) : Mount.list(),
        )

      it("a failure at any position undoes every completed op, in reverse: the table is as before", async () => {
        const root = dir(where.replace(" ", "-"), "rollback")
        for (const d of ["src", "a", "b", "c"]) dir(where.replace(" ", "-"), "rollback", d)
        writeFileSync(`${root}/src/file`, "")
        const initial = under(await table())
        const ops = plan(root)
        for (let k = 0; k < ops.length; k++) {
          const before = under(await table())
          const attempt = ops.map((op, i) => (i === k ? broken(op, root) : op))
          const error = await failure(Mount.batch(attempt, inOption()))
          expect(error).toBeInstanceOf(BatchError)
          const batchError = error as BatchError
          expect(batchError.index).toBe(k)
          expect(batchError.cause).toBeInstanceOf(MountError)
          expect(batchError.cause).toMatchObject({
            operation: ops[k]!.verb === "bind" && k === ops.length - 1 ? "create" : "resolve",
            code: "ENOENT",
          })
          // Everything before k undone, last first; nothing left that could not be.
          expect(batchError.undone).toEqual(Array.from({ length: k }, (_, i) => k - 1 - i))
          expect(batchError.notUndone).toEqual([])
          expect(under(await table())).toEqual(before)
        }
        // And the whole batch, once nothing fails: every op done.
        await run(Mount.batch(ops, inOption()))
        const after = await table()
        const at = (p: string) => after.find((e) => e.mountPoint === `${root}/${p}`)
        expect(at("a")?.mountOptions.split(",")).toEqual(expect.arrayContaining(["rw", "nodev"]))
        expect(at("b")).toBeUndefined()
        expect(at("c")?.propagation).toEqual([expect.objectContaining({ kind: "shared" })])
        expect(at("d")?.mountOptions.split(",")[0]).toBe("ro")
        await run(
          Mount.batch(
            ["d", "c", "a"].map((p) => ({ verb: "umount", target: `${root}/${p}` }) as const),
            inOption(),
          ),
        )
        expect(under(await table())).toEqual(initial)
      })
    })
  }

  it("rolls back a recursive change over stacked mounts, naming only the one out of reach", async () => {
    const top = dir("stacked")
    await run(Mount.mount("top", top, "tmpfs"))
    for (const d of ["s", "o"]) mkdirSync(`${top}/${d}`)
    await run(Mount.mount("other", `${top}/o`, "tmpfs"))
    // Two mounts on one point: the lower one has no path of its own any more.
    await run(Mount.mount("lower", `${top}/s`, "tmpfs"))
    await run(Mount.mount("upper", `${top}/s`, "tmpfs"))
    const tree = async () =>
      (await Effect.runPromise(Mount.list())).filter((e) => e.mountPoint.startsWith(top))
    const before = await tree()
    const missing = { verb: "bind", source: `${top}/o`, target: `${top}/missing/x` } as const

    // Already private: nothing changes, so nothing needs reaching, and all is undone.
    const unchanged = await failure(
      Mount.batch([{ verb: "makePrivate", target: top, recursive: true }, missing]),
    )
    expect(unchanged).toMatchObject({ index: 1, undone: [0], notUndone: [] })

    const changed = await failure(
      Mount.batch([
        { verb: "setAttributes", target: top, set: ["nosuid"], recursive: true },
        missing,
      ]),
    )
    expect(changed).toMatchObject({ index: 1, undone: [] })
    const [notUndone] = (changed as BatchError).notUndone
    expect(notUndone?.index).toBe(0)
    expect(notUndone?.reason).toContain(`${top}/s`)
    expect(notUndone?.reason).toContain("ESTALE")
    // The others are restored all the same; the covered one keeps the change, as reported.
    const lower = before.find((e) => e.source === "lower")!
    const after = await tree()
    for (const entry of after) {
      const was = before.find((e) => e.mountId === entry.mountId)!
      if (entry.mountId === lower.mountId) {
        expect(entry.mountOptions.split(",")).toContain("nosuid")
      } else {
        expect(entry.mountOptions).toBe(was.mountOptions)
      }
    }
    expect(after.map((e) => e.mountId)).toEqual(before.map((e) => e.mountId))
    await run(Mount.umount(top, { flags: ["detach"] }))
  })

  it("names what cannot be undone: an unmount, a filesystem's reconfiguration", async () => {
    const root = dir("impossible")
    for (const d of ["src", "a", "b"]) dir("impossible", d)
    await run(Mount.bind(`${root}/src`, `${root}/a`))
    await run(Mount.mount("t", `${root}/b`, "tmpfs"))
    const error = await failure(
      Mount.batch([
        { verb: "umount", target: `${root}/a` },
        { verb: "remount", target: `${root}/b`, data: "size=2m" },
        { verb: "bind", source: `${root}/src`, target: `${root}/nowhere/x` },
      ]),
    )
    expect(error).toMatchObject({
      _tag: "BatchError",
      index: 2,
      undone: [],
      notUndone: [
        { index: 1, reason: "a filesystem's reconfiguration cannot be undone" },
        { index: 0, reason: "an unmount cannot be undone" },
      ],
    })
    await run(Mount.umount(`${root}/b`))
  })

  it("refuses a bad op before anything runs, naming it: ops[i].argument", async () => {
    const root = dir("refused")
    const before = under(await Effect.runPromise(Mount.list()))
    const error = await failure(
      Mount.batch([
        { verb: "bind", source: `${root}`, target: `${root}` },
        { verb: "bind", source: `${root}`, target: `${root}`, flags: ["detach" as never] },
      ]),
    )
    expect(error).toBeInstanceOf(InvalidArgument)
    expect(error).toMatchObject({ argument: "ops[1].flags" })
    const inOp = await failure(
      Mount.batch([{ verb: "umount", target: root, in: { pid: 1 } } as never]),
    )
    expect(inOp).toMatchObject({ _tag: "InvalidArgument", argument: "ops[0].in" })
    const verb = await failure(Mount.batch([{ verb: "format", target: root } as never]))
    expect(verb).toMatchObject({ _tag: "InvalidArgument", argument: "ops[0].verb" })
    expect(under(await Effect.runPromise(Mount.list()))).toEqual(before)
  })

  it("the Promise facade's batch rejects with the same BatchError", async () => {
    const root = dir("promises")
    dir("promises", "a")
    const error = await Promises.batch([
      { verb: "bind", source: root, target: `${root}/a` },
      { verb: "bind", source: `${root}/none`, target: `${root}/a` },
    ]).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(BatchError)
    expect(error).toMatchObject({ index: 1, undone: [0] })
    expect((await Promises.list()).some((e) => e.mountPoint === `${root}/a`)).toBe(false)
    await Promises.close()
  })

  it("an empty batch does nothing and succeeds", async () => {
    await run(Mount.batch([]))
  })
})
