/**
 * Property tests (fast-check) for the two edges untrusted data crosses:
 *
 * - argument validation: every verb, called with arbitrary values, either is a valid call
 *   (by an independent model of DESIGN.md's rules) and submits exactly one well-formed
 *   request, or fails with `InvalidArgument` and submits nothing — never a defect;
 * - the addon's own marshalling: a batch holding one malformed op throws a TypeError and
 *   queues none of its ops, not even the valid ones;
 * - the protocol: any value decodes as replies (and then maps to a typed `MountError`) or
 *   is refused; any outcome a native thread hands back (test/support/nativeHooks.ts)
 *   settles its request typed.
 *
 * The mountinfo parser is fuzzed in test/mountinfo.test.ts.
 */
import { mkdirSync, readFileSync } from "node:fs"
import { isAbsolute } from "node:path"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import fc from "fast-check"
import { InvalidArgument, Mount, MountError, Mounter } from "linx-mount"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mountFlagConstants, perMountFlags, umountFlagConstants } from "../protocol/Flags.js"
import { decodeOutcome } from "../protocol/Reply.js"
import { decodeBatch, type Request } from "../protocol/Request.js"
import { failure } from "../src/internal/failure.js"
import { native } from "../src/internal/native.js"
import { MountError as SourceMountError, Stage } from "../src/MountError.js"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import "./support/nativeHooks.js"
import { effectRunner } from "./support/workloads.js"

const runs = Number(process.env.LINX_FUZZ_RUNS ?? 1000)
let properties = 0
let inputs = 0
const counted = <A>(arb: fc.Arbitrary<A>) =>
  arb.map((a) => {
    inputs++
    return a
  })

// ── an independent model of what a valid call is (DESIGN.md, "Flags" and "Errors") ──────

const MAX_PID = 4_194_304
const isText = (v: unknown): v is string => typeof v === "string" && !v.includes("\0")
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)
type Ns = "self" | "pid" | "path" | undefined
const nsOf = (v: unknown): Ns => {
  if (v === undefined || v === "self") return "self"
  if (!isObj(v)) return undefined
  const keys = Object.keys(v)
  if (keys.length !== 1) return undefined
  if (keys[0] === "pid") {
    const pid = v.pid
    return typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0 && pid <= MAX_PID
      ? "pid"
      : undefined
  }
  if (keys[0] === "path") return isText(v.path) && v.path.length > 0 ? "path" : undefined
  return undefined
}
const pathOk = (v: unknown, ns: Ns) => isText(v) && v.length > 0 && (ns === "self" || isAbsolute(v))
const flagsOk = (v: unknown, allowed: ReadonlyArray<string>) =>
  v === undefined ||
  (Array.isArray(v) && v.every((f) => typeof f === "string" && allowed.includes(f)))
const dataOk = (v: unknown) => v === undefined || (isText(v) && Buffer.byteLength(v) <= 4095)
const boolOk = (v: unknown) => v === undefined || typeof v === "boolean"
const optionsOk = (
  v: unknown,
  known: ReadonlyArray<string>,
): v is Record<string, unknown> | undefined =>
  v === undefined || (isObj(v) && Object.keys(v).every((k) => known.includes(k)))

const allMount = Object.keys(mountFlagConstants)
const bindFlags = ["bind", "rec", "silent", ...perMountFlags]
const remountFlags = [
  "remount",
  "bind",
  "silent",
  "sync",
  "mandlock",
  "dirsync",
  "lazytime",
  ...perMountFlags,
]
const umountFlags = Object.keys(umountFlagConstants)

