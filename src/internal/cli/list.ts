/**
 * `linx-mount list`: findmnt(8) of util-linux 2.38, over any mount table — this process's,
 * another process's (`--pid`/`-N`), a mount-namespace file's (`--ns`) or a mountinfo file's
 * (`-F`). Its options, columns, output forms, filters and exit status are findmnt's, ported
 * from findmnt.c and libmount (see `match.ts`, `columns.ts`, `table.ts`); the differences
 * are listed in `--help` and the README.
 *
 * Exit status, as findmnt's: 1 when the table cannot be read, on bad usage, and in list
 * form (`-l`, `-r`, or any of `-S`, `-T`, `-M`, `-f` or a positional argument) when nothing
 * matches; the tree form (the default, with only `-t`/`-O` filters) prints what matches,
 * possibly nothing, and exits 0 — findmnt's own rule.
 *
 * Imports no Effect and no pool (the table is read synchronously by the addon): it starts
 * about as fast as `node` does. `--poll` loads the rest when asked for.
 */
import type { Buffer } from "node:buffer"
import { getSystemErrorMap } from "node:util"
import type { MountEntry } from "../../MountEntry.js"
import { readTableSync, type TableTarget } from "../tables.js"
import { type Arg, arg, type Given, getopt, type OptionSpec, UsageError } from "./args.js"
import {
  allColumns,
  type CellOptions,
  type Column,
  cellOf,
  columnNamed,
  defaultColumns,
  entryOptions,
} from "./columns.js"
import {
  deviceNumber,
  findMountpoint,
  isPseudo,
  matchFstype,
  matchOptions,
  matchSource,
  matchTarget,
  type PathSpace,
  type SourceMatch,
  samePath,
  sourceMatch,
  type TargetMatch,
  tagOf,
  targetMatch,
} from "./match.js"
import { type Format, type Line, render } from "./table.js"

const specs: ReadonlyArray<OptionSpec> = [
  { id: "all", short: "A", long: ["all"] },
  { id: "ascii", short: "a", long: ["ascii"] },
  { id: "bytes", short: "b", long: ["bytes"] },
  { id: "nocanonicalize", short: "C", long: ["nocanonicalize"] },
  { id: "canonicalize", short: "c", long: ["canonicalize"] },
  { id: "df", short: "D", long: ["df"] },
  { id: "direction", short: "d", long: ["direction"], value: "required" },
  { id: "evaluate", short: "e", long: ["evaluate"] },
  { id: "first-only", short: "f", long: ["first-only"] },
  { id: "fstab", short: "s", long: ["fstab"] },
  { id: "help", short: "h", long: ["help"] },
  { id: "invert", short: "i", long: ["invert"] },
  { id: "json", short: "J", long: ["json"] },
  { id: "kernel", short: "k", long: ["kernel"] },
  { id: "list", short: "l", long: ["list"] },
  { id: "mountpoint", short: "M", long: ["mountpoint"], value: "required" },
  { id: "mtab", short: "m", long: ["mtab"] },
  { id: "noheadings", short: "n", long: ["noheadings"] },
  { id: "notruncate", short: "u", long: ["notruncate"] },
  { id: "options", short: "O", long: ["options"], value: "required" },
  { id: "output", short: "o", long: ["output"], value: "required" },
  { id: "output-all", long: ["output-all"] },
  { id: "poll", short: "p", long: ["poll"], value: "optional" },
  { id: "pairs", short: "P", long: ["pairs"] },
  { id: "raw", short: "r", long: ["raw"] },
  { id: "types", short: "t", long: ["types"], value: "required" },
  { id: "nofsroot", short: "v", long: ["nofsroot"] },
  { id: "submounts", short: "R", long: ["submounts"] },
  { id: "source", short: "S", long: ["source"], value: "required" },
  { id: "file", short: "F", long: ["tab-file", "file"], value: "required" },
  { id: "task", short: "N", long: ["task"], value: "required" },
  { id: "pid", long: ["pid"], value: "required" },
  { id: "ns", long: ["ns"], value: "required" },
  { id: "target", short: "T", long: ["target"], value: "required" },
  { id: "timeout", short: "w", long: ["timeout"], value: "required" },
  { id: "uniq", short: "U", long: ["uniq"] },
  { id: "verify", short: "x", long: ["verify"] },
  { id: "version", short: "V", long: ["version"] },
  { id: "shell", short: "y", long: ["shell"] },
  { id: "verbose", long: ["verbose"] },
  { id: "tree", long: ["tree"] },
  { id: "real", long: ["real"] },
  { id: "pseudo", long: ["pseudo"] },
  { id: "vfs-all", long: ["vfs-all"] },
  { id: "shadowed", long: ["shadowed"] },
]

