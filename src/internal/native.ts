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

/** A native reader's completion: the bytes read, or what failed. */
export type NativeDone = (failure: NativeFailure | null, bytes?: Buffer) => void

/** A watch's poller on the main loop (native/watch.h). */
export interface NativePoller {
  arm(): NativeFailure | undefined
  read(maxEvents: number): Buffer | NativeFailure
  close(): void
}

/** The addon's `watch` object (native/watch.h). */
export interface NativeWatch {
  readonly openMountInfo: (path: string) => { readonly fd: number } | NativeFailure
  readonly Poller: new (
    fd: number,
    kind: 0 | 1,
    nsId: bigint,
    onReady: (errno: number) => void,
  ) => NativePoller
  /** statx's STATX_MNT_ID_UNIQUE of what `path` names (the tests' oracle). */
  readonly uniqueMountId: (path: string) => bigint | NativeFailure
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
  /** Reads a whole file (up to `maxBytes`, else EFBIG) on libuv's threadpool (native/read.h). */
  readonly readFile: (path: string, maxBytes: number, callback: NativeDone) => void
  /** The same, synchronously (the command line's `list`). */
  readonly readFileSync: (path: string, maxBytes: number) => Buffer | NativeFailure
  /**
   * A namespace's mounts from listmount(2) + statmount(2) (native/tables.h), on libuv's
   * threadpool; `nsPath` null for ours.
   */
  readonly listMounts: (
    nsPath: string | null,
    maxBytes: number,
    maxMounts: number,
    callback: NativeDone,
  ) => void
  /** The same, synchronously. */
  readonly listMountsSync: (
    nsPath: string | null,
    maxBytes: number,
    maxMounts: number,
  ) => Buffer | NativeFailure
  /** The record layout of `listMounts`' buffer and the constants its decoder needs. */
  readonly tableLayout: Readonly<Record<string, number>>
  readonly watch: NativeWatch
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
