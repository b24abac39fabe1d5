/**
 * The flag tables: each flag name a caller may write, and the kernel constant it stands
 * for. The numbers themselves come from the native binding (the C headers), never retyped
 * here; this module only names them, once, for both sides of the protocol.
 *
 * @since 0.1.0
 */

/**
 * Mount flag names (as in mount(8) and the seed) → the `MS_*` constant each sets.
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
 * Umount flag names → the `MNT_*` / `UMOUNT_*` constant each sets.
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
 * The per-mount flags, which a bind mount only takes through a follow-up
 * `MS_REMOUNT | MS_BIND` (the kernel ignores them on the bind call itself).
 *
 * @since 0.1.0
 * @category flags
 */
export const perMountFlags: ReadonlyArray<MountFlag> = [
  "ro",
  "nosuid",
  "nodev",
  "noexec",
  "noatime",
  "nodiratime",
  "relatime",
  "strictatime",
]

/**
 * Propagation flags: a separate form of mount(2), never combined with bind or remount.
 *
 * @since 0.1.0
 * @category flags
 */
export const propagationFlags: ReadonlyArray<MountFlag> = [
  "private",
  "shared",
  "slave",
  "unbindable",
]

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