// findmnt's groups of options that exclude each other (its `excl[]`), plus the table sources.
const exclusive: ReadonlyArray<ReadonlyArray<string>> = [
  ["nocanonicalize", "canonicalize"],
  ["nocanonicalize", "evaluate"],
  ["json", "pairs", "raw", "verify"],
  ["mountpoint", "target"],
  ["task", "kernel", "mtab", "fstab"],
  ["pairs", "list", "raw", "verify"],
  ["poll", "verify"],
  ["mtab", "poll", "fstab"],
  ["pseudo", "real"],
  ["task", "pid", "ns", "file"],
]

const unsupported: Readonly<Record<string, string>> = {
  df: "--df needs statvfs(2) sizes, which linx-mount does not read",
  fstab: "--fstab: linx-mount reads mount tables, not fstab(5)",
  mtab: "--mtab: linx-mount reads mount tables, not mtab",
  verify: "--verify checks fstab(5), which linx-mount does not read",
  "vfs-all": "--vfs-all is not supported",
}

/** The help text, findmnt's with linx-mount's additions and differences. */
export const listHelp = `
Usage:
 linx-mount list [options]
 linx-mount list [options] <device> | <mountpoint>
 linx-mount list [options] <device> <mountpoint>
 linx-mount list [options] [--source <device>] [--target <path> | --mountpoint <dir>]

Find a (mounted) filesystem: findmnt(8), for any process's or namespace's table.

Table:
 -k, --kernel           this process's mount table (default)
 -N, --task <pid>       the mount namespace of process <pid>
     --pid <pid>        the same
     --ns <path>        a mount-namespace file (/proc/<pid>/ns/mnt or a bind of one)
 -F, --tab-file <path>  a mountinfo file (also --file); malformed lines are reported
 -p, --poll[=<list>]    monitor changes in the table (mount,umount,move; from fanotify)
 -w, --timeout <num>    upper limit in milliseconds that --poll will wait for a change

Options:
 -A, --all              disable all built-in filters, print all filesystems
 -a, --ascii            use ASCII chars for tree formatting
 -C, --nocanonicalize   don't canonicalize when comparing paths
 -c, --canonicalize     canonicalize printed paths
 -d, --direction <word> direction of search, 'forward' or 'backward'
 -e, --evaluate         convert tags (LABEL,UUID,PARTUUID,PARTLABEL) to device names
 -f, --first-only       print the first found filesystem only
 -i, --invert           invert the sense of matching
 -J, --json             use JSON output format
 -l, --list             use list format output
 -n, --noheadings       don't print column headings
 -O, --options <list>   limit the set of filesystems by mount options
 -o, --output <list>    the output columns to be shown
     --output-all       output all available columns
 -P, --pairs            use key="value" output format
     --pseudo           print only pseudo-filesystems
     --shadowed         print only filesystems over-mounted by another filesystem
 -R, --submounts        print all submounts for the matching filesystems
 -r, --raw              use raw output format
     --real             print only real filesystems
 -S, --source <string>  the device to mount (by name, maj:min,
                          LABEL=, UUID=, PARTUUID=, PARTLABEL=)
 -T, --target <path>    the path to the filesystem to use
     --tree             enable tree format output if possible
 -M, --mountpoint <dir> the mountpoint directory
 -t, --types <list>     limit the set of filesystems by FS types
 -U, --uniq             ignore filesystems with duplicate target
 -u, --notruncate       don't truncate text in columns (never truncated here)
 -v, --nofsroot         don't print [/dir] for bind or btrfs mounts
 -y, --shell            use column names to be usable as shell variable identifiers

 -h, --help             display this help
 -V, --version          display version

Available output columns:
${allColumns
  .filter((c) => c.unsupported === undefined)
  .map((c) => ` ${c.name.padStart(11)}  ${c.help}`)
  .join("\n")}
 (findmnt's ${allColumns
   .filter((c) => c.unsupported !== undefined)
   .map((c) => c.name)
   .join(", ")} need libblkid or statvfs(2): not available)

Names that are not UTF-8 and control characters print as \\xHH; the verbs accept a name
in that form. In JSON, a value that is not UTF-8 is written that way too (findmnt writes
the raw bytes, which no JSON parser reads). Paths given to -T, -M, -S are resolved where
the table lives: here for this process and -F, inside the process's root for --pid/-N,
not at all for --ns. Columns are never truncated to the terminal's width.

Exit status: 0, or 1 when the table cannot be read, on bad usage, and when nothing
matches in list form (-l, -r, -S, -T, -M, -f, <device>); the tree form exits 0.

For more details see findmnt(8).
`

