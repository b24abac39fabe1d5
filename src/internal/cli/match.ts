/**
 * findmnt(8)'s filters, each a port of the libmount 2.38 function findmnt calls, and the
 * path resolution they rest on:
 *
 * - `-t` — `match_fstype`: a comma list, case-insensitive; a leading `no` negates the whole
 *   list, `noX` inside it excludes X.
 * - `-O` — `mnt_match_options` on the OPTIONS column (the mount's own options merged with
 *   the superblock's, `ro` if either is read-only): every item must hold; `noX` means "no
 *   option X", `+noX` the literal `noX`; `X=v` also compares the value.
 * - `-M`, `-T`, the positional `<mountpoint>` — `mnt_fs_match_target`: the mount point as
 *   given, or as `realpath(3)` names it (`..`, `//`, symlinks resolved; a trailing `/`
 *   ignored). `-T` then falls back to `mnt_table_find_mountpoint`: the path must exist, and
 *   its mount is found by walking up the resolved path one component at a time.
 * - `-S`, the positional `<source>` — `mnt_fs_match_source`: the source as given, then
 *   (except for pseudo and network filesystems) the canonical form of either side;
 *   `LABEL=`, `UUID=`, `PARTLABEL=` and `PARTUUID=` are looked up in `/dev/disk/by-*`, and
 *   `MAJ:MIN` matches the device number.
 *
 * Paths are resolved where the table lives: this process's filesystem for its own table and
 * for `-F` (as findmnt does); for `--pid`, inside that process's root, symlinks followed as
 * they would be there (absolute ones relative to its root); for `--ns`, which has no
 * process to look through, not at all (the path as written, normalised).
 */
import { Buffer } from "node:buffer"
import { lstatSync, readlinkSync, realpathSync, statSync } from "node:fs"
import type { MountEntry } from "../../MountEntry.js"

// ---- -t ------------------------------------------------------------------------------------

/** util-linux's `match_fstype`. */
export const matchFstype = (type: string, pattern: string): boolean => {
  let p = pattern
  let no = false
  if (p.startsWith("no")) {
    no = true
    p = p.slice(2)
  }
  const t = type.toLowerCase()
  for (const item of p.split(",")) {
    const i = item.toLowerCase()
    if (i.startsWith("no") && i.slice(2) === t) return false
    if (i === t) return !no
  }
  return no
}

// ---- -O ------------------------------------------------------------------------------------

interface Option {
  readonly name: string
  readonly value: string | undefined
}

/** An option string's items, split at commas outside double quotes, name and value apart. */
const options = (s: string): Array<Option> => {
  const out: Array<Option> = []
  let start = 0
  let quoted = false
  for (let i = 0; i <= s.length; i++) {
    const c = s[i]
    if (c === '"') quoted = !quoted
    if (i === s.length || (c === "," && !quoted)) {
      const item = s.slice(start, i)
      start = i + 1
      if (item === "") continue
      // The first "=" after the first character, outside quotes, separates the value.
      let eq = -1
      let q = false
      for (let k = 0; k < item.length; k++) {
        if (item[k] === '"') q = !q
        if (!q && k > 0 && item[k] === "=") {
          eq = k
          break
        }
      }
      out.push(
        eq < 0
          ? { name: item, value: undefined }
          : { name: item.slice(0, eq), value: item.slice(eq + 1) },
      )
    }
  }
  return out
}

/** libmount's `mnt_match_options`: `optstr` (bytes, as OPTIONS shows them) against `pattern`. */
export const matchOptions = (optstr: Buffer, pattern: string): boolean => {
  const have = options(optstr.toString("latin1"))
  for (const item of options(Buffer.from(pattern, "utf8").toString("latin1"))) {
    let name = item.name
    let no = false
    if (name.startsWith("+")) name = name.slice(1)
    else if (name.startsWith("no")) {
      no = true
      name = name.slice(2)
    }
    const found = have.find((o) => o.name === name)
    const holds =
      found !== undefined &&
      (item.value === undefined || item.value === "" || found.value === item.value)
    if (holds === no) return false
  }
  return true
}

// ---- paths -----------------------------------------------------------------------------------

/** util-linux's `next_path_segment`: [start, size] of the next "/name", `//` collapsed. */
const segment = (s: string, from: number): readonly [number, number] => {
  let start = from
  while (s[start] === "/" && s[start + 1] === "/") start++
  if (start >= s.length) return [start, 0]
  let end = start + 1
  while (end < s.length && s[end] !== "/") end++
  return [start, end - start]
}

