/**
 * The mutating commands, with mount(8)'s and umount(8)'s habits: their options, their `-o`
 * words (see `options.ts`), their argument forms and exit status (0; 1 bad usage, nothing
 * done; 32 the kernel refused). Each command is parsed and checked here and becomes a plan
 * of API calls; only a plan that is ready to run loads Effect and the pool (`run.ts`), so a
 * usage error or `--help` costs no more than `node` itself.
 *
 * Remount (`mount -o remount,…`, `linx-mount remount`): the `-o` words are merged with the
 * mount's current options as mount(8) merges them — the mount's OPTIONS as the table shows
 * them (its per-mount flags and its superblock's), then the words, the last word winning.
 * What is done with the result:
 *
 * - With `bind`, or when the words change per-mount attributes only (nosuid, nodev, noexec,
 *   the atime words, nosymfollow and their opposites): `Mount.setAttributes` with the
 *   difference between the attributes the mount has and those mount(2) would give it for the
 *   merged flags. Only what changes is touched; the filesystem is never reconfigured (mount(8)
 *   reconfigures it for a remount without `bind`, which makes a whole filesystem read-only
 *   when the mount is a read-only bind of it).
 * - Otherwise (`ro`/`rw`, `sync`, `lazytime`, `mand`, or filesystem options such as
 *   `size=2g`): `Mount.remount`, mount(2)'s exact remount, with the merged flags and the
 *   filesystem options given (not the current ones: fsconfig(2) changes only the options it
 *   is given, where mount(8) passes the whole string again to mount(2)).
 *
 * The table is read where the call will run (`--pid`, `--ns`), and the mount found there by
 * its mount point, resolved as `list -M` resolves it.
 */
import type { Buffer } from "node:buffer"
import type * as Mount from "../../Mount.js"
import type { MountEntry } from "../../MountEntry.js"
import { readTableSync, type TableTarget } from "../tables.js"
import { type Arg, type Given, getopt, type OptionSpec, pathOf, UsageError } from "./args.js"
import { entryOptions } from "./columns.js"
import { canonicalize, exists, type PathSpace, samePath } from "./match.js"
import {
  applyFlags,
  attributeChange,
  attributesOf,
  type Flag,
  flagList,
  flagsOf,
  type PropagationType,
  perMount,
  remountedAttributes,
  type Sorted,
  sortWords,
  splitWords,
  typoOf,
} from "./options.js"
import { decodeHexEscapes, humanCell } from "./text.js"

type Out = NodeJS.WritableStream

/** A step of a plan: one API call, as `Mount.batch` takes it. */
export type Step = Mount.BatchOp

/** Calls that run in order and stop at the first failure; `atomic`: as one `Mount.batch`. */
export interface Group {
  readonly steps: ReadonlyArray<Step>
  readonly atomic: boolean
  /** A target refused before anything ran (umount -R of what is not mounted). */
  readonly refused?: { readonly message: string; readonly status: number }
}

/** What a command will do: groups run one after the other, each whatever the last did. */
export interface Plan {
  readonly in: Mount.In
  readonly groups: ReadonlyArray<Group>
}

/** A namespace chosen with --pid, --ns or -N: the API's `in`, its table, its paths. */
interface Namespace {
  readonly in: Mount.In
  readonly table: TableTarget
  readonly space: PathSpace
}

const common: ReadonlyArray<OptionSpec> = [
  { id: "pid", long: ["pid"], value: "required" },
  { id: "ns", long: ["ns"], value: "required" },
  { id: "namespace", short: "N", long: ["namespace"], value: "required" },
  { id: "help", short: "h", long: ["help"] },
  { id: "version", short: "V", long: ["version"] },
  { id: "verbose", short: "v", long: ["verbose"] },
  { id: "no-mtab", short: "n", long: ["no-mtab"] },
  { id: "no-canonicalize", short: "c", long: ["no-canonicalize"] },
]

const MAX_PID = 4_194_304

const namespaceOf = (options: ReadonlyArray<Given>): Namespace => {
  const chosen = options.filter((o) => o.id === "pid" || o.id === "ns" || o.id === "namespace")
  const distinct = new Set(chosen.map((o) => o.id))
  if (distinct.size > 1) throw new UsageError("--pid, --ns and --namespace exclude each other")
  const last = chosen.at(-1)
  if (last === undefined) return { in: "self", table: { kind: "self" }, space: { kind: "here" } }
  const value = last.value!
  const numeric = /^[0-9]+$/.test(value.text)
  if (last.id === "pid" || (last.id === "namespace" && numeric)) {
    const pid = Number(value.text)
    if (!numeric || pid < 1 || pid > MAX_PID) {
      throw new UsageError(`invalid PID argument: '${value.text}'`)
    }
    return {
      in: { pid },
      table: { kind: "pid", pid },
      space: { kind: "root", root: `/proc/${pid}/root` },
    }
  }
  if (value.bytes.length === 0) throw new UsageError(`${last.spelling} expects a path`)
  return {
    in: { path: pathOf(value) },
    table: { kind: "namespace", path: value.text },
    space: { kind: "none" },
  }
}