type Out = NodeJS.WritableStream

interface Context {
  readonly out: Out
  readonly err: Out
  /** The program name in messages: "linx-mount list". */
  readonly name: string
}

const fail = (ctx: Context, message: string): number => {
  ctx.err.write(`${ctx.name}: ${message}\n`)
  return 1
}

const usage = (ctx: Context, message: string): number => {
  ctx.err.write(`${ctx.name}: ${message}\nTry '${ctx.name} --help' for more information.\n`)
  return 1
}

// glibc's strerror for the errors a table read meets; libuv's words for the rest.
const strerror: Readonly<Record<string, string>> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  ESRCH: "No such process",
  EIO: "Input/output error",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  EMFILE: "Too many open files",
  EFBIG: "File too large",
  ENAMETOOLONG: "File name too long",
  ENOSYS: "Function not implemented",
  ELOOP: "Too many levels of symbolic links",
  ENOTSUP: "Operation not supported",
  EOPNOTSUPP: "Operation not supported",
}

/** An errno as glibc's `strerror` words it. */
export const errorText = (errno: number): string => {
  const [name, message] = getSystemErrorMap().get(-Math.abs(errno)) ?? [
    `E${errno}`,
    `errno ${errno}`,
  ]
  return strerror[name] ?? message.charAt(0).toUpperCase() + message.slice(1)
}

/** What `list` was asked, parsed and checked. */
interface Request {
  readonly target: TableTarget
  readonly space: PathSpace
  readonly columns: ReadonlyArray<Column>
  readonly format: Format
  readonly headings: boolean
  readonly ascii: boolean
  readonly shell: boolean
  readonly cells: CellOptions
  tree: boolean
  readonly forceTree: boolean
  readonly submounts: boolean
  readonly firstOnly: boolean
  readonly backward: boolean
  readonly invert: boolean
  readonly uniq: boolean
  readonly real: boolean
  readonly pseudo: boolean
  /** -A: the list form prints everything even with --real/--pseudo (findmnt's quirk). */
  readonly all: boolean
  readonly shadowed: boolean
  readonly noCanonicalize: boolean
  readonly poll: { readonly actions: ReadonlyArray<string>; readonly timeout: number } | undefined
  readonly fstype: string | undefined
  readonly options: string | undefined
  readonly device: { readonly major: number; readonly minor: number } | undefined
  /** -S or the first operand (unless MAJ:MIN): a source to match. */
  source: Buffer | undefined
  /** -T, -M or the second operand: a mount point to match (its exact bytes). */
  path: Buffer | undefined
  /** -M: the target must be a mount point (no -T walk up to the containing mount). */
  readonly strictTarget: boolean
  noSwap: boolean
}

