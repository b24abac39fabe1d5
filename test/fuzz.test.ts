/**
 * Property tests (fast-check) for the edges untrusted data crosses:
 *
 * - argument validation: every verb, called with arbitrary values, either is a valid call
 *   (by an independent model of DESIGN.md's rules) and hands the Mounter exactly one
 *   well-formed request, or fails with `InvalidArgument` and hands it nothing — never a
 *   defect;
 * - the wire: `encodeBatch` writes exactly the documented format (an independent encoder
 *   here), the addon reads back what was written, and on any mutation of it the addon
 *   either refuses (a TypeError) or reads what the TypeScript decoder reads; outcomes written
 *   in the documented format decode to what was written, and any bytes at all decode to an
 *   outcome of the schema or are refused;
 * - the addon's runBatch, on a worker thread: a batch with one malformed part throws a
 *   TypeError and runs none of its ops, not even the valid ones;
 * - a real pool: whatever a worker hands back (test/fixtures/faulty-worker.mjs), every
 *   request settles typed — its outcome, or `thread`/`ECANCELED`.
 *
 * The mountinfo parser is fuzzed in test/mountinfo.test.ts.
 */
import { mkdirSync, readFileSync } from "node:fs"
import { isAbsolute, resolve } from "node:path"
import { Worker } from "node:worker_threads"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import { InvalidArgument, Mount, MountError, Mounter } from "linx-mount"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decodeBatch, decodeOutcomes, encodeBatch, opKinds, opLayouts } from "../protocol/Codec.js"
import {
  attributeConstants,
  mountFlagConstants,
  perMountFlags,
  umountFlagConstants,
} from "../protocol/Flags.js"
import { BatchOutcome, subjects } from "../protocol/Outcome.js"
import type { Batch, Namespace, NamespaceRef, Op } from "../protocol/Request.js"
import { stages } from "../protocol/Stage.js"
import { native } from "../src/internal/native.js"
import { errnoName } from "../src/MountError.js"
import { batchArbitraries, u32 } from "./support/batches.js"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { effectRunner, faultyWorker, hook } from "./support/workloads.js"

// The pool of this file runs the misbehaving worker (its reply mode), which passes every
// other batch to the real one.
process.env.LINX_MOUNT_WORKER = faultyWorker

const runs = Number(process.env.LINX_FUZZ_RUNS ?? 1000)
let properties = 0
let inputs = 0
const counted = <A>(arb: fc.Arbitrary<A>) =>
  arb.map((a) => {
    inputs++
    return a
  })

// ── an independent model of what a valid call is (DESIGN.md, "Public API" and "Errors") ─

const MAX_PID = 4_194_304
const isText = (v: unknown): v is string => typeof v === "string" && !v.includes("\0")
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array && !v.includes(0)
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)
// An option given as undefined is an option left out (own keys, in objects too).
const definedKeys = (v: Record<string, unknown>) => Object.keys(v).filter((k) => v[k] !== undefined)
const onlyKey = (v: unknown, key: string): v is Record<string, unknown> =>
  isObj(v) && definedKeys(v).length === 1 && definedKeys(v)[0] === key
type Ns = "self" | "pid" | "path"
/** A path: text or bytes, non-empty, no NUL; absolute unless it is looked up in ours. */
const pathOk = (v: unknown, ns: Ns): boolean =>
  isText(v)
    ? v.length > 0 && (ns === "self" || isAbsolute(v))
    : isBytes(v) && v.length > 0 && (ns === "self" || v[0] === 0x2f)
const pidOk = (v: unknown) =>
  Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= MAX_PID
/** `in`, or undefined when it is malformed. */
const nsOf = (v: unknown): Ns | undefined => {
  if (v === undefined || v === "self") return "self"
  if (onlyKey(v, "pid")) return pidOk(v.pid) ? "pid" : undefined
  if (onlyKey(v, "path")) return pathOk(v.path, "self") ? "path" : undefined
  return undefined
}
const flagsOk = (v: unknown, allowed: ReadonlyArray<string>) =>
  v === undefined ||
  (Array.isArray(v) && v.every((f) => typeof f === "string" && allowed.includes(f)))
const dataOk = (v: unknown) => v === undefined || (isText(v) && Buffer.byteLength(v) <= 4095)
const boolOk = (v: unknown) => v === undefined || typeof v === "boolean"
const atimeModes = ["relatime", "noatime", "strictatime"]
const oneAtime = (flags: unknown) =>
  !Array.isArray(flags) || flags.filter((f) => atimeModes.includes(f)).length <= 1
const propagations = ["private", "shared", "slave", "unbindable"]

const allMount = Object.keys(mountFlagConstants)
const attributes = Object.keys(attributeConstants)
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

/** The options object: absent, or an object (not an array) with only `known` own keys. */
const optionsOf = (
  v: unknown,
  known: ReadonlyArray<string>,
): { readonly o: Record<string, unknown>; readonly ns: Ns } | undefined => {
  if (v !== undefined && !(isObj(v) && definedKeys(v).every((k) => known.includes(k))))
    return undefined
  const o: Record<string, unknown> = v === undefined ? {} : { ...(v as object) }
  const ns = nsOf(o.in)
  return ns === undefined ? undefined : { o, ns }
}

