/**
 * The error of a mount-table read or of a mount operation the kernel refused.
 *
 * A `MountError` names the stage that failed (`operation`), what it failed on (`path`),
 * the errno both as Node spells it (`code: "ENOENT"`) and as a number (`errno: 2`), and
 * where they apply the call's `verb`, its `source` and its `flags` (symbolically,
 * `MS_BIND|MS_RDONLY`), and the kernel's own words (`detail`, from fsconfig's log). Its
 * `message` is derived from those fields, with a hint chosen by stage, verb and errno.
 *
 * @since 0.1.0
 */

import { constants } from "node:os"
import { getSystemErrorName } from "node:util"
import * as Schema from "effect/Schema"
import { Stage } from "../protocol/Stage.js"

export { Stage } from "../protocol/Stage.js"

// What each stage was doing, for the message: "<doing> <path> failed: <code> (<why>)".
const doing: Record<Stage, string> = {
  read: "reading the mount table",
  open_ns: "opening the mount namespace file",
  setns: "entering the mount namespace",
  open_pidns: "opening the PID namespace file",
  setns_pid: "entering the PID namespace",
  fork: "starting the child that creates the filesystem in the PID namespace, for",
  open_userns: "opening the user namespace file of the idmap",
  unshare: "giving the worker thread an fs_struct of its own, for",
  home: "returning the worker thread home, for",
  resolve: "looking up",
  create: "creating the mount point",
  open_tree: "copying the mount tree at",
  mount_setattr: "setting mount attributes on",
  move_mount: "attaching the mount at",
  fsopen: "creating the filesystem for",
  fsconfig: "configuring the filesystem for",
  fsmount: "making the mount of the new filesystem for",
  fspick: "opening the filesystem for reconfiguration at",
  umount: "unmounting",
  pivot_root: "pivot_root to",
  verify: "checking the mount at",
  statmount: "reading the attributes of the mount at",
  mntns_id: "reading the id of the mount namespace",
  fanotify_init: "creating the fanotify group to watch the mount namespace",
  fanotify_mark: "marking for mount events the mount namespace",
  watch_read: "reading the mount events of",
  watch_overflow: "keeping up with the mount events of",
  thread: "handing the request to a worker thread, for",
}

const meaning: Partial<Record<string, string>> = {
  EPERM: "operation not permitted: CAP_SYS_ADMIN is needed in the namespace's user namespace",
  EACCES: "permission denied",
  ENOENT: "no such file or directory",
  ENOTDIR: "a path component is not a directory",
  EISDIR: "is a directory",
  EBUSY: "busy",
  EINVAL: "invalid argument",
  ENODEV: "unknown filesystem type",
  EROFS: "read-only filesystem",
  ENAMETOOLONG: "path too long",
  ELOOP: "too many symbolic links",
  EXDEV: "the path leads outside the namespace's root",
  ESRCH: "no such process",
  ENOTBLK: "not a block device",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  ENOMEM: "out of memory",
  EAGAIN: "resource temporarily unavailable",
  ENOSYS: "the kernel lacks this syscall",
  ESTALE: "not the mount this library made",
  ESHUTDOWN: "the Mounter is closed",
  ECANCELED: "the request's outcome is unknown; check the mount table",
  EFBIG: "the mount table is larger than the reader's cap",
}

