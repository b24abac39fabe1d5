/**
 * Loads the addon (a prebuild when one fits, else the local build) and types its surface.
 * The addon only marshals and makes syscalls; see native/addon.cc.
 */
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/** One syscall sequence for the addon; mirrors linx::Op in native/ops.h. */
export interface NativeOp {
  readonly kind: 0 | 1 | 2 // mount, umount, pivot_root
  readonly ns: 0 | 1 | 2 // self, pid, path
  readonly pid?: number
  readonly nsPath?: string
  readonly pidns?: boolean
  readonly create?: boolean
  readonly sourceFromHome?: boolean
  readonly source?: string
  readonly target: string
  readonly fstype?: string
  readonly data?: string
  readonly flags?: number
  readonly remountFlags?: number
  readonly putOld?: string
}

/** What failed: a stage name and an errno. */
export interface NativeFailure {
  readonly stage: string
  readonly errno: number
}

/** The addon's thread pool; see native/pool.h. */
export interface NativePool {
  /** Queues one batch; `undefined`, or a failure when no thread could be started to run it. */
  submit(id: number, ops: ReadonlyArray<NativeOp>): NativeFailure | undefined
  /** Lets the threads finish the queued batches and exit, then calls `onClosed`. */
  close(onClosed: () => void): void
  stats(): { threads: number; idle: number; queued: number; outstanding: number }
}

export interface NativeBinding {
  readonly constants: Readonly<Record<string, number>>
  readonly Pool: new (
    maxThreads: number,
    /** Called once per op, as soon as it is done: the batch's id, the op's index in it. */
    onComplete: (id: number, index: number, outcome: NativeFailure | null) => void,
  ) => NativePool
  /**
   * Reads a whole file in one libuv threadpool job (native/read.h), handing it over in
   * slices of whole lines as it goes (`onChunk`, in order), then `callback(null)`, or
   * `callback({ stage: "read", errno })` (EFBIG past `maxBytes`). Throws a TypeError on bad
   * arguments.
   */
  readonly readFile: (
    path: string,
    maxBytes: number,
    chunkBytes: number,
    onChunk: (lines: Buffer) => void,
    callback: (failure: NativeFailure | null) => void,
  ) => void
}

// The package root holds binding.gyp and prebuilds/; this module runs from dist/src/internal
// when installed and from src/internal under the test runner.
const packageRoot = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, "binding.gyp"))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error("linx-mount: cannot find the package root (binding.gyp)")
    dir = parent
  }
  return dir
}

let binding: NativeBinding | undefined

/** The addon, loaded once per thread on first use. */
export const native = (): NativeBinding => {
  if (binding === undefined) {
    const require = createRequire(import.meta.url)
    const load = require("node-gyp-build") as (dir: string) => NativeBinding
    binding = load(packageRoot())
  }
  return binding
}
