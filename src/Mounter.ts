/**
 * The `Mounter` service owns the threads that perform mount operations, so that no syscall
 * ever runs on the event loop's thread. They are the addon's own native threads: each keeps
 * a private `fs_struct`, enters a target namespace with `setns`, stays there only while the
 * next operations are for the same process, and returns home before anything else (or after
 * 1 ms without work). The layer is scoped: the threads start on demand and
 * are stopped (after finishing queued work) when the layer's scope closes. Idle threads
 * never keep the process alive.
 *
 * Requests issued in the same tick travel as one batch, one hand-off; the native threads
 * share its requests out, so that unmounts waiting on RCU overlap.
 *
 * @since 0.1.0
 */

import { availableParallelism } from "node:os"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { decodeOutcome } from "../protocol/Reply.js"
import type { Request } from "../protocol/Request.js"
import { InvalidArgument } from "./InvalidArgument.js"
import { failure } from "./internal/failure.js"
import { type NativeFailure, type NativePool, native } from "./internal/native.js"
import { toNativeOp } from "./internal/nativeOp.js"
import type { MountError } from "./MountError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface MounterOptions {
  /**
   * Native threads at most. Default: two per CPU, from 2 to 8 — unmounts spend much of their
   * time waiting for an RCU grace period, which another thread can overlap; more threads
   * than that only wake each other (measured in bench/scaling).
   */
  readonly maxThreads?: number
}

const defaults = {
  maxThreads: Math.min(8, Math.max(2, availableParallelism() * 2)),
  // A flush larger than this is cut into several batches, so that one reply never settles
  // thousands of fibers in a single tick.
  maxBatch: 64,
  // Requests handed to the pool per turn of the event loop: thousands issued at once are
  // marshalled a slice per turn (the pool needs milliseconds for a slice anyway).
  dispatchPerTurn: 256,
  // Outcomes settled per turn of the event loop (see drain).
  settlePerTurn: 32,
} as const

// ECANCELED: the request never reached a thread (none could be started), or its reply was
// malformed; whether anything happened is then unknown.
const ECANCELED = 125

interface Pending {
  readonly request: Request
  readonly resume: (effect: Effect.Effect<void, MountError>) => void
}

/**
 * @since 0.1.0
 * @category services
 */
export class Mounter extends Context.Service<
  Mounter,
  {
    /** Runs one validated request on a native thread. */
    readonly submit: (request: Request) => Effect.Effect<void, MountError>
  }
>()("linx-mount/src/Mounter") {
  /**
   * A scoped pool of native threads.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options: MounterOptions = {}): Layer.Layer<Mounter, InvalidArgument> =>
    Layer.effect(Mounter, make(options))
}

// One request's outcome → its caller. Whatever the addon hands back settles typed: a value
// that is not an outcome of the protocol (found by test/fuzz.test.ts) becomes thread /
// ECANCELED rather than an exception with callers left waiting.
const settleOne = ({ request, resume }: Pending, raw: unknown): void => {
  if (raw === null) {
    resume(Effect.void) // the common case, without a decode
    return
  }
  const outcome = decodeOutcome(raw)
  if (Option.isSome(outcome) && outcome.value !== null) {
    resume(Effect.fail(failure(request, outcome.value.stage, outcome.value.errno)))
  } else {
    resume(Effect.fail(failure(request, "thread", ECANCELED)))
  }
}

const make = Effect.fnUntraced(function* (options: MounterOptions) {
  const maxThreads = options.maxThreads ?? defaults.maxThreads
  if (!Number.isSafeInteger(maxThreads) || maxThreads < 1 || maxThreads > 256) {
    return yield* new InvalidArgument({
      argument: "maxThreads",
      value: options.maxThreads,
      reason: "options.maxThreads must be an integer from 1 to 256",
    })
  }

  // Batches handed to the pool, by id; each entry is cleared once all its requests settled.
  const inFlight = new Map<number, { readonly batch: ReadonlyArray<Pending>; left: number }>()
  let nextId = 1
  // Outcomes arrive in bursts (one wake-up of the loop can bring a thousand), and settling
  // one resumes its caller's fiber, which may run on for a while: they are settled a slice
  // at a time, with a turn of the event loop between slices, so timers and I/O never wait
  // for a whole burst.
  let ready: Array<readonly [Pending, unknown]> = []
  let drainScheduled = false
  const drain = (): void => {
    const slice =
      ready.length > defaults.settlePerTurn ? ready.splice(0, defaults.settlePerTurn) : ready
    if (slice === ready) ready = []
    for (const [pending, outcome] of slice) settleOne(pending, outcome)
    drainScheduled = ready.length > 0
    if (drainScheduled) setImmediate(drain)
  }
  const onComplete = (id: number, index: number, outcome: unknown): void => {
    const entry = inFlight.get(id)
    const pending = entry?.batch[index]
    if (entry === undefined || pending === undefined) return
    if (--entry.left === 0) inFlight.delete(id)
    ready.push([pending, outcome])
    if (!drainScheduled) {
      drainScheduled = true
      setImmediate(drain)
    }
  }

  const pool: NativePool = yield* Effect.acquireRelease(
    Effect.sync(() => new (native().Pool)(maxThreads, onComplete)),
    (pool) => Effect.callback<void>((resume) => pool.close(() => resume(Effect.void))),
  )

  const dispatch = (batch: ReadonlyArray<Pending>): void => {
    const id = nextId++
    let refused: NativeFailure | undefined
    try {
      refused = pool.submit(
        id,
        batch.map((pending) => toNativeOp(pending.request)),
      )
    } catch {
      // The pool is closed (a request raced the layer's scope closing): typed, not thrown
      // out of a microtask where nothing could catch it.
      refused = { stage: "thread", errno: ECANCELED }
    }
    if (refused === undefined) inFlight.set(id, { batch, left: batch.length })
    else for (const pending of batch) settleOne(pending, refused)
  }

  const queue: Array<Pending> = []
  let flushScheduled = false
  // Everything queued in one tick goes out as one batch (cut at maxBatch), one hand-off:
  // the native threads share its requests out among themselves. Past dispatchPerTurn, the
  // rest waits for the next turn of the event loop, in order.
  const flush = (): void => {
    const pending = queue.splice(0, defaults.dispatchPerTurn)
    for (let i = 0; i < pending.length; i += defaults.maxBatch) {
      dispatch(pending.slice(i, i + defaults.maxBatch))
    }
    flushScheduled = queue.length > 0
    if (flushScheduled) setImmediate(flush)
  }

  const submit = (request: Request): Effect.Effect<void, MountError> =>
    Effect.callback<void, MountError>((resume) => {
      queue.push({ request, resume })
      if (!flushScheduled) {
        flushScheduled = true
        queueMicrotask(flush)
      }
    })

  return Mounter.of({ submit })
})
