/**
 * The error of a mount-table read or a mount operation the kernel refused.
 *
 * A `MountError` names the stage that failed (`operation`), what it failed on (`path`),
 * and the errno, both as Node spells it (`code: "ENOENT"`) and as a number (`errno: 2`).
 * Its `message` is derived from those fields, so an error built from a native thread's
 * outcome reads exactly like one raised on the main thread.
 *
 * @since 0.1.0
 */

import { getSystemErrorName } from "node:util"
import * as Schema from "effect/Schema"

/**
 * Every stage an operation can fail at.
 *
 * - `read`: reading a mountinfo file (`path` is the file).
 * - `mount`, `umount`, `pivot_root`: the syscall itself (`path` is the target).
 * - `remount`: a read-only bind was made, the follow-up read-only remount failed, and the
 *   bind was undone; `undo`: that undo failed too, so the bind is still mounted.
 * - `open_ns`, `setns`: opening or entering the mount namespace file (`path` is that file).
 * - `unshare`: giving a native thread its own fs_struct.
 * - `thread`: no native thread could run the request, or its outcome was lost
 *   (`ECANCELED`: whether it ran is unknown; the mount table tells).
 * - `chdir`: entering `newRoot` before pivot_root (`path` is `newRoot`).
 * - `create`: making the `create: true` placeholder file.
 * - `open_pidns`, `setns_pid`, `pipe`, `fork`: mounting proc from inside a PID namespace.
 * - `mntns_id`, `fanotify_init`, `fanotify_mark`: setting up a watch's fanotify group for
 *   the namespace (`path` is the namespace file); refused by kernels before 6.14.
 * - `watch_read`: waiting for or reading a watch's events (`path` is what is watched).
 * - `watch_overflow`: the kernel's queue of a watch's events overflowed and events were
 *   lost (`ENOBUFS`); the table must be listed again.
 *
 * @since 0.1.0
 * @category models
 */
export const Stage = Schema.Literals([
  "read",
  "mount",
  "umount",
  "pivot_root",
  "remount",
  "undo",
  "chdir",
  "open_ns",
  "unshare",
  "setns",
  "thread",
  "create",
  "open_pidns",
  "setns_pid",
  "pipe",
  "fork",
  "mntns_id",
  "fanotify_init",
  "fanotify_mark",
  "watch_read",
  "watch_overflow",
])

/**
 * @since 0.1.0
 * @category models
 */
export type Stage = typeof Stage.Type

// What each stage was doing, for the message: "<doing> <path> failed: <code> (<meaning>)".
const doing: Record<Stage, string> = {
  read: "reading the mount table",
  mount: "mount on",
  umount: "umount of",
  pivot_root: "pivot_root to",
  remount: "the read-only remount of the new bind (the bind was undone) at",
  undo: "the read-only remount of the new bind failed, and undoing the bind (still mounted!) at",
  chdir: "chdir into the new root",
  open_ns: "opening the mount namespace file",
  unshare: "unshare(CLONE_FS) of the native thread, for",
  setns: "entering the mount namespace",
  thread: "handing the request to a native thread, for",
  create: "creating the placeholder file",
  open_pidns: "opening the PID namespace file",
  setns_pid: "entering the PID namespace",
  pipe: "making the pipe to the mounting child, for",
  fork: "starting the child that mounts in the PID namespace, for",
  mntns_id: "reading the id of the mount namespace",
  fanotify_init: "creating the fanotify group to watch the mount namespace",
  fanotify_mark: "marking for mount events the mount namespace",
  watch_read: "reading the mount events of",
  watch_overflow: "keeping up with the mount events of",
}

const meaning: Partial<Record<string, string>> = {
  EPERM: "operation not permitted: CAP_SYS_ADMIN is needed in the namespace's user namespace",
  EACCES: "permission denied",
  ENOENT: "no such file or directory",
  ENOTDIR: "a path component is not a directory",
  EBUSY: "busy: in use, or already mounted there",
  EINVAL:
    "invalid: not a mount point, shared propagation in the way, or flags the kernel refuses here",
  ENODEV: "unknown filesystem type",
  EROFS: "read-only filesystem",
  ENAMETOOLONG: "path too long",
  ELOOP: "too many symbolic links",
  ESRCH: "no such process",
  ENOTBLK: "not a block device",
  EMFILE: "too many open files",
  ENOMEM: "out of memory",
  ECANCELED: "the request's outcome is unknown; check the mount table",
}

const hints: Partial<Record<string, string>> = {
  "open_ns:ENOENT": "has the process exited?",
  "open_ns:EINVAL": "the file is not a mount namespace (nsfs) file",
  "open_pidns:EINVAL": "the file is not a PID namespace (nsfs) file",
  "setns:EPERM": "entering needs CAP_SYS_ADMIN in the namespace's user namespace",
  "open_ns:ENOTSUP":
    'the mountinfo fallback needs { pid } or "self": a namespace file has no mountinfo',
  "mntns_id:ENOTTY": "this kernel has no NS_GET_MNTNS_ID (before 6.11)",
  "fanotify_init:EINVAL": "this kernel has no fanotify mount events (before 6.14)",
  "fanotify_mark:EINVAL": "this kernel has no fanotify mount events (before 6.14)",
  "watch_overflow:ENOBUFS":
    "the kernel's event queue overflowed and events were lost; list the mounts again and watch anew",
}

/**
 * @since 0.1.0
 * @category errors
 */
export class MountError extends Schema.TaggedError<MountError>()("MountError", {
  operation: Stage,
  path: Schema.String,
  code: Schema.String,
  errno: Schema.Number,
  /**
   * The source of a failed mount(2), when there was one: an ENOENT may be about it rather
   * than about `path`, and the kernel does not say which.
   */
  source: Schema.optional(Schema.String),
}) {
  /**
   * Builds a `MountError` from a stage, a path and an errno number, naming the errno as
   * Node does (`2` → `"ENOENT"`).
   *
   * @since 0.1.0
   */
  static fromErrno(operation: Stage, path: string, errno: number, source?: string): MountError {
    const code = errnoName(errno)
    return new MountError(
      source === undefined
        ? { operation, path, code, errno }
        : { operation, path, code, errno, source },
    )
  }

  override get message(): string {
    const known = meaning[this.code]
    const hint = hints[`${this.operation}:${this.code}`]
    const detail = [known, hint].filter((part) => part !== undefined).join("; ")
    const from = this.source === undefined ? "" : ` (source ${JSON.stringify(this.source)})`
    return `${this.operation}: ${doing[this.operation]} ${JSON.stringify(this.path)}${from} failed: ${this.code}${detail ? ` (${detail})` : ""}`
  }
}

/**
 * The errno's name as Node spells it, or `E<number>` for a number Node does not know.
 *
 * @since 0.1.0
 */
export const errnoName = (errno: number): string => {
  try {
    return getSystemErrorName(-Math.abs(errno))
  } catch {
    return `E${errno}`
  }
}
