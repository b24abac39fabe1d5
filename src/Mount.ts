/**
 * The mount verbs: read a mount table, and mount, bind, remount, move, unmount and
 * pivot_root, in this process's mount namespace or in any other (`in: { pid }` or
 * `in: { path }`).
 *
 * Arguments are validated and normalised on the calling thread — an `InvalidArgument`
 * means nothing was touched — and the syscalls run on the `Mounter`'s native threads, so
 * the event loop never blocks. A kernel refusal is a `MountError` naming the stage, the
 * path and the errno.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Mount, Mounter } from "linx-mount"
 *
 * const program = Effect.gen(function* () {
 *   yield* Mount.bind("/srv/data", "/mnt/data", { flags: ["ro"] })
 *   const table = yield* Mount.list()
 *   yield* Mount.umount("/mnt/data")
 * })
 * Effect.runPromise(program.pipe(Effect.provide(Mounter.layer())))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { type MountFlag, perMountFlags, type UmountFlag } from "../protocol/Flags.js"
import type { MountRequest, Namespace, Request } from "../protocol/Request.js"

type MountFields = typeof MountRequest.Type

import type { InvalidArgument } from "./InvalidArgument.js"
import * as Arguments from "./internal/arguments.js"
import type { MountError } from "./MountError.js"
import { Mounter } from "./Mounter.js"

export type { MountFlag, UmountFlag } from "../protocol/Flags.js"
export { type ListTarget, list } from "./internal/list.js"

/**
 * Which mount namespace an operation runs in: `"self"` (the default), the namespace of a
 * process (`{ pid }`, read from `/proc/<pid>/ns/mnt`), or a namespace file (`{ path }`).
 * With another namespace, every path is interpreted inside it and must be absolute.
 *
 * @since 0.1.0
 * @category models
 */
export type In = Arguments.In

/**
 * @since 0.1.0
 * @category models
 */
export interface MountOptions {
  readonly flags?: ReadonlyArray<MountFlag>
  /** Filesystem-specific options, e.g. `"size=64M,mode=755"`; at most one page. */
  readonly data?: string
  /** Create an empty file at `target` (inside the namespace) first if nothing is there. */
  readonly create?: boolean
  readonly in?: In
}

/**
 * @since 0.1.0
 * @category models
 */