const values = (parsed: ReturnType<typeof getopt>, id: string): Array<Arg> =>
  parsed.options.filter((o) => o.id === id).map((o) => o.value!)

const has = (parsed: ReturnType<typeof getopt>, id: string): boolean =>
  parsed.options.some((o) => o.id === id)

// ---- the table where the call runs -----------------------------------------------------------

/** The mount table of a namespace, read once per command when needed. */
class Table {
  private entries: ReadonlyArray<MountEntry> | undefined
  constructor(private readonly ns: Namespace) {}

  get(): ReadonlyArray<MountEntry> {
    if (this.entries === undefined) {
      const result = readTableSync(this.ns.table)
      this.entries = "failure" in result ? [] : result.entries
    }
    return this.entries
  }

  /** The mount on top at `path` (resolved as `list -M` does), if `path` is a mount point. */
  at(path: Buffer): MountEntry | undefined {
    const resolved = canonicalize(path, this.ns.space)
    const entries = this.get()
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!
      if (samePath(e.mountPointBytes, resolved) || samePath(e.mountPointBytes, path)) return e
    }
    return undefined
  }

  /**
   * The path a printed name stands for: the argument itself, unless it holds `\xHH`
   * escapes (as `list` prints names that are not UTF-8, control characters and blanks with
   * `-r`) and only their decoded form is a mount point here.
   */
  name(a: Arg): Buffer {
    const decoded = decodeHexEscapes(a.bytes)
    if (decoded === undefined) return a.bytes
    return this.at(decoded) !== undefined && this.at(a.bytes) === undefined ? decoded : a.bytes
  }
}

const show = (b: Buffer): string => humanCell(b).text

// ---- -o words -------------------------------------------------------------------------------

const superblockFlags: ReadonlyArray<Flag> = ["sync", "dirsync", "mandlock", "lazytime"]

const unknownWord = (word: string, what: string): string => {
  const typo = typoOf(word)
  return `unknown option word '${word}'${typo === undefined ? "" : ` (did you mean '${typo}'?)`}: ${what}`
}

/** The words of a bind: per-mount attributes only; anything else refused before any call. */
const bindFlags = (sorted: Sorted): Array<Mount.BindFlag> => {
  const word = sorted.data[0]
  if (word !== undefined)
    throw new UsageError(unknownWord(word, "a bind takes mount(8)'s words only"))
  const sb = sorted.flagWords.find((w) => superblockFlags.includes(w.flag))
  if (sb !== undefined) {
    throw new UsageError(`'${wordOf(sb)}' is a filesystem flag: it does not apply to a bind`)
  }
  const flags = applyFlags([], sorted.flagWords)
  const out = flagList(flags).filter(
    (f) => perMount.includes(f) || f === "silent",
  ) as Array<Mount.BindFlag>
  if (sorted.rbind) out.unshift("rec")
  return out
}

const wordOf = (w: { readonly flag: Flag; readonly set: boolean }): string =>
  ({
    ro: ["rw", "ro"],
    nosuid: ["suid", "nosuid"],
    nodev: ["dev", "nodev"],
    noexec: ["exec", "noexec"],
    sync: ["async", "sync"],
    dirsync: ["dirsync", "dirsync"],
    mandlock: ["nomand", "mand"],
    noatime: ["atime", "noatime"],
    nodiratime: ["diratime", "nodiratime"],
    relatime: ["norelatime", "relatime"],
    strictatime: ["nostrictatime", "strictatime"],
    lazytime: ["nolazytime", "lazytime"],
    nosymfollow: ["symfollow", "nosymfollow"],
    silent: ["loud", "silent"],
  })[w.flag][w.set ? 1 : 0]!

const propagationVerb = {
  private: "makePrivate",
  shared: "makeShared",
  slave: "makeSlave",
  unbindable: "makeUnbindable",
} as const

const propagationSteps = (
  target: Mount.PathLike,
  list: ReadonlyArray<{ readonly type: PropagationType; readonly recursive: boolean }>,
): Array<Step> =>
  list.map((p) => ({ verb: propagationVerb[p.type], target, recursive: p.recursive }))

