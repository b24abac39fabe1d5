/**
 * The mount verbs: read a mount table, and mount, bind, remount, move, unmount, set
 * attributes and pivot_root, in this process's mount namespace or in any other
 * (`in: { pid }` or `in: { path }`); scoped mounts; batches that roll back.
 *
 * Arguments are validated and normalised on the calling thread — an `InvalidArgument`
 * means nothing was touched — and each call becomes a typed request that the `Mounter`
 * runs on a worker thread, so the event loop never blocks. A kernel refusal is a
 * `MountError` naming the stage, the path, the errno and the call's facts.
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
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  type Attribute,
  type MountFlag,
  mountFlagConstants,
  type Propagation,
  perMountFlags,
  propagationFlags,
  superblockFlags,
  type UmountFlag,
  umountFlagConstants,
} from "../protocol/Flags.js"
import type { Failed } from "../protocol/Outcome.js"
import type { Namespace, NamespaceRef, Op } from "../protocol/Request.js"
import { BatchError } from "./BatchError.js"
import { InvalidArgument } from "./InvalidArgument.js"
import * as Arguments from "./internal/arguments.js"
import * as Watch from "./internal/watch.js"
import { MountError } from "./MountError.js"
import type { MountEvent } from "./MountEvent.js"
import { Mounter } from "./Mounter.js"

export type { Attribute, MountFlag, Propagation, UmountFlag } from "../protocol/Flags.js"
export { type ListTarget, list } from "./internal/list.js"

/**
 * Which mount namespace an operation runs in: `"self"` (the default), the namespace of a
 * process (`{ pid }`, read from `/proc/<pid>/ns/mnt`), or a namespace file (`{ path }`).
 * With another namespace, every path is interpreted inside it and must be absolute; it is
 * looked up from that namespace's root, symlinks included, and never leads out of it.
 *
 * @since 0.1.0
 * @category models
 */
export type In = Arguments.In

/**
 * A path: text, or its exact bytes (`Buffer`) for a name that is not UTF-8.
 *
 * @since 0.1.0
 * @category models
 */
export type PathLike = Arguments.PathLike

/**
 * @since 0.1.0
 * @category models
 */
export type BindFlag = (typeof Arguments.bindFlagNames)[number]

/**
 * @since 0.1.0
 * @category models
 */
export type RemountFlag = (typeof Arguments.remountFlagNames)[number]

/**
 * @since 0.1.0
 * @category models
 */