/** util-linux's `streq_paths`: equal segment by segment, `//` and a trailing `/` aside. */
export const samePath = (a: Buffer, b: Buffer): boolean => {
  const x = a.toString("latin1")
  const y = b.toString("latin1")
  let i = 0
  let j = 0
  for (;;) {
    const [as, an] = segment(x, i)
    const [bs, bn] = segment(y, j)
    if (an + bn === 0) return true
    if (an + bn === 1 && (x[as] === "/" || y[bs] === "/")) return true
    if (an === 0 || bn === 0 || an !== bn || x.slice(as, as + an) !== y.slice(bs, bs + bn)) {
      return false
    }
    i = as + an
    j = bs + bn
  }
}

/** Where the table's paths live, for resolving the paths a filter names. */
export type PathSpace =
  | { readonly kind: "here" }
  | { readonly kind: "root"; readonly root: string }
  | { readonly kind: "none" }

/**
 * A path resolved as `realpath(3)` would resolve it in `space`; the path unchanged when it
 * cannot be (libmount's `canonicalize_path` gives up the same way).
 */
export const canonicalize = (path: Buffer, space: PathSpace): Buffer => {
  if (space.kind === "none") return normalized(path)
  if (space.kind === "here") {
    try {
      return realpathSync.native(path, { encoding: "buffer" })
    } catch {
      return path
    }
  }
  return resolveInRoot(space.root, path) ?? path
}

/** Whether the path exists (`stat` succeeds), resolved in `space`. */
export const exists = (path: Buffer, space: PathSpace): boolean => {
  if (space.kind === "none") return true
  try {
    if (space.kind === "here") statSync(path)
    else {
      const resolved = resolveInRoot(space.root, path)
      if (resolved === undefined) return false
      statSync(Buffer.concat([Buffer.from(space.root), resolved]))
    }
    return true
  } catch {
    return false
  }
}

const normalized = (path: Buffer): Buffer => {
  const out: Array<string> = []
  for (const part of path.toString("latin1").split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") out.pop()
    else out.push(part)
  }
  return Buffer.from(`/${out.join("/")}`, "latin1")
}

/**
 * `path` resolved inside `root` (a directory such as `/proc/PID/root`): each component is
 * looked at with lstat under the root, and a symlink is followed by hand, an absolute one
 * from the root, `..` never above it — as openat2's RESOLVE_IN_ROOT would. Undefined when
 * a component is missing or the links loop.
 */
const resolveInRoot = (root: string, path: Buffer): Buffer | undefined => {
  const rootBytes = Buffer.from(root)
  let pending = path.toString("latin1").split("/")
  const done: Array<string> = []
  let links = 0
  while (pending.length > 0) {
    const part = pending.shift()!
    if (part === "" || part === ".") continue
    if (part === "..") {
      done.pop()
      continue
    }
    const here = Buffer.from(`/${[...done, part].join("/")}`, "latin1")
    let st: ReturnType<typeof lstatSync>
    try {
      st = lstatSync(Buffer.concat([rootBytes, here]))
    } catch {
      return undefined
    }
    if (st?.isSymbolicLink()) {
      if (++links > 40) return undefined
      const target = readlinkSync(Buffer.concat([rootBytes, here]), { encoding: "buffer" })
      const parts = target.toString("latin1").split("/")
      if (target[0] === 0x2f) done.length = 0
      pending = [...parts, ...pending]
      continue
    }
    done.push(part)
  }
  return Buffer.from(`/${done.join("/")}`, "latin1")
}

// ---- sources -----------------------------------------------------------------------------------

const pseudoFilesystems = new Set([
  "anon_inodefs",
  "apparmorfs",
  "autofs",
  "bdev",
  "binder",
  "binfmt_misc",
  "bpf",
  "cgroup",
  "cgroup2",
  "configfs",
  "cpuset",
  "debugfs",
  "devfs",
  "devpts",
  "devtmpfs",
  "dlmfs",
  "dmabuf",
  "drm",
  "efivarfs",
  "fuse",
  "fuse.archivemount",
  "fuse.avfsd",
  "fuse.dumpfs",
  "fuse.encfs",
  "fuse.gvfs-fuse-daemon",
  "fuse.gvfsd-fuse",
  "fuse.lxcfs",
  "fuse.rofiles-fuse",
  "fuse.vmware-vmblock",
  "fuse.xwmfs",
  "fusectl",
  "hugetlbfs",
  "ipathfs",
  "mqueue",
  "nfsd",
  "none",
  "nsfs",
  "overlay",
  "pipefs",
  "proc",
  "pstore",
  "ramfs",
  "resctrl",
  "rootfs",
  "rpc_pipefs",
  "securityfs",
  "selinuxfs",
  "smackfs",
  "sockfs",
  "spufs",
  "sysfs",
  "tmpfs",
  "tracefs",
  "vboxsf",
  "virtiofs",
])

/** libmount's `mnt_fstype_is_pseudofs`. */
export const isPseudo = (fstype: string): boolean => pseudoFilesystems.has(fstype)

