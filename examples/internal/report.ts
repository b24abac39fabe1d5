/**
 * What the walk-through tells: numbered steps with their time, the container's own view of
 * itself (parsed from its workload's sections), and the host check at the end. Printed as it
 * happens for a person, or once, at the end, as one JSON record (`--json`).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

export interface Step {
  readonly n: number
  readonly title: string
  /** What the step did, e.g. the linx-mount call it made. */
  readonly detail: string
  readonly micros: number
  readonly ok: boolean
  readonly error?: string
}

export interface ProcessRow {
  readonly pid: number
  readonly ppid: number
  readonly args: string
}

/** One line of the container's /proc/self/mounts. */
export interface MountRow {
  readonly source: string
  readonly target: string
  readonly fstype: string
  readonly options: string
}

/** One line of `ls -ln`: the owner as the container sees it. */
export interface LsEntry {
  readonly name: string
  readonly mode: string
  readonly uid: number
  readonly gid: number
}

/** A directory the workload listed (`ls -ln`) and tried to write to (`touch`). */
export interface Probe {
  readonly path: string
  /** `ls -ln`'s lines, as printed. */
  readonly listing: ReadonlyArray<string>
  readonly entries: ReadonlyArray<LsEntry>
  /** `accepted` or `refused`. */
  readonly write: string
  /** What touch(1) said. */
  readonly message: string
}

/** One mount event the watch delivered, and the step it was printed under. */
export interface EventRow {
  readonly step: number
  readonly kind: "attach" | "detach" | "move"
  /** `MountEvent.uniqueId`, in decimal. */
  readonly uniqueId: string
  /** `MountEvent.mountPoint`: for attach and move, where the mount was when the event was read. */
  readonly mountPoint?: string
  /** For a detach: the mount point the mount last had, as far as the walk-through saw. */
  readonly lastKnown?: string
}

/** What the container showed from the inside. */
export interface View {
  readonly hostname?: string
  readonly ps?: ReadonlyArray<ProcessRow>
  readonly mounts?: ReadonlyArray<MountRow>
  readonly ls?: ReadonlyArray<string>
  readonly marker?: string
  readonly oldRoot?: string
  /** `ls -ln /volume` and a write to it. */
  readonly volume?: Probe
  /** The same for each mount below /volume, in the container's table order. */
  readonly submounts?: ReadonlyArray<Probe>
  readonly hot?: {
    readonly files: ReadonlyArray<string>
    readonly content: ReadonlyArray<string>
    readonly mount?: MountRow
  }
  readonly hotAfterUnmount?: ReadonlyArray<string>
}

export interface Record {
  ok: boolean
  error?: string
  rootfs?: { path: string; marker: string; programs: number; libraries: number }
  volume?: string
  /** The host directory bound on the volume's `nested` directory (the example's own volume). */
  nested?: string
  hotDirectory?: string
  /** The user namespace the volume's idmap comes from. */
  idmap?: { pid: number; uidMap: string; gidMap: string }
  container?: { pid: number; unsharePid: number; exitCode?: number | null }
  /** The container's filesystem, as one `Mount.batch`: its ops (as printed) and its failure. */
  batch?: {
    ops: ReadonlyArray<string>
    failed?: {
      index: number
      undone: ReadonlyArray<number>
      notUndone: ReadonlyArray<{ index: number; reason: string }>
    }
  }
  /** After a failed batch: the container's table compared with the one before the batch. */
  rollback?: { mountsBefore: number; mountsAfter: number; same: boolean }
  steps: Array<Step>
  /** Every event the watch delivered, in order. */
  events: Array<EventRow>
  /** Why the watch's stream stopped, if it failed. */
  watchError?: string
  view: View
  host?: {
    mountsBefore: number
    mountsAfter: number
    leftoverMounts: ReadonlyArray<string>
    leftoverProcesses: ReadonlyArray<number>
  }
}

type Sections = ReadonlyMap<string, ReadonlyArray<string>>

