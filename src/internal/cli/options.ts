/**
 * mount(8)'s `-o` words, mapped the way util-linux 2.38 maps them (libmount's
 * `linux_flags_map` and `userspace_opts_map`), and what they come to for each kind of call.
 *
 * - A word that sets or clears a mount(2) flag (`ro`/`rw`, `noexec`/`exec`, `nosuid`/`suid`,
 *   `nodev`/`dev`, `noatime`/`atime`, `nodiratime`/`diratime`, `relatime`/`norelatime`,
 *   `strictatime`/`nostrictatime`, `sync`/`async`, `dirsync`, `mand`/`nomand`,
 *   `lazytime`/`nolazytime`, `nosymfollow`/`symfollow`, `silent`/`loud`) is applied in order:
 *   a later word wins (`ro,rw` is rw).
 * - `bind`, `rbind`, `move`, `remount` choose the operation; `private`, `rprivate`,
 *   `shared`, `rshared`, `slave`, `rslave`, `unbindable`, `runbindable` add a propagation
 *   change after it.
 * - `X-mount.mkdir` makes the mount point first (the API's `create`).
 * - `defaults`, `auto`, `noauto`, `nofail`, `_netdev`, `comment=…`, `x-…` and other `X-…`
 *   words are fstab's: accepted, and nothing done with them (as mount(8) passes none of them
 *   to the kernel). Words that need a helper or a device linx-mount does not handle (`loop`,
 *   `user`, `X-mount.owner=`, …) are refused.
 * - Any other word is the filesystem's own option (`size=64m`, `mode=755`): for a new
 *   filesystem it goes to the kernel as data (fsconfig(2)), which accepts it or refuses with
 *   its own words; for a bind (which the kernel gives no data) it is an error.
 */

import { perMountFlags } from "../../../protocol/Flags.js"
import { splitOptions } from "./columns.js"

/** The mount(2) flags the words set and clear (the API's flag names). */
export type Flag =
  | "ro"
  | "nosuid"
  | "nodev"
  | "noexec"
  | "sync"
  | "dirsync"
  | "mandlock"
  | "noatime"
  | "nodiratime"
  | "relatime"
  | "strictatime"
  | "lazytime"
  | "nosymfollow"
  | "silent"

export type PropagationType = "private" | "shared" | "slave" | "unbindable"

/** What a generic word means. */
export type Meaning =
  | { readonly kind: "flag"; readonly flag: Flag; readonly set: boolean }
  | { readonly kind: "bind"; readonly recursive: boolean }
  | { readonly kind: "move" }
  | { readonly kind: "remount" }
  | {
      readonly kind: "propagation"
      readonly type: PropagationType
      readonly recursive: boolean
    }
  | { readonly kind: "create" }
  | { readonly kind: "none" }
  | { readonly kind: "unsupported"; readonly why: string }

const flag = (f: Flag, set: boolean): Meaning => ({ kind: "flag", flag: f, set })

const words: Readonly<Record<string, Meaning>> = {
  ro: flag("ro", true),
  rw: flag("ro", false),
  exec: flag("noexec", false),
  noexec: flag("noexec", true),
  suid: flag("nosuid", false),
  nosuid: flag("nosuid", true),
  dev: flag("nodev", false),
  nodev: flag("nodev", true),
  sync: flag("sync", true),
  async: flag("sync", false),
  dirsync: flag("dirsync", true),
  silent: flag("silent", true),
  loud: flag("silent", false),
  mand: flag("mandlock", true),
  nomand: flag("mandlock", false),
  atime: flag("noatime", false),
  noatime: flag("noatime", true),
  diratime: flag("nodiratime", false),
  nodiratime: flag("nodiratime", true),
  relatime: flag("relatime", true),
  norelatime: flag("relatime", false),
  strictatime: flag("strictatime", true),
  nostrictatime: flag("strictatime", false),
  lazytime: flag("lazytime", true),
  nolazytime: flag("lazytime", false),
  symfollow: flag("nosymfollow", false),
  nosymfollow: flag("nosymfollow", true),
  remount: { kind: "remount" },
  bind: { kind: "bind", recursive: false },
  rbind: { kind: "bind", recursive: true },
  move: { kind: "move" },
  private: { kind: "propagation", type: "private", recursive: false },
  rprivate: { kind: "propagation", type: "private", recursive: true },
  shared: { kind: "propagation", type: "shared", recursive: false },
  rshared: { kind: "propagation", type: "shared", recursive: true },
  slave: { kind: "propagation", type: "slave", recursive: false },
  rslave: { kind: "propagation", type: "slave", recursive: true },
  unbindable: { kind: "propagation", type: "unbindable", recursive: false },
  runbindable: { kind: "propagation", type: "unbindable", recursive: true },
  "X-mount.mkdir": { kind: "create" },
  "x-mount.mkdir": { kind: "create" },
  defaults: { kind: "none" },
  auto: { kind: "none" },
  noauto: { kind: "none" },
  nofail: { kind: "none" },
  _netdev: { kind: "none" },
  nouser: { kind: "none" },
  nousers: { kind: "none" },
  noowner: { kind: "none" },
  nogroup: { kind: "none" },
}

