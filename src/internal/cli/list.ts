/**
 * `linx-mount list`: the mount table, findmnt-style.
 *
 * Filters follow findmnt(8)'s meaning wherever findmnt has one: `-t` takes a comma list of
 * types, negated as a whole by a leading `no` (`-t nocgroup,proc`); `-O` takes a comma list
 * of options that must all match, where `noX` means "X is absent" and `+X` forces a literal
 * match (libmount's rule); `-T` finds the mount containing a path; `-M` and a positional
 * argument match a mount point (or, positionally, a source) exactly.
 */

import { posix } from "node:path"
import { parseArgs } from "node:util"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { MountEntry } from "../../MountEntry.js"
import { MountError } from "../../MountError.js"
import { type ListTarget, list } from "../list.js"

const help = `Usage: linx-mount list [options] [<source> | <mountpoint>] [<mountpoint>]

The mount table of this process, of another process (--pid) or of a mountinfo file (--file).

Source:
  -N, --pid <pid>          read /proc/<pid>/mountinfo (that process's mount namespace)
  -F, --file <path>        read a mountinfo-formatted file

Output:
  -J, --json               a JSON document: { "filesystems": [ {every field} ] }
      --tree               nest mounts under their parents (children in JSON)
  -n, --noheadings         no header line

Filters (all must match):
  -t, --types <list>       filesystem types, comma-separated; a leading "no" negates the list
  -O, --options <list>     mount options that must all match ("noX": X absent, "+X": literal)
  -S, --source <source>    the source (or MAJ:MIN)
  -M, --mountpoint <dir>   the mount point, exactly
  -T, --target <path>      the mount that contains <path>
  -h, --help               this help

Exit status: 0 on success (even with nothing listed), 1 if the table cannot be read,
2 on bad usage.
`

/** Thrown for a usage error: its message is printed with a hint, exit status 2. */
class UsageError extends Error {}

interface Filters {
  readonly types: ((fstype: string) => boolean) | undefined
  readonly options: ((entry: MountEntry) => boolean) | undefined
  readonly source: string | undefined
  readonly mountpoint: string | undefined
  readonly target: string | undefined
  readonly positional: ReadonlyArray<string>
}

/**
 * Runs `linx-mount list` with `argv` (the arguments after `list`), writing the table to
 * `out` and diagnostics to `err`. Resolves to the exit status.
 *
 * @since 0.1.0
 */
export async function listCommand(
  argv: ReadonlyArray<string>,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  let values: ReturnType<typeof parse>["values"]
  let positionals: Array<string>
  try {
    ;({ values, positionals } = parse(argv))
    if (positionals.length > 2) throw new UsageError("too many arguments")
    if (values.pid !== undefined && values.file !== undefined) {
      throw new UsageError("--pid and --file cannot be used together")
    }
  } catch (error) {
    err.write(`linx-mount list: ${messageOf(error)}\nTry 'linx-mount list --help'.\n`)
    return 2
  }
  if (values.help) {
    out.write(help)
    return 0
  }

  let target: ListTarget | undefined
  let filters: Filters
  try {
    target = targetOf(values.pid, values.file)
    filters = {
      types: values.types === undefined ? undefined : typeMatcher(values.types),
      options: values.options === undefined ? undefined : optionsMatcher(values.options),
      source: values.source,
      mountpoint: values.mountpoint === undefined ? undefined : normalize(values.mountpoint),
      target: values.target === undefined ? undefined : normalize(values.target),
      positional: positionals,
    }
  } catch (error) {
    err.write(`linx-mount list: ${messageOf(error)}\nTry 'linx-mount list --help'.\n`)
    return 2
  }

  const exit = await Effect.runPromiseExit(list(target))
  if (Exit.isFailure(exit)) {
    const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
    const error = failure?._tag === "Fail" ? failure.error : undefined
    if (error instanceof MountError) {
      err.write(`linx-mount list: ${readFailure(error, target)}\n`)
      return 1
    }
    if (error !== undefined) {
      err.write(`linx-mount list: ${messageOf(error)}\nTry 'linx-mount list --help'.\n`)
      return 2
    }
    err.write(`linx-mount list: unexpected failure: ${String(exit.cause)}\n`)
    return 1
  }

  // `linx-mount list | head` closes the pipe early: that is the reader's choice, not an
  // error worth a stack trace.
  out.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") err.write(`linx-mount list: ${error.message}\n`)
  })
  const entries = exit.value
  const kept = select(entries, filters)
  const tree = values.tree === true
  if (values.json) {
    out.write(
      `${JSON.stringify({ filesystems: tree ? jsonTree(entries, kept) : kept }, null, 2)}\n`,
    )
  } else {
    out.write(table(entries, kept, tree, values.noheadings !== true))
  }
  return 0
}