const mountRows = (lines: ReadonlyArray<string>): ReadonlyArray<MountRow> =>
  lines
    .map((line) => line.split(" "))
    .filter((fields) => fields.length >= 4)
    .map(([source, target, fstype, options]) => ({
      source: source!,
      target: target!.replaceAll("\\040", " "),
      fstype: fstype!,
      options: options!,
    }))

/** Reads the workload's sections (see rootfs.ts) into a {@link View}. */
export const parseView = (sections: Sections): View => {
  const get = (name: string) => sections.get(name)
  const view: {
    -readonly [K in keyof View]: View[K]
  } = {}
  const hostname = get("hostname")?.[0]
  if (hostname !== undefined) view.hostname = hostname
  const ps = get("ps")
  if (ps !== undefined) {
    view.ps = ps.slice(1).flatMap((line) => {
      const match = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line)
      return match === null
        ? []
        : [{ pid: Number(match[1]), ppid: Number(match[2]), args: match[3]! }]
    })
  }
  const mounts = get("mounts")
  if (mounts !== undefined) view.mounts = mountRows(mounts)
  const ls = get("ls")
  if (ls !== undefined) view.ls = ls
  const marker = get("marker")?.[0]
  if (marker !== undefined) view.marker = marker
  const oldRoot = get("old_root")?.[0]
  if (oldRoot !== undefined) view.oldRoot = oldRoot
  const probe = (path: string): Probe | undefined => {
    const listing = get(`listing ${path}`)
    const write = get(`write ${path}`)
    if (listing === undefined || write === undefined) return undefined
    return {
      path,
      listing,
      entries: listing.flatMap((line) => {
        // "-rw-r--r-- 1 101000 101000 29 Dec  1 21:12 hello.txt"
        const match = /^(\S+)\s+\d+\s+(\d+)\s+(\d+)\s+\d+\s+\S+\s+\d+\s+\S+\s(.*)$/.exec(line)
        return match === null
          ? []
          : [{ mode: match[1]!, uid: Number(match[2]), gid: Number(match[3]), name: match[4]! }]
      }),
      write: write.at(-1) ?? "",
      message: write.slice(0, -1).join(" "),
    }
  }
  const volume = probe("/volume")
  if (volume !== undefined) view.volume = volume
  const submounts = [...sections.keys()]
    .filter((name) => name.startsWith("listing /volume/"))
    .flatMap((name) => probe(name.slice("listing ".length)) ?? [])
  if (submounts.length > 0) view.submounts = submounts
  const hot = get("hot")
  if (hot !== undefined) {
    const mount = mountRows(get("hot-mounts") ?? []).find((row) => row.target === "/mnt/hot")
    view.hot = {
      files: hot,
      content: get("hot-read") ?? [],
      ...(mount === undefined ? {} : { mount }),
    }
  }
  const after = get("hot-after")
  if (after !== undefined) view.hotAfterUnmount = after
  return view
}

const micros = (n: number) => `${n.toLocaleString("en-US")} µs`

/**
 * Records steps into a {@link Record} and, unless quiet, prints each as it completes.
 */
export class Reporter {
  readonly record: Record = { ok: false, steps: [], events: [], view: {} }
  constructor(private readonly live: boolean) {}

  print(text = ""): void {
    if (this.live) process.stdout.write(`${text}\n`)
  }

  /** Runs `effect` as the next numbered step, timing it; a failure is recorded, then re-raised. */
  step<A, E, R>(
    title: string,
    detail: string | ((a: A) => string),
    effect: Effect.Effect<A, E, R>,
  ) {
    return Effect.suspend(() => {
      const start = process.hrtime.bigint()
      const took = () => Number((process.hrtime.bigint() - start) / 1000n)
      const n = this.record.steps.length + 1
      return effect.pipe(
        Effect.tap((a) =>
          Effect.sync(() => {
            const text = typeof detail === "string" ? detail : detail(a)
            this.add({ n, title, detail: text, micros: took(), ok: true })
          }),
        ),
        Effect.tapCause((cause) =>
          Effect.sync(() => {
            const text = typeof detail === "string" ? detail : ""
            const error = describe(
              Cause.hasInterruptsOnly(cause) ? "interrupted" : Cause.squash(cause),
            )
            this.add({ n, title, detail: text, micros: took(), ok: false, error })
          }),
        ),
      )
    })
  }