export interface MountOptions {
  /**
   * mount(2)'s flags. With `bind`, `move`, `remount` or a propagation type the call is
   * that operation (exactly as `bind`, `move`, `remount`, `make*`), so a read-only bind
   * means the same whichever verb makes it.
   */
  readonly flags?: ReadonlyArray<MountFlag>
  /** Filesystem options, e.g. `"size=64M,mode=755"`; at most one page. */
  readonly data?: string
  /** Make the mount point (a directory) inside the namespace first, if nothing is there. */
  readonly create?: boolean
  readonly in?: In
  /**
   * The PID namespace a `proc` filesystem shows: `"self"` (ours) or `{ path }` (a PID
   * namespace file). With `in: { pid }` it is that process's unless given; with
   * `in: { path }` it must be given (a mount namespace file names no PID namespace).
   */
  readonly pidIn?: "self" | { readonly path: PathLike }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface BindOptions {
  /**
   * `rec` brings the mounts below the source along; the per-mount attributes (`ro`,
   * `nosuid`, `nodev`, `noexec`, atime modes, `nosymfollow`) are set on the copied tree —
   * every mount of it with `rec` — before it is attached. The source's own stricter
   * attributes stay (a read-only source stays read-only).
   */
  readonly flags?: ReadonlyArray<BindFlag>
  /** Make the mount point first if nothing is there: a directory, or a file for a file. */
  readonly create?: boolean
  readonly in?: In
  /**
   * Where `source` is looked up. By default in the namespace of `in`, like mount(2) made
   * there. `"self"`: in this process's namespace — the way to bind a host directory into a
   * container that has already pivoted its root.
   */
  readonly sourceIn?: "self"
  /**
   * An idmapped bind: files appear owned as the user namespace of this process (`{ pid }`)
   * or this user-namespace file (`{ path }`) maps their owners.
   */
  readonly idmap?: { readonly pid: number } | { readonly path: PathLike }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RemountOptions {
  readonly flags?: ReadonlyArray<RemountFlag>
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

/**
 * @since 0.1.0
 * @category models
 */
export interface SetAttributesOptions {
  /** Attributes to set. An atime mode replaces the current one. */
  readonly set?: ReadonlyArray<Attribute>
  /** Attributes to clear (clearing an atime mode returns to relatime). */
  readonly clear?: ReadonlyArray<Attribute>
  /** A propagation type to give the mount (or the tree). */
  readonly propagation?: Propagation
  /** The whole tree below `target`, atomically. */
  readonly recursive?: boolean
  readonly in?: In
}

/**
 * One operation of a `batch`: a verb's name and its arguments (without `in`: the batch has
 * one namespace).
 *
 * @since 0.1.0
 * @category models
 */
export type BatchOp =
  | ({
      readonly verb: "mount"
      readonly source: string
      readonly target: PathLike
      readonly fstype: string
    } & Omit<MountOptions, "in">)
  | ({ readonly verb: "bind"; readonly source: PathLike; readonly target: PathLike } & Omit<
      BindOptions,
      "in"
    >)
  | ({ readonly verb: "remount"; readonly target: PathLike } & Omit<RemountOptions, "in">)
  | { readonly verb: "move"; readonly source: PathLike; readonly target: PathLike }
  | ({ readonly verb: "umount"; readonly target: PathLike } & Omit<UmountOptions, "in">)
  | { readonly verb: "pivotRoot"; readonly newRoot: PathLike; readonly putOld: PathLike }
  | ({ readonly verb: "setAttributes"; readonly target: PathLike } & Omit<
      SetAttributesOptions,
      "in"
    >)
  | ({
      readonly verb: "makePrivate" | "makeShared" | "makeSlave" | "makeUnbindable"
      readonly target: PathLike
    } & Omit<PropagationOptions, "in">)

type Result = Effect.Effect<void, MountError | InvalidArgument, Mounter>

// ---- calls: a validated request and the facts its errors are made of ----------------------

interface Facts {
  readonly verb: string
  /** The call ran in another namespace than ours. */
  readonly foreign?: boolean | undefined
  readonly target: Arguments.PathLike
  readonly source?: Arguments.PathLike | undefined
  readonly flags?: string | undefined
  readonly namespaceFile: string
  readonly pidNamespaceFile?: string | undefined
  readonly userNamespaceFile?: string | undefined
}

interface Call {
  readonly ns: Namespace
  readonly op: Op
  readonly facts: Facts
}

const namespaceFile = (ns: Namespace, kind: string): string =>
  ns._tag === "Pid"
    ? `/proc/${ns.pid}/ns/${kind}`
    : ns._tag === "Path"
      ? Arguments.display(ns.path)
      : `/proc/self/ns/${kind}`

const refFile = (ref: NamespaceRef, ns: Namespace, kind: string): string | undefined => {
  switch (ref._tag) {
    case "None":
      return undefined
    case "Own":
      return `/proc/self/ns/${kind}`
    case "Target":
      return namespaceFile(ns, kind)
    case "Pid":
      return `/proc/${ref.pid}/ns/${kind}`
    case "Path":
      return Arguments.display(ref.path)
  }
}

const fail = (facts: Facts, failed: Failed): MountError => {
  const path =
    failed.subject === "source"
      ? (facts.source ?? facts.target)
      : failed.subject === "namespace"
        ? facts.namespaceFile
        : failed.subject === "pidNamespace"
          ? (facts.pidNamespaceFile ?? facts.namespaceFile)
          : failed.subject === "userNamespace"
            ? (facts.userNamespaceFile ?? facts.namespaceFile)
            : facts.target
  return MountError.fromErrno(failed.stage, Arguments.display(path), failed.errno, {
    verb: facts.verb,
    source: facts.source === undefined ? undefined : Arguments.display(facts.source),
    flags: facts.flags,
    detail: failed.message,
    subject: failed.subject,
    namespace: facts.foreign ? facts.namespaceFile : undefined,
  })
}

const facts = (
  verb: string,
  ns: Namespace,
  fields: Omit<Facts, "verb" | "namespaceFile" | "foreign">,
): Facts => ({
  verb,
  foreign: ns._tag !== "Self",
  namespaceFile: namespaceFile(ns, "mnt"),
  ...fields,
})

const mountSymbols = (names: ReadonlyArray<string>) => Arguments.symbolic(names, mountFlagConstants)

// A mount's source: a device name or path; bytes too, but never a NUL (even where the
// kernel ignores the source, as for a propagation change).
const SourceText = Schema.Union([Arguments.Text, Arguments.Bytes])

const mountArgs = Schema.Tuple([
  SourceText,
  Arguments.PathInput,
  Arguments.Text,
  Arguments.Options.mount,
])
const bindArgs = Schema.Tuple([Arguments.PathInput, Arguments.PathInput, Arguments.Options.bind])
const remountArgs = Schema.Tuple([Arguments.PathInput, Arguments.Options.remount])
const moveArgs = Schema.Tuple([
  Arguments.PathInput,
  Arguments.PathInput,
  Arguments.Options.namespace,
])
const umountArgs = Schema.Tuple([Arguments.PathInput, Arguments.Options.umount])
const pivotArgs = Schema.Tuple([
  Arguments.PathInput,
  Arguments.PathInput,
  Arguments.Options.namespace,
])
const propagationArgs = Schema.Tuple([Arguments.PathInput, Arguments.Options.propagation])
const setAttributesArgs = Schema.Tuple([Arguments.PathInput, Arguments.Options.setAttributes])

const keys = (schema: { readonly fields: object }) => Object.keys(schema.fields)

const bindOp = (
  verb: string,
  ns: Namespace,
  source: Arguments.PathLike,
  target: Arguments.PathLike,
  flags: ReadonlyArray<MountFlag>,
  options: {
    readonly create?: boolean
    readonly sourceIn?: "self"
    readonly idmap?: Arguments.NamespaceFile
  },
): Call => {
  const atHome = options.sourceIn === "self"
  const sourcePath = Arguments.path("source", source, atHome ? { _tag: "Self" } : ns)
  const targetPath = Arguments.path("target", target, ns)
  const [attrSet, attrClear] = Arguments.attributes(
    "flags",
    flags.filter((f): f is MountFlag & Attribute => perMountFlags.includes(f as never)),
  )
  const idmap: NamespaceRef =
    options.idmap === undefined
      ? { _tag: "None" }
      : Object.hasOwn(options.idmap, "pid")
        ? { _tag: "Pid", pid: (options.idmap as { pid: number }).pid }
        : {
            _tag: "Path",
            path: Arguments.path("idmap", (options.idmap as { path: PathLike }).path, {
              _tag: "Self",
            }),
          }
  return {
    ns,
    op: {
      _tag: "Bind",
      source: sourcePath,
      target: targetPath,
      recursive: flags.includes("rec"),
      attrSet,
      attrClear,
      create: options.create === true,
      sourceAtHome: atHome && ns._tag !== "Self",
      idmap,
    },
    facts: facts(verb, ns, {
      target: targetPath,
      source: sourcePath,
      flags: mountSymbols(["bind", ...flags]),
      userNamespaceFile: refFile(idmap, ns, "user"),
    }),
  }
}

const remountOp = (
  verb: string,
  ns: Namespace,
  target: Arguments.PathLike,
  flags: ReadonlyArray<MountFlag>,
  data: string | undefined,
): Call => {
  const targetPath = Arguments.path("target", target, ns)
  const bind = flags.includes("bind")
  if (bind && data !== undefined) {
    Arguments.invalid(
      "data",
      data,
      "a bind remount changes the mount's attributes only; the kernel ignores data",
    )
  }
  const [attrSet, attrClear] = Arguments.remountAttributes(flags)
  return {
    ns,
    op: {
      _tag: "Remount",
      target: targetPath,
      reconfigure: !bind,
      superFlags: bind ? [] : Arguments.remountSuperFlags(flags),
      options: data === undefined ? [] : Arguments.splitData(data),
      attrSet,
      attrClear,
    },
    facts: facts(verb, ns, { target: targetPath, flags: mountSymbols(["remount", ...flags]) }),
  }
}

const propagationOp = (
  verb: string,
  ns: Namespace,
  target: Arguments.PathLike,
  kind: Propagation,
  recursive: boolean,
): Call => {
  const targetPath = Arguments.path("target", target, ns)
  return {
    ns,
    op: {
      _tag: "SetAttributes",
      target: targetPath,
      attrSet: 0,
      attrClear: 0,
      propagation: Arguments.propagationBits(kind),
      recursive,
    },
    facts: facts(verb, ns, {
      target: targetPath,
      flags: mountSymbols(recursive ? [kind, "rec"] : [kind]),
    }),
  }
}

const mountCall = (
  source: unknown,
  target: unknown,
  fstype: unknown,
  raw: unknown,
  forced?: Namespace,
): Call => {
  const [src, tgt, type, options] = Arguments.decode(
    mountArgs,
    ["source", "target", "fstype"],
    [source, target, fstype, Arguments.snapshot(raw)],
    keys(Arguments.Options.mount),
  )
  const ns = forced ?? Arguments.namespace(options.in)
  const flags = options.flags ?? []
  const refuse = (what: string, why: string) => {
    if ((options as Record<string, unknown>)[what] !== undefined)
      Arguments.invalid(what, undefined, why)
  }
  if (flags.includes("remount")) {
    Arguments.only(flags, Arguments.remountFlagNames, "does not apply to a remount")
    refuse("create", "a remount makes no mount point")
    refuse("pidIn", "applies to a new proc filesystem only")
    return remountOp("mount", ns, tgt, flags, options.data)
  }
  if (flags.includes("move")) {
    Arguments.only(flags, ["move", "silent"], "does not apply to a move")
    refuse("data", "a move takes no filesystem options")
    refuse("create", "a move makes no mount point")
    refuse("pidIn", "applies to a new proc filesystem only")
    const sourcePath = Arguments.path("source", ensurePath(src), ns)
    const targetPath = Arguments.path("target", tgt, ns)
    return {
      ns,
      op: { _tag: "Move", source: sourcePath, target: targetPath },
      facts: facts("mount", ns, {
        target: targetPath,
        source: sourcePath,
        flags: mountSymbols(flags),
      }),
    }
  }
  if (flags.includes("bind")) {
    Arguments.only(flags, Arguments.bindFlagNames, "does not apply to a bind")
    refuse("data", "a bind takes no filesystem options (the kernel ignores them)")
    refuse("pidIn", "applies to a new proc filesystem only")
    return bindOp(
      "mount",
      ns,
      ensurePath(src),
      tgt,
      flags,
      options.create === true ? { create: true } : {},
    )
  }
  const kinds = flags.filter((f): f is Propagation => propagationFlags.includes(f as Propagation))
  if (kinds.length > 0) {
    if (kinds.length > 1) Arguments.invalid("flags", flags, "give one propagation type at a time")
    Arguments.only(flags, [kinds[0]!, "rec", "silent"], "does not go with a propagation change")
    refuse("data", "a propagation change takes no filesystem options")
    refuse("create", "a propagation change makes no mount point")
    refuse("pidIn", "applies to a new proc filesystem only")
    return propagationOp("mount", ns, tgt, kinds[0]!, flags.includes("rec"))
  }
  // A new filesystem.
  if (typeof src !== "string")
    return Arguments.invalid("source", src, "must be a string for a new filesystem")
  if (type === "")
    return Arguments.invalid("fstype", type, "must name a filesystem type for a new mount")
  const targetPath = Arguments.path("target", tgt, ns)
  const [attributes] = Arguments.attributes(
    "flags",
    flags.filter((f): f is MountFlag & Attribute => perMountFlags.includes(f as never)),
  )
  let pidNamespace: NamespaceRef = { _tag: "None" }
  if (type === "proc") {
    const pidIn = options.pidIn
    if (pidIn === "self") pidNamespace = { _tag: "Own" }
    else if (pidIn !== undefined)
      pidNamespace = { _tag: "Path", path: Arguments.path("pidIn", pidIn.path, { _tag: "Self" }) }
    else if (ns._tag === "Pid") pidNamespace = { _tag: "Target" }
    else if (ns._tag === "Path")
      Arguments.invalid(
        "pidIn",
        undefined,
        'a proc mount into a namespace given by its file needs pidIn: "self" or { path } (a PID namespace file): a mount namespace file names no PID namespace',
      )
  } else {
    refuse("pidIn", "applies to a proc filesystem only")
  }
  return {
    ns,
    op: {
      _tag: "Mount",
      source: src,
      target: targetPath,
      fstype: type,
      superFlags: flags.flatMap((f) => superblockFlags[f] ?? []),
      options: options.data === undefined ? [] : Arguments.splitData(options.data),
      attributes,
      create: options.create === true,
      pidNamespace,
    },
    facts: facts("mount", ns, {
      target: targetPath,
      source: src === "" ? undefined : src,
      flags: mountSymbols(flags),
      pidNamespaceFile: refFile(pidNamespace, ns, "pid"),
    }),
  }
}

const ensurePath = (value: string | Uint8Array): Arguments.PathLike =>
  Arguments.nonEmptyPath("source", value)

const bindCall = (source: unknown, target: unknown, raw: unknown, forced?: Namespace): Call => {
  const [src, tgt, options] = Arguments.decode(
    bindArgs,
    ["source", "target"],
    [source, target, Arguments.snapshot(raw)],
    keys(Arguments.Options.bind),
  )
  return bindOp(
    "bind",
    forced ?? Arguments.namespace(options.in),
    src,
    tgt,
    options.flags ?? [],
    options,
  )
}

const remountCall = (target: unknown, raw: unknown, forced?: Namespace): Call => {
  const [tgt, options] = Arguments.decode(
    remountArgs,
    ["target"],
    [target, Arguments.snapshot(raw)],
    keys(Arguments.Options.remount),
  )
  const ns = forced ?? Arguments.namespace(options.in)
  return remountOp(
    "remount",
    ns,
    tgt,
    (options.flags ?? []).filter((f) => f !== "remount"),
    options.data,
  )
}

const moveCall = (source: unknown, target: unknown, raw: unknown, forced?: Namespace): Call => {
  const [src, tgt, options] = Arguments.decode(
    moveArgs,
    ["source", "target"],
    [source, target, Arguments.snapshot(raw)],
    keys(Arguments.Options.namespace),
  )
  const ns = forced ?? Arguments.namespace(options.in)
  const sourcePath = Arguments.path("source", src, ns)
  const targetPath = Arguments.path("target", tgt, ns)
  return {
    ns,
    op: { _tag: "Move", source: sourcePath, target: targetPath },
    facts: facts("move", ns, {
      target: targetPath,
      source: sourcePath,
      flags: mountSymbols(["move"]),
    }),
  }
}

const umountCall = (target: unknown, raw: unknown, forced?: Namespace): Call => {
  const [tgt, options] = Arguments.decode(
    umountArgs,
    ["target"],
    [target, Arguments.snapshot(raw)],
    keys(Arguments.Options.umount),
  )
  const ns = forced ?? Arguments.namespace(options.in)
  const targetPath = Arguments.path("target", tgt, ns)
  const flags = options.flags ?? []
  return {
    ns,
    op: {
      _tag: "Umount",
      target: targetPath,
      flags: Arguments.bits(flags, umountFlagConstants),
      uniqueId: 0n,
    },
    facts: facts("umount", ns, {
      target: targetPath,
      flags: Arguments.symbolic(flags, umountFlagConstants),
    }),
  }
}

const pivotCall = (newRoot: unknown, putOld: unknown, raw: unknown, forced?: Namespace): Call => {
  const [root, old, options] = Arguments.decode(
    pivotArgs,
    ["newRoot", "putOld"],
    [newRoot, putOld, Arguments.snapshot(raw)],
    keys(Arguments.Options.namespace),
  )
  const ns = forced ?? Arguments.namespace(options.in)
  const rootPath = Arguments.path("newRoot", root, ns)
  const oldPath = Arguments.path("putOld", old, ns)
  return {
    ns,
    op: { _tag: "PivotRoot", newRoot: rootPath, putOld: oldPath },
    facts: facts("pivotRoot", ns, { target: rootPath, source: oldPath }),
  }
}

const propagationCall =
  (kind: Propagation, verb: string) =>
  (target: unknown, raw: unknown, forced?: Namespace): Call => {
    const [tgt, options] = Arguments.decode(
      propagationArgs,
      ["target"],
      [target, Arguments.snapshot(raw)],
      keys(Arguments.Options.propagation),
    )
    const ns = forced ?? Arguments.namespace(options.in)
    return propagationOp(verb, ns, tgt, kind, options.recursive === true)
  }

const setAttributesCall = (target: unknown, raw: unknown, forced?: Namespace): Call => {
  const [tgt, options] = Arguments.decode(
    setAttributesArgs,
    ["target"],
    [target, Arguments.snapshot(raw)],
    keys(Arguments.Options.setAttributes),
  )
  const ns = forced ?? Arguments.namespace(options.in)
  const targetPath = Arguments.path("target", tgt, ns)
  const set = options.set ?? []
  const clear = options.clear ?? []
  const both = set.filter((a) => clear.includes(a))
  if (both.length > 0)
    Arguments.invalid("clear", clear, `cannot both set and clear ${both.join(", ")}`)
  if (set.length === 0 && clear.length === 0 && options.propagation === undefined) {
    Arguments.invalid("set", undefined, "nothing to change: give set, clear or propagation")
  }
  const [attrSet, atime] = Arguments.attributes("set", set)
  const [cleared, clearAtime] = Arguments.attributes("clear", clear)
  return {
    ns,
    op: {
      _tag: "SetAttributes",
      target: targetPath,
      // Clearing an atime mode means the default one, relatime (0 in the kernel's encoding).
      attrSet,
      attrClear: (cleared | atime | clearAtime) >>> 0,
      propagation:
        options.propagation === undefined ? 0 : Arguments.propagationBits(options.propagation),
      recursive: options.recursive === true,
    },
    facts: facts("setAttributes", ns, {
      target: targetPath,
      flags: Arguments.symbolic([...set, ...(options.propagation ? [options.propagation] : [])], {
        ...mountFlagConstants,
      }),
    }),
  }
}

// ---- running calls ------------------------------------------------------------------------

const submit = Effect.fnUntraced(function* (build: () => Call) {
  const call = yield* Arguments.validated(build)
  return yield* execute(call)
})

// A verb's span, named after it (`Mount.bind`), without the call-site stack Effect.fn
// captures: that capture alone cost about a third of a bind's main-thread time
// (bench/breakdown's stub rows).
const spanOptions = { captureStackTrace: false } as const

// A verb: its arguments read and validated when the effect runs, then one call.
const verb =
  <A extends ReadonlyArray<unknown>>(name: string, build: (...args: A) => Call) =>
  (...args: A): Result =>
    Effect.withSpan(Effect.asVoid(submit(() => build(...args))), `Mount.${name}`, spanOptions)

// Runs one call; its result is the unique id of the mount it made (0n for other verbs).
const execute = Effect.fnUntraced(function* (call: Call) {
  const mounter = yield* Mounter
  const result = yield* mounter.run(call.ns, [call.op], false)
  const outcome = result.outcomes[0]
  if (outcome?._tag === "Done") return outcome.uniqueId
  return yield* fail(call.facts, outcome?._tag === "Failed" ? outcome : lost)
})

const lost: Failed = { _tag: "Failed", stage: "thread", errno: 125, subject: "target", message: "" }

/**
 * Mounts a filesystem — mount(2)'s meaning, made with the newer mount API (fsopen,
 * fsconfig, fsmount, move_mount), so that a refusal carries the kernel's own words
 * (`MountError.detail`). `source` and `data` may be empty. With `fstype: "proc"`, the
 * filesystem shows the PID namespace of `in: { pid }` (or of `pidIn`). With `bind`, `move`,
 * `remount` or a propagation type in `flags`, the call is that operation.
 *
 * @since 0.1.0
 * @category verbs
 */
export const mount: (
  source: string,
  target: PathLike,
  fstype: string,
  options?: MountOptions,
) => Result = verb("mount", mountCall)

/**
 * Makes `source` visible at `target` too — a bind mount (`mount --bind`). The source tree is
 * copied (with its submounts under `rec`), given the attributes asked for while still
 * detached, and attached once: a read-only bind is never writable, not even for an instant,
 * and no path is looked up twice.
 *
 * @since 0.1.0
 * @category verbs
 */
export const bind: (source: PathLike, target: PathLike, options?: BindOptions) => Result = verb(
  "bind",
  bindCall,
)

/**
 * Changes a mount in place (`mount -o remount`), with mount(2)'s exact meaning: with `bind`
 * only the mount's own attributes change, each one not named is cleared; without it the
 * filesystem is reconfigured with `data` too. For mount(8)'s habit of merging new options
 * with the current ones, or to set and clear single attributes, see `setAttributes`.
 *
 * @since 0.1.0
 * @category verbs
 */
export const remount: (target: PathLike, options?: RemountOptions) => Result = verb(
  "remount",
  remountCall,
)

/**
 * Moves the mount at `source` to `target` atomically (`mount --move`). The kernel refuses
 * (`EINVAL`) when the mount or a parent involved has shared propagation.
 *
 * @since 0.1.0
 * @category verbs
 */
export const move: (source: PathLike, target: PathLike, options?: NamespaceOptions) => Result =
  verb("move", moveCall)

/**
 * Unmounts the filesystem at `target` — umount2(2). `flags`: `detach` (lazy), `force`,
 * `expire`, `no_follow`.
 *
 * @since 0.1.0
 * @category verbs
 */
export const umount: (target: PathLike, options?: UmountOptions) => Result = verb(
  "umount",
  umountCall,
)

/**
 * Makes `newRoot` the root of the mount namespace and puts the old root at `putOld` —
 * pivot_root(2), on a worker thread with an fs_struct of its own: the process's working
 * directory never moves.
 *
 * @since 0.1.0
 * @category verbs
 */
export const pivotRoot: (
  newRoot: PathLike,
  putOld: PathLike,
  options?: NamespaceOptions,
) => Result = verb("pivotRoot", pivotCall)

/**
 * Sets and clears mount attributes and the propagation type — mount_setattr(2): on one
 * mount, or with `recursive` on the whole tree below it, atomically (recursive read-only).
 *
 * @since 0.1.0
 * @category verbs
 */
export const setAttributes: (target: PathLike, options: SetAttributesOptions) => Result = verb(
  "setAttributes",
  setAttributesCall,
)

const propagationVerb = (
  kind: Propagation,
  name: string,
): ((target: PathLike, options?: PropagationOptions) => Result) =>
  verb(name, propagationCall(kind, name))

/**
 * Makes the mount at `target` private (`mount --make-private`; `recursive`: `--make-rprivate`).
 *
 * @since 0.1.0
 * @category propagation
 */
export const makePrivate = propagationVerb("private", "makePrivate")

/**
 * Makes the mount at `target` shared (`mount --make-shared`).
 *
 * @since 0.1.0
 * @category propagation
 */
export const makeShared = propagationVerb("shared", "makeShared")

/**
 * Makes the mount at `target` a slave of its peer group (`mount --make-slave`).
 *
 * @since 0.1.0
 * @category propagation
 */
export const makeSlave = propagationVerb("slave", "makeSlave")

/**
 * Makes the mount at `target` unbindable (`mount --make-unbindable`).
 *
 * @since 0.1.0
 * @category propagation
 */
export const makeUnbindable = propagationVerb("unbindable", "makeUnbindable")

// ---- scoped mounts ------------------------------------------------------------------------

// A scoped mount is released by path, and only if the mount there is still the one made
// (never someone else's). One covered by another mount cannot be reached by its path; it
// waits here, per Mounter and namespace, and is tried again each time a release in that
// namespace succeeds: scoped mounts stacked on one point come off in any order.
interface Scoped {
  readonly call: Call
  readonly uniqueId: bigint
}
const covered = new WeakMap<Mounter["Service"], Map<string, Array<Scoped>>>()

const detach = (mounter: Mounter["Service"], { call, uniqueId }: Scoped) =>
  Effect.map(
    mounter.run(
      call.ns,
      [
        {
          _tag: "Umount",
          target: (call.op as Extract<Op, { readonly _tag: "Mount" | "Bind" }>).target,
          flags: Arguments.bits(["detach"], umountFlagConstants),
          uniqueId,
        },
      ],
      false,
    ),
    (result) => result.outcomes[0],
  )

const release = Effect.fnUntraced(function* (mounter: Mounter["Service"], scoped: Scoped) {
  const key = JSON.stringify(scoped.call.ns, (_, v) => (v instanceof Uint8Array ? [...v] : v))
  const waiting = covered.get(mounter) ?? new Map<string, Array<Scoped>>()
  covered.set(mounter, waiting)
  const outcome = yield* detach(mounter, scoped)
  if (outcome?._tag === "Failed" && outcome.stage === "verify") {
    // Another mount is on top of ours: it may be another scoped one, released later.
    waiting.set(key, [...(waiting.get(key) ?? []), scoped])
    return
  }
  if (outcome?._tag !== "Done") return // its namespace, or its mount point, is gone with it
  // One off the stack: those it covered may be reachable now, the latest first.
  for (let list = waiting.get(key) ?? []; list.length > 0; list = waiting.get(key) ?? []) {
    let progress = false
    for (const next of [...list].reverse()) {
      const again = yield* detach(mounter, next)
      if (again?._tag === "Failed" && again.stage === "verify") continue
      waiting.set(
        key,
        (waiting.get(key) ?? []).filter((s) => s !== next),
      )
      progress = true
    }
    if (!progress) break
  }
})

const scoped = Effect.fnUntraced(function* (build: () => Call) {
  const call = yield* Arguments.validated(build)
  if (call.op._tag !== "Mount" && call.op._tag !== "Bind") {
    return yield* Arguments.validated(() =>
      Arguments.invalid(
        "flags",
        call.facts.flags,
        "a scoped mount makes a new mount or bind, nothing else",
      ),
    )
  }
  const mounter = yield* Mounter
  yield* Effect.acquireRelease(execute(call), (uniqueId) => release(mounter, { call, uniqueId }))
})

const scopedVerb =
  <A extends ReadonlyArray<unknown>>(name: string, build: (...args: A) => Call) =>
  (...args: A): Effect.Effect<void, MountError | InvalidArgument, Mounter | Scope.Scope> =>
    Effect.withSpan(
      scoped(() => build(...args)),
      `Mount.${name}`,
      spanOptions,
    )

/**
 * `bind`, detached again when the scope closes, in the namespace it was made in — only if
 * the mount there is still the one made. Interrupted before it reached a worker, nothing is
 * made; once made, it is always released with the scope.
 *
 * @since 0.1.0
 * @category scoped
 */
export const bindScoped: (
  source: PathLike,
  target: PathLike,
  options?: BindOptions,
) => Effect.Effect<void, MountError | InvalidArgument, Mounter | Scope.Scope> = scopedVerb(
  "bindScoped",
  bindCall,
)

/**
 * `mount` of a new filesystem (or a bind), unmounted again when the scope closes; see
 * `bindScoped`.
 *
 * @since 0.1.0
 * @category scoped
 */
export const mountScoped: (
  source: string,
  target: PathLike,
  fstype: string,
  options?: MountOptions,
) => Effect.Effect<void, MountError | InvalidArgument, Mounter | Scope.Scope> = scopedVerb(
  "mountScoped",
  mountCall,
)

// ---- batches ------------------------------------------------------------------------------

const opCall = (raw: unknown, index: number, ns: Namespace): Call => {
  const op = Arguments.snapshot(raw)
  const field = (name: string) => op[name]
  const rest = (...taken: Array<string>) => {
    const out: Record<string, unknown> = Object.create(null)
    for (const key of Object.keys(op))
      if (key !== "verb" && !taken.includes(key)) out[key] = op[key]
    if ("in" in out)
      Arguments.invalid(
        `ops[${index}].in`,
        out.in,
        "a batch runs in one namespace: give `in` to the batch",
      )
    return out
  }
  switch (field("verb")) {
    case "mount":
      return mountCall(
        field("source"),
        field("target"),
        field("fstype"),
        rest("source", "target", "fstype"),
        ns,
      )
    case "bind":
      return bindCall(field("source"), field("target"), rest("source", "target"), ns)
    case "remount":
      return remountCall(field("target"), rest("target"), ns)
    case "move":
      return moveCall(field("source"), field("target"), rest("source", "target"), ns)
    case "umount":
      return umountCall(field("target"), rest("target"), ns)
    case "pivotRoot":
      return pivotCall(field("newRoot"), field("putOld"), rest("newRoot", "putOld"), ns)
    case "setAttributes":
      return setAttributesCall(field("target"), rest("target"), ns)
    case "makePrivate":
      return propagationCall("private", "makePrivate")(field("target"), rest("target"), ns)
    case "makeShared":
      return propagationCall("shared", "makeShared")(field("target"), rest("target"), ns)
    case "makeSlave":
      return propagationCall("slave", "makeSlave")(field("target"), rest("target"), ns)
    case "makeUnbindable":
      return propagationCall("unbindable", "makeUnbindable")(field("target"), rest("target"), ns)
    default:
      return Arguments.invalid(
        `ops[${index}].verb`,
        field("verb"),
        "must be one of mount, bind, remount, move, umount, pivotRoot, setAttributes, makePrivate, makeShared, makeSlave, makeUnbindable",
      )
  }
}

const inBatch = (index: number, build: () => Call): Call => {
  try {
    return build()
  } catch (error) {
    if (!(error instanceof InvalidArgument) || error.argument.startsWith("ops[")) throw error
    throw new InvalidArgument({
      argument: `ops[${index}].${error.argument}`,
      value: error.value,
      reason: error.reason,
    })
  }
}

/**
 * Runs `ops` in order as one unit — the design card's hot-mount batching: one message, one
 * worker, the namespace entered once. On the first failure the completed operations are
 * undone in reverse (mounts and binds detached, moves moved back, attributes restored from
 * what was read before the change) and the batch fails with a `BatchError` saying which
 * operation failed, why, and what was and was not undone. Once handed to a worker the batch
 * runs to its end: an interruption waits for it.
 *
 * @since 0.1.0
 * @category batches
 */
export const batch: (
  ops: ReadonlyArray<BatchOp>,
  options?: NamespaceOptions,
) => Effect.Effect<void, BatchError | InvalidArgument, Mounter> = Effect.fn("Mount.batch")(
  function* (ops: ReadonlyArray<BatchOp>, options?: NamespaceOptions) {
    const calls = yield* Arguments.validated(() => {
      const [list, opts] = Arguments.decode(
        Schema.Tuple([Schema.Array(Schema.Unknown), Arguments.Options.namespace]),
        ["ops"],
        [Array.isArray(ops) ? [...ops] : ops, Arguments.snapshot(options)],
        keys(Arguments.Options.namespace),
      )
      const ns = Arguments.namespace(opts.in)
      return list.map((op, index) => inBatch(index, () => opCall(op, index, ns)))
    })
    if (calls.length === 0) return
    const mounter = yield* Mounter
    const result = yield* mounter.run(
      calls[0]!.ns,
      calls.map((c) => c.op),
      true,
    )
    const index = result.outcomes.findIndex((o) => o._tag === "Failed")
    if (index < 0) return
    const failed = result.outcomes[index] as Failed
    return yield* new BatchError({
      index,
      cause: fail(calls[index]!.facts, failed),
      undone: result.undo.filter((u) => u.result._tag === "Undone").map((u) => u.index),
      notUndone: result.undo.flatMap((u) =>
        u.result._tag === "Undone"
          ? []
          : [
              {
                index: u.index,
                reason:
                  u.result._tag === "Impossible"
                    ? u.result.reason
                    : MountError.fromErrno(u.result.stage, u.result.message, u.result.errno)
                        .message,
              },
            ],
      ),
    })
  },
)

// ---- watching -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface WatchOptions {
  readonly in?: In
  /**
   * `auto` (the default): fanotify's mount events (Linux 6.14+), else the fallback —
   * `/proc/<pid>/mountinfo` polled for POLLPRI and compared — when the kernel refuses them.
   * `fanotify` or `mountinfo`: that mechanism only.
   */
  readonly mechanism?: Watch.Mechanism
  /** Events buffered before the stream stops reading (default 1024). */
  readonly bufferSize?: number
}

const watchArgs = Schema.Tuple([
  Schema.Struct({
    in: Schema.optionalKey(Arguments.InOption),
    mechanism: Schema.optionalKey(Schema.Literals(["auto", "fanotify", "mountinfo"])),
    bufferSize: Schema.optionalKey(
      Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1 << 20 })),
    ),
  }),
])