// Hints, most specific first: "stage:verb:code", then "stage:code", then "*:code".
const hints: Partial<Record<string, string>> = {
  "open_ns:ENOENT": "has the process exited?",
  "open_ns:EINVAL": "the file is not a mount namespace (nsfs) file",
  "open_pidns:EINVAL": "the file is not a PID namespace (nsfs) file",
  "open_userns:EINVAL": "the file is not a user namespace (nsfs) file",
  "setns:EPERM": "entering needs CAP_SYS_ADMIN in the namespace's user namespace",
  "resolve:bind:source:ENOENT:foreign":
    'the source is looked up inside the target namespace; to bind a path of this process\'s namespace, pass sourceIn: "self"',
  "open_tree:EINVAL": "the source is unbindable, or not a mount of this namespace",
  "mount_setattr:EINVAL": "not a mount point (attributes are set on a mount's root)",
  "mount_setattr:EPERM": "locked: a more privileged namespace set these attributes",
  "move_mount:move:EINVAL": "the source is not a mount point, or shared propagation is in the way",
  "move_mount:EINVAL":
    "the target's mount is shared with a peer that cannot take it, or the source is unbindable",
  "fsopen:ENODEV": "the kernel knows no filesystem of that type (see /proc/filesystems)",
  "fsconfig:EINVAL": "the filesystem refused an option",
  "fspick:EINVAL": "not a mount point (a remount needs the mount's root)",
  "umount:EINVAL": "not mounted, or not a mount point",
  "umount:EBUSY": 'in use (flags: ["detach"] detaches it lazily)',
  "pivot_root:EINVAL":
    "the new root must be a mount point other than the current root's, put_old beneath it, and neither shared",
  "pivot_root:EBUSY": "the new root or put_old is already mounted on",
  "verify:ESTALE": "it was left alone",
  "resolve:ENOSYS": "openat2(2) needs Linux 5.6",
  "open_tree:ENOSYS": "the new mount API needs Linux 5.12 (mount_setattr)",
  "mount_setattr:ENOSYS": "the new mount API needs Linux 5.12 (mount_setattr)",
  "move_mount:ENOSYS": "the new mount API needs Linux 5.12 (mount_setattr)",
  "fsopen:ENOSYS": "the new mount API needs Linux 5.12 (mount_setattr)",
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
  /** The verb called: `bind`, `mount`, `umount`, … (absent for a read). */
  verb: Schema.optional(Schema.String),
  /** The source of a mount, bind or move. */
  source: Schema.optional(Schema.String),
  /** The call's flags, symbolically: `MS_BIND|MS_RDONLY`, `MNT_DETACH`. */
  flags: Schema.optional(Schema.String),
  /** The kernel's own words, where it gave some (`tmpfs: Bad value for 'size'`). */
  detail: Schema.optional(Schema.String),
  /** Which of the call's paths `path` is: its target, its source, or a namespace file. */
  subject: Schema.optional(Schema.String),
  /** The other mount namespace the call ran in (its file), when it was not ours. */
  namespace: Schema.optional(Schema.String),
}) {
  /**
   * Builds a `MountError` from a stage, a path and an errno number, naming the errno as
   * Node does (`2` → `"ENOENT"`).
   *
   * @since 0.1.0
   */
  static fromErrno(
    operation: Stage,
    path: string,
    errno: number,
    facts: {
      readonly verb?: string | undefined
      readonly source?: string | undefined
      readonly flags?: string | undefined
      readonly detail?: string | undefined
      readonly subject?: string | undefined
      readonly namespace?: string | undefined
    } = {},
  ): MountError {
    const fields: Record<string, unknown> = { operation, path, code: errnoName(errno), errno }
    for (const [key, value] of Object.entries(facts)) if (value) fields[key] = value
    return new MountError(fields as ConstructorParameters<typeof MountError>[0])
  }

  override get message(): string {
    const code = this.code
    const hint =
      (this.namespace === undefined
        ? undefined
        : hints[`${this.operation}:${this.verb}:${this.subject}:${code}:foreign`]) ??
      hints[`${this.operation}:${this.verb}:${this.subject}:${code}`] ??
      hints[`${this.operation}:${this.verb}:${code}`] ??
      hints[`${this.operation}:${code}`]
    const why = [meaning[code], hint].filter((part) => part).join("; ")
    const facts = [
      this.source === undefined || this.subject === "source"
        ? undefined
        : `source ${JSON.stringify(this.source)}`,
      this.flags,
    ].filter((part) => part !== undefined)
    const about = facts.length > 0 ? ` (${facts.join(", ")})` : ""
    const kernel = this.detail ? `; the kernel says: ${this.detail}` : ""
    return `${doing[this.operation]} ${JSON.stringify(this.path)}${about} failed: ${code}${why ? ` (${why})` : ""}${kernel}`
  }
}

/**
 * The errno's name as Node spells it, or `E<number>` for a number Node does not know.
 *
 * @since 0.1.0
 */
export const errnoName = (errno: number): string => {
  const code = Math.abs(errno)
  try {
    const name = getSystemErrorName(-code)
    // libuv names only the errnos it knows and answers "Unknown system error -N" for the
    // rest (ESTALE among them); Node's errno table knows more of Linux's.
    if (!name.startsWith("Unknown")) return name
  } catch {
    // not an errno at all (0, NaN): named by its number below
  }
  return errnoByNumber.get(code) ?? `E${code}`
}

const errnoByNumber: ReadonlyMap<number, string> = new Map(
  Object.entries(constants.errno)
    .reverse()
    .map(([name, code]) => [code, name]),
)
