/**
 * `Mount.list`: read a mountinfo file and parse it, without blocking the event loop.
 *
 * Why the read is a loop of small reads, double-buffered: procfs hands mountinfo out at most
 * one page (~4 KiB) per read(2) whatever the buffer size, and producing those pages is the
 * expensive part (≈20 ms for 10,000 mounts on a 2-vCPU machine, more than parsing them).
 * Each read runs on libuv's threadpool; while the kernel produces the next page there, the
 * main thread parses the lines of the page it already has. The whole list so costs about
 * the kernel's own time, and the main thread is never busy for more than one chunk's parse.
 *
 * `/proc/self` names the process, so the table read is the thread-group leader's view (the
 * main thread's), even though a threadpool thread performs the read(2) calls.
 */

import * as fs from "node:fs"
import * as Effect from "effect/Effect"
import { InvalidArgument } from "../InvalidArgument.js"
import type { MountEntry } from "../MountEntry.js"
import { MountError } from "../MountError.js"
import { MountInfoParser } from "./mountinfo.js"

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

// Regular files fill a whole chunk per read; procfs returns a page per read anyway.
const chunkSize = 64 * 1024
// A mountinfo file of a million mounts is ~100 MiB; anything past this is not one (think
// `{ path: "/dev/zero" }`), and would not fit in a string either.
const maxBytes = 512 * 1024 * 1024
// The kernel's longest line is a few pages (three paths and two option strings); 8 MiB
// without a newline means the file is not mountinfo, and stops the buffer growing.
const maxLine = 8 * 1024 * 1024
const EFBIG = 27
const EIO = 5

/**
 * Reads `file` chunk by chunk and parses every complete line while the next read is in
 * flight. A line cut by a chunk boundary is carried over to the next chunk; a chunk is only
 * decoded up to its last newline, which never falls inside a UTF-8 sequence.
 *
 * Written with fs callbacks rather than `FileHandle` promises: with a page per read, a
 * 10,000-mount table takes ~190 reads, and the promise machinery per read measured ~40%
 * slower in all.
 */
const readAndParse = (file: string, signal: AbortSignal): Promise<Array<MountEntry>> =>
  new Promise((resolve, reject) => {
    const parser = new MountInfoParser()
    let current = Buffer.allocUnsafe(chunkSize)
    let spare = Buffer.allocUnsafe(chunkSize)
    let carry = 0 // bytes of an unfinished line at the start of `current`
    let total = 0
    let fd = -1
    let reading = false // a read is in flight: close only once it has landed
    let done = false
    let failure: unknown

    const close = () => {
      const settle = () => (failure === undefined ? resolve(parser.entries) : reject(failure))
      if (fd < 0) settle()
      else fs.close(fd, settle) // a close error cannot change what was read
    }
    const end = (error?: unknown) => {
      if (done) return
      done = true
      failure = error
      if (!reading) close()
    }
    const read = (buffer: Buffer, offset: number) => {
      reading = true
      fs.read(fd, buffer, offset, buffer.length - offset, null, onRead)
    }

    const onRead = (error: NodeJS.ErrnoException | null, bytesRead: number) => {
      reading = false
      if (done) return close()
      if (error) return end(error)
      if (signal.aborted) return end(signal.reason)
      try {
        if (bytesRead === 0) {
          if (carry > 0) parser.feed(current.toString("utf8", 0, carry))
          return end()
        }
        const filled = carry + bytesRead
        total += bytesRead
        const cut = current.lastIndexOf(10, filled - 1) + 1 // 0 when there is no newline
        const tail = filled - cut
        if (total > maxBytes || tail > maxLine) return end({ errno: -EFBIG })
        if (spare.length < tail + chunkSize) spare = Buffer.allocUnsafe(2 * (tail + chunkSize))
        current.copy(spare, 0, cut, filled)
        // Start the next read first: the kernel produces it while this chunk is parsed.
        read(spare, tail)
        if (cut > 0) parser.feed(current.toString("utf8", 0, cut))
        const parsed = current
        current = spare
        spare = parsed
        carry = tail
      } catch (defect) {
        // The parser never throws; should it ever, fail the read rather than the process.
        end(defect)
      }
    }

    fs.open(file, "r", (error, opened) => {
      if (error) return end(error)
      fd = opened
      read(current, 0)
    })
  })

const readError = (file: string, cause: unknown): MountError => {
  const errno = (cause as { errno?: unknown } | null)?.errno
  return MountError.fromErrno(
    "read",
    file,
    typeof errno === "number" && errno !== 0 ? Math.abs(errno) : EIO,
  )
}

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
  return yield* Effect.tryPromise({
    try: (signal) => readAndParse(file, signal),
    catch: (cause) => readError(file, cause),
  })
})
