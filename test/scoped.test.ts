/**
 * Scoped mounts (Mount.bindScoped, Mount.mountScoped): made when the scope opens, detached
 * when it closes, in the namespace they were made in — and never someone else's mount.
 * Under interruption they never leak: hundreds cut by timeouts of a few milliseconds leave
 * the table as it was.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Mount, type MountEntry, Mounter } from "linx-mount"
import * as Promises from "linx-mount/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { mountNamespaceTarget, type Target } from "./support/targets.js"

describe.skipIf(!privileged)("scoped mounts (real kernel)", () => {
  let runtime: ManagedRuntime.ManagedRuntime<Mounter, unknown>
  let base: string
  let container: Target
  const run = <A, E>(effect: Effect.Effect<A, E, Mounter>) => runtime.runPromise(effect)
  const dir = (...parts: Array<string>) => {
    const path = [base, ...parts].join("/")
    mkdirSync(path, { recursive: true })
    return path
  }
  const ours = () => Effect.runPromise(Mount.list())
  const under = (table: ReadonlyArray<MountEntry>, root: string) =>
    table.filter((e) => e.mountPoint.startsWith(`${root}/`)).map((e) => e.toJSON())

  beforeAll(async () => {
    runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
    base = scratchTmpfs("linx-scoped-")
    container = await mountNamespaceTarget()
  })
  afterAll(async () => {
    container.kill()
    await runtime.dispose()
    removeScratch(base)
  })

  it("bindScoped is mounted inside the scope and gone after it", async () => {
    const src = dir("plain", "src")
    const dst = dir("plain", "dst")
    const inside = await run(
      Effect.scoped(
        Effect.andThen(Mount.bindScoped(src, dst, { flags: ["ro"] }), Effect.promise(ours)),
      ),
    )
    expect(inside.filter((e) => e.mountPoint === dst)).toHaveLength(1)
    expect((await ours()).some((e) => e.mountPoint === dst)).toBe(false)
  })

  it("is released in the namespace it was made in", async () => {
    const src = dir("there", "src")
    const inC = { in: { pid: container.pid } }
    const theirs = () => Effect.runPromise(Mount.list({ pid: container.pid }))
    await run(
      Effect.scoped(
        Effect.gen(function* () {
          yield* Mount.bindScoped(src, "/mnt", { ...inC, sourceIn: "self" })
          yield* Mount.mountScoped("scoped", "/media", "tmpfs", inC)
          const now = yield* Effect.promise(theirs)
          expect(now.some((e) => e.mountPoint === "/mnt")).toBe(true)
          expect(now.some((e) => e.mountPoint === "/media" && e.fstype === "tmpfs")).toBe(true)
        }),
      ),
    )
    const after = await theirs()
    expect(after.some((e) => e.mountPoint === "/mnt" || e.mountPoint === "/media")).toBe(false)
  })

  it("never unmounts someone else's mount that took the place of its own", async () => {
    const src = dir("taken", "src")
    const dst = dir("taken", "dst")
    await run(
      Effect.scoped(
        Effect.gen(function* () {
          yield* Mount.bindScoped(src, dst)
          // Ours goes, and another takes its place before the scope closes.
          execFileSync("umount", [dst])
          execFileSync("mount", ["-t", "tmpfs", "someone-else", dst])
        }),
      ),
    )
    const [left] = (await ours()).filter((e) => e.mountPoint === dst)
    expect(left).toMatchObject({ fstype: "tmpfs", source: "someone-else" })
    execFileSync("umount", [dst])
  })

  it("hundreds of scoped binds cut by timeouts of a few milliseconds leave nothing mounted", async () => {
    const root = dir("storm")
    const src = dir("storm", "src")
    for (let i = 0; i < 16; i++) dir("storm", `t${i}`)
    const before = under(await ours(), root)
    let cut = 0
    let whole = 0
    await run(
      Effect.forEach(
        Array.from({ length: 400 }, (_, i) => i),
        (i) =>
          Effect.scoped(
            Effect.andThen(
              Mount.bindScoped(src, `${root}/t${i % 16}`),
              Effect.sleep(`${i % 4} millis`),
            ),
          ).pipe(
            Effect.timeoutOption(`${1 + (i % 5)} millis`),
            Effect.tap((done) => Effect.sync(() => (done._tag === "Some" ? whole++ : cut++))),
            // Two binds on one point may race (both at once): EBUSY is not a leak.
            Effect.ignore,
          ),
        { concurrency: 16 },
      ),
    )
    expect(cut + whole).toBe(400)
    expect(cut).toBeGreaterThan(0)
    expect(under(await ours(), root)).toEqual(before)
    console.log(`scoped storm: ${cut} cut by their timeout, ${whole} ran through; nothing left`)
  })

  it("the Promise facade's bindScoped returns a handle whose release() detaches it", async () => {
    const src = dir("promise", "src")
    const dst = dir("promise", "dst")
    const handle = await Promises.bindScoped(src, dst)
    expect((await ours()).some((e) => e.mountPoint === dst)).toBe(true)
    await handle.release()
    await handle[Symbol.asyncDispose]() // once only
    expect((await ours()).some((e) => e.mountPoint === dst)).toBe(false)
    await Promises.close()
  })

  it("refuses a scoped remount or move: a scope owns a mount it made", async () => {
    const dst = dir("refuse")
    const error = await run(
      Effect.flip(Effect.scoped(Mount.mountScoped("", dst, "", { flags: ["remount", "ro"] }))),
    )
    expect(error).toMatchObject({ _tag: "InvalidArgument", argument: "flags" })
  })
})