const parseRequest = (ctx: Context, argv: ReadonlyArray<Arg>): Request | number => {
  let parsed: ReturnType<typeof getopt>
  try {
    parsed = getopt(argv, specs)
  } catch (error) {
    if (error instanceof UsageError) return usage(ctx, error.message)
    throw error
  }
  const seen = new Map<string, Given>()
  for (const given of parsed.options) {
    // findmnt checks exclusive options as it reads them, and --help/--version as they come.
    for (const group of exclusive) {
      if (!group.includes(given.id)) continue
      const other = group.find((id) => id !== given.id && seen.has(id))
      if (other !== undefined) {
        return fail(
          ctx,
          `mutually exclusive arguments:${group
            .map((id) => ` --${specs.find((s) => s.id === id)!.long![0]}`)
            .join("")}`,
        )
      }
    }
    if (given.id === "help") {
      ctx.out.write(listHelp)
      return 0
    }
    if (given.id === "version") return -1
    if (unsupported[given.id] !== undefined) return fail(ctx, unsupported[given.id]!)
    seen.set(given.id, given)
  }
  const value = (id: string): Arg | undefined => {
    let last: Arg | undefined
    for (const o of parsed.options) if (o.id === id) last = o.value
    return last
  }
  const has = (id: string) => seen.has(id)

  // The table.
  let target: TableTarget = { kind: "self" }
  let space: PathSpace = { kind: "here" }
  const task = value("task") ?? value("pid")
  if (task !== undefined) {
    const what = has("task") ? "TID" : "PID"
    if (!/^[0-9]+$/.test(task.text) || Number(task.text) < 1 || Number(task.text) > 0xffffffff) {
      return fail(ctx, `invalid ${what} argument: '${task.text}'`)
    }
    target = { kind: "pid", pid: Number(task.text) }
    space = { kind: "root", root: `/proc/${task.text}/root` }
  }
  const ns = value("ns")
  if (ns !== undefined) {
    if (ns.text === "" || ns.bytes.includes(0)) return fail(ctx, "--ns expects a path")
    target = { kind: "namespace", path: ns.text }
    space = { kind: "none" }
  }
  const file = value("file")
  if (file !== undefined) {
    if (file.text === "") return fail(ctx, "can't read : No such file or directory")
    target = { kind: "file", path: file.text }
  }

  // The output.
  const poll = has("poll")
  const names: Array<string> = []
  if (has("output-all")) {
    for (const c of allColumns) if (!c.poll && c.unsupported === undefined) names.push(c.name)
  } else {
    if (poll) names.push("ACTION")
    names.push(...defaultColumns)
  }
  const output = value("output")
  if (output !== undefined) {
    let list = output.text
    if (list.startsWith("+")) list = list.slice(1)
    else names.length = 0
    for (const name of list.split(",")) {
      const column = columnNamed(name)
      if (column === undefined) return fail(ctx, `unknown column: ${name}`)
      if (names.length >= 2 * allColumns.length - 1) {
        return fail(
          ctx,
          `too many columns specified, the limit is ${2 * allColumns.length - 1} columns`,
        )
      }
      names.push(column.name)
    }
  }
  const columns = names.map((n) => columnNamed(n)!)
  for (const column of columns) {
    if (column.unsupported !== undefined) {
      return fail(ctx, `${column.name} column is not supported: ${column.unsupported}`)
    }
  }

  let direction = "forward"
  const d = value("direction")
  if (d !== undefined) {
    if (d.text !== "forward" && d.text !== "backward")
      return fail(ctx, `unknown direction '${d.text}'`)
    direction = d.text
  }
  let timeout = -1
  const w = value("timeout")
  if (w !== undefined) {
    if (!/^[+-]?[0-9]+$/.test(w.text.trim()))
      return fail(ctx, `invalid timeout argument: '${w.text}'`)
    timeout = Number(w.text)
  }
  let actions: Array<string> = []
  const p = value("poll")
  if (p !== undefined) {
    actions = p.text.split(",").map((a) => a.toLowerCase())
    const bad = actions.find((a) => !["mount", "umount", "move", "remount"].includes(a))
    if (bad !== undefined) return fail(ctx, `unknown action: ${bad}`)
  }

  const format: Format = has("json")
    ? "json"
    : has("raw")
      ? "raw"
      : has("pairs")
        ? "pairs"
        : "human"
  let tree = !(has("poll") || has("pairs") || has("raw") || has("list"))

  // The filters.
  let source: Buffer | undefined
  let device: { major: number; minor: number } | undefined
  let noSwap = false
  const setSource = (a: Arg) => {
    const dev = deviceNumber(a.text)
    if (dev !== undefined) {
      device = dev
      noSwap = true
    } else {
      source = a.bytes
    }
  }
  const s = value("source")
  if (s !== undefined) {
    setSource(s)
    noSwap = true
  }
  let targetPath: Buffer | undefined
  const mountpoint = value("mountpoint")
  const t = mountpoint ?? value("target")
  if (t !== undefined) {
    targetPath = t.bytes
    noSwap = true
  }
  const operands = parsed.operands
  if (
    operands.length > 0 &&
    (source !== undefined || device !== undefined || targetPath !== undefined)
  ) {
    return fail(
      ctx,
      "options --target and --source can't be used together with command line element that is not an option",
    )
  }
  if (operands[0] !== undefined) setSource(operands[0])
  if (operands[1] !== undefined) targetPath = operands[1].bytes

  let submounts = has("submounts")
  const fstype = value("types")?.text
  const optionsFilter = value("options")?.text
  const listAll =
    source === undefined &&
    targetPath === undefined &&
    fstype === undefined &&
    optionsFilter === undefined &&
    device === undefined
  if (submounts && listAll) submounts = false
  if (
    !submounts &&
    (has("first-only") || targetPath !== undefined || source !== undefined || device !== undefined)
  ) {
    tree = false
  }
  if (!noSwap && targetPath === undefined && source !== undefined && tagOf(source) !== undefined) {
    noSwap = true
  }
  return {
    target,
    space,
    columns,
    format,
    headings: !has("noheadings"),
    ascii: has("ascii"),
    shell: has("shell"),
    cells: {
      plain: format !== "human",
      noFsRoot: has("nofsroot"),
      canonicalize: has("canonicalize"),
    },
    tree,
    forceTree: has("tree"),
    submounts,
    firstOnly: has("first-only"),
    backward: direction === "backward",
    invert: has("invert"),
    uniq: has("uniq"),
    real: has("real"),
    pseudo: has("pseudo"),
    all: has("all"),
    shadowed: has("shadowed"),
    noCanonicalize: has("nocanonicalize"),
    poll: poll ? { actions, timeout } : undefined,
    fstype,
    options: optionsFilter,
    device,
    source,
    path: targetPath,
    strictTarget: mountpoint !== undefined,
    noSwap,
  }
}