interface Verb {
  readonly name: string
  readonly arity: number
  readonly call: (...args: Array<unknown>) => Effect.Effect<void, unknown, Mounter>
  readonly valid: (args: ReadonlyArray<unknown>) => boolean
}
const verb = (name: keyof typeof Mount, arity: number, valid: Verb["valid"]): Verb => ({
  name,
  arity,
  call: Mount[name] as unknown as Verb["call"],
  valid,
})
const withOptions =
  (
    known: ReadonlyArray<string>,
    rest: (options: Record<string, unknown>, ns: Ns, args: ReadonlyArray<unknown>) => boolean,
  ) =>
  (args: ReadonlyArray<unknown>, optionsAt: number) => {
    const options = args[optionsAt]
    if (!optionsOk(options, known)) return false
    const o = options ?? {}
    const ns = nsOf(o.in)
    return ns !== undefined && rest(o, ns, args)
  }
const verbs: ReadonlyArray<Verb> = [
  verb("mount", 4, (a) =>
    withOptions(
      ["flags", "data", "create", "in"],
      (o, ns) =>
        isText(a[0]) &&
        pathOk(a[1], ns) &&
        isText(a[2]) &&
        flagsOk(o.flags, allMount) &&
        dataOk(o.data) &&
        boolOk(o.create),
    )(a, 3),
  ),
  verb("bind", 3, (a) =>
    withOptions(
      ["flags", "data", "create", "in"],
      (o, ns) =>
        pathOk(a[0], ns) &&
        pathOk(a[1], ns) &&
        flagsOk(o.flags, bindFlags) &&
        dataOk(o.data) &&
        boolOk(o.create),
    )(a, 2),
  ),
  verb("remount", 2, (a) =>
    withOptions(
      ["flags", "data", "in"],
      (o, ns) => pathOk(a[0], ns) && flagsOk(o.flags, remountFlags) && dataOk(o.data),
    )(a, 1),
  ),
  verb("move", 3, (a) =>
    withOptions(["in"], (_, ns) => pathOk(a[0], ns) && pathOk(a[1], ns))(a, 2),
  ),
  verb("umount", 2, (a) =>
    withOptions(["flags", "in"], (o, ns) => pathOk(a[0], ns) && flagsOk(o.flags, umountFlags))(
      a,
      1,
    ),
  ),
  verb("pivotRoot", 3, (a) =>
    withOptions(["in"], (_, ns) => pathOk(a[0], ns) && pathOk(a[1], ns))(a, 2),
  ),
  verb("makePrivate", 2, (a) =>
    withOptions(["recursive", "in"], (o, ns) => pathOk(a[0], ns) && boolOk(o.recursive))(a, 1),
  ),
  verb("makeShared", 2, (a) =>
    withOptions(["recursive", "in"], (o, ns) => pathOk(a[0], ns) && boolOk(o.recursive))(a, 1),
  ),
  verb("makeSlave", 2, (a) =>
    withOptions(["recursive", "in"], (o, ns) => pathOk(a[0], ns) && boolOk(o.recursive))(a, 1),
  ),
  verb("makeUnbindable", 2, (a) =>
    withOptions(["recursive", "in"], (o, ns) => pathOk(a[0], ns) && boolOk(o.recursive))(a, 1),
  ),
]

// ── generators: mostly near-valid values, so both sides of every rule are reached ───────

const anything = fc.anything({
  withBoxedValues: true,
  withBigInt: true,
  withNullPrototype: true,
  maxDepth: 2,
})
const segment = fc.stringMatching(/^[a-z0-9._-]{1,8}$/)
const absolute = fc
  .array(segment, { minLength: 0, maxLength: 4 })
  .map((parts) => `/${parts.join("/")}`)
