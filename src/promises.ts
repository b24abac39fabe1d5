/**
 * The Promise facade: the same verbs, arguments, results and error classes as the Effect
 * API (`Mount`), over one shared thread pool started on first use. Its idle threads never
 * keep the process alive; `close()` ends the pool, and a later call starts a new one.
 *
 * @example
 * ```ts
 * import { bind, list, umount } from "linx-mount/promises"
 *
 * await bind("/srv/data", "/mnt/data", { flags: ["ro"] })
 * console.log((await list()).find((m) => m.mountPoint === "/mnt/data"))
 * await umount("/mnt/data")
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { InvalidArgument } from "./InvalidArgument.js"
import * as Mount from "./Mount.js"
import type { MountEntry } from "./MountEntry.js"
import type { MountError } from "./MountError.js"
import { Mounter } from "./Mounter.js"

type Runtime = ManagedRuntime.ManagedRuntime<Mounter, InvalidArgument>

let shared: Runtime | undefined

const runtime = (): Runtime => {
  shared ??= ManagedRuntime.make(Mounter.layer())
  return shared
}

// Calls not yet settled: close() lets them finish rather than interrupting them, so every
// call resolves or rejects with one of this package's errors.
const inFlight = new Set<Promise<unknown>>()

const run = <A>(effect: Effect.Effect<A, MountError | InvalidArgument, Mounter>): Promise<A> => {
  const call = runtime().runPromise(effect)
  inFlight.add(call)
  const forget = () => inFlight.delete(call)
  call.then(forget, forget)
  return call
}

/**
 * Reads a mount table: this process's, `{ pid }`'s, or a mountinfo file's (`{ path }`).
 *
 * @since 0.1.0
 */
export const list = (target?: Mount.ListTarget): Promise<ReadonlyArray<MountEntry>> =>
  run(Mount.list(target))

/** @since 0.1.0 */
export const mount = (
  source: string,
  target: string,
  fstype: string,
  options?: Mount.MountOptions,
): Promise<void> => run(Mount.mount(source, target, fstype, options))

/** @since 0.1.0 */
export const bind = (source: string, target: string, options?: Mount.BindOptions): Promise<void> =>
  run(Mount.bind(source, target, options))

/** @since 0.1.0 */
export const remount = (target: string, options?: Mount.RemountOptions): Promise<void> =>
  run(Mount.remount(target, options))

/** @since 0.1.0 */
export const move = (
  source: string,
  target: string,
  options?: Mount.NamespaceOptions,
): Promise<void> => run(Mount.move(source, target, options))

/** @since 0.1.0 */
export const umount = (target: string, options?: Mount.UmountOptions): Promise<void> =>
  run(Mount.umount(target, options))

/** @since 0.1.0 */
export const pivotRoot = (
  newRoot: string,
  putOld: string,
  options?: Mount.NamespaceOptions,
): Promise<void> => run(Mount.pivotRoot(newRoot, putOld, options))

/** @since 0.1.0 */
export const makePrivate = (target: string, options?: Mount.PropagationOptions): Promise<void> =>
  run(Mount.makePrivate(target, options))

/** @since 0.1.0 */
export const makeShared = (target: string, options?: Mount.PropagationOptions): Promise<void> =>
  run(Mount.makeShared(target, options))

/** @since 0.1.0 */
export const makeSlave = (target: string, options?: Mount.PropagationOptions): Promise<void> =>
  run(Mount.makeSlave(target, options))

/** @since 0.1.0 */
export const makeUnbindable = (target: string, options?: Mount.PropagationOptions): Promise<void> =>
  run(Mount.makeUnbindable(target, options))

/**
 * Ends the shared pool once the calls already made have settled. Calls made afterwards
 * start a new one.
 *
 * @since 0.1.0
 */
export const close = async (): Promise<void> => {
  const current = shared
  shared = undefined
  await Promise.allSettled([...inFlight])
  await current?.dispose()
}

export { InvalidArgument } from "./InvalidArgument.js"
export { MountEntry } from "./MountEntry.js"
export { MountError } from "./MountError.js"