const watchCall = (raw: unknown) => {
  const [options] = Arguments.decode(
    watchArgs,
    [],
    [Arguments.snapshot(raw)],
    ["in", "mechanism", "bufferSize"],
  )
  const ns = Arguments.namespace(options.in)
  const target: Watch.WatchTarget =
    ns._tag === "Self"
      ? "self"
      : ns._tag === "Pid"
        ? { pid: ns.pid }
        : { path: Arguments.display(ns.path) }
  return { ns, target, options }
}

// The fanotify setup, on a worker at home: the namespace file is opened (and checked) there.
const watchSetup = (mounter: Mounter["Service"], ns: Namespace) =>
  Effect.flatMap(mounter.run(ns, [{ _tag: "Watch" }], false), (result) => {
    const outcome = result.outcomes[0]
    return outcome?._tag === "Done"
      ? Effect.succeed({ fd: outcome.handle, nsId: outcome.uniqueId })
      : Effect.fail(
          fail(
            {
              verb: "watch",
              target: namespaceFile(ns, "mnt"),
              namespaceFile: namespaceFile(ns, "mnt"),
            },
            outcome?._tag === "Failed" ? outcome : lost,
          ),
        )
  })

/**
 * Starts a watch; succeeds once it is in place (events from then on are buffered), with the
 * stream that delivers them. For callers that must know the watch is set before they change
 * the table; `watch` is this, unwrapped.
 *
 * @since 0.1.0
 * @category watching
 */