/** The table as findmnt sees it: entries, and their parents (changed by `-U`). */
export interface View {
  readonly entries: ReadonlyArray<MountEntry>
  readonly parentOf: Map<MountEntry, number>
}

/** libmount's `mnt_table_uniq_fs(MNT_UNIQ_KEEPTREE)`: the last mount on each mount point. */
const uniq = (
  entries: ReadonlyArray<MountEntry>,
  parentOf: Map<MountEntry, number>,
): Array<MountEntry> => {
  const kept: Array<MountEntry> = []
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!
    const shadowedBy = kept.some((k) => samePath(k.mountPointBytes, e.mountPointBytes))
    if (!shadowedBy) {
      kept.unshift(e)
      continue
    }
    // Its children move to its parent.
    for (const [child, parent] of parentOf) {
      if (parent === e.mountId) parentOf.set(child, parentOf.get(e) ?? e.parentId)
    }
  }
  return kept
}

/** A filter, made once from the request: findmnt's `match_func`. */
export interface Matcher {
  (e: MountEntry): boolean
  source: SourceMatch | undefined
  target: TargetMatch | undefined
}

export const makeMatcher = (req: Request, view: View): Matcher => {
  const overmounted = (e: MountEntry) =>
    view.entries.some(
      (c) => view.parentOf.get(c) === e.mountId && samePath(c.mountPointBytes, e.mountPointBytes),
    )
  const optionCache = new Map<MountEntry, Buffer>()
  const m = ((e: MountEntry): boolean => {
    const ok = (() => {
      if (req.fstype !== undefined && !matchFstype(e.fstype, req.fstype)) return false
      if (req.options !== undefined) {
        let o = optionCache.get(e)
        if (o === undefined) {
          o = entryOptions(e)
          optionCache.set(e, o)
        }
        if (!matchOptions(o, req.options)) return false
      }
      if (
        req.device !== undefined &&
        (e.major !== req.device.major || e.minor !== req.device.minor)
      ) {
        return false
      }
      if (m.target !== undefined && !matchTarget(e, m.target)) return false
      if (m.source !== undefined && !matchSource(e, m.source)) return false
      if (req.real && isPseudo(e.fstype)) return false
      if (req.pseudo && !isPseudo(e.fstype)) return false
      if (req.shadowed && !overmounted(e)) return false
      return true
    })()
    return req.invert ? !ok : ok
  }) as Matcher
  m.source =
    req.source === undefined ? undefined : sourceMatch(req.source, req.space, req.noCanonicalize)
  m.target =
    req.path === undefined ? undefined : targetMatch(req.path, req.space, req.noCanonicalize)
  return m
}

