/**
 * The table of hostile calls shared by test/hostile.test.ts and test/leaks.test.ts: each
 * names a call through an API-neutral set of verbs, and what it must yield — an
 * `InvalidArgument` naming the argument, or a `MountError` with the stage, errno and (where
 * it matters) the failing path and which argument it is (`subject`) that the kernel or the
 * addon's checks give. None of them may mount anything: every call that could get past a
 * bug in validation is aimed at something the kernel must refuse.
 */
import { resolve } from "node:path"
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { Mount, type Mounter } from "linx-mount"
import * as Promises from "linx-mount/promises"

export const verbNames = [
  "mount",
  "bind",
  "remount",
  "move",
  "umount",
  "pivotRoot",
  "makePrivate",
  "makeShared",
  "makeSlave",
  "makeUnbindable",
] as const
export type VerbName = (typeof verbNames)[number]

/** The verbs of one API, called as plain JavaScript would: any arguments at all. */
export type Verbs = Record<VerbName, (...args: Array<unknown>) => Promise<void>>

/** A defect (a die, or anything but our two error classes) surfaces as this. */
export class Defect extends Error {}

/** The Effect API, run to an Exit: a typed failure rejects with the error, a die with Defect. */
export const effectVerbs = (runtime: ManagedRuntime.ManagedRuntime<Mounter, unknown>): Verbs => {
  const verbs = {} as Record<VerbName, (...args: Array<unknown>) => Promise<void>>
  for (const name of verbNames) {
    const verb = Mount[name] as unknown as (
      ...args: Array<unknown>
    ) => Effect.Effect<void, unknown, Mounter>
    verbs[name] = async (...args) => {
      let effect: Effect.Effect<void, unknown, Mounter>
      try {
        effect = verb(...args)
      } catch (error) {
        throw new Defect(`Mount.${name} threw synchronously: ${String(error)}`)
      }
      const exit = await runtime.runPromiseExit(effect)
      if (Exit.isSuccess(exit)) return
      if (Cause.hasDies(exit.cause))
        throw new Defect(`Mount.${name} died: ${Cause.pretty(exit.cause)}`)
      const error = Cause.findErrorOption(exit.cause)
      throw Option.isSome(error) ? error.value : new Defect(Cause.pretty(exit.cause))
    }
  }
  return verbs
}

/** The Promise facade, whose rejections must already be our error classes. */
export const promiseVerbs = (): Verbs => {
  const verbs = {} as Record<VerbName, (...args: Array<unknown>) => Promise<void>>
  for (const name of verbNames) {
    // biome-ignore lint/performance/noDynamicNamespaceImportAccess: one wrapper per verb, by name
    const verb = Promises[name] as unknown as (...args: Array<unknown>) => Promise<void>
    verbs[name] = async (...args) => {
      try {
        await verb(...args)
      } catch (error) {
        if (error instanceof Promises.MountError || error instanceof Promises.InvalidArgument)
          throw error
        throw new Defect(`promises.${name} rejected with ${String(error)}`)
      }
    }
  }
  return verbs
}

export type Expected =
  | { readonly _tag: "InvalidArgument"; readonly argument: string }
  | {
      readonly _tag: "MountError"
      readonly operation: string
      readonly code: string
      readonly path?: string
      /** Which of the call's arguments `path` is: `target`, `source`, `namespace`, … */
      readonly subject?: string
      /** The kernel's own words (fsconfig's log). */
      readonly detail?: string
    }

export interface HostileCase {
  readonly name: string
  readonly call: (verbs: Verbs) => Promise<void>
  readonly expected: Expected
}

/** Files the cases aim at, all on the test's scratch tmpfs unless said otherwise. */
export interface Fixtures {
  readonly base: string
  /** An existing directory that is not a mount point, with an `old` subdirectory. */
  readonly dir: string
  readonly file: string
  readonly fifo: string
  readonly socket: string
  /** A symlink to /proc/self/ns/net. */
  readonly netLink: string
  /** A path under `base` that does not exist. */
  readonly missing: string
  /** A live process in a mount namespace of its own. */
  readonly livePid: number
  /** A pid that cannot exist (above pid_max). */
  readonly noSuchPid: number
  /** A tmpfs mounted under `base`, made unbindable. */
  readonly unbindable: string
}

const IA = (argument: string): Expected => ({ _tag: "InvalidArgument", argument })
const ME = (
  operation: string,
  code: string,
  path?: string,
  more: { readonly subject?: string; readonly detail?: string } = {},
): Expected =>
  path === undefined
    ? { _tag: "MountError", operation, code, ...more }
    : { _tag: "MountError", operation, code, path, ...more }
/** A path lookup refused: stage `resolve`, `path` the argument that failed. */
const lookup = (code: string, path: string, subject: "target" | "source" = "target") =>
  ME("resolve", code, path, { subject })

