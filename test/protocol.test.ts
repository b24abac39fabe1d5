/**
 * protocol/ is the one wire shape: these tests fail when the two sides drift apart — the
 * stage table and the addon's enum, the codec and the addon's reader (through the addon's
 * `describeBatch`, which says what it read), the flag tables and the addon's constants — and
 * when a reply that is not one could be taken for one.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeBatch, decodeOutcomes, encodeBatch, opKinds } from "../protocol/Codec.js"
import { attributeConstants, mountFlagConstants, umountFlagConstants } from "../protocol/Flags.js"
import type { Batch, Bytes, NamespaceRef, Op } from "../protocol/Request.js"
import { stages } from "../protocol/Stage.js"
import { native } from "../src/internal/native.js"
import { batchArbitraries } from "./support/batches.js"

const addon = native()

const hex = (b: Bytes): string =>
  Buffer.from(typeof b === "string" ? Buffer.from(b) : b).toString("hex")

// A decoded batch in the shape the addon's describeBatch prints: bytes in hex, every
// namespace with its pid and path, unique ids as decimal strings.
const normalise = (batch: Batch): unknown => {
  const ref = (r: NamespaceRef) => ({
    _tag: r._tag,
    pid: r._tag === "Pid" ? r.pid : 0,
    path: r._tag === "Path" ? hex(r.path) : "",
  })
  const op = (o: Op): Record<string, unknown> => {
    const out: Record<string, unknown> = { _tag: o._tag }
    for (const [key, value] of Object.entries(o)) {
      if (key === "_tag") continue
      if (typeof value === "string" || value instanceof Uint8Array) out[key] = hex(value)
      else if (typeof value === "bigint") out[key] = value.toString()
      else if (Array.isArray(value)) out[key] = value.map((v) => hex(v as Bytes))
      else if (typeof value === "object" && value !== null && "_tag" in value)
        out[key] = ref(value as NamespaceRef)
      else out[key] = value
    }
    return out
  }
  return {
    in: {
      _tag: batch.in._tag,
      pid: batch.in._tag === "Pid" ? batch.in.pid : 0,
      path: batch.in._tag === "Path" ? hex(batch.in.path) : "",
    },
    rollback: batch.rollback,
    ops: batch.ops.map(op),
  }
}

// Paths the addon would accept: non-empty, no NUL byte.
const path = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes("\0")),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).filter((b) => !b.includes(0)),
)
const text = fc.string({ maxLength: 20 }).filter((s) => !s.includes("\0"))
const { batch } = batchArbitraries({
  path,
  text,
  superFlag: text,
  listLength: 4,
  pid: fc.integer({ min: 1, max: 4_194_304 }),
  maxOps: 6,
  watch: true,
})

describe("the stage table", () => {
  it("is the addon's, name for name and in the same order", () => {
    expect([...addon.stages]).toEqual([...stages])
  })
})

describe("the flag tables", () => {
  it("name only constants the addon has", () => {
    for (const table of [mountFlagConstants, umountFlagConstants, attributeConstants]) {
      for (const constant of Object.values(table)) {
        expect(addon.constants[constant], constant).toEqual(expect.any(Number))
      }
    }
  })
})

describe("the batch codec", () => {
  it("is read by the addon exactly as protocol/ decodes it, for any batch", () => {
    fc.assert(
      fc.property(batch, (b) => {
        const bytes = encodeBatch(b)
        expect(JSON.parse(addon.describeBatch(bytes))).toEqual(normalise(decodeBatch(bytes)))
        expect(normalise(decodeBatch(bytes))).toEqual(normalise(b))
      }),
      { numRuns: 500 },
    )
  })

  it("numbers every kind of op", () => {
    expect([...opKinds].sort()).toEqual(
      ["Bind", "Mount", "Move", "PivotRoot", "Remount", "SetAttributes", "Umount", "Watch"].sort(),
    )
  })

  it("the addon refuses anything that is not a batch with a TypeError, never a crash", () => {
    const good = encodeBatch({
      in: { _tag: "Self" },
      rollback: false,
      ops: [{ _tag: "Move", source: "/a", target: "/b" }],
    })
    const broken = [
      new Uint8Array(0),
      good.subarray(0, good.length - 1), // truncated
      Buffer.concat([good, Buffer.from([0])]), // trailing byte
      Buffer.concat([good.subarray(0, 4), Buffer.from([9])]), // bad namespace kind
      encodeBatch({
        in: { _tag: "Self" },
        rollback: false,
        ops: [{ _tag: "Move", source: "/a\0b", target: "/b" }],
      }),
    ]
    for (const bytes of broken) {
      expect(() => addon.describeBatch(bytes)).toThrow(TypeError)
      expect(() => addon.runBatch(bytes)).toThrow(TypeError)
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          addon.describeBatch(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError)
        }
      }),
      { numRuns: 2000 },
    )
  })
})

describe("the outcome codec", () => {
  it("takes nothing but a well-formed report for that many ops: anything else is undefined", () => {
    fc.assert(
      fc.property(fc.anything(), fc.nat(8), (value, count) => {
        expect(decodeOutcomes(value, count)).toBeUndefined()
      }),
      { numRuns: 1000 },
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(4), (bytes, count) => {
        const decoded = decodeOutcomes(bytes, count)
        if (decoded !== undefined) expect(decoded.outcomes).toHaveLength(count)
      }),
      { numRuns: 2000 },
    )
  })
})
