/**
 * The watch's side of the walk-through: the container's mount events as `Mount.watch`
 * delivers them (a fiber of container.ts feeds them in), printed under the step that made
 * them and recorded with its number.
 *
 * A verb's events are all queued by the kernel before the verb returns, and arrive a moment
 * later on the main thread; so after each step that changes the table, `settle` waits for
 * the events the step must have made (at least that many, then a short quiet), and prints
 * them there. While the walk-through holds (`--hold`) they are printed as they come.
 *
 * A detach event names no mount point (with fanotify the mount is gone when the event is
 * read): it is printed with the mount point the mount last had in what we saw — the
 * container's table read with `Mount.list({ pid })`, and the attach and move events since.
 */
import * as Effect from "effect/Effect"
import type { MountEntry, MountEvent } from "linx-mount"
import type { EventRow, Reporter } from "./report.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class Watcher {
  /** Mount points by unique id, as last seen: the mounts the namespace has, as we know it. */
  private readonly known = new Map<bigint, string>()
  private pending: Array<EventRow> = []
  private lastArrival = 0
  /** Print each event as it arrives (during `--hold`), rather than at `settle`. */
  live = false
  /** Paths shown by a short name in the account (not in the record): `rootfs/proc`. */
  names: ReadonlyArray<readonly [string, string]> = []
  /** Whether `?` has been explained yet (once is enough). */
  private explained = false

  constructor(private readonly report: Reporter) {}

  /** Learns the mount points of a table just read (a fresh reading wins over old names). */
  learn(table: ReadonlyArray<MountEntry>): void {
    this.known.clear()
    for (const entry of table)
      if (entry.uniqueId !== undefined) this.known.set(entry.uniqueId, entry.mountPoint)
  }

  /** How many mounts the namespace has, as far as we know. */
  get mounts(): number {
    return this.known.size
  }

  /** How many known mounts are at `path` or below it. */
  under(path: string): number {
    let n = 0
    for (const point of this.known.values())
      if (point === path || point.startsWith(`${path}/`)) n += 1
    return n
  }

  /** Takes one event from the stream. */
  readonly push = (event: MountEvent): Effect.Effect<void> =>
    Effect.sync(() => {
      const row: { -readonly [K in keyof EventRow]: EventRow[K] } = {
        step: 0,
        kind: event.kind,
        uniqueId: String(event.uniqueId),
      }
      if (event.mountPoint !== undefined) row.mountPoint = event.mountPoint
      if (event.kind === "detach") {
        const was = this.known.get(event.uniqueId)
        if (was !== undefined) row.lastKnown = was
        this.known.delete(event.uniqueId)
      } else if (event.mountPoint !== undefined) {
        this.known.set(event.uniqueId, event.mountPoint)
      }
      this.pending.push(row)
      this.lastArrival = Date.now()
      if (this.live) this.flush()
    })

  /** The stream failed (an overflow of the kernel's queue, say): said, and recorded. */
  failed(reason: string): Effect.Effect<void> {
    return Effect.sync(() => {
      this.report.record.watchError = reason
      this.report.print(`       watch: failed: ${reason}`)
    })
  }

  /**
   * Waits until at least `atLeast` events have come since the last settle and none for
   * `quietMs`, or `maxMs` in all; then prints and records them under the latest step.
   */
  settle(atLeast = 0, quietMs = 30, maxMs = 2_000): Effect.Effect<void> {
    return Effect.promise(async () => {
      const start = Date.now()
      for (;;) {
        const now = Date.now()
        const quiet = now - Math.max(start, this.lastArrival) >= quietMs
        if ((this.pending.length >= atLeast && quiet) || now - start >= maxMs) break
        await sleep(5)
      }
    }).pipe(Effect.andThen(Effect.sync(() => this.flush())))
  }

  private flush(): void {
    if (this.pending.length === 0) return
    const step = this.report.record.steps.at(-1)?.n ?? 0
    const rows = this.pending.map((row) => ({ ...row, step }))
    this.pending = []
    this.report.record.events.push(...rows)
    const lines = renderEvents(rows, this.names)
    for (const line of lines) this.report.print(line)
    if (!this.explained && rows.some((row) => place(row) === "?")) {
      this.explained = true
      for (const line of unknown.split("\n")) this.report.print(line)
    }
  }
}

/** `path` with a known prefix replaced by its short name. */
export const named = (path: string, names: ReadonlyArray<readonly [string, string]>): string => {
  for (const [prefix, name] of names) {
    if (path === prefix) return name
    if (path.startsWith(`${prefix}/`)) return name + path.slice(prefix.length)
  }
  return path
}

/** Where an event's mount is, for a person: its own mount point, or the one it last had. */
const place = (row: EventRow): string => row.mountPoint ?? row.lastKnown ?? "?"

const unknown =
  "       ?: no mount point to show — a mount gone before its event was read, or the namespace's\n" +
  "          bottom mount (the parent of its /, which no table shows)"

/**
 * The events, runs of one kind on a line each (wrapped), every mount point named:
 * `watch: attach ×3  /proc  /dev  /tmp`; `?` for a mount with none to show (see `unknown`).
 */
export const renderEvents = (
  rows: ReadonlyArray<EventRow>,
  names: ReadonlyArray<readonly [string, string]> = [],
  width = 100,
): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let i = 0; i < rows.length; ) {
    let j = i
    while (j < rows.length && rows[j]!.kind === rows[i]!.kind) j += 1
    const run = rows.slice(i, j)
    const head = `       watch: ${run[0]!.kind}${run.length > 1 ? ` ×${run.length}` : ""}`.padEnd(
      28,
    )
    // Consecutive mounts with no mount point to show are one word: `? ×6`.
    const words: Array<string> = []
    for (let k = 0; k < run.length; ) {
      let m = k
      while (m < run.length && place(run[m]!) === "?") m += 1
      if (m > k) {
        words.push(m - k > 1 ? `? ×${m - k}` : "?")
        k = m
      } else {
        words.push(named(place(run[k]!), names))
        k += 1
      }
    }
    let line = head
    for (const word of words) {
      if (line.length > head.length && line.length + 2 + word.length > width) {
        out.push(line)
        line = " ".repeat(head.length)
      }
      line += line.length > head.length ? `  ${word}` : word
    }
    out.push(line)
    i = j
  }
  return out
}