/** The lines findmnt would print, in tree or list form; the status findmnt would exit with. */
const collect = (
  req: Request,
  view: View,
  match: Matcher,
): { lines: Array<Line>; status: number } => {
  const { entries } = view
  const lines: Array<Line> = []
  const lineOf = new Map<MountEntry, Line>()
  const visited = new Set<MountEntry>()
  const byId = new Map<number, MountEntry>()
  for (const e of entries) if (!byId.has(e.mountId)) byId.set(e.mountId, e)
  const parent = (e: MountEntry) => view.parentOf.get(e) ?? e.parentId
  // libmount's mnt_table_next_child_fs: children by ascending mount id, one per id.
  const childrenOf = new Map<number, Array<MountEntry>>()
  for (const e of entries) {
    const p = parent(e)
    if (p === e.mountId) continue
    let list = childrenOf.get(p)
    if (list === undefined) {
      list = []
      childrenOf.set(p, list)
    }
    if (!list.some((c) => c.mountId === e.mountId)) list.push(e)
  }
  for (const list of childrenOf.values()) list.sort((a, b) => a.mountId - b.mountId)

  const addLine = (e: MountEntry, under: Line | undefined): Line => {
    const line: Line = { cells: req.columns.map((c) => cellOf(e, c.name, req.cells)), children: [] }
    if (under === undefined) lines.push(line)
    else under.children.push(line)
    lineOf.set(e, line)
    return line
  }
  // findmnt's create_treenode, safe against parent cycles in a hostile file.
  const treenode = (e: MountEntry, under: Line | undefined): void => {
    if (visited.has(e)) return
    visited.add(e)
    const line = req.submounts || match(e) ? addLine(e, under) : under
    for (const child of childrenOf.get(e.mountId) ?? []) treenode(child, line)
  }
  const rootFs = (): MountEntry | undefined => {
    let root: MountEntry | undefined
    for (const e of entries) if (root === undefined || parent(e) < parent(root)) root = e
    const seen = new Set<MountEntry>()
    while (root !== undefined && !seen.has(root)) {
      seen.add(root)
      const up = byId.get(parent(root))
      if (up === undefined || up === root) break
      root = up
    }
    return root
  }

  if (req.tree && !req.submounts) {
    const root = rootFs()
    if (root === undefined) return { lines, status: 1 }
    treenode(root, undefined)
    if (entries.length > lineOf.size) {
      for (const e of entries)
        if (!lineOf.has(e) && !visited.has(e) && match(e)) treenode(e, undefined)
    }
    return { lines, status: 0 }
  }

  // findmnt's add_matching_lines, with its source → target swap.
  // findmnt's is_listall_mode: with no source, target, type, option or device to match
  // (nor --real/--pseudo), the list form prints every entry, --shadowed and -i aside.
  const listAll =
    req.fstype === undefined &&
    req.options === undefined &&
    req.device === undefined &&
    match.source === undefined &&
    match.target === undefined &&
    (req.all || (!req.real && !req.pseudo))
  const pass = (): number => {
    let found = 0
    const order = req.backward ? [...entries].reverse() : entries
    for (const e of order) {
      if (lineOf.has(e) || (!listAll && !match(e))) continue
      if (req.tree || req.submounts) treenode(e, undefined)
      else addLine(e, undefined)
      found++
      if (req.firstOnly) break
    }
    return found
  }
  let found = pass()
  if (found === 0 && !req.noSwap && match.target === undefined && match.source !== undefined) {
    match.target = targetMatch(match.source.given, req.space, req.noCanonicalize)
    match.source = undefined
    found = pass()
  }
  if (found === 0 && req.noSwap && !req.strictTarget && match.target !== undefined) {
    // Nothing is mounted there: the mount that contains the path (-T).
    const mountpoint = findMountpoint(
      entries,
      match.target.canonical ?? match.target.given,
      req.space,
    )
    if (mountpoint !== undefined) {
      match.target = targetMatch(mountpoint, { kind: "none" }, true)
      found = pass()
    }
  }
  return { lines, status: found > 0 ? 0 : 1 }
}