const mountValid = (a: ReadonlyArray<unknown>): boolean => {
  const opts = optionsOf(a[3], ["flags", "data", "create", "in", "pidIn"])
  if (opts === undefined) return false
  const { o, ns } = opts
  const [source, target, fstype] = a
  const pidInOk =
    o.pidIn === undefined ||
    o.pidIn === "self" ||
    (onlyKey(o.pidIn, "path") && pathOk(o.pidIn.path, "self"))
  if (
    !(isText(source) || isBytes(source)) ||
    !pathOk(target, ns) ||
    !isText(fstype) ||
    !flagsOk(o.flags, allMount) ||
    !dataOk(o.data) ||
    !boolOk(o.create) ||
    !pidInOk
  )
    return false
  const flags = (o.flags ?? []) as ReadonlyArray<string>
  const only = (allowed: ReadonlyArray<string>) => flags.every((f) => allowed.includes(f))
  const none = (...keys: Array<string>) => keys.every((k) => o[k] === undefined)
  if (flags.includes("remount"))
    return (
      only(remountFlags) &&
      none("create", "pidIn") &&
      !(flags.includes("bind") && o.data !== undefined)
    )
  if (flags.includes("move"))
    return only(["move", "silent"]) && none("data", "create", "pidIn") && pathOk(source, ns)
  if (flags.includes("bind"))
    return only(bindFlags) && none("data", "pidIn") && pathOk(source, ns) && oneAtime(flags)
  const kinds = flags.filter((f) => propagations.includes(f))
  if (kinds.length > 0)
    return (
      kinds.length === 1 && only([kinds[0]!, "rec", "silent"]) && none("data", "create", "pidIn")
    )
  // A new filesystem: a text source (it names no path), a type, one atime mode; a proc
  // filesystem shows a PID namespace, which a mount namespace file cannot name.
  if (!isText(source) || fstype === "" || !oneAtime(flags)) return false
  if (fstype === "proc") return !(ns === "path" && o.pidIn === undefined)
  return o.pidIn === undefined
}

const bindValid = (a: ReadonlyArray<unknown>): boolean => {
  const opts = optionsOf(a[2], ["flags", "create", "in", "sourceIn", "idmap"])
  if (opts === undefined) return false
  const { o, ns } = opts
  const idmapOk =
    o.idmap === undefined ||
    (onlyKey(o.idmap, "pid") && pidOk(o.idmap.pid)) ||
    (onlyKey(o.idmap, "path") && pathOk(o.idmap.path, "self"))
  return (
    (o.sourceIn === undefined || o.sourceIn === "self") &&
    pathOk(a[0], o.sourceIn === "self" ? "self" : ns) &&
    pathOk(a[1], ns) &&
    flagsOk(o.flags, bindFlags) &&
    oneAtime(o.flags) &&
    boolOk(o.create) &&
    idmapOk
  )
}

const setAttributesValid = (a: ReadonlyArray<unknown>): boolean => {
  const opts = optionsOf(a[1], ["set", "clear", "propagation", "recursive", "in"])
  if (opts === undefined) return false
  const { o, ns } = opts
  const set = (o.set ?? []) as ReadonlyArray<string>
  const clear = (o.clear ?? []) as ReadonlyArray<string>
  return (
    pathOk(a[0], ns) &&
    flagsOk(o.set, attributes) &&
    flagsOk(o.clear, attributes) &&
    (o.propagation === undefined || propagations.includes(o.propagation as string)) &&
    boolOk(o.recursive) &&
    !set.some((s) => clear.includes(s)) &&
    (set.length > 0 || clear.length > 0 || o.propagation !== undefined) &&
    oneAtime(set) &&
    oneAtime(clear)
  )
}

interface Verb {
  readonly name: string
  readonly arity: number
  readonly call: (...args: Array<unknown>) => Effect.Effect<void, unknown, Mounter>
  readonly valid: (args: ReadonlyArray<unknown>) => boolean
  /** The request's tags this verb may send. */
  readonly tags: ReadonlyArray<Op["_tag"]>
}
const verb = (
  name: keyof typeof Mount,
  arity: number,
  tags: Verb["tags"],
  valid: Verb["valid"],
): Verb => ({
  name,
  arity,
  call: Mount[name] as unknown as Verb["call"],
  valid,
  tags,
})
const simple =
  (known: ReadonlyArray<string>, paths: number, rest: (o: Record<string, unknown>) => boolean) =>
  (a: ReadonlyArray<unknown>) => {
    const opts = optionsOf(a[paths], known)
    if (opts === undefined) return false
    for (let i = 0; i < paths; i++) if (!pathOk(a[i], opts.ns)) return false
    return rest(opts.o)
  }
const propagationVerb = (name: keyof typeof Mount) =>
  verb(
    name,
    2,
    ["SetAttributes"],
    simple(["recursive", "in"], 1, (o) => boolOk(o.recursive)),
  )
