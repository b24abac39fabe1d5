/**
 * The wire form of a batch and of its outcomes: little-endian, length-prefixed, one field
 * after another in the order of `opLayouts`. Measured on this design's predecessor, a flat
 * encoding costs the main thread about a fifth of what plain objects cost through a worker
 * port, and bytes carry names that are not UTF-8 exactly. The addon's reader (native/wire.h)
 * follows the same tables; `describeBatch` in the addon and `decodeBatch` here let
 * `test/protocol.test.ts` check that both read every field alike.
 *
 * Batch: "LXB1", u8 namespace kind (0 self, 1 pid, 2 path), u8 rollback, u16 0, u32 pid,
 * bytes namespace path, u32 count, then each op: u8 kind (its index in `opKinds`), its fields.
 * Field types: `bytes` (u32 length + bytes), `u32`, `u64`, `bool` (u8), `list` (u32 count +
 * bytes each), `ref` (u8 kind: None Own Target Pid Path, u32 pid, bytes path).
 *
 * Outcomes: "LXO1", u32 count, u8 retired, u8 refused, u16 0, then per op u8 status (0 done,
 * 1 failed, 2 skipped), u8 stage, u16 subject (the path it is about: an index into
 * `subjects`), i32 errno, u64 unique id, i32 handle, bytes message; then u32
 * undo count and per undo u32 index, u8 status (0 undone, 1 failed, 2 impossible), u8 stage,
 * u16 0, i32 errno, bytes text.
 *
 * @since 0.1.0
 */
import { type BatchOutcome, type Outcome, subjects, type Undo } from "./Outcome.js"
import type { Batch, Bytes, NamespaceRef, Op } from "./Request.js"
import { stages } from "./Stage.js"

/**
 * @since 0.1.0
 * @category wire
 */
export const batchMagic = 0x3142584c // "LXB1"

/**
 * @since 0.1.0
 * @category wire
 */
export const outcomeMagic = 0x314f584c // "LXO1"

/**
 * @since 0.1.0
 * @category wire
 */
export type FieldType = "bytes" | "u32" | "u64" | "bool" | "list" | "ref"

/**
 * The operation kinds, in the order of their wire numbers.
 *
 * @since 0.1.0
 * @category wire
 */
export const opKinds = [
  "Mount",
  "Bind",
  "Remount",
  "Move",
  "Umount",
  "PivotRoot",
  "SetAttributes",
  "Watch",
] as const satisfies ReadonlyArray<Op["_tag"]>

type Layout<K extends Op["_tag"]> = ReadonlyArray<
  readonly [Exclude<keyof Extract<Op, { _tag: K }>, "_tag">, FieldType]
>

/**
 * Each kind's fields, in wire order.
 *
 * @since 0.1.0
 * @category wire
 */
export const opLayouts: { readonly [K in Op["_tag"]]: Layout<K> } = {
  Mount: [
    ["source", "bytes"],
    ["target", "bytes"],
    ["fstype", "bytes"],
    ["superFlags", "list"],
    ["options", "list"],
    ["attributes", "u32"],
    ["create", "bool"],
    ["pidNamespace", "ref"],
  ],
  Bind: [
    ["source", "bytes"],
    ["target", "bytes"],
    ["recursive", "bool"],
    ["attrSet", "u32"],
    ["attrClear", "u32"],
    ["create", "bool"],
    ["sourceAtHome", "bool"],
    ["idmap", "ref"],
  ],
  Remount: [
    ["target", "bytes"],
    ["reconfigure", "bool"],
    ["superFlags", "list"],
    ["options", "list"],
    ["attrSet", "u32"],
    ["attrClear", "u32"],
  ],
  Move: [
    ["source", "bytes"],
    ["target", "bytes"],
  ],
  Umount: [
    ["target", "bytes"],
    ["flags", "u32"],
    ["uniqueId", "u64"],
  ],
  PivotRoot: [
    ["newRoot", "bytes"],
    ["putOld", "bytes"],
  ],
  SetAttributes: [
    ["target", "bytes"],
    ["attrSet", "u32"],
    ["attrClear", "u32"],
    ["propagation", "u32"],
    ["recursive", "bool"],
  ],
  Watch: [],
}

const refKinds = ["None", "Own", "Target", "Pid", "Path"] as const
const namespaceKinds = ["Self", "Pid", "Path"] as const

