/**
 * One line of a mount table: a mount as the kernel describes it in
 * `/proc/<pid>/mountinfo` (see proc(5)). `Mount.list` returns these.
 *
 * Each field is named after proc(5)'s mountinfo field, in camelCase. Paths (`root`,
 * `mountPoint`) and `source` arrive with the kernel's octal escapes (`\040` for a space…)
 * already decoded, so they can be handed back to the filesystem as they are; the two option
 * strings are kept exactly as the kernel printed them.
 *
 * Names are bytes to the kernel, strings here: decoded as UTF-8, with U+FFFD for a byte
 * sequence that is not UTF-8 (as Node's `fs` decodes names). Two different names can then
 * spell the same string, so the exact bytes of `root`, `mountPoint` and `source` stay
 * available as Buffers (`rootBytes`…) — what to hand `fs` or `umount` for such a name. They
 * cost nothing for names that are UTF-8: only a field whose bytes are not keeps a copy.
 *
 * This module imports nothing but `node:buffer`: the command-line tool loads it without
 * Effect, to start fast.
 *
 * @since 0.1.0
 */
import { Buffer, isUtf8 } from "node:buffer"

/**
 * One propagation tag from a mountinfo line's optional fields (see mount_namespaces(7)).
 *
 * - `shared`: the mount is in peer group `group`; mount events propagate among the peers.
 * - `master`: the mount is a slave of peer group `group`; it receives, never sends.
 * - `propagate_from`: the nearest dominant peer group a slave receives from, when that group
 *   is not visible in this namespace (rare).
 * - `unbindable`: the mount may not be bind-mounted.
 *
 * A mount can carry several at once, for instance `shared` and `master` together.
 *
 * @since 0.1.0
 * @category models
 */
export type Propagation =
  | { readonly kind: "shared"; readonly group: number }
  | { readonly kind: "master"; readonly group: number }
  | { readonly kind: "propagate_from"; readonly group: number }
  | { readonly kind: "unbindable" }

/**
 * The fields of a {@link MountEntry}, as a plain object (what `toJSON` returns and what the
 * constructor takes).
 *
 * @since 0.1.0
 * @category models
 */
export interface MountEntryFields {
  /** Id of the mount, as mountinfo prints it; the kernel reuses it after an unmount. */
  readonly mountId: number
  /** Id of the parent mount; equal to `mountId` (or absent from the table) at the root. */
  readonly parentId: number
  /** Major device number of the filesystem (`st_dev`). */
  readonly major: number
  /** Minor device number of the filesystem (`st_dev`). */
  readonly minor: number
  /** The directory of the filesystem that forms the root of this mount (`/` unless a bind). */
  readonly root: string
  /** Where the mount sits, relative to the reading process's root directory. */
  readonly mountPoint: string
  /** Per-mount options, raw (`rw,nosuid,relatime`). */
  readonly mountOptions: string
  /** Propagation tags, in the order the kernel printed them; empty for a private mount. */
  readonly propagation: ReadonlyArray<Propagation>
  /** Filesystem type (`ext4`, `tmpfs`, `fuse.sshfs`). */
  readonly fstype: string
  /** Filesystem-specific source (`/dev/vda`, `tmpfs`), `""` when the mount has none. */
  readonly source: string
  /** Per-superblock options, raw (`rw,size=16384k`). */
  readonly superOptions: string
  /**
   * The kernel's 64-bit id of the mount, never reused while the system runs (statmount's
   * `mnt_id`, statx's `STATX_MNT_ID_UNIQUE`); `undefined` for a table read from a mountinfo
   * file, which does not carry it.
   */
  readonly uniqueId?: bigint | undefined
}

/**
 * The exact bytes of the fields that are names, escapes decoded, for a {@link MountEntry}
 * whose names are not all UTF-8 (the second argument of its constructor).
 *
 * @since 0.1.0
 * @category models
 */