const verbs: ReadonlyArray<Verb> = [
  verb("mount", 4, ["Mount", "Bind", "Remount", "Move", "SetAttributes"], mountValid),
  verb("bind", 3, ["Bind"], bindValid),
  verb(
    "remount",
    2,
    ["Remount"],
    simple(
      ["flags", "data", "in"],
      1,
      (o) =>
        flagsOk(o.flags, remountFlags) &&
        dataOk(o.data) &&
        !((o.flags as Array<string> | undefined)?.includes("bind") && o.data !== undefined),
    ),
  ),
  verb(
    "move",
    3,
    ["Move"],
    simple(["in"], 2, () => true),
  ),
  verb(
    "umount",
    2,
    ["Umount"],
    simple(["flags", "in"], 1, (o) => flagsOk(o.flags, umountFlags)),
  ),
  verb(
    "pivotRoot",
    3,
    ["PivotRoot"],
    simple(["in"], 2, () => true),
  ),
  propagationVerb("makePrivate"),
  propagationVerb("makeShared"),
  propagationVerb("makeSlave"),
  propagationVerb("makeUnbindable"),
  verb("setAttributes", 2, ["SetAttributes"], setAttributesValid),
]

// ── generators: mostly near-valid values, so both sides of every rule are reached ───────

// Top-level option values are never `undefined`: whether `{ in: undefined }` means "not
// given" is asserted on its own, in test/Mount.test.ts.
const anything = fc.anything({
  withBoxedValues: true,
  withBigInt: true,
  withNullPrototype: true,
  maxDepth: 2,
})
const defined = anything.filter((v) => v !== undefined)
const segment = fc.stringMatching(/^[a-z0-9._-]{1,8}$/)
const absolute = fc
  .array(segment, { minLength: 0, maxLength: 4 })
  .map((parts) => `/${parts.join("/")}`)