// One growable buffer, reused by every encode on this thread (the result is copied out).
let scratch = Buffer.allocUnsafe(64 * 1024)
let pos = 0

const ensure = (n: number): void => {
  if (pos + n <= scratch.length) return
  let size = scratch.length * 2
  while (size < pos + n) size *= 2
  const grown = Buffer.allocUnsafe(size)
  scratch.copy(grown, 0, 0, pos)
  scratch = grown
}
const u8 = (v: number): void => {
  ensure(1)
  scratch[pos++] = v
}
const u32 = (v: number): void => {
  ensure(4)
  scratch.writeUInt32LE(v >>> 0, pos)
  pos += 4
}
const u64 = (v: bigint): void => {
  ensure(8)
  scratch.writeBigUInt64LE(v, pos)
  pos += 8
}
const bytes = (v: Bytes): void => {
  if (typeof v === "string") {
    ensure(4 + v.length * 3)
    const n = v.length === 0 ? 0 : scratch.write(v, pos + 4, "utf8")
    scratch.writeUInt32LE(n, pos)
    pos += 4 + n
  } else {
    ensure(4 + v.byteLength)
    scratch.writeUInt32LE(v.byteLength, pos)
    scratch.set(v, pos + 4)
    pos += 4 + v.byteLength
  }
}
const ref = (v: NamespaceRef): void => {
  u8(refKinds.indexOf(v._tag))
  u32(v._tag === "Pid" ? v.pid : 0)
  bytes(v._tag === "Path" ? v.path : "")
}

const writeField = (type: FieldType, value: unknown): void => {
  switch (type) {
    case "bytes":
      bytes(value as Bytes)
      break
    case "u32":
      u32(value as number)
      break
    case "u64":
      u64(value as bigint)
      break
    case "bool":
      u8(value ? 1 : 0)
      break
    case "list": {
      const items = value as ReadonlyArray<Bytes>
      u32(items.length)
      for (const item of items) bytes(item)
      break
    }
    case "ref":
      ref(value as NamespaceRef)
      break
  }
}

/**
 * Encodes a batch for the trip to a worker (a fresh copy: the task may wait for a worker).
 *
 * @since 0.1.0
 * @category wire
 */
export const encodeBatch = (batch: Batch): Uint8Array => {
  pos = 0
  u32(batchMagic)
  u8(namespaceKinds.indexOf(batch.in._tag))
  u8(batch.rollback ? 1 : 0)
  u8(0)
  u8(0)
  u32(batch.in._tag === "Pid" ? batch.in.pid : 0)
  bytes(batch.in._tag === "Path" ? batch.in.path : "")
  u32(batch.ops.length)
  for (const op of batch.ops) {
    u8(opKinds.indexOf(op._tag))
    const layout = opLayouts[op._tag] as Layout<Op["_tag"]>
    const fields = op as unknown as Record<string, unknown>
    for (const [name, type] of layout) writeField(type, fields[name])
  }
  // A copy of exactly the bytes written: Buffer#slice would share the 64 KiB scratch, and a
  // worker port clones a view's whole buffer.
  return Uint8Array.prototype.slice.call(scratch, 0, pos)
}

/** A bounds-checked reader; any read past the end throws `RangeError`. */
class Reader {
  private at = 0
  private readonly view: Buffer
  constructor(data: Uint8Array) {
    this.view = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  }
  get done(): boolean {
    return this.at === this.view.length
  }
  u8(): number {
    return this.view.readUInt8(this.advance(1))
  }
  u32(): number {
    return this.view.readUInt32LE(this.advance(4))
  }
  i32(): number {
    return this.view.readInt32LE(this.advance(4))
  }
  u64(): bigint {
    return this.view.readBigUInt64LE(this.advance(8))
  }
  raw(): Buffer {
    const n = this.u32()
    const start = this.advance(n)
    return this.view.subarray(start, start + n)
  }
  text(): string {
    return this.raw().toString("utf8")
  }
  private advance(n: number): number {
    const start = this.at
    if (start + n > this.view.length) throw new RangeError("truncated")
    this.at += n
    return start
  }
}