const relative = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("/"))
const withNul = fc.tuple(absolute, fc.nat(20)).map(([p, i]) => `${p.slice(0, i)}\0${p.slice(i)}`)
const pathArb = fc.oneof(
  { weight: 6, arbitrary: absolute },
  { weight: 2, arbitrary: relative },
  { weight: 1, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: withNul },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
  { weight: 1, arbitrary: anything },
)
const flagNames = [...allMount, ...umountFlags, "RO", "", "bogus", "__proto__", "toString", "ro\0"]
const flagsArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: fc.uniqueArray(fc.constantFrom(...flagNames), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(anything, { maxLength: 2 }) },
  { weight: 1, arbitrary: anything },
)
const inArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant("self") },
  {
    weight: 3,
    arbitrary: fc.record({
      pid: fc.oneof(fc.integer({ min: -5, max: MAX_PID + 5 }), fc.double(), anything),
    }),
  },
  { weight: 2, arbitrary: fc.record({ path: pathArb }) },
  { weight: 1, arbitrary: fc.record({ pid: fc.integer({ min: 1, max: 100 }), path: absolute }) },
  { weight: 1, arbitrary: anything },
)
const dataArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4090, max: 4100 }).map((n) => "d".repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 2040, max: 2050 }).map((n) => "é".repeat(n)) },
  { weight: 1, arbitrary: withNul },
  { weight: 1, arbitrary: anything },
)
const boolArb = fc.oneof(fc.constant(undefined), fc.boolean(), anything)
const optionsArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 8,
    arbitrary: fc.record(
      {
        flags: flagsArb,
        data: dataArb,
        create: boolArb,
        recursive: boolArb,
        in: inArb,
        lazy: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: anything },
)
const argsArb = (v: Verb) =>
  fc.tuple(pathArb, pathArb, pathArb, optionsArb, fc.boolean()).map(([a, b, c, options, short]) => {
    const args: Array<unknown> = v.name === "mount" ? [a, b, c] : [a, b].slice(0, v.arity - 1)
    // Leave an undefined options object out half the time: a shorter call, as JavaScript allows.
    if (options !== undefined || !short) args.push(options)
    return args
  })

afterAll(() => {
  console.log(`fuzz: ${properties} properties, ${inputs} generated inputs`)
})

describe("fuzz: argument validation refuses every invalid call before dispatch", () => {
  for (const v of verbs) {
    it(`Mount.${v.name}: valid ⇔ exactly one well-formed request; invalid ⇒ InvalidArgument, nothing dispatched (${runs} runs)`, () => {
      properties++
      let valid = 0
      fc.assert(
        fc.property(counted(argsArb(v)), (args) => {
          const submitted: Array<Request> = []
          const fake = Mounter.of({
            submit: (request) => Effect.sync(() => void submitted.push(request)),
          })
          let exit: Exit.Exit<void, unknown>
          try {
            exit = Effect.runSyncExit(Effect.provideService(v.call(...args), Mounter, fake))
          } catch (error) {
            throw new Error(`Mount.${v.name} threw synchronously: ${String(error)}`)
          }
          if (Exit.isFailure(exit)) {
            expect(Cause.hasDies(exit.cause), Cause.pretty(exit.cause)).toBe(false)
            const error = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
            expect(error).toBeInstanceOf(InvalidArgument)
            expect(submitted).toEqual([])
            expect(
              v.valid(args),
              `refused a valid call: ${(error as InvalidArgument).message}`,
            ).toBe(false)
          } else {
            valid++
            expect(v.valid(args), "accepted an invalid call").toBe(true)
            expect(submitted).toHaveLength(1)
            const [request] = decodeBatch(submitted)
            const paths =
              request!._tag === "PivotRoot"
                ? [request!.newRoot, request!.putOld]
                : [request!.target]
            for (const p of paths) expect(isAbsolute(p)).toBe(true)
          }
        }),
        { numRuns: runs },
      )
      // The generators reach both sides.
      expect(valid).toBeGreaterThan(0)
      expect(valid).toBeLessThan(runs)
    })
  }
})