const unsupported = (why: string): Meaning => ({ kind: "unsupported", why })

/** The meaning of a generic word; undefined for a filesystem's own option. */
export const meaningOf = (word: string): Meaning | undefined => {
  const known = words[word]
  if (known !== undefined) return known
  const eq = word.indexOf("=")
  const name = eq < 0 ? word : word.slice(0, eq)
  if (name === "comment") return { kind: "none" }
  if (name === "X-mount.mkdir" || name === "x-mount.mkdir") {
    return unsupported(
      "X-mount.mkdir=<mode> is not supported (X-mount.mkdir makes a 0755 directory)",
    )
  }
  if (/^[Xx]-mount\./.test(name)) return unsupported(`${name} is not supported by linx-mount`)
  if (name.startsWith("x-") || name.startsWith("X-")) return { kind: "none" }
  if (["user", "users", "owner", "group"].includes(name)) {
    return unsupported(`${name}: linx-mount mounts as the caller, never on behalf of another user`)
  }
  if (["loop", "offset", "sizelimit", "encryption"].includes(name)) {
    return unsupported(`${name}: linx-mount sets up no loop device`)
  }
  if (name === "helper" || name === "uhelper")
    return unsupported(`${name}: linx-mount runs no mount helper`)
  if (name.startsWith("verity.")) return unsupported(`${name}: linx-mount sets up no verity device`)
  return undefined
}

/**
 * The words of `-o` values, split as libmount splits an option string: at commas outside
 * double quotes; empty items dropped. Several `-o` add up, in order.
 */
export const splitWords = (values: ReadonlyArray<string>): Array<string> =>
  values.flatMap(splitOptions)

/** The words sorted out: operation, flags (final state), propagation, data, the rest. */
export interface Sorted {
  readonly bind: boolean
  readonly rbind: boolean
  readonly move: boolean
  readonly remount: boolean
  readonly create: boolean
  /** Every flag word, in order (for merging with a mount's current options). */
  readonly flagWords: ReadonlyArray<{ readonly flag: Flag; readonly set: boolean }>
  readonly propagation: ReadonlyArray<{
    readonly type: PropagationType
    readonly recursive: boolean
  }>
  /** The filesystem's own options, in order. */
  readonly data: ReadonlyArray<string>
}

/** Sorts `words`; throws the message of the first word that is refused wherever it is. */
export const sortWords = (list: ReadonlyArray<string>): Sorted => {
  let bind = false
  let rbind = false
  let move = false
  let remount = false
  let create = false
  const flagWords: Array<{ flag: Flag; set: boolean }> = []
  const propagation: Array<{ type: PropagationType; recursive: boolean }> = []
  const data: Array<string> = []
  for (const word of list) {
    const m = meaningOf(word)
    if (m === undefined) {
      data.push(word)
      continue
    }
    switch (m.kind) {
      case "flag":
        flagWords.push({ flag: m.flag, set: m.set })
        break
      case "bind":
        bind = true
        if (m.recursive) rbind = true
        break
      case "move":
        move = true
        break
      case "remount":
        remount = true
        break
      case "propagation":
        propagation.push({ type: m.type, recursive: m.recursive })
        break
      case "create":
        create = true
        break
      case "unsupported":
        throw new Error(m.why)
      case "none":
        break
    }
  }
  return { bind, rbind, move, remount, create, flagWords, propagation, data }
}

/** The flags set after applying `words` in order to `start`. */
export const applyFlags = (
  start: Iterable<Flag>,
  flagWords: ReadonlyArray<{ readonly flag: Flag; readonly set: boolean }>,
): Set<Flag> => {
  const state = new Set(start)
  for (const { flag: f, set } of flagWords) {
    if (set) state.add(f)
    else state.delete(f)
  }
  return state
}

/** The flags an options string (a mount's OPTIONS: mount and superblock words) sets. */
export const flagsOf = (options: string): Set<Flag> => {
  const out: Array<{ flag: Flag; set: boolean }> = []
  for (const word of splitWords([options])) {
    const m = words[word]
    if (m?.kind === "flag") out.push({ flag: m.flag, set: m.set })
  }
  return applyFlags([], out)
}

