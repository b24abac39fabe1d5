/**
 * The stages an operation can fail at, in one table shared by both sides of the protocol:
 * the addon reports a stage by its index in this list (native/stages.h spells the same list
 * as an enum, and `test/protocol.test.ts` fails when the two drift apart).
 *
 * - `read`: reading a mount table (`path` is the file).
 * - `open_ns`, `setns`: opening or entering the mount namespace (`path` is its file).
 * - `open_pidns`, `setns_pid`, `fork`: mounting proc from inside a PID namespace (a
 *   `CLONE_VM | CLONE_VFORK` child creates the filesystem context there).
 * - `open_userns`: opening the user namespace of an idmapped bind.
 * - `unshare`: giving the worker thread an fs_struct of its own.
 * - `home`: the worker could not return to its home namespaces after an earlier batch; it
 *   is retired and the request runs elsewhere (never seen by callers unless every try fails).
 * - `resolve`: looking a path up (openat2(2), inside the namespace's root when it is not
 *   ours; `path` is the path that failed).
 * - `create`: making the `create: true` mount point.
 * - `open_tree`, `mount_setattr`, `move_mount`: copying a tree for a bind, setting
 *   attributes on it or on a mount, attaching it (or moving a mount).
 * - `fsopen`, `fsconfig`, `fsmount`, `fspick`: making a new filesystem or reconfiguring one;
 *   `fsconfig` failures carry the kernel's own message where it gave one.
 * - `umount`, `pivot_root`: the syscall itself.
 * - `verify`: the mount at the path is not the one this library made (a scoped mount's
 *   release, a batch's undo): it was left alone.
 * - `statmount`: reading a mount's attributes (before a change a batch may have to undo).
 * - `mntns_id`, `fanotify_init`, `fanotify_mark`: setting up a watch's fanotify group for
 *   the namespace (`path` is the namespace file); refused by kernels before 6.14.
 * - `watch_read`: waiting for or reading a watch's events (`path` is what is watched).
 * - `watch_overflow`: the kernel's queue of a watch's events overflowed and events were
 *   lost (`ENOBUFS`); the table must be listed again.
 * - `thread`: no worker thread could run the request, or its outcome was lost
 *   (`ECANCELED`: whether it ran is unknown — the mount table tells).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Every stage, in the order the addon numbers them.
 *
 * @since 0.1.0
 * @category stages
 */
export const stages = [
  "read",
  "open_ns",
  "setns",
  "open_pidns",
  "setns_pid",
  "fork",
  "open_userns",
  "unshare",
  "home",
  "resolve",
  "create",
  "open_tree",
  "mount_setattr",
  "move_mount",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "umount",
  "pivot_root",
  "verify",
  "statmount",
  "mntns_id",
  "fanotify_init",
  "fanotify_mark",
  "watch_read",
  "watch_overflow",
  "thread",
] as const

/**
 * @since 0.1.0
 * @category stages
 */
export const Stage = Schema.Literals(stages)

/**
 * @since 0.1.0
 * @category stages
 */
export type Stage = (typeof stages)[number]
