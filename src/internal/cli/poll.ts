/**
 * `linx-mount list --poll` (findmnt's `--poll`) and `linx-mount watch`: a namespace's mount
 * table changes, from `Mount.watch` (fanotify's mount events on Linux 6.14+, its mountinfo
 * fallback before).
 *
 * `--poll` prints what findmnt prints: one line per change, ACTION (`mount`, `umount`,
 * `move`) then the columns asked for (TARGET SOURCE FSTYPE OPTIONS by default; OLD-TARGET
 * and OLD-OPTIONS too), the header once, columns aligned per batch; with `-J`, one JSON
 * document in findmnt's schema per batch (findmnt 2.38 aborts there). A change's mount is
 * read from the table when its event arrives (the old one, for an unmount or a move, from
 * the table as it was). Unlike findmnt it reports no `remount`: mount events carry none
 * (findmnt diffs the whole table on each change).
 *
 * `watch` prints each `MountEvent` as it comes: `KIND UNIQUE-ID MOUNTPOINT`, or one JSON
 * object per line with `--json`.
 *
 * This module loads Effect and the pool (through the Promise facade); `list` without
 * `--poll` never does.
 */
import { Buffer } from "node:buffer"
import type { MountEntry } from "../../MountEntry.js"
import type { MountEvent } from "../../MountEvent.js"
import { readTableSync, type TableTarget } from "../tables.js"
import { type Arg, getopt, type OptionSpec, UsageError } from "./args.js"
import { type CellOptions, type Column, cellOf } from "./columns.js"
import { errorText, type Matcher, type View } from "./list.js"
import { targetMatch } from "./match.js"
import { type Format, type Line, render } from "./table.js"
import { humanCell, jsonString } from "./text.js"

type Out = NodeJS.WritableStream

export interface PollRequest {
  readonly out: Out
  readonly err: Out
  readonly name: string
  readonly target: TableTarget
  readonly columns: ReadonlyArray<Column>
  readonly cells: CellOptions
  /** `--poll=<list>`: the actions to report (all when empty). */
  readonly actions: ReadonlyArray<string>
  /** Milliseconds without a change before it exits 0; -1: never. */
  readonly timeout: number
  readonly firstOnly: boolean
  readonly format: Format
  readonly headings: boolean
  readonly shell: boolean
  readonly matcher: (view: View) => Matcher
  /** findmnt's poll_match: a lone source may also name a mount point. */
  readonly swap: boolean
}

// Unique mount ids start at 2^31; the mountinfo fallback reports mountinfo's own ids.
const UNIQUE_BASE = 2n ** 31n

// An entry is found by either id: fanotify reports unique ids, the fallback mountinfo's.
const keysOf = (e: MountEntry): Array<string> =>
  e.uniqueId !== undefined ? [`u${e.uniqueId}`, `m${e.mountId}`] : [`m${e.mountId}`]
const index = (entries: ReadonlyArray<MountEntry>): Map<string, MountEntry> =>
  new Map(entries.flatMap((e) => keysOf(e).map((k): [string, MountEntry] => [k, e])))
const eventKey = (event: MountEvent): string =>
  event.uniqueId >= UNIQUE_BASE ? `u${event.uniqueId}` : `m${event.uniqueId}`

const watchTarget = (target: TableTarget) =>
  target.kind === "pid"
    ? { pid: target.pid }
    : target.kind === "namespace"
      ? { path: target.path }
      : ("self" as const)

const view = (entries: ReadonlyArray<MountEntry>): View => {
  const parentOf = new Map<MountEntry, number>()
  for (const e of entries) parentOf.set(e, e.parentId)
  return { entries, parentOf }
}

/**
 * The next event, or `timeout` when `ms` pass first (-1: wait as long as it takes).
 */
const nextOrTimeout = async (
  iterator: AsyncIterator<MountEvent>,
  ms: number,
): Promise<IteratorResult<MountEvent> | "timeout"> => {
  const next = iterator.next()
  if (ms < 0) return next
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms)
  })
  try {
    return await Promise.race([next, timedOut])
  } finally {
    clearTimeout(timer)
  }
}