/** libmount's `mnt_fstype_is_netfs`. */
const isNetwork = (t: string): boolean =>
  ["cifs", "smb3", "smbfs", "afs", "ncpfs", "glusterfs", "fuse.curlftpfs", "fuse.sshfs"].includes(
    t,
  ) ||
  t.startsWith("nfs") ||
  t.startsWith("9p")

const tags: Readonly<Record<string, string>> = {
  LABEL: "by-label",
  UUID: "by-uuid",
  PARTLABEL: "by-partlabel",
  PARTUUID: "by-partuuid",
}

/** A `NAME=value` source whose NAME libmount knows, or undefined. */
export const tagOf = (
  source: Buffer,
): { readonly name: string; readonly value: Buffer } | undefined => {
  const eq = source.indexOf(0x3d)
  if (eq <= 0) return undefined
  const name = source.subarray(0, eq).toString("latin1")
  if (tags[name] === undefined && name !== "ID") return undefined
  let value = source.subarray(eq + 1)
  if (value.length >= 2 && value[0] === 0x22 && value[value.length - 1] === 0x22) {
    value = value.subarray(1, -1)
  }
  return { name, value }
}

/** libmount's `mnt_resolve_spec`: a tag through udev's `/dev/disk/by-*` links, else a path. */
const resolveSpec = (source: Buffer, space: PathSpace): Buffer | undefined => {
  const tag = tagOf(source)
  if (tag !== undefined) {
    const dir = tags[tag.name]
    if (dir === undefined || space.kind !== "here") return undefined
    try {
      return realpathSync.native(Buffer.concat([Buffer.from(`/dev/disk/${dir}/`), tag.value]), {
        encoding: "buffer",
      })
    } catch {
      return undefined
    }
  }
  return canonicalize(source, space)
}

/** A `-S`/positional source, prepared once for matching every entry. */
export interface SourceMatch {
  readonly given: Buffer
  readonly canonical: Buffer | undefined
  readonly space: PathSpace
  readonly noCanonicalize: boolean
}

export const sourceMatch = (
  given: Buffer,
  space: PathSpace,
  noCanonicalize: boolean,
): SourceMatch => ({
  given,
  canonical: noCanonicalize ? undefined : resolveSpec(given, space),
  space,
  noCanonicalize,
})

/** libmount's `mnt_fs_match_source`. */
export const matchSource = (e: MountEntry, m: SourceMatch): boolean => {
  const src = e.sourceBytes
  const isTag = tagOf(src) !== undefined
  if (!isTag) {
    if (isPseudo(e.fstype) ? src.equals(m.given) : samePath(src, m.given)) return true
  } else if (src.equals(m.given)) {
    return true
  }
  if (m.noCanonicalize || isPseudo(e.fstype) || isNetwork(e.fstype)) return false
  if (m.canonical === undefined || isTag) return false
  if (samePath(src, m.canonical)) return true
  return canonicalize(src, m.space).equals(m.canonical)
}

/** A device number given as `MAJ:MIN` (as findmnt's `sscanf("%d:%d")` reads one), or undefined. */
export const deviceNumber = (
  s: string,
): { readonly major: number; readonly minor: number } | undefined => {
  const m = /^\s*([+-]?\d+):\s*([+-]?\d+)/.exec(s)
  return m === null ? undefined : { major: Number(m[1]), minor: Number(m[2]) }
}

// ---- targets -----------------------------------------------------------------------------------

/** A `-M`/`-T`/positional mount point, prepared once for matching every entry. */
export interface TargetMatch {
  readonly given: Buffer
  readonly canonical: Buffer | undefined
}

export const targetMatch = (
  given: Buffer,
  space: PathSpace,
  noCanonicalize: boolean,
): TargetMatch => ({
  given,
  canonical: noCanonicalize ? undefined : canonicalize(given, space),
})

/** libmount's `mnt_fs_match_target` for a mount table entry. */
export const matchTarget = (e: MountEntry, m: TargetMatch): boolean => {
  const target = e.mountPointBytes
  return samePath(target, m.given) || (m.canonical !== undefined && samePath(target, m.canonical))
}

/**
 * libmount's `mnt_table_find_mountpoint`: the mount point of the mount containing `path`
 * (resolved): the path must exist; then each parent directory in turn, the last mount on a
 * mount point found. Undefined when the path does not exist.
 */
export const findMountpoint = (
  entries: ReadonlyArray<MountEntry>,
  path: Buffer,
  space: PathSpace,
): Buffer | undefined => {
  if (!exists(path, space)) return undefined
  let at = path.toString("latin1")
  for (;;) {
    const here = Buffer.from(at, "latin1")
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!
      if (samePath(e.mountPointBytes, here)) return e.mountPointBytes
    }
    const slash = at.lastIndexOf("/")
    if (slash <= 0) break
    at = at.slice(0, slash)
  }
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!
    if (samePath(e.mountPointBytes, Buffer.from("/"))) return e.mountPointBytes
  }
  return undefined
}