export interface BindOptions extends MountOptions {
  /**
   * Where `source` is looked up. By default in the namespace of `in`, like mount(2) made
   * there. `"self"`: in this process's namespace — the way to bind a host directory into a
   * container that has already pivoted its root (the tree is copied here with
   * open_tree(2) and attached there with move_mount(2)).
   */
  readonly sourceIn?: "self"
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RemountOptions {
  readonly flags?: ReadonlyArray<MountFlag>
  readonly data?: string
  readonly in?: In
}

/**
 * @since 0.1.0
 * @category models
 */
export interface UmountOptions {
  readonly flags?: ReadonlyArray<UmountFlag>
  readonly in?: In
}

/**
 * @since 0.1.0
 * @category models
 */
export interface NamespaceOptions {
  readonly in?: In
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PropagationOptions {
  /** Apply to every mount below `target` too (`--make-r*` in mount(8)). */
  readonly recursive?: boolean
  readonly in?: In
}

type Result = Effect.Effect<void, MountError | InvalidArgument, Mounter>

const self: Namespace = { _tag: "Self" }

// Validates and builds the request in one step (see Arguments.validated), then hands it to
// the Mounter: every verb is this, with its own `build`.
const submit = Effect.fnUntraced(function* (build: () => Request) {
  const request = yield* Arguments.validated(build)
  const mounter = yield* Mounter
  return yield* mounter.submit(request)
})

// A mount(2) request; what a verb leaves out is NULL or 0 for the kernel, and no follow-up.
const mountRequest = (
  fields: Pick<MountFields, "target" | "flags" | "in"> & Partial<MountFields>,
): Request => ({
  _tag: "Mount",
  source: "",
  fstype: "",
  data: "",
  create: false,
  remountFlags: 0,
  pidns: false,
  ...fields,
})

// The options object, its keys, and the namespace it names (thrown like every check: see
// Arguments.validated).
const common = (rawOptions: unknown, known: ReadonlyArray<string>) => {
  const options = Arguments.options(rawOptions)
  Arguments.knownKeys(options, known)
  return { options, ns: Arguments.namespace(options.in) }
}

const mountFlagsForMount = Arguments.allMountFlags
const bindFlags: ReadonlyArray<MountFlag> = ["bind", "rec", "silent", ...perMountFlags]
const remountFlags: ReadonlyArray<MountFlag> = [
  "remount",
  "bind",
  "silent",
  "sync",
  "mandlock",
  "dirsync",
  "lazytime",
  ...perMountFlags,
]

/**
 * Mounts `source` on `target` as a filesystem of type `fstype` — mount(2). `source`,
 * `fstype` and `data` may be empty strings (passed to the kernel as NULL). With
 * `fstype: "proc"` and `in: { pid }`, the mount is made from inside that process's PID
 * namespace, so the new /proc shows its processes.
 *
 * @since 0.1.0
 * @category verbs
 */
export const mount: (
  source: string,
  target: string,
  fstype: string,
  options?: MountOptions,
) => Result = Effect.fn("Mount.mount")(function* (
  source: string,
  target: string,
  fstype: string,
  rawOptions?: MountOptions,
) {
  return yield* submit(() => {
    const { options, ns } = common(rawOptions, ["flags", "data", "create", "in"])
    const sourceText = Arguments.string("source", source)
    const targetPath = Arguments.path("target", target, ns)
    const fstypeText = Arguments.string("fstype", fstype)
    const flags = Arguments.mountFlags(options.flags, mountFlagsForMount, "mount")
    return {
      _tag: "Mount",
      source: sourceText,
      target: targetPath,
      fstype: fstypeText,
      flags: flags.bits,
      data: Arguments.data(options.data),
      create: Arguments.boolean("create", options.create),
      remountFlags: 0,
      pidns: fstypeText === "proc" && ns._tag === "Pid",
      in: ns,
    }
  })
})

/**
 * Makes `source` visible at `target` too — a bind mount (`mount --bind`). With
 * `flags: ["rec"]` the mounts below `source` come along. Per-mount flags (`ro`, `nosuid`,
 * `nodev`, `noexec`, atime flags) really apply: the follow-up `MS_REMOUNT | MS_BIND` the
 * kernel needs is made in the same namespace, and if it fails the bind is undone and the
 * error's operation is `"remount"`.
 *
 * @since 0.1.0
 * @category verbs
 */
export const bind: (source: string, target: string, options?: BindOptions) => Result = Effect.fn(
  "Mount.bind",
)(function* (source: string, target: string, rawOptions?: BindOptions) {
  return yield* submit(() => {
    const { options, ns } = common(rawOptions, ["flags", "data", "create", "in", "sourceIn"])
    const sourceFromCaller = Arguments.sourceIn(options.sourceIn)
    const sourcePath = Arguments.path("source", source, sourceFromCaller ? self : ns)
    const targetPath = Arguments.path("target", target, ns)
    const flags = Arguments.mountFlags(options.flags, bindFlags, "bind")
    const remount = Arguments.perMountBits(flags.names)
    return {
      _tag: "Mount",
      source: sourcePath,
      target: targetPath,
      fstype: "",
      flags: (Arguments.mountBits(["bind"]) | (flags.bits & ~remount)) >>> 0,
      data: Arguments.data(options.data),
      create: Arguments.boolean("create", options.create),
      remountFlags: remount,
      pidns: false,
      ...(sourceFromCaller && ns._tag !== "Self" ? { sourceFromCaller: true } : {}),
      in: ns,
    }
  })
})

/**
 * Changes the flags of the mount at `target` in place (`mount -o remount`). For a bind
 * mount, include `"bind"` in `flags` or the kernel remounts the whole filesystem below it.
 * Propagation is not changed here: see {@link makePrivate} and friends.
 *
 * @since 0.1.0
 * @category verbs
 */
export const remount: (target: string, options?: RemountOptions) => Result = Effect.fn(
  "Mount.remount",
)(function* (target: string, rawOptions?: RemountOptions) {
  return yield* submit(() => {
    const { options, ns } = common(rawOptions, ["flags", "data", "in"])
    const targetPath = Arguments.path("target", target, ns)
    const flags = Arguments.mountFlags(options.flags, remountFlags, "remount")
    return mountRequest({
      target: targetPath,
      flags: (Arguments.mountBits(["remount"]) | flags.bits) >>> 0,
      data: Arguments.data(options.data),
      in: ns,
    })
  })
})

/**
 * Moves the mount at `source` to `target` atomically (`mount --move`). The kernel refuses
 * (`EINVAL`) when the mount or a parent involved has shared propagation.
 *
 * @since 0.1.0
 * @category verbs
 */
export const move: (source: string, target: string, options?: NamespaceOptions) => Result =
  Effect.fn("Mount.move")(function* (
    source: string,
    target: string,
    rawOptions?: NamespaceOptions,
  ) {
    return yield* submit(() => {
      const { ns } = common(rawOptions, ["in"])
      return mountRequest({
        source: Arguments.path("source", source, ns),
        target: Arguments.path("target", target, ns),
        flags: Arguments.mountBits(["move"]),
        in: ns,
      })
    })
  })

/**
 * Unmounts the filesystem at `target` — umount2(2). `flags`: `detach` (lazy), `force`,
 * `expire`, `no_follow`.
 *
 * @since 0.1.0
 * @category verbs
 */
export const umount: (target: string, options?: UmountOptions) => Result = Effect.fn(
  "Mount.umount",
)(function* (target: string, rawOptions?: UmountOptions) {
  return yield* submit(() => {
    const { options, ns } = common(rawOptions, ["flags", "in"])
    return {
      _tag: "Umount",
      target: Arguments.path("target", target, ns),
      flags: Arguments.umountFlags(options.flags),
      in: ns,
    }
  })
})

/**
 * Makes `newRoot` the root of the mount namespace and puts the old root at `putOld` —
 * pivot_root(2). Runs on the addon's private thread, which changes into `newRoot` first;
 * the process's own working directory is never touched.
 *
 * @since 0.1.0
 * @category verbs
 */
export const pivotRoot: (newRoot: string, putOld: string, options?: NamespaceOptions) => Result =
  Effect.fn("Mount.pivotRoot")(function* (
    newRoot: string,
    putOld: string,
    rawOptions?: NamespaceOptions,
  ) {
    return yield* submit(() => {
      const { ns } = common(rawOptions, ["in"])
      return {
        _tag: "PivotRoot",
        newRoot: Arguments.path("newRoot", newRoot, ns),
        putOld: Arguments.path("putOld", putOld, ns),
        in: ns,
      }
    })
  })

const propagation = (kind: "private" | "shared" | "slave" | "unbindable") =>
  Effect.fn(`Mount.make${kind[0]!.toUpperCase()}${kind.slice(1)}`)(function* (
    target: string,
    rawOptions?: PropagationOptions,
  ) {
    return yield* submit(() => {
      const { options, ns } = common(rawOptions, ["recursive", "in"])
      const recursive = Arguments.boolean("recursive", options.recursive)
      return mountRequest({
        target: Arguments.path("target", target, ns),
        flags: Arguments.mountBits(recursive ? [kind, "rec"] : [kind]),
        in: ns,
      })
    })
  }) as (target: string, options?: PropagationOptions) => Result

/**
 * Makes the mount at `target` private (`mount --make-private`; `recursive`: `--make-rprivate`).
 *
 * @since 0.1.0
 * @category propagation
 */
export const makePrivate = propagation("private")

/**
 * Makes the mount at `target` shared (`mount --make-shared`).
 *
 * @since 0.1.0
 * @category propagation
 */
export const makeShared = propagation("shared")

/**
 * Makes the mount at `target` a slave of its peer group (`mount --make-slave`).
 *
 * @since 0.1.0
 * @category propagation
 */
export const makeSlave = propagation("slave")

/**
 * Makes the mount at `target` unbindable (`mount --make-unbindable`).
 *
 * @since 0.1.0
 * @category propagation
 */
export const makeUnbindable = propagation("unbindable")

/**
 * What a mutating verb can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type MountErrorOrInvalid = MountError | InvalidArgument
