/**
 * The flag tables: each name a caller may write and the kernel constant it stands for.
 * The numbers come from the native binding (the C headers), never retyped here; this
 * module only names them, once, for both sides of the protocol.
 *
 * @since 0.1.0
 */

/**
 * mount(2) flag names (as in mount(8) and the seed) → the `MS_*` constant each sets.
 *
 * @since 0.1.0
 * @category flags
 */
export const mountFlagConstants = {
  ro: "MS_RDONLY",
  nosuid: "MS_NOSUID",
  nodev: "MS_NODEV",
  noexec: "MS_NOEXEC",
  sync: "MS_SYNCHRONOUS",
  remount: "MS_REMOUNT",
  mandlock: "MS_MANDLOCK",
  dirsync: "MS_DIRSYNC",
  nosymfollow: "MS_NOSYMFOLLOW",
  noatime: "MS_NOATIME",
  nodiratime: "MS_NODIRATIME",
  bind: "MS_BIND",
  move: "MS_MOVE",
  rec: "MS_REC",
  silent: "MS_SILENT",
  private: "MS_PRIVATE",
  shared: "MS_SHARED",
  slave: "MS_SLAVE",
  unbindable: "MS_UNBINDABLE",
  relatime: "MS_RELATIME",
  strictatime: "MS_STRICTATIME",
  lazytime: "MS_LAZYTIME",
} as const

/**
 * @since 0.1.0
 * @category flags
 */
export type MountFlag = keyof typeof mountFlagConstants

/**
 * umount2(2) flag names → the `MNT_*` / `UMOUNT_*` constant each sets.
 *
 * @since 0.1.0
 * @category flags
 */
export const umountFlagConstants = {
  force: "MNT_FORCE",
  detach: "MNT_DETACH",
  expire: "MNT_EXPIRE",
  no_follow: "UMOUNT_NOFOLLOW",
} as const

/**
 * @since 0.1.0
 * @category flags
 */
export type UmountFlag = keyof typeof umountFlagConstants

/**
 * Per-mount attribute names (mount_setattr(2)) → the `MOUNT_ATTR_*` constant each sets.
 * The three atime modes are one field of the kernel's: setting one replaces the others.
 *
 * @since 0.1.0
 * @category flags
 */
export const attributeConstants = {
  ro: "MOUNT_ATTR_RDONLY",
  nosuid: "MOUNT_ATTR_NOSUID",
  nodev: "MOUNT_ATTR_NODEV",
  noexec: "MOUNT_ATTR_NOEXEC",
  nodiratime: "MOUNT_ATTR_NODIRATIME",
  nosymfollow: "MOUNT_ATTR_NOSYMFOLLOW",
  relatime: "MOUNT_ATTR_RELATIME",
  noatime: "MOUNT_ATTR_NOATIME",
  strictatime: "MOUNT_ATTR_STRICTATIME",
} as const

/**
 * @since 0.1.0
 * @category flags
 */
export type Attribute = keyof typeof attributeConstants

/**
 * The atime modes among the attributes: at most one applies.
 *
 * @since 0.1.0
 * @category flags
 */
export const atimeAttributes: ReadonlyArray<Attribute> = ["relatime", "noatime", "strictatime"]

/**
 * The mount flags that are per-mount attributes: on a bind they are set on the copied tree
 * before it is attached, so the bind never exists without them.
 *
 * @since 0.1.0
 * @category flags
 */
export const perMountFlags = [
  "ro",
  "nosuid",
  "nodev",
  "noexec",
  "noatime",
  "nodiratime",
  "relatime",
  "strictatime",
  "nosymfollow",
] as const satisfies ReadonlyArray<MountFlag & Attribute>

/**
 * The mount flags that are superblock flags, and the fsconfig(2) flag each becomes on a new
 * filesystem (`ro` is both: the filesystem and the mount).
 *
 * @since 0.1.0
 * @category flags
 */
export const superblockFlags: Readonly<Partial<Record<MountFlag, string>>> = {
  ro: "ro",
  sync: "sync",
  dirsync: "dirsync",
  lazytime: "lazytime",
  mandlock: "mand",
}

/**
 * Propagation types: a separate form of mount(2), never combined with bind or remount.
 *
 * @since 0.1.0
 * @category flags
 */
export const propagationFlags = ["private", "shared", "slave", "unbindable"] as const

/**
 * @since 0.1.0
 * @category flags
 */
export type Propagation = (typeof propagationFlags)[number]

/**
 * Prints a flag word symbolically, `MS_BIND|MS_REC`, for messages a person can act on.
 *
 * @since 0.1.0
 * @category flags
 */
export const describeFlags = (
  value: number,
  table: Readonly<Record<string, string>>,
  constants: Readonly<Record<string, number>>,
): string => {
  const names: Array<string> = []
  let rest = value
  for (const constant of new Set(Object.values(table))) {
    const bit = constants[constant]
    if (bit !== undefined && bit !== 0 && (value & bit) === bit) {
      names.push(constant)
      rest &= ~bit
    }
  }
  if (rest !== 0) names.push(`0x${(rest >>> 0).toString(16)}`)
  return names.length === 0 ? "0" : names.join("|")
}