describe("fuzz: the protocol", () => {
  const stages = Stage.literals as ReadonlyArray<string>
  const outcomeArb = fc.oneof(
    fc.constant(null),
    fc.record({
      stage: fc.constantFrom(...stages),
      errno: fc.integer({ min: -5, max: 200_000 }),
    }),
  )

  it(`every well-formed outcome decodes and maps to a typed MountError (${runs} runs)`, () => {
    properties++
    fc.assert(
      fc.property(counted(fc.array(outcomeArb, { maxLength: 8 })), (raw) => {
        const request: Request = {
          _tag: "Umount",
          target: "/t",
          flags: 0,
          in: { _tag: "Pid", pid: 7 },
        }
        for (const value of raw) {
          const outcome = decodeOutcome(value)
          expect(Option.getOrThrow(outcome)).toEqual(value)
          const failed = Option.getOrThrow(outcome)
          if (failed === null) continue
          const error = failure(request, failed.stage, failed.errno)
          expect(error).toBeInstanceOf(SourceMountError)
          expect(error.operation).toBe(failed.stage)
          expect(error.errno).toBe(failed.errno)
          expect(typeof error.code).toBe("string")
          expect(typeof error.message).toBe("string")
        }
      }),
      { numRuns: runs },
    )
  })

  it(`any value either decodes to an outcome of the schema or is refused (${runs} runs)`, () => {
    properties++
    const mutated = fc.oneof(
      anything,
      outcomeArb,
      fc.record({
        stage: fc.oneof(fc.string(), anything),
        errno: fc.oneof(fc.double(), anything),
      }),
    )
    fc.assert(
      fc.property(counted(mutated), (raw) => {
        const outcome = decodeOutcome(raw)
        if (Option.isNone(outcome) || outcome.value === null) return // refused, or done
        expect(stages).toContain(outcome.value.stage)
        expect(Number.isInteger(outcome.value.errno)).toBe(true)
      }),
      { numRuns: runs },
    )
  })

  it(`any value either decodes to a batch of requests of the schema or is refused (${runs} runs)`, () => {
    properties++
    fc.assert(
      fc.property(counted(fc.oneof(anything, fc.array(anything, { maxLength: 3 }))), (raw) => {
        try {
          for (const request of decodeBatch(raw))
            expect(["Mount", "Umount", "PivotRoot"]).toContain(request._tag)
        } catch {
          // refused
        }
      }),
      { numRuns: runs },
    )
  })
})