/** Reads the table for `target`; a message and exit status 1 when it cannot. */
export const readView = (ctx: Context, target: TableTarget, uniqTable: boolean): View | number => {
  const result = readTableSync(target)
  if ("failure" in result) {
    const { path, errno } = result.failure
    return fail(ctx, `can't read ${path}: ${errorText(errno)}`)
  }
  for (const bad of result.malformed) {
    // libmount skips comments and blank lines in any table; the kernel writes neither.
    if (/^[ \t]*(#|$)/.test(bad.text)) continue
    ctx.err.write(`${ctx.name}: ${result.path}:${bad.line}: parse error -- ignored\n`)
  }
  const more = result.malformedCount - result.malformed.length
  if (more > 0) ctx.err.write(`${ctx.name}: ${result.path}: ${more} more parse errors -- ignored\n`)
  const parentOf = new Map<MountEntry, number>()
  for (const e of result.entries) parentOf.set(e, e.parentId)
  const entries = uniqTable ? uniq(result.entries, parentOf) : result.entries
  return { entries, parentOf }
}

/**
 * Runs `linx-mount list` with `argv` (the arguments after `list`: strings, or Buffers for
 * exact bytes), writing to `out` and `err`. Resolves to the exit status.
 *
 * @since 0.1.0
 */
export async function listCommand(
  argv: ReadonlyArray<string | Uint8Array | Arg>,
  out: Out,
  err: Out,
  name = "linx-mount list",
): Promise<number> {
  const ctx: Context = { out, err, name }
  const args = argv.map((a) => (typeof a === "string" || a instanceof Uint8Array ? arg(a) : a))
  const req = parseRequest(ctx, args)
  if (typeof req === "number") {
    if (req === -1) {
      const { version } = await import("./version.js")
      out.write(`linx-mount ${version()}\n`)
      return 0
    }
    return req
  }
  // `linx-mount list | head` closes the pipe early: the reader's choice, not an error.
  out.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") err.write(`${name}: ${error.message}\n`)
  })
  if (req.poll !== undefined) {
    const { poll } = await import("./poll.js")
    return poll({
      out,
      err,
      name,
      target: req.target,
      columns: req.columns,
      cells: req.cells,
      actions: req.poll.actions,
      timeout: req.poll.timeout,
      firstOnly: req.firstOnly,
      format: req.format,
      headings: req.headings,
      shell: req.shell,
      matcher: (view) => makeMatcher(req, view),
      swap: !req.noSwap && req.path === undefined && req.source !== undefined,
    })
  }
  const view = readView(ctx, req.target, req.uniq)
  if (typeof view === "number") return view
  const poll = req.columns.find((c) => c.poll)
  if (poll !== undefined)
    return fail(ctx, `${poll.name} column is requested, but --poll is not enabled`)
  if (req.forceTree && view.entries.length > 0) req.tree = true
  const match = makeMatcher(req, view)
  const { lines, status } = collect(req, view, match)
  if (status !== 0) return status
  const treeColumn = req.tree ? req.columns.findIndex((c) => c.name === "TARGET") : -1
  out.write(
    render(req.columns, lines, {
      format: req.format,
      headings: req.headings,
      ascii: req.ascii,
      shell: req.shell,
      treeColumn,
    }),
  )
  return 0
}

export type { Context as ListContext, Request as ListRequest }
