/**
 * One change to a mount namespace's mount table, as `Mount.watch` reports it.
 *
 * The kernel (6.14 and later) tells of three changes, through fanotify's mount events:
 *
 * - `attach`: a mount appeared in the namespace — mount(2), a bind, each mount of a
 *   recursive bind, each copy that propagation makes (a mount under a shared mount with
 *   one peer is two events).
 * - `detach`: a mount left it — umount(2), each mount of a recursive or lazy unmount and
 *   each propagated copy, every mount when the namespace ends with its last process.
 * - `move`: a mount stayed but changed place — `mount --move` (one event, carrying both of
 *   fanotify's attach and detach bits), pivot_root(2) (two: the new root and the old one).
 *   Submounts move with their parent without events of their own; their mount points
 *   change all the same.
 *
 * Remounts and propagation changes (`mount -o remount`, `--make-private`) alter no place in
 * the tree and make no event.
 *
 * @since 0.1.0
 */

/**
 * What happened to the mount: `attach`, `detach` or `move` (see the module note).
 *
 * @since 0.1.0
 * @category models
 */
export type MountEventKind = "attach" | "detach" | "move"

/**
 * One mount-table change.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Mount } from "linx-mount"
 *
 * // Print the next three changes in the namespace of process 1234.
 * const program = Mount.watch({ in: { pid: 1234 } }).pipe(
 *   Stream.take(3),
 *   Stream.runForEach((event) => Effect.log(event.kind, event.uniqueId, event.mountPoint)),
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface MountEvent {
  /** What happened: `attach`, `detach` or `move`. */
  readonly kind: MountEventKind
  /**
   * Which mount. With fanotify, the kernel's 64-bit unique mount id (statmount(2)'s
   * `mnt_id`, `statx(STATX_MNT_ID_UNIQUE)`), never reused: the value `MountEntry.uniqueId`
   * has. With the mountinfo fallback (kernels before 6.14, or fanotify refused), the
   * mountinfo mount id (`MountEntry.mountId`, below 2³¹), the only id those kernels report,
   * which the kernel reuses after an unmount.
   */
  readonly uniqueId: bigint
  /**
   * Where the mount is, relative to the watched namespace's root — the path a process of
   * that namespace (not chrooted) would use; this process's own root for `"self"`.
   *
   * For `attach` and `move` it is read (statmount) when the event is delivered, not when the
   * change happened: a mount moved or unmounted since shows where it is now, or has none.
   * For `detach` it is absent with fanotify (the mount is gone when the event is read); the
   * fallback gives the mount point the mount had at its last reading of the table. Absent
   * too when the kernel cannot name a path (a mount outside this process's root).
   */
  readonly mountPoint?: string
  /**
   * The exact bytes of `mountPoint`, present only when they are not UTF-8 (which a string
   * cannot spell: `mountPoint` then holds U+FFFD in their place). What to hand `fs` or
   * `umount` for such a mount: `event.mountPointBytes ?? event.mountPoint`.
   */
  readonly mountPointBytes?: Buffer
}
