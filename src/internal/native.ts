/**
 * Loads the addon (a prebuild when one fits, else the local build) and types its surface.
 * The addon only marshals and makes syscalls; see native/addon.cc.
 */
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/** What failed: a stage name and an errno. */
export interface NativeFailure {
  readonly stage: string
  readonly errno: number
}

export interface NativeBinding {
  /** The kernel's flag values, by their C names (`MS_BIND`, `MOUNT_ATTR_RDONLY`, …). */
  readonly constants: Readonly<Record<string, number>>
  /** The stage names, in the addon's numbering (protocol/Stage.ts lists the same). */
  readonly stages: ReadonlyArray<string>
  /**
   * Runs an encoded batch (protocol/Codec.ts) synchronously on the calling thread — a worker
   * thread, never the main one — and returns its encoded outcomes. Throws a TypeError on a
   * malformed batch.
   */
  readonly runBatch: (batch: Uint8Array) => Uint8Array
  /** What the addon read from an encoded batch, as JSON (the protocol tests compare it). */
  readonly describeBatch: (batch: Uint8Array) => string
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