/** Runs `list --poll`; resolves to the exit status. */
export async function poll(req: PollRequest): Promise<number> {
  if (req.target.kind === "file") {
    req.err.write(`${req.name}: --poll watches a live table, not a file (--tab-file)\n`)
    return 1
  }
  const read = (): Array<MountEntry> | string => {
    const result = readTableSync(req.target)
    if ("failure" in result) {
      return `can't read ${result.failure.path}: ${errorText(result.failure.errno)}`
    }
    return result.entries
  }
  const initial = read()
  if (typeof initial === "string") {
    req.err.write(`${req.name}: ${initial}\n`)
    return 1
  }
  let previous = index(initial)
  const { watch, close } = await import("../../promises.js")
  const iterator = watch({ in: watchTarget(req.target) })
  let printedHeader = false
  const wanted = (action: string) => req.actions.length === 0 || req.actions.includes(action)
  const cell = (e: MountEntry, column: Column, action: string, old: MountEntry | undefined) => {
    if (column.name === "ACTION") return Buffer.from(action)
    if (column.name === "OLD-TARGET") {
      return old !== undefined && (action === "move" || action === "umount")
        ? old.mountPointBytes
        : undefined
    }
    if (column.name === "OLD-OPTIONS") {
      return old !== undefined && action === "umount"
        ? cellOf(old, "OPTIONS", req.cells)
        : undefined
    }
    return cellOf(e, column.name, req.cells)
  }
  try {
    await iterator.ready
    for (;;) {
      const next = await nextOrTimeout(iterator, req.timeout)
      if (next === "timeout" || next.done) return 0
      const event = next.value
      const action = event.kind === "attach" ? "mount" : event.kind === "detach" ? "umount" : "move"
      const key = eventKey(event)
      const old = previous.get(key)
      let current: MountEntry | undefined
      let entries: ReadonlyArray<MountEntry> = [...new Set(previous.values())]
      if (event.kind !== "detach") {
        const table = read()
        if (typeof table === "string") {
          req.err.write(`${req.name}: ${table}\n`)
          return 1
        }
        entries = table
        previous = index(table)
        current = previous.get(key)
      } else {
        if (old !== undefined) for (const k of keysOf(old)) previous.delete(k)
      }
      const shown = current ?? old
      if (shown === undefined || !wanted(action)) continue
      const match = req.matcher(view(entries))
      let matches = match(shown)
      if (!matches && req.swap && match.source !== undefined) {
        match.target = targetMatch(match.source.given, { kind: "here" }, false)
        match.source = undefined
        matches = match(shown)
      }
      if (!matches) continue
      const line: Line = {
        cells: req.columns.map((c) => cell(shown, c, action, old)),
        children: [],
      }
      const headings = req.headings && !printedHeader
      printedHeader = true
      const options = {
        format: req.format,
        headings,
        ascii: false,
        shell: req.shell,
        treeColumn: -1,
      }
      // With -J each batch is one JSON document in findmnt's schema (findmnt 2.38 itself
      // aborts there: libsmartcols asserts on the objects it writes without a document).
      req.out.write(render(req.columns, [line], options))
      if (req.firstOnly) return 0
    }
  } catch (error) {
    req.err.write(`${req.name}: ${error instanceof Error ? error.message : String(error)}\n`)
    return 1
  } finally {
    await iterator.return()
    await close()
  }
}

// ---- linx-mount watch -------------------------------------------------------------------------

const watchSpecs: ReadonlyArray<OptionSpec> = [
  { id: "pid", short: "N", long: ["pid", "task"], value: "required" },
  { id: "ns", long: ["ns"], value: "required" },
  { id: "json", short: "J", long: ["json"] },
  { id: "count", short: "c", long: ["count"], value: "required" },
  { id: "timeout", short: "w", long: ["timeout"], value: "required" },
  { id: "mechanism", long: ["mechanism"], value: "required" },
  { id: "help", short: "h", long: ["help"] },
]