const relative = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("/"))
const withNul = fc.tuple(absolute, fc.nat(20)).map(([p, i]) => `${p.slice(0, i)}\0${p.slice(i)}`)
const asBytes = (arb: fc.Arbitrary<string>) => arb.map((s) => new Uint8Array(Buffer.from(s)))
const pathArb = fc.oneof(
  { weight: 6, arbitrary: absolute },
  { weight: 2, arbitrary: relative },
  { weight: 2, arbitrary: asBytes(absolute) },
  { weight: 1, arbitrary: asBytes(relative) },
  { weight: 1, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 1, arbitrary: withNul },
  { weight: 1, arbitrary: asBytes(withNul) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }) },
  { weight: 1, arbitrary: anything },
)
const flagNames = [...allMount, ...umountFlags, "RO", "", "bogus", "__proto__", "toString", "ro\0"]
const flagsArb = fc.oneof(
  { weight: 6, arbitrary: fc.uniqueArray(fc.constantFrom(...flagNames), { maxLength: 3 }) },
  // The forms of mount(2): each decides which other rules apply.
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      ["bind"],
      ["bind", "rec", "ro"],
      ["move"],
      ["remount", "ro"],
      ["remount", "bind", "nosuid"],
      ["private"],
      ["shared", "rec"],
      ["ro", "noatime"],
    ),
  },
  { weight: 1, arbitrary: fc.array(anything, { maxLength: 2 }) },
  { weight: 1, arbitrary: defined },
)
const attributesArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.uniqueArray(fc.constantFrom(...attributes, "bind", "RO"), { maxLength: 3 }),
  },
  { weight: 1, arbitrary: defined },
)
const pidArb = fc.oneof(fc.integer({ min: -5, max: MAX_PID + 5 }), fc.double(), defined)
const inArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant("self") },
  { weight: 3, arbitrary: fc.record({ pid: pidArb }) },
  { weight: 2, arbitrary: fc.record({ path: pathArb }) },
  { weight: 1, arbitrary: fc.record({ pid: fc.integer({ min: 1, max: 100 }), path: absolute }) },
  { weight: 1, arbitrary: defined },
)
const dataArb = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4090, max: 4100 }).map((n) => "d".repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 2040, max: 2050 }).map((n) => "é".repeat(n)) },
  { weight: 1, arbitrary: withNul },
  { weight: 1, arbitrary: defined },
)
const boolArb = fc.oneof(fc.boolean(), defined)
const nsFileArb = fc.oneof(
  fc.constant("self"),
  fc.record({ path: pathArb }),
  fc.record({ pid: pidArb }),
  defined,
)
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
        pidIn: nsFileArb,
        sourceIn: fc.oneof(fc.constant("self"), defined),
        idmap: nsFileArb,
        set: attributesArb,
        clear: attributesArb,
        propagation: fc.oneof(fc.constantFrom(...propagations), defined),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: defined },
)
// Sparse options: each call names a few keys, so valid calls are common.
const sparse = optionsArb.chain((o): fc.Arbitrary<unknown> => {
  if (!isObj(o) || Object.getPrototypeOf(o) !== Object.prototype) return fc.constant(o)
  const record = o as Record<string, unknown>
  return fc
    .shuffledSubarray(Object.keys(record), { maxLength: Math.min(2, Object.keys(record).length) })
    .map((keys) => Object.fromEntries(keys.map((key) => [key, record[key]])))
})
// Mostly one form of mount(2) and little else, so its form's own rules decide.
const formOptions = fc.record(
  {
    flags: fc.constantFrom(
      ["bind"],
      ["bind", "ro"],
      ["move"],
      ["remount", "bind", "ro"],
      ["shared"],
    ),
    in: inArb,
    create: boolArb,
  },
  { requiredKeys: ["flags"] },
)
// Mostly set/clear/propagation alone, so setAttributes' own rules decide: drawn from the
// full options above, a call names only its own keys a few times in a thousand.
const knownAttributes = fc.uniqueArray(fc.constantFrom(...attributes), { maxLength: 2 })
const attributeOptions = fc.record(
  {
    set: fc.oneof(
      { weight: 3, arbitrary: knownAttributes },
      { weight: 1, arbitrary: attributesArb },
    ),
    clear: fc.oneof(
      { weight: 3, arbitrary: knownAttributes },
      { weight: 1, arbitrary: attributesArb },
    ),
    propagation: fc.oneof(fc.constantFrom(...propagations), defined),
    recursive: boolArb,
    in: inArb,
  },
  { requiredKeys: [] },
)
// A mount's source is a path for a bind or a move: the byte forms that must not pass too.
const sourceArb = fc.oneof(
  { weight: 4, arbitrary: pathArb },
  { weight: 1, arbitrary: asBytes(withNul) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
)
const fstypeArb = fc.oneof(
  fc.constantFrom("tmpfs", "proc", "", "ext4"),
  fc.string({ maxLength: 6 }),
  withNul,
  defined,
)
const argsArb = (v: Verb) =>
  fc
    .tuple(
      v.name === "mount" ? sourceArb : pathArb,
      pathArb,
      fstypeArb,
      fc.oneof(optionsArb, sparse, formOptions, attributeOptions),
      fc.boolean(),
    )
    .map(([a, b, c, options, short]) => {
      const args: Array<unknown> = v.name === "mount" ? [a, b, c] : [a, b].slice(0, v.arity - 1)
      // Leave an undefined options object out half the time: a shorter call, as JavaScript allows.
      if (options !== undefined || !short) args.push(options)
      return args
    })

/** A path argument as the request must carry it: absolute, relative ones against our cwd. */
const expectedPath = (value: unknown): string | Uint8Array => {
  if (typeof value === "string") return isAbsolute(value) ? value : resolve(process.cwd(), value)
  const bytes = value as Uint8Array
  if (bytes[0] === 0x2f) return bytes
  return new Uint8Array(Buffer.concat([Buffer.from(`${process.cwd().replace(/\/$/, "")}/`), bytes]))
}
const same = (a: string | Uint8Array, b: string | Uint8Array) =>
  Buffer.from(a).equals(Buffer.from(b))

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
          const submitted: Array<{ ns: Namespace; ops: ReadonlyArray<Op>; rollback: boolean }> = []
          const fake = Mounter.of({
            shutdown: Effect.void,
            run: (ns, ops, rollback) =>
              Effect.sync(() => {
                submitted.push({ ns, ops, rollback })
                return {
                  outcomes: ops.map(() => ({ _tag: "Done", uniqueId: 0n, handle: -1 }) as const),
                  undo: [],
                }
              }),
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
            const [{ ns, ops, rollback }] = submitted as [(typeof submitted)[number]]
            expect(rollback).toBe(false)
            expect(ops).toHaveLength(1)
            const op = ops[0]!
            expect(v.tags).toContain(op._tag)
            // The namespace is the one `in` named.
            const given = isObj(args[v.arity - 1])
              ? (args[v.arity - 1] as { in?: unknown }).in
              : undefined
            expect(ns._tag).toBe(
              given === undefined || given === "self"
                ? "Self"
                : "pid" in (given as object)
                  ? "Pid"
                  : "Path",
            )
            // Every path absolute; the target exactly as given, or resolved against our cwd.
            if (op._tag === "Watch") throw new Error("a verb made a Watch op")
            const paths =
              op._tag === "PivotRoot"
                ? [op.newRoot, op.putOld]
                : "source" in op && op._tag !== "Mount"
                  ? [op.target, op.source]
                  : [op.target]
            for (const p of paths)
              expect(typeof p === "string" ? isAbsolute(p) : p[0] === 0x2f).toBe(true)
            const target = op._tag === "PivotRoot" ? op.newRoot : op.target
            const at = ["mount", "bind", "move"].includes(v.name) ? 1 : 0
            expect(same(target, expectedPath(args[at]))).toBe(true)
            // The wire takes it: the addon reads back the request that was made.
            const bytes = encodeBatch({ in: ns, rollback: false, ops })
            expect(() => native().describeBatch(bytes)).not.toThrow()
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

// ── the wire: an independent writer of the documented format (protocol/Codec.ts header) ─

class Writer {
  private readonly parts: Array<Buffer> = []
  u8(v: number) {
    this.parts.push(Buffer.from([v & 0xff]))
    return this
  }
  u16(v: number) {
    const b = Buffer.alloc(2)
    b.writeUInt16LE(v & 0xffff)
    this.parts.push(b)
    return this
  }
  u32(v: number) {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(v >>> 0)
    this.parts.push(b)
    return this
  }
  i32(v: number) {
    const b = Buffer.alloc(4)
    b.writeInt32LE(v | 0)
    this.parts.push(b)
    return this
  }
  u64(v: bigint) {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(v)
    this.parts.push(b)
    return this
  }
  bytes(v: string | Uint8Array) {
    const b = Buffer.from(v)
    this.u32(b.length)
    this.parts.push(b)
    return this
  }
  raw(b: Uint8Array) {
    this.parts.push(Buffer.from(b))
    return this
  }
  done(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts))
  }
}

const refTags = ["None", "Own", "Target", "Pid", "Path"] as const
const nsTags = ["Self", "Pid", "Path"] as const

const writeRef = (w: Writer, r: NamespaceRef) =>
  w
    .u8(refTags.indexOf(r._tag))
    .u32(r._tag === "Pid" ? r.pid : 0)
    .bytes(r._tag === "Path" ? r.path : "")

const writeOp = (w: Writer, op: Op) => {
  w.u8(opKinds.indexOf(op._tag))
  const fields = op as unknown as Record<string, unknown>
  for (const [name, type] of opLayouts[op._tag] as ReadonlyArray<readonly [string, string]>) {
    const value = fields[name]
    if (type === "bytes") w.bytes(value as string | Uint8Array)
    else if (type === "u32") w.u32(value as number)
    else if (type === "u64") w.u64(value as bigint)
    else if (type === "bool") w.u8(value ? 1 : 0)
    else if (type === "list") {
      const items = value as ReadonlyArray<string | Uint8Array>
      w.u32(items.length)
      for (const item of items) w.bytes(item)
    } else writeRef(w, value as NamespaceRef)
  }
}

const writeBatch = (b: Batch): Uint8Array => {
  const w = new Writer()
    .u32(0x3142584c)
    .u8(nsTags.indexOf(b.in._tag))
    .u8(b.rollback ? 1 : 0)
    .u16(0)
    .u32(b.in._tag === "Pid" ? b.in.pid : 0)
    .bytes(b.in._tag === "Path" ? b.in.path : "")
    .u32(b.ops.length)
  for (const op of b.ops) writeOp(w, op)
  return w.done()
}

const hex = (v: string | Uint8Array) => Buffer.from(v).toString("hex")

/** A batch as the addon's describeBatch prints it, keeping only the fields its kind uses. */
const described = (b: Batch) => ({
  in: {
    _tag: b.in._tag,
    ...(b.in._tag === "Pid" ? { pid: b.in.pid } : {}),
    ...(b.in._tag === "Path" ? { path: hex(b.in.path) } : {}),
  },
  rollback: b.rollback,
  ops: b.ops.map((op) => {
    const out: Record<string, unknown> = { _tag: op._tag }
    const fields = op as unknown as Record<string, unknown>
    for (const [name, type] of opLayouts[op._tag] as ReadonlyArray<readonly [string, string]>) {
      const value = fields[name]
      if (type === "bytes") out[name] = hex(value as string)
      else if (type === "list") out[name] = (value as ReadonlyArray<string>).map(hex)
      else if (type === "u64") out[name] = String(value)
      else if (type === "ref") {
        const r = value as NamespaceRef
        out[name] = {
          _tag: r._tag,
          ...(r._tag === "Pid" ? { pid: r.pid } : {}),
          ...(r._tag === "Path" ? { path: hex(r.path) } : {}),
        }
      } else out[name] = value
    }
    return out
  }),
})
/** The addon's JSON, with the same fields kept. */
const fromAddon = (json: string) => {
  const raw = JSON.parse(json) as {
    in: { _tag: string; pid: number; path: string }
    rollback: boolean
    ops: Array<Record<string, unknown>>
  }
  return {
    in: {
      _tag: raw.in._tag,
      ...(raw.in._tag === "Pid" ? { pid: raw.in.pid } : {}),
      ...(raw.in._tag === "Path" ? { path: raw.in.path } : {}),
    },
    rollback: raw.rollback,
    ops: raw.ops.map((op) => {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(op)) {
        const r = v as { _tag?: string; pid?: number; path?: string }
        out[k] =
          isObj(v) && r._tag !== undefined
            ? {
                _tag: r._tag,
                ...(r._tag === "Pid" ? { pid: r.pid } : {}),
                ...(r._tag === "Path" ? { path: r.path } : {}),
              }
            : v
      }
      return out
    }),
  }
}
const bytesArb = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.uint8Array({ maxLength: 10 }).map((b) => new Uint8Array(b)),
)
const { batch: batchArb } = batchArbitraries({
  path: bytesArb,
  text: bytesArb,
  superFlag: fc.string({ maxLength: 6 }),
  listLength: 3,
  pid: fc.integer({ min: 1, max: 0xffffffff }),
  maxOps: 4,
  watch: false,
})

