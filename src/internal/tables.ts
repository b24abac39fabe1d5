/**
 * The mount-table readers, free of Effect (the command-line tool imports this module and
 * must start fast; `Mount.list` in `list.ts` is the Effect wrapper around it).
 *
 * Two sources of the same facts:
 *
 * - **statmount** — `listmount(2)` + one `statmount(2)` per mount (Linux 6.8+; this reader
 *   needs the kernel's `supported_mask`, 6.15+, to tell a field it lacks from an empty one).
 *   This process's table and `{ pid }` use it where the kernel has it; `{ namespace }` (a mount-namespace file such as a bind-mounted `/proc/PID/ns/mnt`)
 *   has no other way, since it never enters the namespace. The addon packs the records into
 *   one Buffer (native/tables.h), decoded here.
 * - **mountinfo** — a file in `/proc/PID/mountinfo` format, parsed by `mountinfo.ts`. `{ path }`
 *   always reads one; this process and `{ pid }` fall back to it when the statmount route
 *   fails for any reason but size (ENOSYS on an older kernel, EPERM for a namespace whose
 *   user namespace we have no CAP_SYS_ADMIN in, ENOENT for a process that is gone), and the
 *   mountinfo read's own outcome is what the caller gets.
 *
 * The entries are the same either way, field for field, except:
 *
 * - `uniqueId` is the kernel's 64-bit id with statmount, `undefined` from mountinfo;
 * - `propagate_from` tags appear only in tables read from mountinfo: statmount is never asked
 *   for them (`STATMOUNT_PROPAGATE_FROM` walks the peer groups, O(peers) per mount — the very
 *   cost that makes mountinfo slow in a slave namespace whose mounts share a big peer group);
 * - the root they are relative to, for another namespace: with statmount, mount points of
 *   another namespace are relative to that namespace's root, as `nsenter -m` shows them,
 *   while `/proc/PID/mountinfo` shows them relative to PID's own root, so for a process
 *   chrooted inside its namespace it lists only the mounts under its chroot, with the
 *   chroot's path cut off. In this process's namespace (this process, or a `{ pid }` in it)
 *   they are relative to this process's root, and mounts it cannot reach are left out.
 *
 * A mount unmounted between listmount and its statmount is left out: it is no longer in
 * the table. Both readers hold a cap, {@link maxTableBytes} of text or records (and
 * {@link maxTableMounts} mounts): past it the read fails with EFBIG instead of exhausting
 * memory — the kernel itself bounds a namespace to `/proc/sys/fs/mount-max` mounts (100,000
 * by default), far below it.
 *
 * Asynchronously, the kernel's work runs as one job on libuv's threadpool (a plain
 * AsyncWorker in the addon, handing back one Buffer), and the main thread decodes that
 * Buffer in slices of ~64 KiB, one slice per turn of the event loop: decoding a 10,000-mount
 * table never holds a timer up by more than a slice (well under a millisecond of work; the
 * young-generation collections its new entries cause come on top).
 */
import { Buffer, isUtf8 } from "node:buffer"
import { MountEntry, type MountEntryBytes, type Propagation } from "../MountEntry.js"
import { type MalformedLine, MountInfoParser } from "./mountinfo.js"
import { type NativeFailure, native } from "./native.js"

/**
 * The most bytes a table may take, as mountinfo text or as statmount records: 64 MiB, some
 * 650,000 ordinary mounts (~100 bytes each), or 2,000 whose root and mount point are both
 * PATH_MAX long and fully escaped (4 bytes of text per byte). Past it a read fails with
 * EFBIG, before it can exhaust the heap.
 */
export const maxTableBytes = 64 * 1024 * 1024

/** The most mounts a statmount read lists before it fails with EFBIG (10× mount-max). */
export const maxTableMounts = 1_000_000

/** Text (or records) decoded per event-loop turn: ~0.5 ms of work on a 2-vCPU machine. */
const sliceBytes = 64 * 1024