export const watchHelp = `
Usage:
 linx-mount watch [options]

Print each change to a mount namespace's mount table as it happens (Mount.watch):
  attach|detach|move UNIQUE-ID [MOUNTPOINT]
UNIQUE-ID is the kernel's 64-bit mount id (UNIQ-ID in 'linx-mount list'); on kernels
before 6.14 (no fanotify mount events) it is the mountinfo id (ID) instead.

Options:
 -N, --pid <pid>        the mount namespace of process <pid>
     --ns <path>        a mount-namespace file
 -J, --json             one JSON object per line: {"kind", "uniqueId", "mountPoint"}
 -c, --count <n>        exit after <n> events
 -w, --timeout <ms>     exit when no change comes for <ms> milliseconds
     --mechanism <m>    auto (default), fanotify or mountinfo
 -h, --help             display this help

Exit status: 0, or 1 on bad usage or when the namespace cannot be watched.
`

/** Runs `linx-mount watch`; resolves to the exit status. */
export async function watchCommand(args: ReadonlyArray<Arg>, out: Out, err: Out): Promise<number> {
  const name = "linx-mount watch"
  const usage = (message: string) => {
    err.write(`${name}: ${message}\nTry '${name} --help' for more information.\n`)
    return 1
  }
  let parsed: ReturnType<typeof getopt>
  try {
    parsed = getopt(args, watchSpecs)
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message)
    throw error
  }
  if (parsed.options.some((o) => o.id === "help")) {
    out.write(watchHelp)
    return 0
  }
  if (parsed.operands.length > 0) return usage(`unexpected argument '${parsed.operands[0]!.text}'`)
  const value = (id: string) => parsed.options.findLast((o) => o.id === id)?.value
  const pid = value("pid")
  const ns = value("ns")
  if (pid !== undefined && ns !== undefined) return usage("--pid and --ns exclude each other")
  if (pid !== undefined && !/^[1-9][0-9]*$/.test(pid.text)) {
    return usage(`invalid PID argument: '${pid.text}'`)
  }
  const number = (a: Arg | undefined, what: string): number | string | undefined => {
    if (a === undefined) return undefined
    return /^[0-9]+$/.test(a.text) ? Number(a.text) : `invalid ${what} argument: '${a.text}'`
  }
  const count = number(value("count"), "count")
  const timeout = number(value("timeout"), "timeout")
  if (typeof count === "string") return usage(count)
  if (typeof timeout === "string") return usage(timeout)
  const mechanism = value("mechanism")?.text ?? "auto"
  if (mechanism !== "auto" && mechanism !== "fanotify" && mechanism !== "mountinfo") {
    return usage(`unknown mechanism '${mechanism}' (auto, fanotify or mountinfo)`)
  }
  const json = parsed.options.some((o) => o.id === "json")
  const { watch, close } = await import("../../promises.js")
  const iterator = watch({
    in:
      pid !== undefined ? { pid: Number(pid.text) } : ns !== undefined ? { path: ns.text } : "self",
    mechanism,
  })
  out.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") err.write(`${name}: ${error.message}\n`)
  })
  let seen = 0
  try {
    await iterator.ready
    while (count === undefined || seen < count) {
      const next = await nextOrTimeout(iterator, timeout ?? -1)
      if (next === "timeout" || next.done) break
      const event = next.value
      seen++
      const mountPoint =
        event.mountPointBytes ??
        (event.mountPoint === undefined ? undefined : Buffer.from(event.mountPoint))
      out.write(
        json
          ? `{"kind":"${event.kind}","uniqueId":"${event.uniqueId}"${mountPoint === undefined ? "" : `,"mountPoint":${jsonString(mountPoint)}`}}\n`
          : `${event.kind} ${event.uniqueId}${mountPoint === undefined ? "" : ` ${humanCell(mountPoint).text}`}\n`,
      )
    }
    return 0
  } catch (error) {
    err.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`)
    return 1
  } finally {
    await iterator.return()
    await close()
  }
}
