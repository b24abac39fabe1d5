/**
 * The Promise facade: the same verbs, arguments, results and error classes as the Effect
 * API (`Mount`), over one shared pool of worker threads started on first use. Its idle
 * workers never keep the process alive; `close()` ends the pool, and a later call starts a
 * new one.
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
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import type { BatchError } from "./BatchError.js"
import type { InvalidArgument } from "./InvalidArgument.js"
import * as Watch from "./internal/watch.js"
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

const run = <A>(
  effect: Effect.Effect<A, MountError | BatchError | InvalidArgument, Mounter>,
): Promise<A> => {
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
  target: Mount.PathLike,
  fstype: string,
  options?: Mount.MountOptions,
): Promise<void> => run(Mount.mount(source, target, fstype, options))

/** @since 0.1.0 */
export const bind = (
  source: Mount.PathLike,
  target: Mount.PathLike,
  options?: Mount.BindOptions,
): Promise<void> => run(Mount.bind(source, target, options))

/** @since 0.1.0 */
export const remount = (target: Mount.PathLike, options?: Mount.RemountOptions): Promise<void> =>
  run(Mount.remount(target, options))

/** @since 0.1.0 */
export const move = (
  source: Mount.PathLike,
  target: Mount.PathLike,
  options?: Mount.NamespaceOptions,
): Promise<void> => run(Mount.move(source, target, options))

/** @since 0.1.0 */
export const umount = (target: Mount.PathLike, options?: Mount.UmountOptions): Promise<void> =>
  run(Mount.umount(target, options))

/** @since 0.1.0 */
export const pivotRoot = (
  newRoot: Mount.PathLike,
  putOld: Mount.PathLike,
  options?: Mount.NamespaceOptions,
): Promise<void> => run(Mount.pivotRoot(newRoot, putOld, options))

/** @since 0.1.0 */
export const setAttributes = (
  target: Mount.PathLike,
  options: Mount.SetAttributesOptions,
): Promise<void> => run(Mount.setAttributes(target, options))

/** @since 0.1.0 */
export const makePrivate = (
  target: Mount.PathLike,
  options?: Mount.PropagationOptions,
): Promise<void> => run(Mount.makePrivate(target, options))

/** @since 0.1.0 */
export const makeShared = (
  target: Mount.PathLike,
  options?: Mount.PropagationOptions,
): Promise<void> => run(Mount.makeShared(target, options))

/** @since 0.1.0 */
export const makeSlave = (
  target: Mount.PathLike,
  options?: Mount.PropagationOptions,
): Promise<void> => run(Mount.makeSlave(target, options))

/** @since 0.1.0 */
export const makeUnbindable = (
  target: Mount.PathLike,
  options?: Mount.PropagationOptions,
): Promise<void> => run(Mount.makeUnbindable(target, options))

/**
 * Runs `ops` as one unit that rolls back on its first failure (see `Mount.batch`); rejects
 * with a `BatchError`.
 *
 * @since 0.1.0
 */
export const batch = (
  ops: ReadonlyArray<Mount.BatchOp>,
  options?: Mount.NamespaceOptions,
): Promise<void> => run(Mount.batch(ops, options))

/**
 * A mount that is undone by `release()` — or by `await using`, through
 * `Symbol.asyncDispose`.
 *
 * @since 0.1.0
 */
export interface ScopedMount {
  readonly release: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

const scoped = async (
  make: Effect.Effect<void, MountError | InvalidArgument, Mounter | Scope.Scope>,
): Promise<ScopedMount> => {
  const scope = Scope.makeUnsafe()
  await run(
    Effect.catchCause(Scope.provide(make, scope), (cause) =>
      Effect.andThen(Scope.close(scope, Exit.failCause(cause)), Effect.failCause(cause)),
    ),
  )
  let released: Promise<void> | undefined
  const release = () => {
    released ??= runtime().runPromise(Scope.close(scope, Exit.void))
    return released
  }
  return { release, [Symbol.asyncDispose]: release }
}

/**
 * `bind`, undone when the result is released (see `Mount.bindScoped`).
 *
 * @since 0.1.0
 */
export const bindScoped = (
  source: Mount.PathLike,
  target: Mount.PathLike,
  options?: Mount.BindOptions,
): Promise<ScopedMount> => scoped(Mount.bindScoped(source, target, options))

/**
 * `mount`, undone when the result is released (see `Mount.mountScoped`).
 *
 * @since 0.1.0
 */
export const mountScoped = (
  source: string,
  target: Mount.PathLike,
  fstype: string,
  options?: Mount.MountOptions,
): Promise<ScopedMount> => scoped(Mount.mountScoped(source, target, fstype, options))

/**
 * The mount-table changes of a namespace (see `Mount.watch`) as an async iterator. The watch
 * is set up at once — `await it.ready` before changing the table to see every change — and
 * `return()` (a `break` out of `for await`) stops it and frees its descriptors.
 *
 * @since 0.1.0
 */
export const watch = (options?: Mount.WatchOptions): Watch.MountWatchIterator =>
  // InvalidArgument rejects `ready` and the first `next()`, like a MountError.
  Watch.toAsyncIterator<Mounter>(
    Mount.subscribe(options) as Parameters<typeof Watch.toAsyncIterator<Mounter>>[0],
    ((effect, runOptions) => runtime().runPromise(effect, runOptions)) as Watch.RunPromise<Mounter>,
  )

/**
 * Ends the shared pool once the calls already made have settled. Calls made afterwards
 * start a new one.
 *
 * @since 0.1.0
 */
export const close = async (): Promise<void> => {
  const current = shared
  shared = undefined
  if (current === undefined) return
  // The pool finishes what was asked of it first (a call stuck in the kernel is failed, not
  // waited for), so every call settles with its own outcome; then the runtime goes.
  await current.runPromise(Effect.flatMap(Mounter, (mounter) => mounter.shutdown))
  await Promise.allSettled([...inFlight])
  await current.dispose()
}

export { BatchError } from "./BatchError.js"
export { InvalidArgument } from "./InvalidArgument.js"
export { MountEntry } from "./MountEntry.js"
export { MountError } from "./MountError.js"