const parse = (argv: ReadonlyArray<string>) =>
  parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      pid: { type: "string", short: "N" },
      file: { type: "string", short: "F" },
      json: { type: "boolean", short: "J" },
      tree: { type: "boolean" },
      noheadings: { type: "boolean", short: "n" },
      types: { type: "string", short: "t" },
      options: { type: "string", short: "O" },
      source: { type: "string", short: "S" },
      mountpoint: { type: "string", short: "M" },
      target: { type: "string", short: "T" },
      help: { type: "boolean", short: "h" },
    },
  })

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

const targetOf = (pid: string | undefined, file: string | undefined): ListTarget | undefined => {
  if (pid !== undefined) {
    if (!/^[0-9]+$/.test(pid) || Number(pid) <= 0 || !Number.isSafeInteger(Number(pid))) {
      throw new UsageError(`--pid expects a positive integer, got ${JSON.stringify(pid)}`)
    }
    return { pid: Number(pid) }
  }
  if (file !== undefined) {
    if (file === "") throw new UsageError("--file expects a path")
    return { path: file }
  }
  return undefined
}

/** One line saying what could not be read and why. */
const readFailure = (error: MountError, target: ListTarget | undefined): string => {
  if (target !== undefined && "pid" in target && error.code === "ENOENT") {
    return `cannot read ${error.path}: no process ${target.pid} (${error.code})`
  }
  return `cannot read ${error.path}: ${error.message.slice(error.message.indexOf(" failed: ") + 9)}`
}

/** An absolute, normalised path without a trailing slash (except `/`). */
const normalize = (path: string): string => {
  if (path === "") throw new UsageError("an empty path")
  const resolved = posix.resolve(path)
  return resolved.length > 1 && resolved.endsWith("/") ? resolved.slice(0, -1) : resolved
}

const typeMatcher = (list: string): ((fstype: string) => boolean) => {
  const items = list.split(",").filter((t) => t !== "")
  const negated = items[0]?.startsWith("no") === true
  const types = new Set(items.map((t) => (negated && t.startsWith("no") ? t.slice(2) : t)))
  return (fstype) => types.has(fstype) !== negated
}

const optionsMatcher = (list: string): ((entry: MountEntry) => boolean) => {
  const patterns = list
    .split(",")
    .filter((o) => o !== "")
    .map((o) => {
      if (o.startsWith("+")) return { option: o.slice(1), present: true }
      if (o.startsWith("no")) return { option: o.slice(2), present: false }
      return { option: o, present: true }
    })
  return (entry) => {
    const options = `${entry.mountOptions},${entry.superOptions}`.split(",")
    return patterns.every(({ option, present }) => {
      const found = option.includes("=")
        ? options.includes(option)
        : options.some((o) => o === option || o.startsWith(`${option}=`))
      return found === present
    })
  }
}

/** The entries that pass every filter, in table order. */
const select = (entries: ReadonlyArray<MountEntry>, f: Filters): Array<MountEntry> => {
  let kept = entries.filter((e) => {
    if (f.types !== undefined && !f.types(e.fstype)) return false
    if (f.options !== undefined && !f.options(e)) return false
    if (f.source !== undefined && !sourceMatches(e, f.source)) return false
    if (f.mountpoint !== undefined && e.mountPoint !== f.mountpoint) return false
    const [first, second] = f.positional
    if (second !== undefined) {
      return e.source === first && e.mountPoint === normalizeQuiet(second)
    }
    if (first !== undefined) return e.source === first || e.mountPoint === normalizeQuiet(first)
    return true
  })
  if (f.target !== undefined) {
    // The mount that contains the path: the longest mount point above it; among mounts
    // stacked on that point, the last one (the one on top, the visible one).
    const path = f.target
    let best: MountEntry | undefined
    for (const e of kept) {
      const mp = e.mountPoint
      const contains = mp === "/" || path === mp || path.startsWith(`${mp}/`)
      if (contains && (best === undefined || mp.length >= best.mountPoint.length)) best = e
    }
    kept = best === undefined ? [] : [best]
  }
  return kept
}

const normalizeQuiet = (path: string): string => (path === "" ? path : normalize(path))

const sourceMatches = (e: MountEntry, source: string): boolean => {
  const device = /^([0-9]+):([0-9]+)$/.exec(source)
  if (device !== null && e.major === Number(device[1]) && e.minor === Number(device[2])) return true
  return e.source === source
}

/** findmnt's PROPAGATION column, with the peer groups. */
const propagationText = (e: MountEntry): string =>
  e.propagation.length === 0
    ? "private"
    : e.propagation
        .map((p) => (p.kind === "unbindable" ? p.kind : `${p.kind}:${p.group}`))
        .join(",")

