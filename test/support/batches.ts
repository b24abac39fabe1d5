/**
 * Generators of batches (protocol/Request.ts) for the tests of the wire: one tree of every
 * op and namespace, so that a new op or field is generated everywhere at once. Each test
 * chooses the leaves: which paths and strings, how long the lists, which pids.
 */
import * as fc from "fast-check"
import type { Batch, Bytes, Namespace, NamespaceRef, Op } from "../../protocol/Request.js"

export const u32 = fc.integer({ min: 0, max: 0xffffffff })

export interface Leaves {
  /** Every path field: targets, sources of binds and moves, option words, namespace paths. */
  readonly path: fc.Arbitrary<Bytes>
  /** A new filesystem's source and type. */
  readonly text: fc.Arbitrary<Bytes>
  /** One superblock flag word. */
  readonly superFlag: fc.Arbitrary<string>
  /** The most words in a superFlags or options list. */
  readonly listLength: number
  readonly pid: fc.Arbitrary<number>
  /** The most ops in a batch. */
  readonly maxOps: number
  /** Whether a batch may hold the Watch op. */
  readonly watch: boolean
}

export const batchArbitraries = (leaves: Leaves) => {
  const { path, text, pid } = leaves
  const superFlags = fc.array(leaves.superFlag, { maxLength: leaves.listLength })
  const options = fc.array(path, { maxLength: leaves.listLength })
  const ref: fc.Arbitrary<NamespaceRef> = fc.oneof(
    fc.constant({ _tag: "None" } as const),
    fc.constant({ _tag: "Own" } as const),
    fc.constant({ _tag: "Target" } as const),
    pid.map((p) => ({ _tag: "Pid", pid: p }) as const),
    path.map((p) => ({ _tag: "Path", path: p }) as const),
  )
  const ops: Array<fc.Arbitrary<Op>> = [
    fc.record({
      _tag: fc.constant("Mount" as const),
      source: text,
      target: path,
      fstype: text,
      superFlags,
      options,
      attributes: u32,
      create: fc.boolean(),
      pidNamespace: ref,
    }),
    fc.record({
      _tag: fc.constant("Bind" as const),
      source: path,
      target: path,
      recursive: fc.boolean(),
      attrSet: u32,
      attrClear: u32,
      create: fc.boolean(),
      sourceAtHome: fc.boolean(),
      idmap: ref,
    }),
    fc.record({
      _tag: fc.constant("Remount" as const),
      target: path,
      reconfigure: fc.boolean(),
      superFlags,
      options,
      attrSet: u32,
      attrClear: u32,
    }),
    fc.record({ _tag: fc.constant("Move" as const), source: path, target: path }),
    fc.record({
      _tag: fc.constant("Umount" as const),
      target: path,
      flags: u32,
      uniqueId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    }),
    fc.record({ _tag: fc.constant("PivotRoot" as const), newRoot: path, putOld: path }),
    fc.record({
      _tag: fc.constant("SetAttributes" as const),
      target: path,
      attrSet: u32,
      attrClear: u32,
      propagation: u32,
      recursive: fc.boolean(),
    }),
  ]
  if (leaves.watch) ops.push(fc.constant({ _tag: "Watch" } as const))
  const op = fc.oneof(...ops)
  const ns: fc.Arbitrary<Namespace> = fc.oneof(
    fc.constant({ _tag: "Self" } as const),
    pid.map((p) => ({ _tag: "Pid", pid: p }) as const),
    path.map((p) => ({ _tag: "Path", path: p }) as const),
  )
  const batch: fc.Arbitrary<Batch> = fc.record({
    in: ns,
    rollback: fc.boolean(),
    ops: fc.array(op, { maxLength: leaves.maxOps }),
  })
  return { ref, op, batch }
}