const EIO = 5
const ENOMEM = 12
const EFBIG = 27

/** Which table to read, checked (see {@link tableTarget}). */
export type TableTarget =
  | { readonly kind: "self" }
  | { readonly kind: "pid"; readonly pid: number }
  | { readonly kind: "namespace"; readonly path: string }
  | { readonly kind: "file"; readonly path: string }

/**
 * A public `target` (`undefined`, `{ pid }`, `{ namespace }` or `{ path }`, own properties
 * only) as a {@link TableTarget}, or the reason it is not one.
 */
export const tableTarget = (target: unknown): TableTarget | { readonly invalid: string } => {
  const invalid = (reason: string) => ({ invalid: reason })
  if (target === undefined) return { kind: "self" }
  const expected = "expected { pid: number }, { namespace: string } or { path: string }"
  if (typeof target !== "object" || target === null || Array.isArray(target)) {
    return invalid(expected)
  }
  const keys = (["pid", "namespace", "path"] as const).filter((k) => Object.hasOwn(target, k))
  if (keys.length > 1)
    return invalid(`give one of pid, namespace and path, not ${keys.join(" and ")}`)
  const key = keys[0]
  if (key === undefined) return invalid(expected)
  const value: unknown = (target as Record<string, unknown>)[key]
  if (key === "pid") {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      return invalid("pid must be a positive integer")
    }
    return { kind: "pid", pid: value }
  }
  if (typeof value !== "string" || value.length === 0) {
    return invalid(`${key} must be a non-empty string`)
  }
  if (value.includes("\0")) return invalid(`${key} must not contain a NUL byte`)
  return key === "path" ? { kind: "file", path: value } : { kind: "namespace", path: value }
}

/**
 * A table read. `malformed` (the first lines a mountinfo file had that were not mountinfo
 * lines, 1-based, at most `mountinfo.maxMalformedKept`) and `malformedCount` (all of them)
 * are empty and 0 for a statmount read.
 */
export interface Table {
  readonly entries: Array<MountEntry>
  readonly malformed: ReadonlyArray<MalformedLine>
  readonly malformedCount: number
  /** Which reader made it. */
  readonly reader: "statmount" | "mountinfo"
  /** The file read: a mountinfo file, or the namespace file the statmount reader listed. */
  readonly path: string
}

/**
 * A read that failed: `stage` `"open_ns"` when the namespace file could not be opened or is
 * not a mount namespace (EINVAL), `"read"` for everything else (EFBIG: past the cap).
 */
export interface TableFailure {
  readonly failure: {
    readonly stage: "read" | "open_ns"
    readonly errno: number
    readonly path: string
  }
}

/** The outcome of a read. */
export type TableResult = Table | TableFailure

/** Test and bench hooks; the defaults are what `Mount.list` does. */
export interface ReadOptions {
  /**
   * `"mountinfo"`: read this process's or `{ pid }`'s mountinfo file even where statmount
   * works; `"statmount"`: never fall back to it.
   */
  readonly via?: "mountinfo" | "statmount"
}

// ---- the addon ------------------------------------------------------------------------

const addon = native

// ---- the routes -----------------------------------------------------------------------

/** The mountinfo file of a target (for `namespace`, none: it has no process). */
const mountInfoFile = (target: TableTarget): string =>
  target.kind === "file"
    ? target.path
    : target.kind === "pid"
      ? `/proc/${target.pid}/mountinfo`
      : "/proc/self/mountinfo"

/** The namespace file statmount lists; null: this thread's own namespace. */
const namespaceFile = (target: TableTarget): string | null =>
  target.kind === "pid"
    ? `/proc/${target.pid}/ns/mnt`
    : target.kind === "namespace"
      ? target.path
      : null

const usesStatmount = (target: TableTarget, options: ReadOptions): boolean =>
  target.kind === "namespace" || (target.kind !== "file" && options.via !== "mountinfo")