/** The addon refuses what the kernel could not take: NUL bytes in strings, empty targets. */
const addonTakes = (b: Batch): boolean => {
  const strings: Array<string | Uint8Array> = []
  const empty = (v: string | Uint8Array) => Buffer.from(v).length === 0
  if (b.in._tag === "Path") {
    if (empty(b.in.path)) return false
    strings.push(b.in.path)
  }
  for (const op of b.ops) {
    const fields = op as unknown as Record<string, unknown>
    const target = op._tag === "PivotRoot" ? op.newRoot : op._tag === "Watch" ? "w" : op.target
    if (empty(target)) return false
    for (const [name, type] of opLayouts[op._tag] as ReadonlyArray<readonly [string, string]>) {
      const value = fields[name]
      if (type === "bytes") strings.push(value as string)
      else if (type === "list") strings.push(...(value as Array<string>))
      else if (type === "ref" && (value as NamespaceRef)._tag === "Path")
        strings.push((value as { path: string }).path)
    }
  }
  return strings.every((s) => !Buffer.from(s).includes(0))
}

const mutate = (bytes: Uint8Array) =>
  fc.oneof(
    fc.nat(bytes.length).map((n) => bytes.slice(0, n)),
    fc
      .tuple(fc.nat(Math.max(0, bytes.length - 1)), fc.integer({ min: 0, max: 255 }))
      .map(([i, v]) => {
        const copy = bytes.slice()
        if (copy.length > 0) copy[i] = v
        return copy
      }),
    fc
      .uint8Array({ minLength: 1, maxLength: 6 })
      .map((extra) => new Uint8Array(Buffer.concat([bytes, extra]))),
    fc.tuple(fc.nat(Math.max(0, bytes.length - 4)), u32).map(([i, v]) => {
      const copy = Buffer.from(bytes)
      if (copy.length >= 4) copy.writeUInt32LE(v, Math.min(i, copy.length - 4))
      return new Uint8Array(copy)
    }),
  )

