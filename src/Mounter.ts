/**
 * The `Mounter` service owns the pool of worker threads that perform mount operations, so
 * that no syscall ever runs on the event loop's thread. Its layer is scoped: the pool starts
 * when the layer is built and is destroyed when the layer's scope closes. Idle workers never
 * keep the process alive.
 *
 * Requests issued in the same tick are sent to the workers as a few batches, one message
 * each, rather than one message per request.
 *
 * @since 0.1.0
 */

import { availableParallelism } from "node:os"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Piscina } from "piscina"
import { decodeReplies } from "../protocol/Reply.js"
import type { Request } from "../protocol/Request.js"
import { InvalidArgument } from "./InvalidArgument.js"
import { failure } from "./internal/failure.js"
import type { MountError } from "./MountError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface MounterOptions {
  /** Worker threads at most. Default: twice the CPUs, at most 8 (unmounts wait on RCU). */
  readonly maxThreads?: number
}

const defaults = {
  maxThreads: Math.min(8, Math.max(2, availableParallelism() * 2)),
  // Workers that stay idle this long are stopped; the first one is started eagerly.
  idleTimeout: 30_000,
} as const

// ECANCELED: the worker carrying the request died before it replied; whether the syscall
// ran is unknown, so the caller should look at the mount table.
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
    /** Runs one validated request on a worker. */
    readonly submit: (request: Request) => Effect.Effect<void, MountError>
  }
>()("linx-mount/src/Mounter") {
  /**
   * A scoped pool of worker threads.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options: MounterOptions = {}): Layer.Layer<Mounter, InvalidArgument> =>
    Layer.effect(Mounter, make(options))
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
  const pool = yield* Effect.acquireRelease(
    Effect.sync(
      () =>
        new Piscina({
          filename: new URL("../workers/mountWorker.js", import.meta.url).href,
          minThreads: 1,
          maxThreads,
          idleTimeout: defaults.idleTimeout,
        }),
    ),
    (pool) => Effect.promise(() => pool.destroy()),
  )

  const queue: Array<Pending> = []
  let flushScheduled = false

  const lost = (batch: ReadonlyArray<Pending>): void => {
    for (const { request, resume } of batch)
      resume(Effect.fail(failure(request, "worker", ECANCELED)))
  }

  const settle = (batch: ReadonlyArray<Pending>, raw: unknown): void => {
    let replies: ReturnType<typeof decodeReplies>
    try {
      replies = decodeReplies(raw)
    } catch {
      lost(batch)
      return
    }
    batch.forEach(({ request, resume }, i) => {
      const reply = replies[i]
      if (reply === undefined) resume(Effect.fail(failure(request, "worker", ECANCELED)))
      else if (reply._tag === "Done") resume(Effect.void)
      else resume(Effect.fail(failure(request, reply.stage, reply.errno)))
    })
  }

  const dispatch = (batch: ReadonlyArray<Pending>): void => {
    pool.run(batch.map((pending) => pending.request)).then(
      (raw: unknown) => settle(batch, raw),
      () => lost(batch),
    )
  }

  // Everything queued in one tick goes out as one batch per running worker, so concurrent
  // callers share messages and still spread over the workers — but never more batches than
  // running workers: starting a worker costs far more than a batch of syscalls.
  const flush = (): void => {
    flushScheduled = false
    const pending = queue.splice(0)
    const batches = Math.min(pending.length, Math.max(1, pool.threads.length))
    const size = Math.ceil(pending.length / batches)
    for (let i = 0; i < pending.length; i += size) dispatch(pending.slice(i, i + size))
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