  private add(step: Step): void {
    this.record.steps.push(step)
    const mark = step.ok ? " " : "✗"
    const head = `${mark}${String(step.n).padStart(3)}. ${step.title}`
    this.print(`${head.padEnd(62)}${micros(step.micros).padStart(14)}`)
    for (const line of step.detail === "" ? [] : step.detail.split("\n"))
      this.print(`       ${line}`)
    if (step.error !== undefined) this.print(`       failed: ${step.error}`)
  }
}

/** A one-line account of why an effect failed. */
export const describe = (cause: unknown): string => {
  const text = String(cause)
  // Cause's string form starts with the error's own; keep its first line.
  return text.split("\n")[0]!.replace(/^(?:Error|[A-Za-z]+Error): /, "")
}

const indent = (lines: ReadonlyArray<string>, by = "       │ ") => lines.map((line) => by + line)

/** The container's view, the way a person reads it (after the release step). */
export const renderView = (view: View): ReadonlyArray<string> => {
  const out: Array<string> = ["", "       the container, from the inside:"]
  if (view.hostname !== undefined) out.push(...indent([`$ hostname`, view.hostname]))
  if (view.ps !== undefined) {
    out.push(...indent(["$ ps -o pid,ppid,args -e", "  PID  PPID COMMAND"]))
    out.push(
      ...indent(
        view.ps.map((p) => `${String(p.pid).padStart(5)} ${String(p.ppid).padStart(5)} ${p.args}`),
      ),
    )
  }
  if (view.mounts !== undefined) {
    out.push(...indent(["$ cat /proc/self/mounts"]))
    const width = Math.max(...view.mounts.map((m) => m.target.length))
    const types = Math.max(...view.mounts.map((m) => m.fstype.length))
    out.push(
      ...indent(
        view.mounts.map((m) => `${m.target.padEnd(width)}  ${m.fstype.padEnd(types)} ${m.options}`),
      ),
    )
  }
  if (view.ls !== undefined) out.push(...indent(["$ ls /", view.ls.join("  ")]))
  if (view.marker !== undefined) out.push(...indent(["$ cat /LINX-ROOTFS", view.marker]))
  if (view.oldRoot !== undefined) out.push(...indent([`$ test -e /old_root  → ${view.oldRoot}`]))
  for (const probe of [view.volume ?? [], view.submounts ?? []].flat()) {
    out.push(...indent([`$ ls -ln ${probe.path}`, ...probe.listing]))
    out.push(...indent([`$ touch ${probe.path}/written-by-the-container`]))
    if (probe.message !== "") out.push(...indent([probe.message]))
    out.push(...indent([`→ write ${probe.write}`]))
  }
  out.push("")
  return out
}

/** The hot-mounted directory, seen from the inside (after the hot-mount step). */
export const renderHot = (view: View): ReadonlyArray<string> => {
  const out: Array<string> = ["", "       the container, from the inside, still running:"]
  if (view.hot !== undefined) {
    out.push(...indent([`$ ls /mnt/hot`, view.hot.files.join("  ")]))
    out.push(...indent([`$ cat /mnt/hot/*`, ...view.hot.content]))
    if (view.hot.mount !== undefined) {
      const m = view.hot.mount
      out.push(
        ...indent([
          `$ grep /mnt/hot /proc/self/mounts`,
          `${m.source} ${m.target} ${m.fstype} ${m.options}`,
        ]),
      )
    }
  }
  out.push("")
  return out
}