// Size says the table is too big, and mountinfo is bigger still: those are final.
const fallsBack = (target: TableTarget, failure: NativeFailure, options: ReadOptions): boolean =>
  target.kind !== "namespace" &&
  options.via !== "statmount" &&
  failure.errno !== EFBIG &&
  failure.errno !== ENOMEM

const failed = (failure: NativeFailure, path: string): TableFailure => ({
  failure: {
    stage: failure.stage === "open_ns" ? "open_ns" : "read",
    errno: typeof failure.errno === "number" && failure.errno > 0 ? failure.errno : EIO,
    path,
  },
})

const isFailure = (value: Buffer | NativeFailure): value is NativeFailure => !Buffer.isBuffer(value)

/** Work done a slice at a time: `step` decodes one slice and says whether all is done. */
interface Steps {
  step(): boolean
  result(): Table
}

/**
 * Reads a table on libuv's threadpool and decodes it on this thread a slice per event-loop
 * turn; `callback` gets the table, the failure, or — a bug, never a bad table — the
 * exception decoding threw (`defect`). Returns a function that cancels the read: the
 * threadpool job runs to its end, and its result is dropped.
 */
export const readTable = (
  target: TableTarget,
  callback: (result: TableResult | { readonly defect: unknown }) => void,
  options: ReadOptions = {},
): (() => void) => {
  let done = false
  const settle = (result: TableResult | { readonly defect: unknown }): void => {
    if (done) return
    done = true
    callback(result)
  }
  const run = (steps: Steps): void => {
    const turn = (): void => {
      if (done) return
      let finished: boolean
      try {
        finished = steps.step()
      } catch (defect) {
        settle({ defect })
        return
      }
      if (finished) settle(steps.result())
      else setImmediate(turn)
    }
    // The first slice at once: a native callback already runs in a turn of its own.
    turn()
  }
  const viaMountInfo = (): void => {
    const file = mountInfoFile(target)
    addon().readFile(file, maxTableBytes, (failure, bytes) => {
      if (done) return
      if (failure !== null || bytes === undefined) {
        settle(failed(failure ?? { stage: "read", errno: EIO }, file))
        return
      }
      run(new MountInfoSteps(bytes, file))
    })
  }
  if (!usesStatmount(target, options)) {
    viaMountInfo()
  } else {
    const nsPath = namespaceFile(target)
    addon().listMounts(nsPath, maxTableBytes, maxTableMounts, (failure, bytes) => {
      if (done) return
      if (failure !== null || bytes === undefined) {
        const why = failure ?? { stage: "read", errno: EIO }
        if (fallsBack(target, why, options)) viaMountInfo()
        else settle(failed(why, nsPath ?? "/proc/self/ns/mnt"))
        return
      }
      run(new StatmountSteps(bytes, nsPath ?? "/proc/self/ns/mnt"))
    })
  }
  return () => {
    done = true
  }
}

/**
 * The same read on this thread, for the command-line tool: the native calls block until
 * the kernel is done, and the table is decoded in one go. Throws only on a bug.
 */
export const readTableSync = (target: TableTarget, options: ReadOptions = {}): TableResult => {
  const finish = (steps: Steps): Table => {
    while (!steps.step()) {
      // one slice after another, with nothing in between
    }
    return steps.result()
  }
  const viaMountInfo = (): TableResult => {
    const file = mountInfoFile(target)
    const bytes = addon().readFileSync(file, maxTableBytes)
    return isFailure(bytes) ? failed(bytes, file) : finish(new MountInfoSteps(bytes, file))
  }
  if (!usesStatmount(target, options)) return viaMountInfo()
  const nsPath = namespaceFile(target)
  const bytes = addon().listMountsSync(nsPath, maxTableBytes, maxTableMounts)
  if (!isFailure(bytes)) return finish(new StatmountSteps(bytes, nsPath ?? "/proc/self/ns/mnt"))
  return fallsBack(target, bytes, options)
    ? viaMountInfo()
    : failed(bytes, nsPath ?? "/proc/self/ns/mnt")
}