/** The per-mount attributes of a mount, as mount_setattr(2) names them. */
export interface Attributes {
  readonly ro: boolean
  readonly nosuid: boolean
  readonly nodev: boolean
  readonly noexec: boolean
  readonly nosymfollow: boolean
  readonly nodiratime: boolean
  readonly atime: "relatime" | "noatime" | "strictatime"
}

/** A mount's attributes from its per-mount options (mountinfo's field 6). */
export const attributesOf = (mountOptions: string): Attributes => {
  const w = new Set(splitWords([mountOptions]))
  return {
    ro: w.has("ro"),
    nosuid: w.has("nosuid"),
    nodev: w.has("nodev"),
    noexec: w.has("noexec"),
    nosymfollow: w.has("nosymfollow"),
    nodiratime: w.has("nodiratime"),
    // The kernel prints noatime or relatime; strict atime prints neither.
    atime: w.has("noatime") ? "noatime" : w.has("relatime") ? "relatime" : "strictatime",
  }
}

/**
 * The attributes mount(2) with MS_REMOUNT gives a mount for the flags `f` (the kernel's
 * path_mount): each per-mount flag as `f` has it; the atime mode strictatime if named, else
 * noatime if named, else relatime — unless `f` names no atime flag at all (nodiratime
 * included), when the mount keeps its atime mode and nodiratime.
 */
export const remountedAttributes = (f: ReadonlySet<Flag>, current: Attributes): Attributes => {
  const atimeNamed =
    f.has("noatime") || f.has("nodiratime") || f.has("relatime") || f.has("strictatime")
  return {
    ro: f.has("ro"),
    nosuid: f.has("nosuid"),
    nodev: f.has("nodev"),
    noexec: f.has("noexec"),
    nosymfollow: f.has("nosymfollow"),
    nodiratime: atimeNamed ? f.has("nodiratime") : current.nodiratime,
    atime: atimeNamed
      ? f.has("strictatime")
        ? "strictatime"
        : f.has("noatime")
          ? "noatime"
          : "relatime"
      : current.atime,
  }
}

/** mount_setattr's `set` and `clear` that take a mount from `from` to `to`. */
export const attributeChange = (
  from: Attributes,
  to: Attributes,
): { readonly set: Array<string>; readonly clear: Array<string> } => {
  const set: Array<string> = []
  const clear: Array<string> = []
  for (const name of ["ro", "nosuid", "nodev", "noexec", "nosymfollow", "nodiratime"] as const) {
    if (to[name] && !from[name]) set.push(name)
    else if (!to[name] && from[name]) clear.push(name)
  }
  if (to.atime !== from.atime) set.push(to.atime)
  return { set, clear }
}

/**
 * The flags as a list for the API: at most one atime mode (the one the kernel would apply:
 * strictatime over noatime over relatime), the others in a fixed order.
 */
export const flagList = (f: ReadonlySet<Flag>): Array<Flag> => {
  const atime: Flag | undefined = f.has("strictatime")
    ? "strictatime"
    : f.has("noatime")
      ? "noatime"
      : f.has("relatime")
        ? "relatime"
        : undefined
  const order: ReadonlyArray<Flag> = [
    "ro",
    "nosuid",
    "nodev",
    "noexec",
    "nodiratime",
    "nosymfollow",
    "sync",
    "dirsync",
    "mandlock",
    "lazytime",
    "silent",
  ]
  const out = order.filter((x) => f.has(x))
  if (atime !== undefined) out.push(atime)
  return out
}

/** The flags that are per-mount attributes (those a bind or an attribute change can take). */
export const perMount: ReadonlyArray<Flag> = perMountFlags

/** The generic words, for "did you mean" (a typo of one must not reach a filesystem). */
export const genericWords: ReadonlyArray<string> = Object.keys(words).filter(
  (w) => !w.startsWith("_"),
)

/** Optimal-string-alignment distance, small strings only. */
const distance = (a: string, b: string): number => {
  const d: Array<Array<number>> = []
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)])
  for (let j = 0; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1)
      }
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}

/**
 * The generic word `word` is most likely a typo of (`noexce` → `noexec`), or undefined: a
 * word of 5 letters or more, with no `=`, within two edits of one. Only a hint in a message:
 * real filesystem options are that close to generic words too (xfs's `wsync`, `nouuid`).
 */
export const typoOf = (word: string): string | undefined => {
  if (word.length < 5 || word.includes("=")) return undefined
  let best: string | undefined
  let bestDistance = 3
  for (const g of genericWords) {
    if (g.length < 4) continue
    const dist = distance(word, g)
    if (dist < bestDistance) {
      best = g
      bestDistance = dist
    }
  }
  return best
}
