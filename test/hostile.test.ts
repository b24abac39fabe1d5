/**
 * Hostile input, table-driven (test/support/hostile.ts): every call, through the Effect API
 * and through the Promise facade, yields an `InvalidArgument` naming the argument or a
 * `MountError` with the expected stage and errno — never a defect, never a hang — and the
 * mount table (Mount.list()) is the same before and after each one.
 */
import * as ManagedRuntime from "effect/ManagedRuntime"
import { InvalidArgument, Mount, type MountEntry, MountError, Mounter } from "linx-mount"
import * as Promises from "linx-mount/promises"
import { afterAll, describe, expect, it } from "vitest"
import { hostileSetup } from "./support/fixtures.js"
import {
  effectVerbs,
  type HostileCase,
  hostileCases,
  promiseVerbs,
  type Verbs,
} from "./support/hostile.js"
import { privileged } from "./support/privileged.js"
import { comparable } from "./support/probes.js"

const setup = privileged ? await hostileSetup("linx-hostile-") : undefined
const cases: Array<HostileCase> = setup ? hostileCases(setup.fixtures) : []
const runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))

const apis: ReadonlyArray<readonly [string, Verbs, () => Promise<ReadonlyArray<MountEntry>>]> = [
  ["Effect API", effectVerbs(runtime), () => runtime.runPromise(Mount.list())],
  ["linx-mount/promises", promiseVerbs(), () => Promises.list()],
]

let tried = 0

describe.skipIf(!privileged)(`hostile input: ${cases.length} calls × ${apis.length} APIs`, () => {
  afterAll(async () => {
    console.log(
      `hostile input: ${tried} hostile calls tried (${cases.length} cases × ${apis.length} APIs)`,
    )
    await Promises.close()
    await runtime.dispose()
    await setup?.dispose()
  })

  it(`the table has at least 100 cases over every verb (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(100)
    for (const verb of ["mount", "bind", "remount", "move", "umount", "pivotRoot", "make"]) {
      expect(cases.some((c) => c.name.startsWith(verb))).toBe(true)
    }
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length)
  })

  for (const [api, verbs, list] of apis) {
    describe(api, () => {
      it.each(cases)("$name", async ({ call, expected }) => {
        const base = setup!.fixtures.base
        const before = comparable(await list(), base)
        tried++
        const error = await call(verbs).then(
          () => new Error("the call succeeded"),
          (e: unknown) => e,
        )
        if (expected._tag === "InvalidArgument") {
          expect(error).toBeInstanceOf(InvalidArgument)
          expect(error).toMatchObject({ _tag: "InvalidArgument", argument: expected.argument })
        } else {
          expect(error).toBeInstanceOf(MountError)
          expect(error).toMatchObject(expected)
          expect((error as MountError).errno).toBeGreaterThan(0)
        }
        expect(typeof (error as Error).message).toBe("string")
        expect(comparable(await list(), base)).toEqual(before)
      })

      it("afterwards the pool still works: a real bind and umount", async () => {
        const { dir, base } = setup!.fixtures
        await verbs.bind(dir, dir)
        expect((await list()).filter((e) => e.mountPoint === dir)).toHaveLength(1)
        await verbs.umount(dir)
        expect((await list()).filter((e) => e.mountPoint === dir)).toHaveLength(0)
        expect(comparable(await list(), base).length).toBeGreaterThan(0)
      })
    })
  }
})