/** A remount of `target` with `sorted` (mount(8)'s merge; see the module note). */
const remountPlan = (
  target: Buffer,
  sorted: Sorted,
  bindGiven: boolean,
  table: Table,
): Array<Step> => {
  if (sorted.move) throw new UsageError("'move' and 'remount' exclude each other")
  if (sorted.rbind)
    throw new UsageError("'rbind' does not apply to a remount (setattr -R changes a tree)")
  if (sorted.create) throw new UsageError("X-mount.mkdir: a remount makes no mount point")
  const bind = bindGiven || sorted.bind
  const path = pathOf(target)
  const entry = table.at(target)
  const start = entry === undefined ? [] : flagsOf(entryOptions(entry).toString("latin1"))
  const merged = applyFlags(start, sorted.flagWords)
  const propagation = propagationSteps(path, sorted.propagation)
  if (bind) {
    const word = sorted.data[0]
    if (word !== undefined) {
      throw new UsageError(
        unknownWord(word, "a bind remount changes mount(8)'s per-mount flags only"),
      )
    }
    const sb = sorted.flagWords.find((w) => superblockFlags.includes(w.flag))
    if (sb !== undefined) {
      throw new UsageError(
        `'${wordOf(sb)}' is a filesystem flag: it does not apply to a bind remount (remount without bind)`,
      )
    }
  }
  const attributesOnly =
    bind ||
    (sorted.data.length === 0 &&
      sorted.flagWords.every((w) => w.flag !== "ro" && !superblockFlags.includes(w.flag)))
  if (attributesOnly && entry !== undefined) {
    const current = attributesOf(entry.mountOptions)
    const change = attributeChange(current, remountedAttributes(merged, current))
    const steps: Array<Step> = []
    if (change.set.length > 0 || change.clear.length > 0) {
      steps.push({
        verb: "setAttributes",
        target: path,
        set: change.set as Array<Mount.Attribute>,
        clear: change.clear as Array<Mount.Attribute>,
      })
    }
    return [...steps, ...propagation]
  }
  if (attributesOnly) {
    // Not a mount point in the table: mount(2)'s exact remount, for the kernel to say why.
    const flags = flagList(merged).filter((f) => perMount.includes(f)) as Array<Mount.RemountFlag>
    return [{ verb: "remount", target: path, flags: ["bind", ...flags] }, ...propagation]
  }
  const flags = flagList(merged) as Array<Mount.RemountFlag>
  const data = sorted.data.join(",")
  return [
    { verb: "remount", target: path, flags, ...(data === "" ? {} : { data }) },
    ...propagation,
  ]
}

// ---- the commands ------------------------------------------------------------------------------

const mountSpecs: ReadonlyArray<OptionSpec> = [
  ...common,
  { id: "types", short: "t", long: ["types"], value: "required" },
  { id: "options", short: "o", long: ["options"], value: "required" },
  { id: "read-only", short: "r", long: ["read-only"] },
  { id: "rw", short: "w", long: ["rw", "read-write"] },
  { id: "bind", short: "B", long: ["bind"] },
  { id: "rbind", short: "R", long: ["rbind"] },
  { id: "move", short: "M", long: ["move"] },
  { id: "make-shared", long: ["make-shared"] },
  { id: "make-slave", long: ["make-slave"] },
  { id: "make-private", long: ["make-private"] },
  { id: "make-unbindable", long: ["make-unbindable"] },
  { id: "make-rshared", long: ["make-rshared"] },
  { id: "make-rslave", long: ["make-rslave"] },
  { id: "make-rprivate", long: ["make-rprivate"] },
  { id: "make-runbindable", long: ["make-runbindable"] },
  { id: "source", long: ["source"], value: "required" },
  { id: "target", long: ["target"], value: "required" },
  { id: "create", long: ["create"] },
  { id: "source-in", long: ["source-in"], value: "required" },
  { id: "all", short: "a", long: ["all"] },
  { id: "fake", short: "f", long: ["fake"] },
  { id: "label", short: "L", long: ["label"], value: "required" },
  { id: "uuid", short: "U", long: ["uuid"], value: "required" },
  { id: "fstab", short: "T", long: ["fstab"], value: "required" },
  { id: "sloppy", short: "s" },
]

const refusedMountOptions: Readonly<Record<string, string>> = {
  all: "--all mounts fstab(5)'s filesystems, which linx-mount does not read",
  fake: "--fake is not supported",
  label: "--label needs libblkid: give the device",
  uuid: "--uuid needs libblkid: give the device",
  fstab: "--fstab: linx-mount does not read fstab(5)",
  sloppy: "-s (sloppy options) is not supported: every word is checked",
}

/** mount(8)'s option words in the order given: -o lists, -r, -w, --bind, --make-*… */
const mountWords = (parsed: ReturnType<typeof getopt>): Array<string> => {
  const list: Array<string> = []
  for (const o of parsed.options) {
    if (o.id === "options") list.push(o.value!.text)
    else if (o.id === "read-only") list.push("ro")
    else if (o.id === "rw") list.push("rw")
    else if (o.id === "bind") list.push("bind")
    else if (o.id === "rbind") list.push("rbind")
    else if (o.id === "move") list.push("move")
    else if (o.id.startsWith("make-")) list.push(o.id.slice(5))
  }
  return splitWords(list)
}

