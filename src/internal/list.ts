/**
 * `Mount.list`: read a mountinfo file and parse it, without blocking the event loop.
 *
 * Why the read is one native job, parsed as it goes: procfs hands mountinfo out at most
 * one page (~4 KiB) per read(2) whatever the buffer size, so a 10,000-mount table takes
 * ~190 reads. Issued from JavaScript, each read is a libuv threadpool job plus a round trip
 * through the main thread, and those round trips cost more than the parse they overlapped.
 * The addon's `readFile` (native/read.cc) runs the whole read loop as one threadpool job and
 * hands the main thread a slice of whole lines (64 KiB, ~0.5 ms of parsing) each time it
 * has read that much. The main thread parses each slice while the kernel makes the next, and
 * the event loop gets a turn between slices, so a timer is never held up by more than one.
 *
 * `/proc/self` names the process, so the table read is the thread-group leader's view (the
 * main thread's), even though a threadpool thread performs the read(2) calls.
 */

import * as Effect from "effect/Effect"
import { InvalidArgument } from "../InvalidArgument.js"
import type { MountEntry } from "../MountEntry.js"
import { MountError } from "../MountError.js"
import { MountInfoParser } from "./mountinfo.js"
import { native } from "./native.js"

/**
 * Which mount table to read: `{ pid }` reads `/proc/<pid>/mountinfo` (that process's mount
 * namespace, seen from its root), `{ path }` reads any file in mountinfo format.
 *
 * @since 0.1.0
 * @category models
 */
export type ListTarget = { readonly pid: number } | { readonly path: string }

/** The file a target names, or the reason it is malformed. */
export const mountInfoPath = (target: unknown): string | InvalidArgument => {
  const refuse = (reason: string) =>
    new InvalidArgument({ argument: "target", value: target, reason })
  if (target === undefined) return "/proc/self/mountinfo"
  if (typeof target !== "object" || target === null || Array.isArray(target)) {
    return refuse("expected { pid: number } or { path: string }")
  }
  const hasPid = Object.hasOwn(target, "pid")
  const hasPath = Object.hasOwn(target, "path")
  if (hasPid && hasPath) return refuse("give either pid or path, not both")
  if (hasPid) {
    const pid = (target as { pid: unknown }).pid
    if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid <= 0) {
      return refuse("pid must be a positive integer")
    }
    return `/proc/${pid}/mountinfo`
  }
  if (hasPath) {
    const path = (target as { path: unknown }).path
    if (typeof path !== "string" || path.length === 0)
      return refuse("path must be a non-empty string")
    if (path.includes("\0")) return refuse("path must not contain a NUL byte")
    return path
  }
  return refuse("expected { pid: number } or { path: string }")
}

// A mountinfo file of a million mounts is ~100 MiB; anything past this is not one (think
// `{ path: "/dev/zero" }`): the read fails with EFBIG.
const maxBytes = 512 * 1024 * 1024
// How much text one parse step takes before the event loop gets a turn (cut back to the last
// newline): ~0.5 ms of parsing on a 2-vCPU machine. Below 128 KiB the slice's string is
// allocated in V8's young generation and dies there; at 128 KiB and above each slice is a
// large-object allocation, and the old-generation collections it triggers measured longer
// pauses than the parse itself.
const sliceBytes = 64 * 1024
const EIO = 5

/**
 * The file read by one native threadpool job and parsed slice by slice as the slices arrive
 * (see the module note), one slice per turn of the event loop: slices that arrive together
 * (the main thread was busy) are never parsed in one go. An interrupted read runs to its
 * end in the threadpool; its slices are dropped unparsed.
 */
const readAndParse = (file: string): Effect.Effect<Array<MountEntry>, MountError> =>
  Effect.callback<Array<MountEntry>, MountError>((resume) => {
    const parser = new MountInfoParser()
    const slices: Array<Buffer> = []
    let readDone = false
    let stepScheduled = false
    let settled = false
    const step = (): void => {
      stepScheduled = false
      if (settled) return
      const slice = slices.shift()
      if (slice !== undefined) {
        try {
          parser.feed(slice)
        } catch (defect) {
          // Outside any fiber here: a parser bug must reach the caller, not crash the process.
          settled = true
          resume(Effect.die(defect))
          return
        }
      }
      if (slices.length > 0) schedule()
      else if (readDone) {
        settled = true
        resume(Effect.succeed(parser.entries))
      }
    }
    const schedule = (): void => {
      if (!stepScheduled) {
        stepScheduled = true
        setImmediate(step)
      }
    }
    native().readFile(
      file,
      maxBytes,
      sliceBytes,
      (lines) => {
        if (settled) return
        slices.push(lines)
        schedule()
      },
      (failure) => {
        readDone = true
        if (failure === null) {
          schedule()
          return
        }
        if (settled) return
        settled = true
        const errno = failure.errno
        resume(
          Effect.fail(
            MountError.fromErrno(
              "read",
              file,
              typeof errno === "number" && errno !== 0 ? errno : EIO,
            ),
          ),
        )
      },
    )
    return Effect.sync(() => {
      settled = true
    })
  })

/**
 * Reads and parses a mount table: this process's (`/proc/self/mountinfo`) when `target` is
 * omitted, another process's with `{ pid }`, any mountinfo-formatted file with `{ path }`.
 *
 * A file that cannot be read fails with a `MountError` whose `operation` is `"read"` and
 * whose `path` is the file (`ENOENT` for a process that has exited, `EACCES` for one whose
 * `/proc` entry this process may not read). A malformed `target` fails with an
 * `InvalidArgument` before anything is opened.
 *
 * @since 0.1.0
 * @category reading
 */
export const list: (
  target?: ListTarget,
) => Effect.Effect<ReadonlyArray<MountEntry>, MountError | InvalidArgument> = Effect.fn(
  "Mount.list",
)(function* (target?: ListTarget) {
  const file = mountInfoPath(target)
  if (typeof file !== "string") return yield* file
  return yield* readAndParse(file)
})