const readRef = (r: Reader): NamespaceRef => {
  const kind = refKinds[r.u8()]
  const pid = r.u32()
  const path = Uint8Array.from(r.raw())
  switch (kind) {
    case "Pid":
      return { _tag: "Pid", pid }
    case "Path":
      return { _tag: "Path", path }
    case undefined:
      throw new RangeError("bad namespace reference")
    default:
      return { _tag: kind }
  }
}

const readField = (r: Reader, type: FieldType): unknown => {
  switch (type) {
    case "bytes":
      return Uint8Array.from(r.raw())
    case "u32":
      return r.u32()
    case "u64":
      return r.u64()
    case "bool":
      return r.u8() !== 0
    case "list": {
      const n = r.u32()
      return Array.from({ length: n }, () => Uint8Array.from(r.raw()))
    }
    case "ref":
      return readRef(r)
  }
}

/**
 * Decodes an encoded batch (paths come back as bytes); throws on malformed input. The
 * workers never need it — the addon reads the bytes — but the protocol tests do.
 *
 * @since 0.1.0
 * @category wire
 */
export const decodeBatch = (data: Uint8Array): Batch => {
  const r = new Reader(data)
  if (r.u32() !== batchMagic) throw new RangeError("not a batch")
  const nsKind = namespaceKinds[r.u8()]
  const rollback = r.u8() !== 0
  r.u8()
  r.u8()
  const pid = r.u32()
  const path = Uint8Array.from(r.raw())
  const count = r.u32()
  const ops: Array<Op> = []
  for (let i = 0; i < count; i++) {
    const kind = opKinds[r.u8()]
    if (kind === undefined) throw new RangeError("bad op kind")
    const op: Record<string, unknown> = { _tag: kind }
    for (const [name, type] of opLayouts[kind] as Layout<Op["_tag"]>) {
      op[name] = readField(r, type)
    }
    ops.push(op as unknown as Op)
  }
  if (!r.done) throw new RangeError("trailing bytes")
  const ns =
    nsKind === "Pid"
      ? ({ _tag: "Pid", pid } as const)
      : nsKind === "Path"
        ? ({ _tag: "Path", path } as const)
        : ({ _tag: "Self" } as const)
  if (nsKind === undefined) throw new RangeError("bad namespace kind")
  return { in: ns, rollback, ops }
}

const stageAt = (r: Reader) => {
  const stage = stages[r.u8()]
  if (stage === undefined) throw new RangeError("unknown stage")
  return stage
}

/**
 * Decodes a worker's report on a batch of `count` operations; `undefined` for anything that
 * is not one (a lost or garbled reply), so that every caller still settles, typed.
 *
 * @since 0.1.0
 * @category wire
 */
export const decodeOutcomes = (data: unknown, count: number): BatchOutcome | undefined => {
  if (!(data instanceof Uint8Array)) return undefined
  try {
    const r = new Reader(data)
    if (r.u32() !== outcomeMagic || r.u32() !== count) return undefined
    const retired = r.u8() !== 0
    const refused = r.u8() !== 0
    r.u8()
    r.u8()
    const outcomes: Array<Outcome> = []
    for (let i = 0; i < count; i++) {
      const status = r.u8()
      const stage = stageAt(r)
      const subject = subjects[r.u8()]
      r.u8()
      const errno = r.i32()
      const uniqueId = r.u64()
      const handle = r.i32()
      const message = r.text()
      if (subject === undefined) return undefined
      if (status === 0) outcomes.push({ _tag: "Done", uniqueId, handle })
      else if (status === 1) outcomes.push({ _tag: "Failed", stage, errno, subject, message })
      else if (status === 2) outcomes.push({ _tag: "Skipped" })
      else return undefined
    }
    const undo: Array<Undo> = []
    const undoCount = r.u32()
    for (let i = 0; i < undoCount; i++) {
      const index = r.u32()
      const status = r.u8()
      const stage = stageAt(r)
      r.u8()
      r.u8()
      const errno = r.i32()
      const text = r.text()
      if (status === 0) undo.push({ index, result: { _tag: "Undone" } })
      else if (status === 1)
        undo.push({
          index,
          result: { _tag: "Failed", stage, errno, subject: "target", message: text },
        })
      else if (status === 2) undo.push({ index, result: { _tag: "Impossible", reason: text } })
      else return undefined
    }
    if (!r.done) return undefined
    return { outcomes, undo, retired, refused }
  } catch {
    return undefined
  }
}
