/**
 * The requests the public API hands to the addon's threads: one schema per kind, already
 * validated and normalised on the main thread (flags as integers, paths absolute or
 * namespace-relative, the namespace named). The addon reads exactly these fields
 * (`src/internal/nativeOp.ts` maps them) and checks their types again on its side.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const Flags = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * Which mount namespace a request runs in.
 *
 * @since 0.1.0
 * @category models
 */
export const Namespace = Schema.Union([
  Schema.TaggedStruct("Self", {}),
  Schema.TaggedStruct("Pid", { pid: Schema.Int.check(Schema.isGreaterThan(0)) }),
  Schema.TaggedStruct("Path", { path: Schema.String }),
])

/**
 * @since 0.1.0
 * @category models
 */
export type Namespace = typeof Namespace.Type

/**
 * mount(2), and everything built on it: bind, remount, move, propagation changes.
 *
 * @since 0.1.0
 * @category models
 */
export const MountRequest = Schema.TaggedStruct("Mount", {
  source: Schema.String,
  target: Schema.String,
  fstype: Schema.String,
  flags: Flags,
  data: Schema.String,
  /** Create an empty placeholder file at target first, inside the namespace. */
  create: Schema.Boolean,
  /** Per-mount flags for the MS_REMOUNT|MS_BIND follow-up of a bind; 0 for none. */
  remountFlags: Flags,
  /** Mount from inside the target pid's PID namespace too (proc). */
  pidns: Schema.Boolean,
  /** A bind whose source is looked up in the caller's namespace, not in `in`. */
  sourceFromCaller: Schema.optional(Schema.Boolean),
  in: Namespace,
})

/**
 * umount2(2).
 *
 * @since 0.1.0
 * @category models
 */
export const UmountRequest = Schema.TaggedStruct("Umount", {
  target: Schema.String,
  flags: Flags,
  in: Namespace,
})

/**
 * pivot_root(2).
 *
 * @since 0.1.0
 * @category models
 */
export const PivotRootRequest = Schema.TaggedStruct("PivotRoot", {
  newRoot: Schema.String,
  putOld: Schema.String,
  in: Namespace,
})

/**
 * @since 0.1.0
 * @category models
 */
export const Request = Schema.Union([MountRequest, UmountRequest, PivotRootRequest])

/**
 * @since 0.1.0
 * @category models
 */
export type Request = typeof Request.Type

/**
 * One hand-off to a native thread: several requests, run in order.
 *
 * @since 0.1.0
 * @category models
 */
export const Batch = Schema.Array(Request)

/**
 * @since 0.1.0
 * @category codecs
 */
export const decodeBatch = Schema.decodeUnknownSync(Batch)