export interface MountEntryBytes {
  readonly root?: Uint8Array | undefined
  readonly mountPoint?: Uint8Array | undefined
  readonly source?: Uint8Array | undefined
}

/**
 * What `MountEntry.toJSON` returns: the fields, with `uniqueId` as a decimal string (JSON
 * has no 64-bit integers) and left out when the entry has none.
 *
 * @since 0.1.0
 * @category models
 */
export interface MountEntryJSON extends Omit<MountEntryFields, "uniqueId"> {
  readonly uniqueId?: string
}

interface RawBytes {
  root?: Buffer
  mountPoint?: Buffer
  source?: Buffer
}

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom")

/**
 * One mount from a mountinfo table.
 *
 * `util.inspect(entry)` prints `MountEntry<ext4 on / (rw,relatime)>`; `JSON.stringify`
 * gives every field (see {@link MountEntryJSON}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Mount } from "linx-mount"
 *
 * const mounts = await Effect.runPromise(Mount.list())
 * const root = mounts.find((m) => m.mountPoint === "/")
 * root?.fstype // "ext4"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class MountEntry implements MountEntryFields {
  /** Id of the mount, as mountinfo prints it; the kernel reuses it after an unmount. */
  readonly mountId: number
  /** Id of the parent mount; equal to `mountId` (or absent from the table) at the root. */
  readonly parentId: number
  /** Major device number of the filesystem (`st_dev`). */
  readonly major: number
  /** Minor device number of the filesystem (`st_dev`). */
  readonly minor: number
  /** The directory of the filesystem that forms the root of this mount (`/` unless a bind). */
  readonly root: string
  /** Where the mount sits, relative to the reading process's root directory. */
  readonly mountPoint: string
  /** Per-mount options, raw (`rw,nosuid,relatime`). */
  readonly mountOptions: string
  /** Propagation tags, in the order the kernel printed them; empty for a private mount. */
  readonly propagation: ReadonlyArray<Propagation>
  /** Filesystem type (`ext4`, `tmpfs`, `fuse.sshfs`). */
  readonly fstype: string
  /** Filesystem-specific source (`/dev/vda`, `tmpfs`), `""` when the mount has none. */
  readonly source: string
  /** Per-superblock options, raw (`rw,size=16384k`). */
  readonly superOptions: string
  /**
   * The kernel's 64-bit id of the mount, never reused while the system runs (statmount's
   * `mnt_id`, statx's `STATX_MNT_ID_UNIQUE`): unlike `mountId`, it tells a mount from one
   * mounted later in its place. `undefined` when the table was read from a mountinfo file.
   */
  readonly uniqueId: bigint | undefined
  // The exact bytes of the names that are not UTF-8; undefined (the usual case) when all are.
  readonly #raw: RawBytes | undefined

  /**
   * `bytes` gives the exact bytes of names whose strings are their UTF-8 decoding; a copy
   * is kept only of those that are not valid UTF-8 (for the others the string holds the
   * same bytes).
   */
  constructor(fields: MountEntryFields, bytes?: MountEntryBytes) {
    this.mountId = fields.mountId
    this.parentId = fields.parentId
    this.major = fields.major
    this.minor = fields.minor
    this.root = fields.root
    this.mountPoint = fields.mountPoint
    this.mountOptions = fields.mountOptions
    this.propagation = fields.propagation
    this.fstype = fields.fstype
    this.source = fields.source
    this.superOptions = fields.superOptions
    this.uniqueId = fields.uniqueId
    let raw: RawBytes | undefined
    if (bytes !== undefined) {
      const keep = (b: Uint8Array | undefined): Buffer | undefined =>
        b === undefined || isUtf8(b) ? undefined : Buffer.from(b)
      const root = keep(bytes.root)
      const mountPoint = keep(bytes.mountPoint)
      const source = keep(bytes.source)
      if (root !== undefined || mountPoint !== undefined || source !== undefined) {
        raw = {}
        if (root !== undefined) raw.root = root
        if (mountPoint !== undefined) raw.mountPoint = mountPoint
        if (source !== undefined) raw.source = source
      }
    }
    this.#raw = raw
  }

  /**
   * The exact bytes of `root`, escapes decoded (a fresh Buffer).
   *
   * @since 0.1.0
   */
  get rootBytes(): Buffer {
    return bytesOf(this.#raw?.root, this.root)
  }

  /**
   * The exact bytes of `mountPoint`, escapes decoded (a fresh Buffer): the name to hand
   * `fs` or `umount` when it is not UTF-8, which the string cannot spell.
   *
   * @since 0.1.0
   */
  get mountPointBytes(): Buffer {
    return bytesOf(this.#raw?.mountPoint, this.mountPoint)
  }

  /**
   * The exact bytes of `source`, escapes decoded (a fresh Buffer).
   *
   * @since 0.1.0
   */
  get sourceBytes(): Buffer {
    return bytesOf(this.#raw?.source, this.source)
  }

  /**
   * The entry as a plain object: the eleven mountinfo fields (a fresh copy of
   * `propagation`), then `uniqueId` as a decimal string when there is one — a bigint would
   * make `JSON.stringify` throw.
   *
   * @since 0.1.0
   */
  toJSON(): MountEntryJSON {
    const json = {
      mountId: this.mountId,
      parentId: this.parentId,
      major: this.major,
      minor: this.minor,
      root: this.root,
      mountPoint: this.mountPoint,
      mountOptions: this.mountOptions,
      propagation: this.propagation.map((p) => ({ ...p })),
      fstype: this.fstype,
      source: this.source,
      superOptions: this.superOptions,
    }
    return this.uniqueId === undefined ? json : { ...json, uniqueId: this.uniqueId.toString() }
  }

  /**
   * `MountEntry<ext4 on / (rw,relatime)>`. Control characters, and in the mount point the
   * bytes that are not UTF-8, are shown as `\xHH`, so the summary stays on one line and two
   * different names never print alike.
   *
   * @since 0.1.0
   */
  toString(): string {
    const raw = this.#raw?.mountPoint
    const mountPoint = raw === undefined ? printable(this.mountPoint) : printableBytes(raw)
    return `MountEntry<${printable(this.fstype)} on ${mountPoint} (${printable(this.mountOptions)})>`
  }

  [inspectSymbol](): string {
    return this.toString()
  }
}

// Control characters (C0, DEL, C1) would break a one-line summary.
const controlChars = /[\u0000-\u001f\u007f-\u009f]/g

const hex = (code: number): string => `\\x${code.toString(16).padStart(2, "0")}`

const printable = (s: string): string => s.replace(controlChars, (c) => hex(c.charCodeAt(0)))

const bytesOf = (raw: Buffer | undefined, text: string): Buffer =>
  raw === undefined ? Buffer.from(text, "utf8") : Buffer.from(raw)

/** The bytes as text: UTF-8 sequences as characters, every other byte as `\\xHH`. */
const printableBytes = (bytes: Buffer): string => {
  const parts: Array<string> = []
  let run = 0 // start of the current run of valid UTF-8
  let i = 0
  while (i < bytes.length) {
    const lead = bytes[i]!
    // The sequence length the lead byte announces; 0: never a lead byte (RFC 3629).
    const n =
      lead < 0x80 ? 1 : lead < 0xc2 ? 0 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf5 ? 4 : 0
    if (n === 1 || (n > 0 && i + n <= bytes.length && isUtf8(bytes.subarray(i, i + n)))) {
      i += n
      continue
    }
    parts.push(printable(bytes.toString("utf8", run, i)), hex(lead))
    i++
    run = i
  }
  parts.push(printable(bytes.toString("utf8", run, i)))
  return parts.join("")
}