const sourceIn = (parsed: ReturnType<typeof getopt>): { sourceIn?: "self" } => {
  const v = values(parsed, "source-in").at(-1)
  if (v === undefined) return {}
  if (v.text !== "self") throw new UsageError(`--source-in takes 'self', not '${v.text}'`)
  return { sourceIn: "self" }
}

const planMount = (parsed: ReturnType<typeof getopt>, ns: Namespace): Plan => {
  for (const id of Object.keys(refusedMountOptions)) {
    if (has(parsed, id)) throw new UsageError(refusedMountOptions[id]!)
  }
  let operands: Array<Arg> = [...parsed.operands]
  const source = values(parsed, "source").at(-1)
  const target = values(parsed, "target").at(-1)
  if (source !== undefined || target !== undefined) {
    if (operands.length > 0) throw new UsageError("bad usage: --source/--target and operands")
    operands = [source, target].filter((a): a is Arg => a !== undefined)
  }
  if (operands.length > 2) throw new UsageError("bad usage: too many arguments")
  let sorted: Sorted
  try {
    sorted = sortWords(mountWords(parsed))
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const create = has(parsed, "create") || sorted.create
  const table = new Table(ns)
  if (operands.length === 0) {
    throw new UsageError("bad usage: SOURCE and TARGET needed ('linx-mount list' shows the mounts)")
  }
  const last = operands.at(-1)!
  if (sorted.remount)
    return { in: ns.in, groups: [group(remountPlan(last.bytes, sorted, false, table))] }
  if (operands.length === 1) {
    const nothingElse =
      sorted.flagWords.length === 0 && sorted.data.length === 0 && !sorted.bind && !sorted.move
    if (sorted.propagation.length > 0 && nothingElse && !create) {
      return { in: ns.in, groups: [group(propagationSteps(pathOf(last), sorted.propagation))] }
    }
    throw new UsageError(
      `bad usage: SOURCE and TARGET needed (linx-mount does not look '${last.text}' up in fstab(5))`,
    )
  }
  const [src, tgt] = operands as [Arg, Arg]
  if (sorted.move) {
    if (sorted.bind) throw new UsageError("'bind' and 'move' exclude each other")
    const extra = sorted.flagWords[0] ?? sorted.data[0]
    if (extra !== undefined) {
      throw new UsageError(
        `a move takes no option words, got '${typeof extra === "string" ? extra : wordOf(extra)}'`,
      )
    }
    if (create) throw new UsageError("X-mount.mkdir: a move makes no mount point")
    const steps: Array<Step> = [{ verb: "move", source: pathOf(src), target: pathOf(tgt) }]
    return {
      in: ns.in,
      groups: [group([...steps, ...propagationSteps(pathOf(tgt), sorted.propagation)])],
    }
  }
  if (sorted.bind) {
    const flags = bindFlags(sorted)
    const bind: Step = {
      verb: "bind",
      source: pathOf(src),
      target: pathOf(tgt),
      flags,
      ...(create ? { create: true } : {}),
      ...sourceIn(parsed),
    }
    return {
      in: ns.in,
      groups: [group([bind, ...propagationSteps(pathOf(tgt), sorted.propagation)])],
    }
  }
  if (has(parsed, "source-in")) throw new UsageError("--source-in applies to a bind")
  const type = values(parsed, "types").at(-1)?.text
  if (type === undefined || type === "") {
    throw new UsageError(
      "-t TYPE is needed for a new filesystem (linx-mount does not probe devices)",
    )
  }
  if (type.includes(",") || type.startsWith("no")) {
    throw new UsageError(`-t '${type}': give one filesystem type (linx-mount does not try a list)`)
  }
  const sourceText = pathOf(src)
  if (typeof sourceText !== "string") {
    throw new UsageError("the SOURCE of a new filesystem must be UTF-8 text")
  }
  const flags = flagList(applyFlags([], sorted.flagWords)) as Array<Mount.MountFlag>
  const data = sorted.data.join(",")
  const mount: Step = {
    verb: "mount",
    source: sourceText,
    target: pathOf(tgt),
    fstype: type,
    flags,
    ...(data === "" ? {} : { data }),
    ...(create ? { create: true } : {}),
  }
  return {
    in: ns.in,
    groups: [group([mount, ...propagationSteps(pathOf(tgt), sorted.propagation)])],
  }
}

const group = (steps: ReadonlyArray<Step>): Group => ({ steps, atomic: true })

const remountSpecs: ReadonlyArray<OptionSpec> = [
  ...common,
  { id: "options", short: "o", long: ["options"], value: "required" },
  { id: "bind", short: "B", long: ["bind"] },
  { id: "read-only", short: "r", long: ["read-only"] },
  { id: "rw", short: "w", long: ["rw", "read-write"] },
]

const planRemount = (parsed: ReturnType<typeof getopt>, ns: Namespace): Plan => {
  if (parsed.operands.length !== 1) throw new UsageError("bad usage: one TARGET expected")
  let sorted: Sorted
  try {
    sorted = sortWords(mountWords(parsed))
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const target = parsed.operands[0]!
  return { in: ns.in, groups: [group(remountPlan(target.bytes, sorted, false, new Table(ns)))] }
}

const bindSpecs: ReadonlyArray<OptionSpec> = [
  ...common,
  { id: "options", short: "o", long: ["options"], value: "required" },
  { id: "rec", short: "R", long: ["rec", "recursive"] },
  { id: "read-only", short: "r", long: ["read-only"] },
  { id: "create", long: ["create"] },
  { id: "source-in", long: ["source-in"], value: "required" },
]

const planBind = (parsed: ReturnType<typeof getopt>, ns: Namespace): Plan => {
  if (parsed.operands.length !== 2) throw new UsageError("bad usage: SOURCE and TARGET expected")
  let sorted: Sorted
  try {
    sorted = sortWords(mountWords(parsed))
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (sorted.move || sorted.remount) {
    throw new UsageError(`'${sorted.move ? "move" : "remount"}' does not go with bind`)
  }
  const flags = bindFlags(sorted)
  if (has(parsed, "rec") && !flags.includes("rec")) flags.unshift("rec")
  const [src, tgt] = parsed.operands as [Arg, Arg]
  const bind: Step = {
    verb: "bind",
    source: pathOf(src),
    target: pathOf(tgt),
    flags,
    ...(has(parsed, "create") || sorted.create ? { create: true } : {}),
    ...sourceIn(parsed),
  }
  return {
    in: ns.in,
    groups: [group([bind, ...propagationSteps(pathOf(tgt), sorted.propagation)])],
  }
}

const umountSpecs: ReadonlyArray<OptionSpec> = [
  ...common,
  { id: "recursive", short: "R", long: ["recursive"] },
  { id: "lazy", short: "l", long: ["lazy"] },
  { id: "force", short: "f", long: ["force"] },
  { id: "expire", long: ["expire"] },
  { id: "no-follow", long: ["no-follow"] },
  { id: "quiet", short: "q", long: ["quiet"] },
  { id: "internal-only", short: "i", long: ["internal-only"] },
  { id: "all", short: "a", long: ["all"] },
  { id: "all-targets", short: "A", long: ["all-targets"] },
  { id: "detach-loop", short: "d", long: ["detach-loop"] },
  { id: "read-only", short: "r", long: ["read-only"] },
  { id: "types", short: "t", long: ["types"], value: "required" },
  { id: "test-opts", short: "O", long: ["test-opts"], value: "required" },
]

const refusedUmountOptions: Readonly<Record<string, string>> = {
  all: "--all is not supported: name the targets",
  "all-targets": "--all-targets is not supported: name the targets",
  "detach-loop": "--detach-loop: linx-mount sets up no loop devices",
  "read-only": "-r (remount read-only on failure) is not supported",
  types: "-t applies to --all, which is not supported",
  "test-opts": "-O applies to --all, which is not supported",
}

const planUmount = (parsed: ReturnType<typeof getopt>, ns: Namespace): Plan => {
  for (const id of Object.keys(refusedUmountOptions)) {
    if (has(parsed, id)) throw new UsageError(refusedUmountOptions[id]!)
  }
  if (parsed.operands.length === 0) throw new UsageError("bad usage")
  const flags: Array<Mount.UmountFlag> = []
  if (has(parsed, "lazy")) flags.push("detach")
  if (has(parsed, "force")) flags.push("force")
  if (has(parsed, "expire")) flags.push("expire")
  if (has(parsed, "no-follow")) flags.push("no_follow")
  const table = new Table(ns)
  const recursive = has(parsed, "recursive")
  const groups = parsed.operands.map((operand): Group => {
    const name = table.name(operand)
    if (!recursive)
      return { steps: [{ verb: "umount", target: pathOf(name), flags }], atomic: false }
    const top = table.at(name)
    if (top === undefined) {
      const missing = ns.space.kind !== "none" && !exists(name, ns.space)
      return {
        steps: [],
        atomic: false,
        refused: { message: `${show(name)}: ${missing ? "not found" : "not mounted"}`, status: 1 },
      }
    }
    return { steps: recursiveUmount(table.get(), top, flags), atomic: false }
  })
  return { in: ns.in, groups }
}

/**
 * umount(8)'s `-R` order (umount_do_recurse): a mount stacked on the mount first, then its
 * children by ascending mount id, each with its own submounts first, then the mount itself.
 */
export const recursiveUmount = (
  entries: ReadonlyArray<MountEntry>,
  top: MountEntry,
  flags: ReadonlyArray<Mount.UmountFlag>,
): Array<Step> => {
  const steps: Array<Step> = []
  const seen = new Set<MountEntry>()
  const children = (e: MountEntry) =>
    entries
      .filter((c) => c.parentId === e.mountId && c.mountId !== e.mountId)
      .sort((a, b) => a.mountId - b.mountId)
  const visit = (e: MountEntry) => {
    if (seen.has(e)) return
    seen.add(e)
    const kids = children(e)
    const over = kids.find((c) => samePath(c.mountPointBytes, e.mountPointBytes))
    if (over !== undefined) visit(over)
    for (const child of kids) if (child !== over) visit(child)
    steps.push({ verb: "umount", target: pathOf(e.mountPointBytes), flags: [...flags] })
  }
  visit(top)
  return steps
}

const moveSpecs: ReadonlyArray<OptionSpec> = common

const planMove = (parsed: ReturnType<typeof getopt>, ns: Namespace): Plan => {
  if (parsed.operands.length !== 2) throw new UsageError("bad usage: SOURCE and TARGET expected")
  const [src, tgt] = parsed.operands as [Arg, Arg]
  return {
    in: ns.in,
    groups: [group([{ verb: "move", source: pathOf(src), target: pathOf(tgt) }])],
  }
}

const planPivot = (parsed: ReturnType<typeof getopt>, ns: Namespace): Plan => {
  if (parsed.operands.length !== 2) throw new UsageError("bad usage: NEW_ROOT and PUT_OLD expected")
  const [root, old] = parsed.operands as [Arg, Arg]
  return {
    in: ns.in,
    groups: [group([{ verb: "pivotRoot", newRoot: pathOf(root), putOld: pathOf(old) }])],
  }
}

const propagationSpecs: ReadonlyArray<OptionSpec> = [
  ...common,
  { id: "recursive", short: "R", long: ["recursive"] },
]

const planPropagation = (
  command: string,
  parsed: ReturnType<typeof getopt>,
  ns: Namespace,
): Plan => {
  if (parsed.operands.length !== 1) throw new UsageError("bad usage: one TARGET expected")
  const word = command.slice(5)
  const recursive = word.startsWith("r") || has(parsed, "recursive")
  const type = (word.startsWith("r") ? word.slice(1) : word) as PropagationType
  return {
    in: ns.in,
    groups: [group(propagationSteps(pathOf(parsed.operands[0]!), [{ type, recursive }]))],
  }
}

const setattrSpecs: ReadonlyArray<OptionSpec> = [
  ...common,
  { id: "options", short: "o", long: ["options"], value: "required" },
  { id: "recursive", short: "R", long: ["recursive"] },
  { id: "propagation", long: ["propagation"], value: "required" },
]

// setattr's words: each sets or clears one mount_setattr(2) attribute.
const setattrWords: Readonly<
  Record<string, { readonly attribute: Mount.Attribute; readonly set: boolean }>
> = {
  ro: { attribute: "ro", set: true },
  rw: { attribute: "ro", set: false },
  nosuid: { attribute: "nosuid", set: true },
  suid: { attribute: "nosuid", set: false },
  nodev: { attribute: "nodev", set: true },
  dev: { attribute: "nodev", set: false },
  noexec: { attribute: "noexec", set: true },
  exec: { attribute: "noexec", set: false },
  nosymfollow: { attribute: "nosymfollow", set: true },
  symfollow: { attribute: "nosymfollow", set: false },
  nodiratime: { attribute: "nodiratime", set: true },
  diratime: { attribute: "nodiratime", set: false },
  noatime: { attribute: "noatime", set: true },
  atime: { attribute: "noatime", set: false },
  relatime: { attribute: "relatime", set: true },
  strictatime: { attribute: "strictatime", set: true },
  nostrictatime: { attribute: "strictatime", set: false },
}

const planSetattr = (parsed: ReturnType<typeof getopt>, ns: Namespace): Plan => {
  if (parsed.operands.length !== 1) throw new UsageError("bad usage: one TARGET expected")
  const state = new Map<Mount.Attribute, boolean>()
  let propagation: PropagationType | undefined
  for (const word of splitWords(values(parsed, "options").map((a) => a.text))) {
    const meaning = setattrWords[word]
    if (meaning !== undefined) {
      if (["noatime", "relatime", "strictatime"].includes(meaning.attribute) && meaning.set) {
        for (const a of ["noatime", "relatime", "strictatime"] as const) state.delete(a)
      }
      state.set(meaning.attribute, meaning.set)
      continue
    }
    if (["private", "shared", "slave", "unbindable"].includes(word)) {
      propagation = word as PropagationType
      continue
    }
    if (/^r(private|shared|slave|unbindable)$/.test(word)) {
      throw new UsageError(`'${word}': setattr applies to the whole tree with -R`)
    }
    throw new UsageError(
      unknownWord(word, "setattr takes per-mount attributes and propagation types"),
    )
  }
  const p = values(parsed, "propagation").at(-1)
  if (p !== undefined) {
    if (!["private", "shared", "slave", "unbindable"].includes(p.text)) {
      throw new UsageError(
        `--propagation takes private, shared, slave or unbindable, not '${p.text}'`,
      )
    }
    propagation = p.text as PropagationType
  }
  const set = [...state].filter(([, on]) => on).map(([a]) => a)
  const clear = [...state].filter(([, on]) => !on).map(([a]) => a)
  if (set.length === 0 && clear.length === 0 && propagation === undefined) {
    throw new UsageError("nothing to change: give -o words or --propagation")
  }
  const step: Step = {
    verb: "setAttributes",
    target: pathOf(parsed.operands[0]!),
    ...(set.length > 0 ? { set } : {}),
    ...(clear.length > 0 ? { clear } : {}),
    ...(propagation === undefined ? {} : { propagation }),
    ...(has(parsed, "recursive") ? { recursive: true } : {}),
  }
  return { in: ns.in, groups: [group([step])] }
}

// ---- help ---------------------------------------------------------------------------------------

const namespaceHelp = ` -N, --namespace <ns>   work in another mount namespace: a PID or a namespace file
     --pid <pid>        the mount namespace of process <pid>
     --ns <path>        a mount-namespace file (/proc/<pid>/ns/mnt or a bind of one)
 -h, --help             display this help
 -V, --version          display version`

const exitHelp = `
Exit status: 0; 1 bad usage (nothing was done); 32 the kernel refused (the message says
what failed, in the kernel's words where it gave some; a mount whose propagation change
then failed is undone).`

const helps: Readonly<Record<string, string>> = {
  mount: `
Usage:
 linx-mount mount [-t <type>] [-o <options>] <source> <target>
 linx-mount mount -o remount[,<options>] <target>
 linx-mount mount --bind|--rbind [-o <options>] <source> <target>
 linx-mount mount --move <source> <target>
 linx-mount mount --make-[r]shared|slave|private|unbindable <target>

Mount a filesystem: mount(8)'s options and -o words (the kernel's mount API underneath).

Options:
 -t, --types <type>     the filesystem type (needed for a new filesystem)
 -o, --options <list>   comma-separated option words (several -o add up)
 -r, --read-only        the same as -o ro
 -w, --rw, --read-write the same as -o rw
 -B, --bind             bind a subtree somewhere else (-o ro makes it read-only for real)
 -R, --rbind            bind a subtree and everything mounted below it
 -M, --move             move a subtree somewhere else
     --make-shared, --make-slave, --make-private, --make-unbindable
     --make-rshared, --make-rslave, --make-rprivate, --make-runbindable
                        change the propagation type (r: of the whole subtree)
     --source <src>, --target <dir>   the operands, named
     --create           make the mount point first (also -o X-mount.mkdir)
     --source-in self   with --bind and another namespace: take <source> from this one
${namespaceHelp}

Option words: ro rw exec noexec suid nosuid dev nodev atime noatime diratime nodiratime
relatime norelatime strictatime nostrictatime sync async dirsync lazytime nolazytime
mand nomand symfollow nosymfollow silent loud defaults bind rbind move remount
[r]private [r]shared [r]slave [r]unbindable X-mount.mkdir; fstab's auto noauto nofail
_netdev x-* comment= are ignored. Other words are the filesystem's own (size=64m): passed
to it for a new filesystem or a remount (it refuses what it does not know); refused for a
bind. -o remount merges the words with the mount's current options, as mount(8) does.
${exitHelp}
`,
  remount: `
Usage:
 linx-mount remount [-o <options>] [--bind] <target>

Change a mounted filesystem's options: mount -o remount. The words are merged with the
mount's current options (from its mount table) as mount(8) merges them; only what they
change is changed. Per-mount words alone (nosuid, nodev, noexec, atime words,
nosymfollow), or --bind / -o bind, change that one mount (mount_setattr(2)); ro/rw, sync,
lazytime, mand or the filesystem's own options (size=2g) reconfigure the filesystem.

Options:
 -o, --options <list>   comma-separated option words (see 'linx-mount mount --help')
 -B, --bind             change the mount only, never the filesystem
 -r, --read-only        the same as -o ro
 -w, --rw               the same as -o rw
${namespaceHelp}
${exitHelp}
`,
  umount: `
Usage:
 linx-mount umount [options] <target>...

Unmount filesystems: umount(8). A target printed by 'linx-mount list' with \\xHH escapes
(a name that is not UTF-8, or -r's blanks) may be given in that form.

Options:
 -R, --recursive        unmount the mounts below each target first, deepest first
 -l, --lazy             detach now, clean up when no longer busy (MNT_DETACH)
 -f, --force            force the unmount (MNT_FORCE)
     --expire           mark for expiry (MNT_EXPIRE)
     --no-follow        do not follow a symlink at the target (UMOUNT_NOFOLLOW)
${namespaceHelp}

Exit status: 0; 1 bad usage, or -R of a target that is not mounted; 32 the kernel
refused an unmount (the other targets are still tried).
`,
  bind: `
Usage:
 linx-mount bind [options] <source> <target>

A bind mount: mount --bind. Attributes asked for (-o ro, nosuid, nodev, noexec, atime
words, nosymfollow) are set before the bind is attached: it is never writable, not even
for an instant. The source's own stricter attributes stay.

Options:
 -o, --options <list>   per-mount option words; anything else is refused
 -R, --rec, --recursive the mounts below <source> too (mount --rbind)
 -r, --read-only        the same as -o ro
     --create           make the mount point first (a directory, or a file for a file)
     --source-in self   take <source> from this mount namespace, not the target's
${namespaceHelp}
${exitHelp}
`,
  move: `
Usage:
 linx-mount move <source> <target>

Move a mount: mount --move.

Options:
${namespaceHelp}
${exitHelp}
`,
  "pivot-root": `
Usage:
 linx-mount pivot-root <new_root> <put_old>

pivot_root(2) in the mount namespace (best with --pid or --ns: this process's own root
never moves).

Options:
${namespaceHelp}
${exitHelp}
`,
  setattr: `
Usage:
 linx-mount setattr [-o <words>] [--propagation <type>] [-R] <target>

Set and clear mount attributes: mount_setattr(2), atomically for a whole tree with -R.
Also spelled linx-mount set-attributes.

Options:
 -o, --options <list>   ro rw nosuid suid nodev dev noexec exec nosymfollow symfollow
                        nodiratime diratime noatime atime relatime strictatime
                        nostrictatime, and private shared slave unbindable
     --propagation <t>  private, shared, slave or unbindable
 -R, --recursive        the mount and every mount below it
${namespaceHelp}
${exitHelp}
`,
}

const propagationHelp = (command: string) => `
Usage:
 linx-mount ${command} [-R] <target>

Change the propagation type: mount --${command}${command.startsWith("make-r") ? "" : " (-R: of the whole subtree)"}.

Options:
 -R, --recursive        the mount and every mount below it
${namespaceHelp}
${exitHelp}
`

/** The help of a command. */
export const helpOf = (command: string): string =>
  helps[command === "set-attributes" ? "setattr" : command] ?? propagationHelp(command)

// ---- the entry point ---------------------------------------------------------------------------

const specsOf = (command: string): ReadonlyArray<OptionSpec> => {
  switch (command) {
    case "mount":
      return mountSpecs
    case "remount":
      return remountSpecs
    case "bind":
      return bindSpecs
    case "umount":
      return umountSpecs
    case "move":
    case "pivot-root":
      return moveSpecs
    case "setattr":
    case "set-attributes":
      return setattrSpecs
    default:
      return propagationSpecs
  }
}

/** Parses and checks a command: its plan, or what to print and the exit status. */
export const planOf = (
  command: string,
  args: ReadonlyArray<Arg>,
): Plan | { readonly out?: string; readonly err?: string; readonly status: number } => {
  const name = `linx-mount ${command}`
  try {
    const parsed = getopt(args, specsOf(command))
    for (const o of parsed.options) {
      if (o.id === "help") return { out: helpOf(command), status: 0 }
      if (o.id === "version") return { out: "version", status: 0 }
    }
    const ns = namespaceOf(parsed.options)
    switch (command) {
      case "mount":
        return planMount(parsed, ns)
      case "remount":
        return planRemount(parsed, ns)
      case "bind":
        return planBind(parsed, ns)
      case "umount":
        return planUmount(parsed, ns)
      case "move":
        return planMove(parsed, ns)
      case "pivot-root":
        return planPivot(parsed, ns)
      case "setattr":
      case "set-attributes":
        return planSetattr(parsed, ns)
      default:
        return planPropagation(command, parsed, ns)
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    return {
      err: `${name}: ${error.message}\nTry '${name} --help' for more information.\n`,
      status: 1,
    }
  }
}

/**
 * Runs a mutating command (`args`: what follows its name). Resolves to its exit status:
 * mount(8)'s — 0, 1 bad usage or an invalid argument (nothing was done), 32 a failure.
 *
 * @since 0.1.0
 */
export async function verbCommand(
  command: string,
  args: ReadonlyArray<Arg>,
  out: Out,
  err: Out,
): Promise<number> {
  const plan = planOf(command, args)
  if ("status" in plan) {
    if (plan.out === "version") {
      const { version } = await import("./version.js")
      out.write(`linx-mount ${version()}\n`)
    } else if (plan.out !== undefined) {
      out.write(plan.out)
    }
    if (plan.err !== undefined) err.write(plan.err)
    return plan.status
  }
  const { runPlan } = await import("./run.js")
  return runPlan(plan, `linx-mount ${command}`, err)
}