// Outcomes as the worker writes them, and as decodeOutcomes must read them.
type OutcomeValue =
  | { readonly _tag: "Done"; readonly uniqueId: bigint; readonly handle: number }
  | {
      readonly _tag: "Failed"
      readonly stage: (typeof stages)[number]
      readonly errno: number
      readonly subject: (typeof subjects)[number]
      readonly message: string
    }
  | { readonly _tag: "Skipped" }
type UndoValue = {
  readonly index: number
  readonly result:
    | { readonly _tag: "Undone" }
    | {
        readonly _tag: "Failed"
        readonly stage: (typeof stages)[number]
        readonly errno: number
        readonly subject: "target"
        readonly message: string
      }
    | { readonly _tag: "Impossible"; readonly reason: string }
}
interface Report {
  readonly outcomes: ReadonlyArray<OutcomeValue>
  readonly undo: ReadonlyArray<UndoValue>
  readonly retired: boolean
  readonly refused: boolean
}

const writeReport = (r: Report): Uint8Array => {
  const w = new Writer()
    .u32(0x314f584c)
    .u32(r.outcomes.length)
    .u8(r.retired ? 1 : 0)
    .u8(r.refused ? 1 : 0)
    .u16(0)
  for (const o of r.outcomes) {
    const failed = o._tag === "Failed" ? o : undefined
    w.u8(o._tag === "Done" ? 0 : o._tag === "Failed" ? 1 : 2)
      .u8(failed ? stages.indexOf(failed.stage) : 0)
      .u16(failed ? subjects.indexOf(failed.subject) : 0)
      .i32(failed ? failed.errno : 0)
      .u64(o._tag === "Done" ? o.uniqueId : 0n)
      .i32(o._tag === "Done" ? o.handle : -1)
      .bytes(failed ? failed.message : "")
  }
  w.u32(r.undo.length)
  for (const u of r.undo) {
    const res = u.result
    w.u32(u.index)
      .u8(res._tag === "Undone" ? 0 : res._tag === "Failed" ? 1 : 2)
      .u8(res._tag === "Failed" ? stages.indexOf(res.stage) : 0)
      .u16(0)
      .i32(res._tag === "Failed" ? res.errno : 0)
      .bytes(res._tag === "Failed" ? res.message : res._tag === "Impossible" ? res.reason : "")
  }
  return w.done()
}