// ---- mountinfo --------------------------------------------------------------------------

/** A mountinfo file's bytes, parsed a slice of whole lines (~64 KiB) at a time. */
class MountInfoSteps implements Steps {
  private readonly parser = new MountInfoParser()
  private pos = 0

  constructor(
    private readonly bytes: Buffer,
    private readonly path: string,
  ) {}

  step(): boolean {
    const bytes = this.bytes
    const length = bytes.length
    if (this.pos >= length) return true
    let end = this.pos + sliceBytes
    if (end >= length) end = length
    else {
      // To the end of the line the slice ends in: a line is never cut.
      const newline = bytes.indexOf(10, end - 1)
      end = newline < 0 ? length : newline + 1
    }
    this.parser.feed(bytes, this.pos, end)
    this.pos = end
    return end >= length
  }

  result(): Table {
    return {
      entries: this.parser.entries,
      malformed: this.parser.malformed,
      malformedCount: this.parser.malformedCount,
      reader: "mountinfo",
      path: this.path,
    }
  }
}

// ---- statmount records ----------------------------------------------------------------

interface Layout {
  readonly header: number
  readonly same: number
  readonly rdonly: number
  readonly nosuid: number
  readonly nodev: number
  readonly noexec: number
  readonly atimeMask: number
  readonly relatime: number
  readonly noatime: number
  readonly nodiratime: number
  readonly idmap: number
  readonly nosymfollow: number
  readonly sbRdonly: number
  readonly sbSync: number
  readonly sbDirsync: number
  readonly sbMandlock: number
  readonly sbLazytime: number
  readonly shared: number
  readonly slave: number
  readonly unbindable: number
}

let layout: Layout | undefined

/** The record layout and flag values, from the addon (never retyped here). */
const recordLayout = (): Layout => {
  if (layout !== undefined) return layout
  const c = addon().tableLayout
  const get = (name: string): number => {
    const value = c[name]
    if (typeof value !== "number") throw new Error(`linx-mount: the addon lacks ${name}`)
    return value
  }
  layout = {
    header: get("recordHeaderBytes"),
    same: get("same"),
    rdonly: get("MOUNT_ATTR_RDONLY"),
    nosuid: get("MOUNT_ATTR_NOSUID"),
    nodev: get("MOUNT_ATTR_NODEV"),
    noexec: get("MOUNT_ATTR_NOEXEC"),
    atimeMask: get("MOUNT_ATTR__ATIME"),
    relatime: get("MOUNT_ATTR_RELATIME"),
    noatime: get("MOUNT_ATTR_NOATIME"),
    nodiratime: get("MOUNT_ATTR_NODIRATIME"),
    idmap: get("MOUNT_ATTR_IDMAP"),
    nosymfollow: get("MOUNT_ATTR_NOSYMFOLLOW"),
    sbRdonly: get("SB_RDONLY"),
    sbSync: get("SB_SYNCHRONOUS"),
    sbDirsync: get("SB_DIRSYNC"),
    sbMandlock: get("SB_MANDLOCK"),
    sbLazytime: get("SB_LAZYTIME"),
    shared: get("MS_SHARED"),
    slave: get("MS_SLAVE"),
    unbindable: get("MS_UNBINDABLE"),
  }
  return layout
}

// Per-mount options by attribute word: a handful of distinct values in any table.
const mountOptionsCache = new Map<number, string>()

