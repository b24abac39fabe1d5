/**
 * One line of a mount table: a mount as the kernel describes it in
 * `/proc/<pid>/mountinfo` (see proc(5)). `Mount.list` returns these.
 *
 * Each field is named after proc(5)'s mountinfo field, in camelCase. Paths (`root`,
 * `mountPoint`) and `source` arrive with the kernel's octal escapes (`\040` for a space…)
 * already decoded, so they can be handed back to the filesystem as they are; the two option
 * strings are kept exactly as the kernel printed them.
 *
 * @since 0.1.0
 */

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
  /** Unique id of the mount (may be reused after an unmount). */
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
}

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom")

/**
 * One mount from a mountinfo table.
 *
 * `util.inspect(entry)` prints `MountEntry<ext4 on / (rw,relatime)>`; `JSON.stringify`
 * gives every field.
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
  /** Unique id of the mount (may be reused after an unmount). */
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

  constructor(fields: MountEntryFields) {
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
  }

  /**
   * The entry as a plain object of its eleven fields (a fresh copy of `propagation`).
   *
   * @since 0.1.0
   */
  toJSON(): MountEntryFields {
    return {
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
  }

  /**
   * `MountEntry<ext4 on / (rw,relatime)>`. Control characters in the fields are shown as
   * `\xHH` so the summary stays on one line.
   *
   * @since 0.1.0
   */
  toString(): string {
    return `MountEntry<${printable(this.fstype)} on ${printable(this.mountPoint)} (${printable(this.mountOptions)})>`
  }

  [inspectSymbol](): string {
    return this.toString()
  }
}

// Control characters (C0, DEL, C1) would break a one-line summary.
const controlChars = /[\u0000-\u001f\u007f-\u009f]/g

const printable = (s: string): string =>
  s.replace(controlChars, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