const stageArb = fc.constantFrom(...stages)
const errnoArb = fc.oneof(
  fc.integer({ min: 1, max: 133 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
)
const outcomeArb: fc.Arbitrary<OutcomeValue> = fc.oneof(
  fc.record({
    _tag: fc.constant("Done" as const),
    uniqueId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    handle: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  }),
  fc.record({
    _tag: fc.constant("Failed" as const),
    stage: stageArb,
    errno: errnoArb,
    subject: fc.constantFrom(...subjects),
    message: fc.string({ maxLength: 12 }),
  }),
  fc.constant({ _tag: "Skipped" } as const),
)
const undoArb: fc.Arbitrary<UndoValue> = fc.record({
  index: u32,
  result: fc.oneof(
    fc.constant({ _tag: "Undone" } as const),
    fc.record({
      _tag: fc.constant("Failed" as const),
      stage: stageArb,
      errno: errnoArb,
      subject: fc.constant("target" as const),
      message: fc.string({ maxLength: 8 }),
    }),
    fc.record({ _tag: fc.constant("Impossible" as const), reason: fc.string({ maxLength: 8 }) }),
  ),
})
const reportArb: fc.Arbitrary<Report> = fc.record({
  outcomes: fc.array(outcomeArb, { maxLength: 5 }),
  undo: fc.array(undoArb, { maxLength: 3 }),
  retired: fc.boolean(),
  refused: fc.boolean(),
})
const isBatchOutcome = Schema.is(BatchOutcome)

describe("fuzz: the wire", () => {
  it(`encodeBatch writes the documented format, and the addon reads back every field (${runs} runs)`, () => {
    properties++
    let taken = 0
    fc.assert(
      fc.property(counted(batchArb), (batch) => {
        const bytes = encodeBatch(batch)
        expect(Buffer.from(bytes).equals(Buffer.from(writeBatch(batch)))).toBe(true)
        expect(described(decodeBatch(bytes))).toEqual(described(batch))
        if (addonTakes(batch)) {
          taken++
          expect(fromAddon(native().describeBatch(bytes))).toEqual(described(batch))
        } else {
          expect(() => native().describeBatch(bytes)).toThrow(TypeError)
        }
      }),
      { numRuns: runs },
    )
    expect(taken).toBeGreaterThan(0)
  })

  it(`any mutation of a batch: the addon refuses it (TypeError) or reads what TypeScript reads (${runs} runs)`, () => {
    properties++
    fc.assert(
      fc.property(counted(batchArb.chain((b) => mutate(encodeBatch(b)))), (bytes) => {
        let json: string
        try {
          json = native().describeBatch(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError)
          return
        }
        // What the addon takes, the TypeScript reader takes the same way.
        expect(fromAddon(json)).toEqual(described(decodeBatch(bytes)))
      }),
      { numRuns: runs },
    )
  })

  it(`outcomes written in the documented format decode to what was written (${runs} runs)`, () => {
    properties++
    fc.assert(
      fc.property(counted(reportArb), (report) => {
        const bytes = writeReport(report)
        expect(decodeOutcomes(bytes, report.outcomes.length)).toEqual(report)
        // For another number of operations it is no report at all.
        expect(decodeOutcomes(bytes, report.outcomes.length + 1)).toBeUndefined()
      }),
      { numRuns: runs },
    )
  })

  it(`any value at all decodes to an outcome of the schema, or is refused, never a throw (${runs} runs)`, () => {
    properties++
    const values = fc.oneof(
      anything,
      fc.uint8Array({ maxLength: 40 }),
      reportArb.chain((r) => fc.tuple(mutate(writeReport(r)), fc.constant(r.outcomes.length))),
    )
    fc.assert(
      fc.property(counted(values), (value) => {
        const [data, count] =
          Array.isArray(value) && value.length === 2 && value[0] instanceof Uint8Array
            ? (value as [Uint8Array, number])
            : [value, 1]
        const decoded = decodeOutcomes(data, count)
        if (decoded !== undefined) {
          expect(isBatchOutcome(decoded)).toBe(true)
          expect(decoded.outcomes).toHaveLength(count)
        }
      }),
      { numRuns: runs },
    )
  })
})

describe.skipIf(!privileged)("fuzz: through the addon and a real pool", () => {
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

  it(`runBatch, on a worker thread: a batch with one malformed part throws a TypeError and runs none of its ops (${runs} runs)`, async () => {
    properties++
    const probe = `${base}/probe`
    mkdirSync(probe)
    // A valid op that would leave a trace: a tmpfs on the probe directory.
    const probeOp: Op = {
      _tag: "Mount",
      source: "linx-fuzz-probe",
      target: probe,
      fstype: "tmpfs",
      superFlags: [],
      options: [],
      attributes: 0,
      create: false,
      pidNamespace: { _tag: "None" },
    }
    const worker = new Worker(new URL("./fixtures/run-batch.mjs", import.meta.url))
    const runBatch = (bytes: Uint8Array) =>
      new Promise<{ threw?: string; returned?: Uint8Array }>((resolve) => {
        worker.once("message", resolve)
        worker.postMessage(bytes)
      })
    const header = (w: Writer, ns = 0, pid = 0, path: string | Uint8Array = "", count = 2) =>
      w.u32(0x3142584c).u8(ns).u8(0).u16(0).u32(pid).bytes(path).u32(count)
    // Each corruption: the bytes of a batch [probe, bad] or [bad, probe] where exactly one part
    // is malformed.
    const corrupt = fc.oneof(
      fc
        .integer({ min: opKinds.length, max: 255 })
        .map((kind) => ({ what: `op kind ${kind}`, bad: new Writer().u8(kind).done() })),
      fc.constantFrom(...(["source", "target", "fstype"] as const)).map((field) => {
        const w = new Writer()
        writeOp(w, { ...probeOp, [field]: `${probe}\0x` })
        return { what: `NUL in ${field}`, bad: w.done() }
      }),
      fc.constant(null).map(() => {
        const w = new Writer()
        writeOp(w, { _tag: "Umount", target: "", flags: 0, uniqueId: 0n })
        return { what: "an empty target", bad: w.done() }
      }),
      u32
        .filter((n) => n > 64)
        .map((n) => {
          // A Mount op whose option list claims more entries than the data holds.
          const w = new Writer().u8(0).bytes("x").bytes(probe).bytes("tmpfs").u32(0).u32(n)
          return { what: `an option count of ${n}`, bad: w.done() }
        }),
      fc.integer({ min: 5, max: 255 }).map((kind) => {
        const w = new Writer()
          .u8(0)
          .bytes("x")
          .bytes(probe)
          .bytes("proc")
          .u32(0)
          .u32(0)
          .u32(0)
          .u8(0)
        w.u8(kind).u32(0).bytes("")
        return { what: `namespace reference kind ${kind}`, bad: w.done() }
      }),
      fc.nat(40).map((cut) => {
        const w = new Writer()
        writeOp(w, { ...probeOp, target: `${probe}/a-longer-target-name` })
        const full = w.done()
        // Cut short, and last: nothing after it could be read as its missing part.
        return {
          what: `an op cut at ${cut}`,
          bad: full.slice(0, Math.min(cut, full.length - 1)),
          last: true,
        }
      }),
    )
    const batches = fc.oneof(
      fc.tuple(corrupt, fc.boolean()).map(([corruption, probeFirst]) => {
        const { what, bad } = corruption
        const w = header(new Writer())
        const good = new Writer()
        writeOp(good, probeOp)
        if (probeFirst || "last" in corruption) w.raw(good.done()).raw(bad)
        else w.raw(bad).raw(good.done())
        return { what, bytes: w.done() }
      }),
      fc
        .constantFrom(
          [
            "bad magic",
            (w: Writer) => w.u32(0x3142584d).u8(0).u8(0).u16(0).u32(0).bytes("").u32(1),
          ],
          ["namespace kind 3", (w: Writer) => header(w, 3, 0, "", 1)],
          ["a pid namespace with pid 0", (w: Writer) => header(w, 1, 0, "", 1)],
          ["a path namespace with no path", (w: Writer) => header(w, 2, 0, "", 1)],
          ["a NUL in the namespace path", (w: Writer) => header(w, 2, 0, "/proc/self/ns/\0mnt", 1)],
          ["two ops announced, one given", (w: Writer) => header(w, 0, 0, "", 2)],
        )
        .map(([what, write]) => {
          const w = write(new Writer())
          writeOp(w, probeOp)
          return { what, bytes: w.done() }
        }),
      fc.uint8Array({ minLength: 1, maxLength: 6 }).map((extra) => {
        const w = header(new Writer(), 0, 0, "", 1)
        writeOp(w, probeOp)
        return { what: "trailing bytes", bytes: w.raw(extra).done() }
      }),
    )
    try {
      await fc.assert(
        fc.asyncProperty(counted(batches), async ({ what, bytes }) => {
          const result = await runBatch(bytes)
          expect(result.threw, what).toBe("TypeError")
          expect(readFileSync("/proc/self/mountinfo", "utf8"), what).not.toContain(probe)
        }),
        { numRuns: runs },
      )
      // And the same thread still runs a good batch: the probe, then gone again.
      const good = new Writer()
      header(good, 0, 0, "", 2)
      writeOp(good, probeOp)
      writeOp(good, { _tag: "Umount", target: probe, flags: 0, uniqueId: 0n })
      const result = await runBatch(good.done())
      expect(decodeOutcomes(result.returned, 2)?.outcomes.map((o) => o._tag)).toEqual([
        "Done",
        "Done",
      ])
    } finally {
      await worker.terminate()
    }
  })

  it("whatever a worker hands back, every request settles typed: Done, its MountError, or thread/ECANCELED (300 runs)", async () => {
    properties++
    const run = effectRunner(runtime)
    const reply = fc.oneof(
      // A report in the documented format, for our one op or for another count. (Never
      // `refused`: it would be tried again forever, as the same reply comes back each time;
      // test/faults.test.ts checks a refusal once.)
      fc.tuple(reportArb, fc.integer({ min: 0, max: 2 })).map(([r, extra]) => {
        const outcomes = r.outcomes.length === 0 ? [{ _tag: "Skipped" } as const] : r.outcomes
        const report = {
          ...r,
          refused: false,
          outcomes: extra === 0 ? outcomes.slice(0, 1) : outcomes,
        }
        return { report, bytes: writeReport(report) }
      }),
      reportArb.chain((r) =>
        mutate(writeReport({ ...r, refused: false })).map((mutated) => {
          // A mutation must not say "refused" either.
          const bytes = mutated.slice()
          if (bytes.length > 9) bytes[9] = 0
          return { report: undefined, bytes: bytes as unknown }
        }),
      ),
      fc
        .jsonValue({ maxDepth: 2 })
        .map((value) => ({ report: undefined, bytes: value as unknown })),
      fc
        .uint8Array({ maxLength: 32 })
        .map((bytes) => ({ report: undefined, bytes: bytes as unknown })),
    )
    await fc.assert(
      fc.asyncProperty(counted(reply), async ({ report, bytes }) => {
        const path = hook.reply(bytes)
        const settled = await run(Mount.umount(path)).then(
          () => "done",
          (e: unknown) => e,
        )
        // The model: a report for exactly our one op counts (what it says is the outcome);
        // anything else — another count, bytes that are no report — means the outcome is
        // unknown. A mutated report that still reads as one says what the decoder (checked
        // against the format above) reads.
        const ours: OutcomeValue | undefined =
          report !== undefined
            ? report.outcomes.length === 1
              ? report.outcomes[0]
              : undefined
            : bytes instanceof Uint8Array
              ? decodeOutcomes(bytes, 1)?.outcomes[0]
              : undefined
        if (ours === undefined || ours._tag === "Skipped") {
          expect(settled).toBeInstanceOf(MountError)
          expect(settled).toMatchObject({ operation: "thread", code: "ECANCELED", path })
        } else if (ours._tag === "Done") {
          expect(settled).toBe("done")
        } else {
          expect(settled).toBeInstanceOf(MountError)
          const error = settled as MountError
          expect(error).toMatchObject({
            operation: ours.stage,
            errno: ours.errno,
            code: errnoName(ours.errno),
            subject: ours.subject,
            // Which path the subject names: ours, or the namespace file of "self".
            path:
              ours.subject === "target" || ours.subject === "source" ? path : "/proc/self/ns/mnt",
          })
          expect(error.detail).toBe(ours.message === "" ? undefined : ours.message)
          expect(typeof error.message).toBe("string")
        }
      }),
      { numRuns: 300 },
    )
  })
})