/** What fs/proc_namespace.c's show_mnt_opts prints for these MOUNT_ATTR_* bits. */
const mountOptionsOf = (attr: number, l: Layout): string => {
  let text = mountOptionsCache.get(attr)
  if (text !== undefined) return text
  const atime = attr & l.atimeMask
  text = [
    attr & l.rdonly ? "ro" : "rw",
    attr & l.nosuid ? ",nosuid" : "",
    attr & l.nodev ? ",nodev" : "",
    attr & l.noexec ? ",noexec" : "",
    atime === l.noatime ? ",noatime" : "",
    attr & l.nodiratime ? ",nodiratime" : "",
    // MOUNT_ATTR_RELATIME is 0: relatime is the atime bits being none of the others.
    atime === l.relatime ? ",relatime" : "",
    attr & l.nosymfollow ? ",nosymfollow" : "",
    attr & l.idmap ? ",idmapped" : "",
  ].join("")
  mountOptionsCache.set(attr, text)
  return text
}

/** The superblock's words of mountinfo's super options (show_sb_opts): `rw,sync…`. */
const superFlagsOf = (sb: number, l: Layout): string =>
  [
    sb & l.sbRdonly ? "ro" : "rw",
    sb & l.sbSync ? ",sync" : "",
    sb & l.sbDirsync ? ",dirsync" : "",
    sb & l.sbMandlock ? ",mand" : "",
    sb & l.sbLazytime ? ",lazytime" : "",
  ].join("")

interface Slicers {
  utf8Slice(start: number, end: number): string
}

/**
 * statmount records (native/tables.h) decoded a slice (~64 KiB) at a time into entries
 * equal to what mountinfo shows.
 */
class StatmountSteps implements Steps {
  private readonly entries: Array<MountEntry> = []
  private readonly bytes: Buffer
  private readonly words: Uint32Array
  private readonly ids: BigUint64Array
  private readonly layout = recordLayout()
  private pos = 0
  // The previous record's strings (a string the addon marks "same" is the previous one),
  // and the raw bytes of those that are not UTF-8.
  private root = ""
  private rootRaw: Uint8Array | undefined
  private mountPoint = ""
  private mountPointRaw: Uint8Array | undefined
  private type = ""
  private subtype = ""
  private source = ""
  private sourceRaw: Uint8Array | undefined
  private options = ""
  // Derived values of the previous record, reused while their inputs are the same.
  private fstype = ""
  private superOptions = "rw"
  private sbFlags = -1
  private superOptionsFrom = ""
  private propagation: ReadonlyArray<Propagation> = Object.freeze([])
  private propagationFlags = -1
  private peerGroup = -1
  private masterGroup = -1

