/**
 * The requests the public API sends to the worker threads: one schema per operation, every
 * argument already validated and normalised on the main thread (flags as integers, paths
 * absolute, the namespace named, the data string split into options). A batch is the unit
 * one worker runs: one namespace, entered once, its operations in order. `Codec` encodes a
 * batch compactly for the trip; the addon decodes exactly these fields.
 *
 * Paths are text (sent as UTF-8) or exact bytes (`Uint8Array`), so a name that is not UTF-8
 * can be given back to the kernel as it came.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const UInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Pid = Schema.Int.check(Schema.isGreaterThan(0))

/**
 * A path or name: text, or exact bytes.
 *
 * @since 0.1.0
 * @category models
 */
export const Bytes = Schema.Union([Schema.String, Schema.Uint8Array])

/**
 * @since 0.1.0
 * @category models
 */
export type Bytes = typeof Bytes.Type

/**
 * Which mount namespace a batch runs in.
 *
 * @since 0.1.0
 * @category models
 */
export const Namespace = Schema.Union([
  Schema.TaggedStruct("Self", {}),
  Schema.TaggedStruct("Pid", { pid: Pid }),
  Schema.TaggedStruct("Path", { path: Bytes }),
])

/**
 * @since 0.1.0
 * @category models
 */
export type Namespace = typeof Namespace.Type

/**
 * Another namespace an operation refers to besides the batch's own: the PID namespace a
 * proc filesystem belongs to, the user namespace of an idmapped bind. `None`: not used;
 * `Own`: this process's; `Target`: that of the batch's `{ pid }`; `Pid`: that of another
 * process; `Path`: a namespace file. Always opened before the worker leaves home.
 *
 * @since 0.1.0
 * @category models
 */
export const NamespaceRef = Schema.Union([
  Schema.TaggedStruct("None", {}),
  Schema.TaggedStruct("Own", {}),
  Schema.TaggedStruct("Target", {}),
  Schema.TaggedStruct("Pid", { pid: Pid }),
  Schema.TaggedStruct("Path", { path: Bytes }),
])

/**
 * @since 0.1.0
 * @category models
 */
export type NamespaceRef = typeof NamespaceRef.Type

/**
 * A new filesystem: fsopen(2) → fsconfig(2) (`source`, each of `options` split at its first
 * `=`, each of `superFlags`) → fsmount(2) with `attributes` → move_mount(2) onto `target`.
 * `pidNamespace` names the PID namespace a proc filesystem shows.
 *
 * @since 0.1.0
 * @category models
 */
export const MountOp = Schema.TaggedStruct("Mount", {
  source: Bytes,
  target: Bytes,
  fstype: Bytes,
  superFlags: Schema.Array(Schema.String),
  options: Schema.Array(Bytes),
  attributes: UInt,
  /** Make the mount point first (a directory) when nothing is there. */
  create: Schema.Boolean,
  pidNamespace: NamespaceRef,
})

/**
 * A bind: open_tree(2) copies `source` (with its submounts when `recursive`), mount_setattr(2)
 * sets the attributes on the copy, move_mount(2) attaches it: no writable instant, one
 * lookup of each path. `sourceAtHome`: the source is looked up in this process's namespace,
 * before the worker leaves it.
 *
 * @since 0.1.0
 * @category models
 */
export const BindOp = Schema.TaggedStruct("Bind", {
  source: Bytes,
  target: Bytes,
  recursive: Schema.Boolean,
  attrSet: UInt,
  attrClear: UInt,
  /** Make the mount point first when nothing is there: a directory, or a file for a file. */
  create: Schema.Boolean,
  sourceAtHome: Schema.Boolean,
  idmap: NamespaceRef,
})

/**
 * A remount, mount(2)-exact: `reconfigure` reconfigures the filesystem (fspick(2), the
 * `superFlags` and `options`, FSCONFIG_CMD_RECONFIGURE), then mount_setattr(2) sets and
 * clears the mount's own attributes as MS_REMOUNT would have.
 *
 * @since 0.1.0
 * @category models
 */
export const RemountOp = Schema.TaggedStruct("Remount", {
  target: Bytes,
  reconfigure: Schema.Boolean,
  superFlags: Schema.Array(Schema.String),
  options: Schema.Array(Bytes),
  attrSet: UInt,
  attrClear: UInt,
})

/**
 * @since 0.1.0
 * @category models
 */
export const MoveOp = Schema.TaggedStruct("Move", { source: Bytes, target: Bytes })

/**
 * umount2(2). `uniqueId` non-zero: only if the mount there is still that one (a scoped
 * mount's release).
 *
 * @since 0.1.0
 * @category models
 */
export const UmountOp = Schema.TaggedStruct("Umount", {
  target: Bytes,
  flags: UInt,
  uniqueId: Schema.BigInt,
})

/**
 * @since 0.1.0
 * @category models
 */
export const PivotRootOp = Schema.TaggedStruct("PivotRoot", { newRoot: Bytes, putOld: Bytes })

/**
 * mount_setattr(2): attributes set and cleared, and a propagation type (an `MS_*` value, 0
 * for unchanged), on one mount or a whole tree.
 *
 * @since 0.1.0
 * @category models
 */
export const SetAttributesOp = Schema.TaggedStruct("SetAttributes", {
  target: Bytes,
  attrSet: UInt,
  attrClear: UInt,
  propagation: UInt,
  recursive: Schema.Boolean,
})

/**
 * Sets up a watch of the batch's namespace: a fanotify group marked for its mount events
 * (`FAN_MARK_MNTNS`), made at home from the namespace file the batch opened. Its outcome
 * hands over the group's descriptor (`handle`: descriptors are process-wide) and the
 * namespace's id (`uniqueId`).
 *
 * @since 0.1.0
 * @category models
 */
export const WatchOp = Schema.TaggedStruct("Watch", {})

/**
 * @since 0.1.0
 * @category models
 */
export const Op = Schema.Union([
  MountOp,
  BindOp,
  RemountOp,
  MoveOp,
  UmountOp,
  PivotRootOp,
  SetAttributesOp,
  WatchOp,
])

/**
 * @since 0.1.0
 * @category models
 */
export type Op = typeof Op.Type

/**
 * One task for one worker. `rollback`: the operations belong together — the first failure
 * stops the batch and undoes what was done, in reverse; otherwise each runs on its own.
 *
 * @since 0.1.0
 * @category models
 */
export const Batch = Schema.Struct({
  in: Namespace,
  rollback: Schema.Boolean,
  ops: Schema.Array(Op),
})

/**
 * @since 0.1.0
 * @category models
 */
export type Batch = typeof Batch.Type