/** 4,202 bytes: over PATH_MAX (4,096 with the NUL), every component short. */
export const overPathMax = `/${"a/".repeat(2100)}z`

/**
 * At least 100 hostile calls over every verb. Every call that passes validation is aimed so
 * the kernel must refuse it: nothing here may mount, unmount or pivot anything.
 */
export function hostileCases(f: Fixtures): Array<HostileCase> {
  const cases: Array<HostileCase> = []
  const add = (name: string, expected: Expected, call: (v: Verbs) => Promise<void>) =>
    cases.push({ name, expected, call })
  const live = { in: { pid: f.livePid } }
  const longName = `${f.base}/${"n".repeat(256)}`
  const relativeMissing = "linx-hostile-relative-missing"
  const cwdMissing = `${process.cwd()}/${relativeMissing}`

  // ── unknown and mistyped flags ───────────────────────────────────────────────────────
  const badFlagLists: ReadonlyArray<readonly [string, unknown]> = [
    ['"bogus"', ["bogus"]],
    ['"RO" (case)', ["RO"]],
    ['"ro " (space)', ["ro "]],
    ['"" (empty)', [""]],
    ['"MS_RDONLY" (constant name)', ["MS_RDONLY"]],
    ['"__proto__"', ["__proto__"]],
    ['"toString"', ["toString"]],
    ['"constructor"', ["constructor"]],
    ["a number", [1]],
    ["null", [null]],
    ["a bigint", [1n]],
    ["a symbol", [Symbol("ro")]],
    ["a nested array", [["ro"]]],
    ["a string, not an array", "ro"],
    ["an object", { ro: true }],
    ["a number, not an array", 4096],
    ["null, not an array", null],
    ['"ro\\0"', ["ro\0"]],
  ]
  for (const [what, flags] of badFlagLists) {
    add(`mount: flag ${what}`, IA("flags"), (v) => v.mount("x", f.dir, "tmpfs", { flags }))
  }
  for (const [what, flags] of badFlagLists.slice(0, 6)) {
    add(`bind: flag ${what}`, IA("flags"), (v) => v.bind(f.dir, f.dir, { flags }))
    add(`umount: flag ${what}`, IA("flags"), (v) => v.umount(f.dir, { flags }))
  }
  for (const [what, flags] of badFlagLists.slice(8, 12)) {
    add(`remount: flag ${what}`, IA("flags"), (v) => v.remount(f.dir, { flags }))
  }

  // ── flags of the wrong kind for the verb ─────────────────────────────────────────────
  for (const flag of [
    "detach",
    "force",
    "move",
    "remount",
    "private",
    "shared",
    "sync",
    "lazytime",
  ]) {
    add(`bind: flag "${flag}" is not for bind`, IA("flags"), (v) =>
      v.bind(f.dir, f.dir, { flags: [flag] }),
    )
  }
  for (const flag of ["private", "slave", "rec", "move", "detach"]) {
    add(`remount: flag "${flag}" is not for remount`, IA("flags"), (v) =>
      v.remount(f.dir, { flags: [flag] }),
    )
  }
  for (const flag of ["ro", "bind", "rec", "lazy"]) {
    add(`umount: flag "${flag}" is not for umount`, IA("flags"), (v) =>
      v.umount(f.dir, { flags: [flag] }),
    )
  }
  for (const flag of ["detach", "no_follow", "expire"]) {
    add(`mount: umount flag "${flag}"`, IA("flags"), (v) =>
      v.mount("x", f.dir, "tmpfs", { flags: [flag] }),
    )
  }
  add("move: any flags option", IA("flags"), (v) => v.move(f.dir, f.dir, { flags: ["move"] }))
  add("pivotRoot: any flags option", IA("flags"), (v) =>
    v.pivotRoot(f.dir, `${f.dir}/old`, { flags: [] }),
  )
  add("makePrivate: flags option", IA("flags"), (v) => v.makePrivate(f.dir, { flags: ["rec"] }))
  add("makeShared: recursive as a string", IA("recursive"), (v) =>
    v.makeShared(f.dir, { recursive: "yes" }),
  )
  add("makeSlave: recursive as 1", IA("recursive"), (v) => v.makeSlave(f.dir, { recursive: 1 }))
  add("umount: unknown option lazy", IA("lazy"), (v) => v.umount(f.dir, { lazy: true }))
  add("remount: create is not a remount option", IA("create"), (v) =>
    v.remount(f.dir, { create: true }),
  )
  add("umount: data is not an umount option", IA("data"), (v) => v.umount(f.dir, { data: "" }))
  add("bind: recursive is not a bind option", IA("recursive"), (v) =>
    v.bind(f.dir, f.dir, { recursive: true }),
  )
  add("mount: option In (case)", IA("In"), (v) => v.mount("x", f.dir, "tmpfs", { In: "self" }))
  add("mount: create as a string", IA("create"), (v) =>
    v.mount("x", f.dir, "tmpfs", { create: "yes" }),
  )

  // ── malformed `in` ───────────────────────────────────────────────────────────────────
  const badIns: ReadonlyArray<readonly [string, unknown]> = [
    ["pid -1", { pid: -1 }],
    ["pid 0", { pid: 0 }],
    ["pid -0", { pid: -0 }],
    ["pid 1.5", { pid: 1.5 }],
    ["pid 2^53", { pid: 2 ** 53 }],
    ["pid above PID_MAX_LIMIT", { pid: 4_194_305 }],
    ["pid NaN", { pid: Number.NaN }],
    ["pid Infinity", { pid: Number.POSITIVE_INFINITY }],
    ['pid "1"', { pid: "1" }],
    ["pid null", { pid: null }],
    ["pid 1n", { pid: 1n }],
    ["pid [1]", { pid: [1] }],
    ["pid {}", { pid: {} }],
    ["{}", {}],
    ["pid and path", { pid: 1, path: "/proc/1/ns/mnt" }],
    ["Pid (case)", { Pid: 1 }],
    ['path ""', { path: "" }],
    ["path 3", { path: 3 }],
    ["path null", { path: null }],
    ["path with NUL", { path: "/proc/self/ns/\0mnt" }],
    ["a number", 5],
    ["a string path", "/proc/self/ns/mnt"],
    ['"Self"', "Self"],
    ['""', ""],
    ["null", null],
    ["true", true],
    ["an array", [{ pid: 1 }]],
    // Read once, own properties only: an inherited pid is no pid. (A pid that cannot exist,
    // so that a call that wrongly took it would fail at open_ns and touch nothing.)
    ["inherited pid", Object.create({ pid: f.noSuchPid })],
  ]
  badIns.forEach(([what, value], i) => {
    const verb = verbNames[i % verbNames.length]!
    const call = (v: Verbs) => {
      const o = { in: value }
      switch (verb) {
        case "mount":
          return v.mount("x", "/mnt", "tmpfs", o)
        case "bind":
        case "move":
          return v[verb]("/mnt", "/mnt", o)
        case "pivotRoot":
          return v.pivotRoot("/mnt", "/mnt/old", o)
        default:
          return v[verb]("/mnt", o)
      }
    }
    add(`${verb}: in ${what}`, IA("in"), call)
  })

  // ── `in` naming something that is not a mount namespace ──────────────────────────────
  const notNamespaces: ReadonlyArray<readonly [string, string, string]> = [
    ["a regular file", f.file, "EINVAL"],
    ["a directory", f.dir, "EINVAL"],
    ["a FIFO (must not block)", f.fifo, "EINVAL"],
    ["a socket", f.socket, "ENXIO"],
    ["/proc/self/ns/net", "/proc/self/ns/net", "EINVAL"],
    ["/proc/self/ns/pid", "/proc/self/ns/pid", "EINVAL"],
    ["/proc/self/ns/user", "/proc/self/ns/user", "EINVAL"],
    ["a symlink to /proc/self/ns/net", f.netLink, "EINVAL"],
    ["/proc/self/ns (a directory on proc)", "/proc/self/ns", "EINVAL"],
    ["/dev/null", "/dev/null", "EINVAL"],
    ["a missing file", f.missing, "ENOENT"],
    ["a path over PATH_MAX", overPathMax, "ENAMETOOLONG"],
  ]
  for (const [what, path, code] of notNamespaces) {
    add(`bind: in { path: ${what} }`, ME("open_ns", code, path), (v) =>
      v.bind("/mnt", "/mnt", { in: { path } }),
    )
  }
  for (const [what, path, code] of notNamespaces.slice(0, 6)) {
    add(`umount: in { path: ${what} }`, ME("open_ns", code, path, { subject: "namespace" }), (v) =>
      v.umount("/mnt", { in: { path } }),
    )
    add(`mount proc: in { path: ${what} }, pidIn "self"`, ME("open_ns", code, path), (v) =>
      v.mount("proc", "/linx-hostile-missing", "proc", { in: { path }, pidIn: "self" }),
    )
  }
  // A proc mount shows a PID namespace; a mount namespace file names none, so with
  // `in: { path }` the caller must say which, and what it names must be one.
  add("mount proc: in { path } without pidIn is refused, never the host's", IA("pidIn"), (v) =>
    v.mount("proc", "/linx-hostile-missing", "proc", { in: { path: "/proc/self/ns/mnt" } }),
  )
  add('mount proc: pidIn "host"', IA("pidIn"), (v) =>
    v.mount("proc", "/linx-hostile-missing", "proc", { in: { pid: f.livePid }, pidIn: "host" }),
  )
  add("mount proc: pidIn { pid } (only a file names one)", IA("pidIn"), (v) =>
    v.mount("proc", "/linx-hostile-missing", "proc", { pidIn: { pid: f.livePid } }),
  )
  add("mount tmpfs: pidIn on a filesystem that is not proc", IA("pidIn"), (v) =>
    v.mount("x", f.missing, "tmpfs", { pidIn: "self" }),
  )
  const notPidNamespaces: ReadonlyArray<readonly [string, string, string]> = [
    ["a regular file", f.file, "EINVAL"],
    ["a FIFO (must not block)", f.fifo, "EINVAL"],
    ["a socket", f.socket, "ENXIO"],
    ["a mount namespace", "/proc/self/ns/mnt", "EINVAL"],
    ["/proc/self/ns/net", "/proc/self/ns/net", "EINVAL"],
    ["a missing file", f.missing, "ENOENT"],
  ]
  for (const [what, path, code] of notPidNamespaces) {
    add(
      `mount proc: pidIn { path: ${what} }`,
      ME("open_pidns", code, path, { subject: "pidNamespace" }),
      (v) =>
        v.mount("proc", "/linx-hostile-missing", "proc", {
          in: { path: "/proc/self/ns/mnt" },
          pidIn: { path },
        }),
    )
  }
  add("pivotRoot: in { path: a FIFO }", ME("open_ns", "EINVAL", f.fifo), (v) =>
    v.pivotRoot("/mnt", "/mnt/old", { in: { path: f.fifo } }),
  )
  add(
    "in { path: relative, missing } resolves against cwd",
    ME("open_ns", "ENOENT", cwdMissing),
    (v) => v.makePrivate("/mnt", { in: { path: relativeMissing } }),
  )
  const noSuch = `/proc/${f.noSuchPid}/ns/mnt`
  add("bind: in { pid } above pid_max", ME("open_ns", "ENOENT", noSuch), (v) =>
    v.bind("/mnt", "/mnt", { in: { pid: f.noSuchPid } }),
  )
  add("mount proc: in { pid } above pid_max", ME("open_ns", "ENOENT", noSuch), (v) =>
    v.mount("proc", "/proc", "proc", { in: { pid: f.noSuchPid } }),
  )
  add("pivotRoot: in { pid } above pid_max", ME("open_ns", "ENOENT", noSuch), (v) =>
    v.pivotRoot("/", "/old", { in: { pid: f.noSuchPid } }),
  )
  add(
    "umount: in { pid: PID_MAX_LIMIT } (valid, never a pid here)",
    ME("open_ns", "ENOENT", "/proc/4194304/ns/mnt"),
    (v) => v.umount("/mnt", { in: { pid: 4_194_304 } }),
  )

  // ── NUL bytes anywhere in any string ─────────────────────────────────────────────────
  const nul = (s: string, at: "start" | "middle" | "end") =>
    at === "start" ? `\0${s}` : at === "end" ? `${s}\0` : `${s.slice(0, 2)}\0${s.slice(2)}`
  for (const at of ["start", "middle", "end"] as const) {
    add(`mount: NUL at ${at} of source`, IA("source"), (v) =>
      v.mount(nul("tmpfs", at), f.dir, "tmpfs"),
    )
    add(`mount: NUL at ${at} of target`, IA("target"), (v) => v.mount("x", nul(f.dir, at), "tmpfs"))
    add(`mount: NUL at ${at} of fstype`, IA("fstype"), (v) => v.mount("x", f.dir, nul("tmpfs", at)))
    add(`mount: NUL at ${at} of data`, IA("data"), (v) =>
      v.mount("x", f.dir, "tmpfs", { data: nul("size=1m", at) }),
    )
    add(`bind: NUL at ${at} of source`, IA("source"), (v) => v.bind(nul(f.dir, at), f.dir))
    add(`bind: NUL at ${at} of target`, IA("target"), (v) => v.bind(f.dir, nul(f.dir, at)))
    add(`bind: NUL at ${at} of in.path`, IA("in"), (v) =>
      v.bind(f.dir, f.dir, { in: { path: nul("/proc/self/ns/mnt", at) } }),
    )
    // The same names as bytes: a NUL would cut the path short in the kernel.
    add(`bind: NUL at ${at} of a Buffer source`, IA("source"), (v) =>
      v.bind(Buffer.from(nul(f.dir, at)), f.missing),
    )
    add(`bind: NUL at ${at} of a Buffer target`, IA("target"), (v) =>
      v.bind(f.dir, Buffer.from(nul(f.missing, at))),
    )
    add(`mount bind: NUL at ${at} of a Buffer source`, IA("source"), (v) =>
      v.mount(Buffer.from(nul(f.dir, at)), f.missing, "", { flags: ["bind"] }),
    )
    add(`umount: NUL at ${at} of a Uint8Array target`, IA("target"), (v) =>
      v.umount(new TextEncoder().encode(nul(f.dir, at))),
    )
  }
  add("bind: NUL in a Buffer in.path", IA("in"), (v) =>
    v.bind(f.dir, f.missing, { in: { path: Buffer.from("/proc/self/ns/\0mnt") } }),
  )
  add("remount: NUL in target", IA("target"), (v) => v.remount(nul(f.dir, "middle")))
  add("remount: NUL in data", IA("data"), (v) => v.remount(f.dir, { data: "mode=755\0size=1" }))
  add("move: NUL in source", IA("source"), (v) => v.move(nul(f.dir, "end"), f.dir))
  add("move: NUL in target", IA("target"), (v) => v.move(f.dir, nul(f.dir, "start")))
  add("umount: NUL in target", IA("target"), (v) => v.umount(nul(f.dir, "middle")))
  add("pivotRoot: NUL in newRoot", IA("newRoot"), (v) =>
    v.pivotRoot(nul(f.dir, "middle"), `${f.dir}/old`),
  )
  add("pivotRoot: NUL in putOld", IA("putOld"), (v) =>
    v.pivotRoot(f.dir, nul(`${f.dir}/old`, "end")),
  )
  add("makeUnbindable: NUL in target", IA("target"), (v) => v.makeUnbindable(nul(f.dir, "end")))
  add("umount: NUL in target, foreign in", IA("target"), (v) => v.umount("/mn\0t", live))

  // ── empty and relative paths ─────────────────────────────────────────────────────────
  add("mount: empty target", IA("target"), (v) => v.mount("x", "", "tmpfs"))
  add("bind: empty source", IA("source"), (v) => v.bind("", f.dir))
  add("bind: empty target", IA("target"), (v) => v.bind(f.dir, ""))
  add("remount: empty target", IA("target"), (v) => v.remount(""))
  add("move: empty source", IA("source"), (v) => v.move("", f.dir))
  add("move: empty target", IA("target"), (v) => v.move(f.dir, ""))
  add("umount: empty target", IA("target"), (v) => v.umount(""))
  add("pivotRoot: empty newRoot", IA("newRoot"), (v) => v.pivotRoot("", `${f.dir}/old`))
  add("pivotRoot: empty putOld", IA("putOld"), (v) => v.pivotRoot(f.dir, ""))
  add("makeShared: empty target", IA("target"), (v) => v.makeShared(""))
  add("bind: empty Buffer source", IA("source"), (v) => v.bind(Buffer.alloc(0), f.missing))
  add("umount: empty Uint8Array target", IA("target"), (v) => v.umount(new Uint8Array(0)))
  // An empty source must not become the working directory.
  add("mount bind: empty Uint8Array source", IA("source"), (v) =>
    v.mount(new Uint8Array(0), f.missing, "", { flags: ["bind"] }),
  )
  add("mount move: empty source", IA("source"), (v) =>
    v.mount("", f.missing, "", { flags: ["move"] }),
  )
  add("mount: relative target, foreign in", IA("target"), (v) => v.mount("x", "mnt", "tmpfs", live))
  add("bind: relative source, foreign in", IA("source"), (v) => v.bind("srv", "/mnt", live))
  add("bind: relative target, foreign in", IA("target"), (v) => v.bind("/srv", "./mnt", live))
  add("remount: relative target, in { path }", IA("target"), (v) =>
    v.remount("mnt", { in: { path: "/proc/self/ns/mnt" } }),
  )
  add("move: relative source, foreign in", IA("source"), (v) => v.move("../a", "/b", live))
  add("umount: relative target, foreign in", IA("target"), (v) => v.umount("mnt", live))
  add("pivotRoot: relative putOld, foreign in", IA("putOld"), (v) => v.pivotRoot("/", "old", live))
  add("makeSlave: relative target, foreign in", IA("target"), (v) => v.makeSlave("mnt", live))
  add("umount: relative target, self: resolved against cwd", lookup("ENOENT", cwdMissing), (v) =>
    v.umount(relativeMissing),
  )
  add(
    "makePrivate: relative Buffer target, self: resolved against cwd",
    lookup("ENOENT", cwdMissing),
    (v) => v.makePrivate(Buffer.from(relativeMissing)),
  )

  // ── paths over PATH_MAX and components over NAME_MAX ─────────────────────────────────
  // Every lookup is one openat2(2) (inside the namespace's root when it is not ours), and a
  // refusal names the argument whose lookup failed.
  const tooLong = "ENAMETOOLONG"
  add("mount: target over PATH_MAX", lookup(tooLong, overPathMax), (v) =>
    v.mount("x", overPathMax, "tmpfs"),
  )
  add("mount: target component over NAME_MAX", lookup(tooLong, longName), (v) =>
    v.mount("x", longName, "tmpfs"),
  )
  add("bind: source over PATH_MAX", lookup(tooLong, overPathMax, "source"), (v) =>
    v.bind(overPathMax, f.dir),
  )
  add("bind: target over PATH_MAX", lookup(tooLong, overPathMax), (v) => v.bind(f.dir, overPathMax))
  add("bind: source component over NAME_MAX", lookup(tooLong, longName, "source"), (v) =>
    v.bind(longName, f.dir),
  )
  add("remount: target over PATH_MAX", lookup(tooLong, overPathMax), (v) => v.remount(overPathMax))
  add("move: source over PATH_MAX", lookup(tooLong, overPathMax, "source"), (v) =>
    v.move(overPathMax, f.dir),
  )
  add("move: target over PATH_MAX", lookup(tooLong, overPathMax), (v) => v.move(f.dir, overPathMax))
  add("umount: target over PATH_MAX", lookup(tooLong, overPathMax), (v) => v.umount(overPathMax))
  add(
    "umount: relative target over PATH_MAX",
    lookup(tooLong, resolve(process.cwd(), "a/".repeat(2100))),
    (v) => v.umount("a/".repeat(2100)),
  )
  add("pivotRoot: newRoot over PATH_MAX", lookup(tooLong, overPathMax), (v) =>
    v.pivotRoot(overPathMax, "/old"),
  )
  add("pivotRoot: putOld over PATH_MAX", lookup(tooLong, overPathMax, "source"), (v) =>
    v.pivotRoot(f.dir, overPathMax),
  )
  add("makePrivate: target over PATH_MAX", lookup(tooLong, overPathMax), (v) =>
    v.makePrivate(overPathMax),
  )
  add("bind create: target over PATH_MAX", ME("create", tooLong, overPathMax), (v) =>
    v.bind(f.file, overPathMax, { create: true }),
  )
  add("umount: target over PATH_MAX, foreign in", lookup(tooLong, overPathMax), (v) =>
    v.umount(overPathMax, live),
  )
  add("bind: source over PATH_MAX, foreign in", lookup(tooLong, overPathMax, "source"), (v) =>
    v.bind(overPathMax, "/mnt", live),
  )
  add("bind create: target over PATH_MAX, foreign in", ME("create", tooLong, overPathMax), (v) =>
    v.bind("/dev/null", overPathMax, { create: true, ...live }),
  )
  // Not paths: fsopen(2) copies the type name, fsconfig(2) a string value, each with a limit
  // of its own, and each says EINVAL.
  add("mount: fstype over a page", ME("fsopen", "EINVAL", f.missing), (v) =>
    v.mount("x", f.missing, "t".repeat(5000)),
  )
  add("mount: tmpfs source over a page", ME("fsconfig", "EINVAL", f.missing), (v) =>
    v.mount("s".repeat(5000), f.missing, "tmpfs"),
  )

  // ── non-string values from plain JavaScript ──────────────────────────────────────────
  const notStrings: ReadonlyArray<readonly [string, unknown]> = [
    ["42", 42],
    ["null", null],
    ["undefined", undefined],
    ["{}", {}],
    ["[]", []],
    ["true", true],
    ["a symbol", Symbol("/mnt")],
    ["a bigint", 1n],
    ["an ArrayBuffer", new ArrayBuffer(4)],
    ["a String object", new String("/mnt")],
    ["a function", () => "/mnt"],
    ["NaN", Number.NaN],
    ["a URL", new URL("file:///mnt")],
  ]
  notStrings.forEach(([what, value], i) => {
    add(`bind: source ${what}`, IA("source"), (v) => v.bind(value, f.dir))
    if (i % 2 === 0) add(`umount: target ${what}`, IA("target"), (v) => v.umount(value))
    if (i % 3 === 0) add(`mount: fstype ${what}`, IA("fstype"), (v) => v.mount("x", f.dir, value))
    if (i % 4 === 0)
      add(`pivotRoot: putOld ${what}`, IA("putOld"), (v) => v.pivotRoot(f.dir, value))
  })
  add("mount: a Buffer source for a new filesystem", IA("source"), (v) =>
    v.mount(Buffer.from("x"), f.missing, "tmpfs"),
  )
  add("mount: a Buffer fstype", IA("fstype"), (v) => v.mount("x", f.missing, Buffer.from("tmpfs")))
  add("mount: data 42", IA("data"), (v) => v.mount("x", f.dir, "tmpfs", { data: 42 }))
  add("mount: data Buffer", IA("data"), (v) =>
    v.mount("x", f.dir, "tmpfs", { data: Buffer.from("size=1m") }),
  )
  add("remount: data null", IA("data"), (v) => v.remount(f.dir, { data: null }))
  add("no arguments at all", IA("target"), (v) => v.umount())
  add("bind: no arguments", IA("source"), (v) => v.bind())
  for (const [what, options] of [
    ['"ro"', "ro"],
    ["5", 5],
    ["null", null],
    ["[]", []],
    ["true", true],
  ] as const) {
    add(`umount: options ${what}`, IA("options"), (v) => v.umount(f.dir, options))
    add(`mount: options ${what}`, IA("options"), (v) => v.mount("x", f.dir, "tmpfs", options))
  }

  // ── `data` over a page ───────────────────────────────────────────────────────────────
  add("mount: data of 4096 bytes", IA("data"), (v) =>
    v.mount("x", f.dir, "tmpfs", { data: "x".repeat(4096) }),
  )
  add("mount: data of 2048 two-byte characters", IA("data"), (v) =>
    v.mount("x", f.dir, "tmpfs", { data: "é".repeat(2048) }),
  )
  add("mount: data of 1 MiB", IA("data"), (v) =>
    v.mount("x", f.dir, "tmpfs", { data: "x".repeat(1 << 20) }),
  )
  add("bind: data over a page", IA("data"), (v) => v.bind(f.dir, f.dir, { data: "y".repeat(5000) }))
  add("remount: data over a page", IA("data"), (v) => v.remount(f.dir, { data: "z".repeat(4097) }))

  // ── paths as bytes: accepted, and given to the kernel exactly ─────────────────────────
  const bytes = (path: string) => Buffer.from(path)
  add("bind: a Buffer source reaches the kernel", lookup("ENOENT", f.missing, "source"), (v) =>
    v.bind(bytes(f.missing), f.dir),
  )
  add("umount: a Buffer target reaches the kernel", ME("umount", "EINVAL", f.dir), (v) =>
    v.umount(bytes(f.dir)),
  )
  add("pivotRoot: a Buffer putOld reaches the kernel", ME("pivot_root", "EINVAL", f.dir), (v) =>
    v.pivotRoot(f.dir, bytes(`${f.dir}/old`)),
  )
  add("makeSlave: a Uint8Array target reaches the kernel", lookup("ENOENT", f.missing), (v) =>
    v.makeSlave(new TextEncoder().encode(f.missing)),
  )
  add(
    "bind: a source that is not UTF-8, named byte for byte",
    lookup("ENOENT", `${f.missing}\\xff\\xfe`, "source"),
    (v) => v.bind(Buffer.concat([bytes(f.missing), Buffer.from([0xff, 0xfe])]), f.dir),
  )
  add("bind: a Buffer target, foreign in", lookup("ENOENT", "/linx-hostile-missing"), (v) =>
    v.bind("/", bytes("/linx-hostile-missing"), live),
  )
  add("bind: a relative Buffer source, foreign in", IA("source"), (v) =>
    v.bind(bytes("srv"), "/mnt", live),
  )

  // ── options read once, own properties only ──────────────────────────────────────────
  add("bind: a getter that throws", IA("flags"), (v) =>
    v.bind(f.dir, f.missing, {
      get flags(): never {
        throw new Error("linx-hostile getter")
      },
    }),
  )
  add("umount: a proxy whose keys throw", IA("options"), (v) =>
    v.umount(
      f.dir,
      new Proxy(
        {},
        {
          ownKeys: () => {
            throw new Error("linx-hostile proxy")
          },
        },
      ),
    ),
  )
  // Ignored, so the call runs here (were it taken, open_ns would refuse the pid).
  add("makePrivate: an inherited in option is none", ME("mount_setattr", "EINVAL", f.dir), (v) =>
    v.makePrivate(f.dir, Object.create({ in: { pid: f.noSuchPid } })),
  )
  add(
    "makePrivate: Object.prototype.in is ignored (relative path, so self)",
    lookup("ENOENT", cwdMissing),
    async (v) => {
      const proto = Object.prototype as { in?: unknown }
      proto.in = { pid: f.noSuchPid }
      try {
        await v.makePrivate(relativeMissing)
      } finally {
        delete proto.in
      }
    },
  )

  // ── combinations refused before any syscall ──────────────────────────────────────────
  add("bind: data is not a bind option", IA("data"), (v) =>
    v.bind(f.dir, f.missing, { data: "mode=755" }),
  )
  add("mount bind: data is refused (the kernel would ignore it)", IA("data"), (v) =>
    v.mount(f.dir, f.missing, "", { flags: ["bind"], data: "mode=755" }),
  )
  add("mount: two propagation types", IA("flags"), (v) =>
    v.mount("", f.dir, "", { flags: ["shared", "private"] }),
  )
  add("mount: a propagation type with bind", IA("flags"), (v) =>
    v.mount(f.dir, f.missing, "", { flags: ["bind", "private"] }),
  )
  add("mount: an empty fstype for a new filesystem", IA("fstype"), (v) =>
    v.mount("x", f.missing, ""),
  )
  add("bind: two atime modes", IA("flags"), (v) =>
    v.bind(f.dir, f.missing, { flags: ["noatime", "strictatime"] }),
  )
  add("remount bind: data is refused", IA("data"), (v) =>
    v.remount(f.dir, { flags: ["bind", "ro"], data: "size=1m" }),
  )

  // ── valid calls the kernel must refuse, at the right stage ───────────────────────────
  add("umount: missing target", lookup("ENOENT", f.missing), (v) => v.umount(f.missing))
  add("umount: not a mount point", ME("umount", "EINVAL", f.dir), (v) => v.umount(f.dir))
  add("umount: expire with detach", ME("umount", "EINVAL", f.dir), (v) =>
    v.umount(f.dir, { flags: ["expire", "detach"] }),
  )
  add("mount: unknown filesystem type", ME("fsopen", "ENODEV", f.missing), (v) =>
    v.mount("x", f.missing, "linx-no-such-fs"),
  )
  add(
    "mount: a bad tmpfs option, in the kernel's words",
    ME("fsconfig", "EINVAL", f.missing, { detail: "tmpfs: Bad value for 'size'" }),
    (v) => v.mount("x", f.missing, "tmpfs", { data: "size=linx" }),
  )
  add("mount: missing target", lookup("ENOENT", f.missing), (v) => v.mount("x", f.missing, "tmpfs"))
  add("bind: missing source", lookup("ENOENT", f.missing, "source"), (v) =>
    v.bind(f.missing, f.dir),
  )
  add("bind: nosymfollow, missing source", lookup("ENOENT", f.missing, "source"), (v) =>
    v.bind(f.missing, f.dir, { flags: ["nosymfollow"] }),
  )
  add("bind: missing target", lookup("ENOENT", f.missing), (v) => v.bind(f.dir, f.missing))
  add(
    "bind: an unbindable source",
    ME("open_tree", "EINVAL", f.unbindable, { subject: "source" }),
    (v) => v.bind(f.unbindable, f.dir),
  )
  add("remount bind: not a mount point", ME("mount_setattr", "EINVAL", f.dir), (v) =>
    v.remount(f.dir, { flags: ["bind", "ro"] }),
  )
  add("remount: not a mount point", ME("fspick", "EINVAL", f.dir), (v) =>
    v.remount(f.dir, { flags: ["ro"] }),
  )
  add("setAttributes via make*: not a mount point", ME("mount_setattr", "EINVAL", f.dir), (v) =>
    v.makeUnbindable(f.dir),
  )
  add("move: not a mount point", ME("move_mount", "EINVAL", f.dir), (v) => v.move(f.dir, f.dir))
  add("move: missing target", lookup("ENOENT", f.missing), (v) => v.move(f.unbindable, f.missing))
  add("makeShared: missing target", lookup("ENOENT", f.missing), (v) => v.makeShared(f.missing))
  add("pivotRoot: newRoot missing", lookup("ENOENT", f.missing), (v) =>
    v.pivotRoot(f.missing, `${f.missing}/old`),
  )
  add("pivotRoot: newRoot a file", lookup("ENOTDIR", f.file), (v) =>
    v.pivotRoot(f.file, `${f.file}/old`),
  )
  add("pivotRoot: putOld a file", lookup("ENOTDIR", f.file, "source"), (v) =>
    v.pivotRoot(f.dir, f.file),
  )
  add("pivotRoot: newRoot not a mount point", ME("pivot_root", "EINVAL", f.dir), (v) =>
    v.pivotRoot(f.dir, `${f.dir}/old`),
  )
  add("bind create: parent missing", ME("create", "ENOENT", `${f.missing}/x`), (v) =>
    v.bind(f.file, `${f.missing}/x`, { create: true }),
  )
  add("bind create: parent is a file", ME("create", "ENOTDIR", `${f.file}/x`), (v) =>
    v.bind(f.file, `${f.file}/x`, { create: true }),
  )
  add("umount: missing target, foreign in", lookup("ENOENT", "/linx-hostile-missing"), (v) =>
    v.umount("/linx-hostile-missing", live),
  )
  add(
    "mount proc: missing target, foreign in (vfork child)",
    lookup("ENOENT", "/linx-hostile-missing"),
    (v) => v.mount("proc", "/linx-hostile-missing", "proc", live),
  )
  add("pivotRoot: foreign in, newRoot missing", lookup("ENOENT", "/linx-hostile-missing"), (v) =>
    v.pivotRoot("/linx-hostile-missing", "/linx-hostile-missing/old", live),
  )
  return cases
}