  constructor(
    input: Buffer,
    private readonly path: string,
  ) {
    // The records hold 64-bit and 32-bit words: they need an 8-byte aligned view.
    const bytes = input.byteOffset % 8 === 0 ? input : Buffer.from(input)
    if (bytes.byteOffset % 8 !== 0 || bytes.length % 8 !== 0) {
      throw new Error("linx-mount: statmount records are not 8-byte aligned")
    }
    this.bytes = bytes
    this.words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
    this.ids = new BigUint64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8)
  }

  step(): boolean {
    const length = this.bytes.length
    const stop = Math.min(length, this.pos + sliceBytes)
    while (this.pos < stop) this.record()
    return this.pos >= length
  }

  result(): Table {
    return {
      entries: this.entries,
      malformed: [],
      malformedCount: 0,
      reader: "statmount",
      path: this.path,
    }
  }

  private record(): void {
    const l = this.layout
    const w = this.words
    const at = this.pos
    const i = at >>> 2
    const size = w[i + 18]!
    if (size < l.header || size % 8 !== 0 || at + size > this.bytes.length) {
      throw new Error(`linx-mount: a statmount record at ${at} is corrupt`)
    }
    const end = at + size
    // The strings' lengths must add up within the record before any is read.
    let s = at + l.header
    for (let k = 12; k < 18; k++) {
      const n = w[i + k]!
      if (n !== l.same) s += n
    }
    if (s > end) throw new Error(`linx-mount: a statmount record at ${at} is corrupt`)
    s = at + l.header
    const high = w[i + 11]!
    const same = l.same
    const bytes = this.bytes as unknown as Slicers

    let n = w[i + 12]!
    if (n !== same) {
      const from = s
      s += n
      this.root = bytes.utf8Slice(from, from + n)
      this.rootRaw = high & 1 ? this.raw(from, n) : undefined
    }
    n = w[i + 13]!
    if (n !== same) {
      const from = s
      s += n
      this.mountPoint = bytes.utf8Slice(from, from + n)
      this.mountPointRaw = high & 2 ? this.raw(from, n) : undefined
    }
    let typeChanged = false
    n = w[i + 14]!
    if (n !== same) {
      const from = s
      s += n
      this.type = bytes.utf8Slice(from, from + n)
      typeChanged = true
    }
    n = w[i + 15]!
    if (n !== same) {
      const from = s
      s += n
      this.subtype = bytes.utf8Slice(from, from + n)
      typeChanged = true
    }
    if (typeChanged) this.fstype = this.subtype ? `${this.type}.${this.subtype}` : this.type
    n = w[i + 16]!
    if (n !== same) {
      const from = s
      s += n
      this.source = bytes.utf8Slice(from, from + n)
      this.sourceRaw = high & 16 ? this.raw(from, n) : undefined
    }
    n = w[i + 17]!
    if (n !== same) {
      const from = s
      s += n
      this.options = bytes.utf8Slice(from, from + n)
    }

    const sbFlags = w[i + 7]!
    if (sbFlags !== this.sbFlags || this.options !== this.superOptionsFrom) {
      const flags = superFlagsOf(sbFlags, l)
      this.superOptions = this.options ? `${flags},${this.options}` : flags
      this.sbFlags = sbFlags
      this.superOptionsFrom = this.options
    }
    const propagation = w[i + 8]!
    const peer = w[i + 9]!
    const master = w[i + 10]!
    if (
      propagation !== this.propagationFlags ||
      peer !== this.peerGroup ||
      master !== this.masterGroup
    ) {
      const tags: Array<Propagation> = []
      if (propagation & l.shared) tags.push(Object.freeze({ kind: "shared", group: peer }))
      if (propagation & l.slave) tags.push(Object.freeze({ kind: "master", group: master }))
      if (propagation & l.unbindable) tags.push(Object.freeze({ kind: "unbindable" }))
      // Frozen: one array is shared by consecutive entries.
      this.propagation = Object.freeze(tags)
      this.propagationFlags = propagation
      this.peerGroup = peer
      this.masterGroup = master
    }

    const fields = {
      mountId: w[i + 2]!,
      parentId: w[i + 3]!,
      major: w[i + 4]!,
      minor: w[i + 5]!,
      root: this.root,
      mountPoint: this.mountPoint,
      mountOptions: mountOptionsOf(w[i + 6]!, l),
      propagation: this.propagation,
      fstype: this.fstype,
      source: this.source,
      superOptions: this.superOptions,
      uniqueId: this.ids[at >>> 3]!,
    }
    this.pos = end
    if (
      this.rootRaw === undefined &&
      this.mountPointRaw === undefined &&
      this.sourceRaw === undefined
    ) {
      this.entries.push(new MountEntry(fields))
      return
    }
    const raw: { -readonly [K in keyof MountEntryBytes]: MountEntryBytes[K] } = {}
    if (this.rootRaw !== undefined) raw.root = this.rootRaw
    if (this.mountPointRaw !== undefined) raw.mountPoint = this.mountPointRaw
    if (this.sourceRaw !== undefined) raw.source = this.sourceRaw
    this.entries.push(new MountEntry(fields, raw))
  }

  /** The bytes [from, from + n) when they are not UTF-8 (a view: MountEntry copies them). */
  private raw(from: number, n: number): Uint8Array | undefined {
    const view = this.bytes.subarray(from, from + n)
    return isUtf8(view) ? undefined : view
  }
}