export const subscribe = (
  options?: WatchOptions,
): Effect.Effect<
  Stream.Stream<MountEvent, MountError>,
  MountError | InvalidArgument,
  Mounter | Scope.Scope
> =>
  Effect.gen(function* () {
    const { ns, target, options: o } = yield* Arguments.validated(() => watchCall(options))
    const mounter = yield* Mounter
    return yield* Watch.subscribe({
      in: target,
      open: watchSetup(mounter, ns),
      ...(o.mechanism === undefined ? {} : { mechanism: o.mechanism }),
      ...(o.bufferSize === undefined ? {} : { bufferSize: o.bufferSize }),
    })
  })

/**
 * The mount-table changes of a namespace as a stream of `MountEvent`s (`attach`, `detach`,
 * `move`, with the mount's `uniqueId` and, for attach and move, its mount point), from
 * fanotify's mount events: typically within a millisecond of the change, never blocking the
 * event loop. Set up when the stream starts; ending, failing or interrupting it closes the
 * watch. When the kernel's queue overflows the stream fails (`watch_overflow`, ENOBUFS).
 *
 * @since 0.1.0
 * @category watching
 */
export const watch = (
  options?: WatchOptions,
): Stream.Stream<MountEvent, MountError | InvalidArgument, Mounter> =>
  Stream.unwrap(subscribe(options))

/**
 * What a mutating verb can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type MountErrorOrInvalid = MountError | InvalidArgument