describe.skipIf(!privileged)("fuzz: through a real pool and the addon", () => {
  let base: string
  let runtime: ManagedRuntime.ManagedRuntime<Mounter, unknown>
  beforeAll(() => {
    base = scratchTmpfs("linx-fuzz-")
    runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 1 }))
  })
  afterAll(async () => {
    await runtime.dispose()
    removeScratch(base)
  })

  it("whatever a native thread hands back, every request settles typed: Done, its MountError, or thread/ECANCELED (300 runs)", async () => {
    properties++
    const run = effectRunner(runtime)
    const outcome = fc.oneof(
      fc.constant(null),
      fc.record({
        stage: fc.constantFrom(...(Stage.literals as ReadonlyArray<string>)),
        errno: fc.integer({ min: 1, max: 200 }),
      }),
      fc.record({ stage: fc.string({ maxLength: 6 }), errno: fc.oneof(fc.double(), fc.integer()) }),
      fc.jsonValue({ maxDepth: 2 }),
    )
    await fc.assert(
      fc.asyncProperty(
        counted(
          fc.oneof(
            fc.array(outcome, { minLength: 1, maxLength: 1 }),
            fc.jsonValue({ maxDepth: 2 }),
          ),
        ),
        async (reply) => {
          const data = JSON.stringify(reply)
          fc.pre(data !== undefined && Buffer.byteLength(data) <= 4095 && !data.includes("\0"))
          const settled = await run(
            Mount.mount("x", "/linx-test-hook/reply", "tmpfs", { data }),
          ).then(
            () => "done",
            (e: unknown) => e,
          )
          // The model: our one request's outcome is the first element; it counts only if it is
          // null or { stage: a Stage, errno: an integer }, else the request failed unknowably.
          const stages = Stage.literals as ReadonlyArray<unknown>
          const decodes = (o: unknown) =>
            o === null || (isObj(o) && stages.includes(o.stage) && Number.isSafeInteger(o.errno))
          const first = Array.isArray(reply) ? reply[0] : undefined
          if (!Array.isArray(reply) || reply.length === 0 || !decodes(first)) {
            expect(settled).toBeInstanceOf(MountError)
            expect(settled).toMatchObject({ operation: "thread", code: "ECANCELED" })
          } else if (first === null) {
            expect(settled).toBe("done")
          } else {
            expect(settled).toBeInstanceOf(MountError)
            const { stage, errno } = first as { stage: string; errno: number }
            expect(settled).toMatchObject({ operation: stage, errno })
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it(`a batch holding one malformed op throws a TypeError and queues none of its ops (${runs} runs)`, async () => {
    properties++
    const probe = `${base}/probe`
    mkdirSync(probe)
    const valid = { kind: 1, ns: 0, target: `${base}/missing`, flags: 0 }
    const corrupt = fc.oneof(
      fc.record({
        kind: fc.oneof(
          fc.constantFrom(3, -1, 1.5, Number.NaN, 2 ** 40),
          anything.filter((k) => typeof k !== "number" && k !== undefined),
        ),
      }),
      fc.record({
        ns: fc.oneof(fc.constantFrom(3, -1, 0.5, Number.POSITIVE_INFINITY), fc.string()),
      }),
      fc.record({
        ns: fc.constant(1),
        pid: fc.oneof(fc.constantFrom(0, -1, 4_194_305, 1.5), fc.string()),
      }),
      fc.record({
        ns: fc.constant(2),
        nsPath: fc.oneof(fc.constant(undefined), fc.integer(), withNul),
      }),
      fc.record({
        target: fc.oneof(
          withNul,
          fc.integer(),
          fc.constant(undefined),
          fc.constant(null),
          fc.object(),
        ),
      }),
      fc.record({ source: fc.oneof(withNul, fc.integer(), fc.constant(null)) }),
      fc.record({ fstype: fc.oneof(withNul, fc.boolean()) }),
      fc.record({ data: fc.oneof(withNul, fc.constant(1n)) }),
      fc.record({ flags: fc.oneof(fc.constantFrom(-1, 2 ** 32, 0.5, Number.NaN), fc.string()) }),
      fc.record({ remountFlags: fc.constantFrom(-1, 2 ** 32, 0.25) }),
      fc.record({
        kind: fc.constant(2),
        putOld: fc.oneof(fc.constant(undefined), withNul, fc.integer()),
      }),
      fc.record({ pidns: fc.constant(true) }),
    )
    const mountProbe = {
      kind: 0,
      ns: 0,
      source: "linx-fuzz-probe",
      target: probe,
      fstype: "tmpfs",
      flags: 0,
    }
    const completed: Array<number> = []
    const pool = new (native().Pool)(1, (id) => void completed.push(id))
    try {
      fc.assert(
        fc.property(counted(fc.tuple(corrupt, fc.boolean())), ([patch, probeFirst]) => {
          const bad = { ...valid, ...patch }
          const ops = probeFirst ? [mountProbe, bad] : [bad, mountProbe]
          expect(() => pool.submit(1, ops as never)).toThrow(TypeError)
          expect(pool.stats()).toMatchObject({ queued: 0, outstanding: 0 })
          expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(probe)
        }),
        { numRuns: runs },
      )
      const submit = pool.submit as (...a: Array<unknown>) => unknown
      for (const args of [
        [],
        [1],
        ["x", []],
        [1, {}],
        [1, [1]],
        [1, [null]],
        [1, [{}]],
        [Number.NaN, "ops"],
      ]) {
        expect(() => submit.call(pool, ...args)).toThrow(TypeError)
      }
      expect(completed).toEqual([])
    } finally {
      await new Promise<void>((resolve) => pool.close(resolve))
    }
  })
})