/** findmnt's OPTIONS column: the mount options, then the superblock's minus its rw/ro. */
const optionsText = (e: MountEntry): string => {
  const fs = e.superOptions.split(",").filter((o) => o !== "" && o !== "rw" && o !== "ro")
  return fs.length === 0 ? e.mountOptions : `${e.mountOptions},${fs.join(",")}`
}

/** findmnt's SOURCE column: the source, then `[root]` for a bind of a subdirectory. */
const sourceText = (e: MountEntry): string =>
  e.root === "/" ? e.source : `${e.source === "" ? "none" : e.source}[${e.root}]`

// Control characters (C0, DEL, C1) would break a row in two or move the cursor.
const controlChars = /[\u0000-\u001f\u007f-\u009f]/g

/** A cell printable on one line: control characters as `\xHH`, as findmnt shows them. */
const cell = (s: string): string =>
  s.replace(controlChars, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)

const width = (s: string): number => {
  let n = 0
  for (const _ of s) n++
  return n
}

interface Row {
  readonly prefix: string
  readonly entry: MountEntry
}

/**
 * The rows in display order: the table order, or with `tree` a depth-first walk in which a
 * mount's children follow it. A kept mount's tree parent is its nearest kept ancestor.
 */
const rows = (
  all: ReadonlyArray<MountEntry>,
  kept: ReadonlyArray<MountEntry>,
  tree: boolean,
): Array<Row> => {
  if (!tree) return kept.map((entry) => ({ prefix: "", entry }))
  const result: Array<Row> = []
  const walk = (nodes: ReadonlyArray<Node>, indent: string, top: boolean) => {
    nodes.forEach((node, i) => {
      const last = i === nodes.length - 1
      result.push({ prefix: top ? "" : `${indent}${last ? "└─" : "├─"}`, entry: node.entry })
      walk(node.children, top ? "" : `${indent}${last ? "  " : "│ "}`, false)
    })
  }
  walk(forest(all, kept), "", true)
  return result
}

interface Node {
  readonly entry: MountEntry
  readonly children: Array<Node>
}

const forest = (all: ReadonlyArray<MountEntry>, kept: ReadonlyArray<MountEntry>): Array<Node> => {
  const byId = new Map<number, MountEntry>()
  for (const e of all) byId.set(e.mountId, e)
  const nodes = new Map<MountEntry, Node>()
  for (const e of kept) nodes.set(e, { entry: e, children: [] })
  const roots: Array<Node> = []
  for (const e of kept) {
    const node = nodes.get(e)!
    // Walk up to the nearest kept ancestor; a cycle or a missing parent makes a root.
    let parent: Node | undefined
    const seen = new Set<number>([e.mountId])
    let up = byId.get(e.parentId)
    while (up !== undefined && !seen.has(up.mountId)) {
      parent = nodes.get(up)
      if (parent !== undefined) break
      seen.add(up.mountId)
      up = byId.get(up.parentId)
    }
    if (parent !== undefined && parent !== node) parent.children.push(node)
    else roots.push(node)
  }
  return roots
}

const table = (
  all: ReadonlyArray<MountEntry>,
  kept: ReadonlyArray<MountEntry>,
  tree: boolean,
  headings: boolean,
): string => {
  const lines: Array<Array<string>> = []
  if (headings) lines.push(["TARGET", "SOURCE", "FSTYPE", "OPTIONS", "PROPAGATION"])
  for (const { prefix, entry } of rows(all, kept, tree)) {
    lines.push([
      prefix + cell(entry.mountPoint),
      cell(sourceText(entry)),
      cell(entry.fstype),
      cell(optionsText(entry)),
      propagationText(entry),
    ])
  }
  if (lines.length === 0) return ""
  const widths = [0, 0, 0, 0]
  for (const line of lines) {
    for (let i = 0; i < 4; i++) widths[i] = Math.max(widths[i]!, width(line[i]!))
  }
  return lines
    .map((line) =>
      line.map((text, i) => (i < 4 ? text + " ".repeat(widths[i]! - width(text)) : text)).join(" "),
    )
    .map((line) => `${line.trimEnd()}\n`)
    .join("")
}

type JsonNode = ReturnType<MountEntry["toJSON"]> & { children?: Array<JsonNode> }

const jsonTree = (
  all: ReadonlyArray<MountEntry>,
  kept: ReadonlyArray<MountEntry>,
): Array<JsonNode> => {
  const convert = (node: Node): JsonNode =>
    node.children.length === 0
      ? node.entry.toJSON()
      : { ...node.entry.toJSON(), children: node.children.map(convert) }
  return forest(all, kept).map(convert)
}
