/**
 * The `Mounter` service owns the piscina pool of worker threads that perform mount
 * operations, so that no syscall ever runs on the event loop's thread. Each worker loads the
 * addon and runs one batch at a time synchronously on its own thread (see workers/).
 *
 * Scheduling:
 * - Requests issued in the same tick for the same namespace travel as one task: one
 *   message, one worker, the namespace entered once.
 * - No namespace holds every worker: one whose operations never return (a FUSE filesystem
 *   that never answers) stalls only its own queue. Each namespace may use all workers but
 *   one, and a task that has run for over a second no longer counts against the pool, which
 *   grows by a worker for it (up to twice its size), so that calls for others go on.
 * - A request whose fiber is interrupted before it reached a worker is withdrawn and never
 *   runs; one that reached a worker runs to completion, and the interruption waits for its
 *   outcome — so nothing is done that a caller does not hear of.
 *
 * The layer is scoped: closing it finishes what is queued and running (but waits no longer
 * for a task stuck in the kernel than until it is one), then ends the workers. Idle workers
 * never keep the process alive.
 *
 * @since 0.1.0
 */
import { access } from "node:fs/promises"
import { availableParallelism } from "node:os"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Piscina } from "piscina"
import { decodeOutcomes, encodeBatch } from "../protocol/Codec.js"
import type { Outcome, Undo } from "../protocol/Outcome.js"
import type { Namespace, Op } from "../protocol/Request.js"
import type { Retired } from "../workers/mount-worker.js"
import { InvalidArgument } from "./InvalidArgument.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface MounterOptions {
  /**
   * Worker threads. Default: one per CPU, from 2 to 8: each namespace's requests of a tick
   * travel as one task, so more workers than CPUs only wake each other (bench/scaling).
   */
  readonly maxThreads?: number
}

/**
 * What a worker reported for a run: one outcome per operation, and for a rollback run
 * what its undo came to.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunResult {
  readonly outcomes: ReadonlyArray<Outcome>
  readonly undo: ReadonlyArray<Undo>
}

const defaults = {
  maxThreads: Math.min(8, Math.max(2, availableParallelism())),
  // Operations per task at most: a larger tick is cut into several tasks, so that one
  // reply never settles thousands of fibers at once.
  maxOps: 64,
  // A task running longer than this is taken to be stuck in the kernel.
  stuckAfterMs: 1000,
  // Outcomes settled per turn of the event loop.
  settlePerTurn: 32,
  // How long closing waits for the workers to exit after the last task.
  exitGraceMs: 200,
  // A worker idle this long ends; the next task starts one again (~30 ms).
  idleTimeoutMs: 30_000,
  // Slots of the cancellation flags (more than tasks can ever be in flight).
  cancelSlots: 1024,
} as const

// ECANCELED: whether the request ran is unknown (its worker died or was ended under it).
const ECANCELED = 125
// ESHUTDOWN: the Mounter was closed; the request never ran.
const ESHUTDOWN = 108
// EAGAIN: no worker thread could be started; the request never ran.
const EAGAIN = 11

const QUEUED = 0
const SENT = 1
const SETTLED = 2

interface Pending {
  readonly key: string
  readonly ns: Namespace
  readonly ops: ReadonlyArray<Op>
  readonly rollback: boolean
  readonly resume: (result: RunResult) => void
  state: number
  /** When it was handed to a worker. */
  sentAt: number
  /** Set when the caller was interrupted after dispatch: told once the outcome is in. */
  waiter: (() => void) | undefined
}

interface Group {
  readonly key: string
  readonly ns: Namespace
  readonly queue: Array<Pending>
  running: number
  listed: boolean
}

interface Task {
  readonly group: Group
  readonly items: ReadonlyArray<Pending>
  readonly opCount: number
  readonly started: number
  /** Its slot in the cancellation flags the workers read (see `cancel`). */
  readonly seq: number
}

const keyOf = (ns: Namespace): string =>
  ns._tag === "Self"
    ? "self"
    : ns._tag === "Pid"
      ? `pid:${ns.pid}`
      : `path:${typeof ns.path === "string" ? ns.path : Buffer.from(ns.path).toString("latin1")}`

const failedAll = (count: number, errno: number): RunResult => ({
  outcomes: Array.from({ length: count }, () => ({
    _tag: "Failed",
    stage: "thread",
    errno,
    subject: "target",
    message: "",
  })),
  undo: [],
})

// The worker module. LINX_MOUNT_WORKER names another one (a path or file URL): the seam the
// fault tests use to wrap the real worker and misbehave on purpose.
// What piscina's balancer is shown of each worker.
interface PoolWorker {
  readonly id: number
  readonly currentUsage: number
  readonly terminating: boolean
  readonly destroyed: boolean
}

const workerFile = (): string =>
  process.env.LINX_MOUNT_WORKER ?? new URL("../workers/mount-worker.js", import.meta.url).href

/**
 * @since 0.1.0
 * @category services
 */
export class Mounter extends Context.Service<
  Mounter,
  {
    /**
     * Runs operations in one namespace on a worker: independent requests, or with
     * `rollback` one batch that stops at its first failure and undoes what it did.
     */
    readonly run: (
      ns: Namespace,
      ops: ReadonlyArray<Op>,
      rollback: boolean,
    ) => Effect.Effect<RunResult>
    /**
     * Closes the pool as its scope's end would (once): finishes what is queued and
     * running, fails what waits behind a stuck task (ESHUTDOWN: never ran) and what is
     * stuck (ECANCELED), ends the workers, and refuses later requests (ESHUTDOWN).
     */
    readonly shutdown: Effect.Effect<void>
  }
>()("linx-mount/src/Mounter") {
  /**
   * A scoped piscina pool of worker threads.
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
  const perNamespace = Math.max(1, maxThreads - 1)
  const hardCap = maxThreads * 2

  // A worker thread that starts libuv's threadpool after giving itself a private fs_struct
  // would hand that fs_struct to the threadpool, and the main thread's async fs would then
  // resolve relative paths against the worker's: start it here first (WORKERS.md).
  yield* Effect.promise(() => access("/"))

  // Starting a worker fails under a thread limit: `new Worker` throws. piscina starts
  // workers in the constructor, in run() and when a worker becomes free with tasks queued,
  // and only run() is ours to catch; so piscina starts a worker only inside our run():
  // no minimum (none in the constructor, none to replace one that exited), and a balancer
  // that asks for a new worker (returns none) only there. Elsewhere it picks the least busy.
  let growing = false
  // Workers whose thread could not get home: given no more tasks, ended when idle.
  const retiring = new Set<number>()
  const balance = (_task: unknown, workers: ReadonlyArray<PoolWorker>): PoolWorker | null => {
    let best: PoolWorker | null = null
    for (const worker of workers) {
      if (worker.terminating || worker.destroyed || retiring.has(worker.id)) continue
      if (worker.currentUsage === 0) return worker
      if (best === null || worker.currentUsage < best.currentUsage) best = worker
    }
    return growing ? null : best
  }
  // A task whose worker could not be started stays in piscina's queue, where a later
  // worker will pick it up: its callers were told it did not run (EAGAIN), so it must not.
  // The workers skip a task whose sequence number is in its slot here.
  const cancelled = new Int32Array(new SharedArrayBuffer(4 * defaults.cancelSlots))
  let nextSeq = 1
  const pool = new Piscina({
    filename: workerFile(),
    minThreads: 0,
    maxThreads: hardCap,
    idleTimeout: defaults.idleTimeoutMs,
    atomics: "sync",
    recordTiming: false,
    concurrentTasksPerWorker: 1,
    loadBalancer: balance as never,
    workerData: { cancelled: cancelled.buffer },
  })
  // Its callers hear, now, that a task never ran; should a worker pick it up later, it is
  // skipped.
  const cancel = (task: Task): void => {
    if (!running.delete(task)) return
    task.group.running--
    Atomics.store(cancelled, task.seq % defaults.cancelSlots, task.seq)
    for (const pending of task.items) settle(pending, failedAll(pending.ops.length, EAGAIN))
  }
  // A worker that could not start (no descriptors for its loop) emits this. With no worker
  // left, the tasks handed over wait in piscina's queue for one: cancelled, and the next
  // request tries a worker again, so the failure lasts only as long as its cause.
  pool.on("error", () => {
    if (pool.threads.length > 0) return
    for (const task of [...running]) cancel(task)
    dispatch()
  })

  const groups = new Map<string, Group>()
  // Groups with queued requests, in the order they are served (round robin).
  const ready: Array<Group> = []
  const running = new Set<Task>()
  let closing = false
  let onIdle: (() => void) | undefined
  let flushScheduled = false
  let stuckTimer: ReturnType<typeof setTimeout> | undefined

  const groupOf = (ns: Namespace): Group => {
    const key = keyOf(ns)
    let group = groups.get(key)
    if (group === undefined) {
      group = { key, ns, queue: [], running: 0, listed: false }
      groups.set(key, group)
    }
    return group
  }

  const list = (group: Group): void => {
    if (!group.listed && group.queue.length > 0) {
      group.listed = true
      ready.push(group)
    }
  }

  // Tasks stuck past stuckAfterMs make room for one more worker each.
  const capacity = (now: number): number => {
    let stuck = 0
    for (const task of running) if (now - task.started >= defaults.stuckAfterMs) stuck++
    return Math.min(hardCap, maxThreads + stuck)
  }

  // Outcomes are settled a slice per turn of the event loop: resuming a fiber may run it
  // for a while, and timers and I/O must not wait for a whole burst.
  const settling: Array<readonly [Pending, RunResult]> = []
  let settleScheduled = false
  const settleSlice = (): void => {
    const slice = settling.splice(0, defaults.settlePerTurn)
    for (const [pending, result] of slice) {
      pending.state = SETTLED
      pending.resume(result)
      pending.waiter?.()
    }
    settleScheduled = settling.length > 0
    if (settleScheduled) setImmediate(settleSlice)
  }
  const settle = (pending: Pending, result: RunResult): void => {
    settling.push([pending, result])
    if (!settleScheduled) {
      settleScheduled = true
      setImmediate(settleSlice)
    }
  }

  // Closing waits until nothing runs but stuck tasks and nothing queued can run.
  const idleCheck = (): void => {
    if (onIdle === undefined) return
    const now = performance.now()
    const live = [...running].some((task) => now - task.started < defaults.stuckAfterMs)
    const room = capacity(now) > running.size
    const dispatchable = room && ready.some((group) => group.running < perNamespace)
    if (!live && !dispatchable) onIdle()
  }

  const complete = (task: Task, raw: unknown): void => {
    if (!running.delete(task)) return // cancelled: its callers were answered
    task.group.running--
    let outcome = raw
    if (typeof raw === "object" && raw !== null && "retiredThread" in raw) {
      const retired = raw as Retired
      outcome = retired.outcome
      // The worker's thread could not get home: it gets no more tasks and is ended (its
      // task is done); the next task that finds no worker starts another.
      retiring.add(retired.retiredThread)
      for (const worker of pool.threads) {
        if (worker.threadId === retired.retiredThread) {
          void worker.terminate().finally(() => retiring.delete(retired.retiredThread))
        }
      }
    }
    const decoded = decodeOutcomes(outcome, task.opCount)
    if (decoded?.refused) {
      // A retired worker ran nothing: the requests go back to the front of their queue.
      for (const pending of task.items) pending.state = QUEUED
      task.group.queue.unshift(...task.items)
      list(task.group)
    } else {
      let at = 0
      for (const pending of task.items) {
        const n = pending.ops.length
        settle(
          pending,
          decoded === undefined
            ? failedAll(n, isStartFailure(raw) ? EAGAIN : ECANCELED)
            : { outcomes: decoded.outcomes.slice(at, at + n), undo: decoded.undo },
        )
        at += n
      }
    }
    dispatch()
  }

  const send = (group: Group, items: Array<Pending>): void => {
    const ops = items.length === 1 ? items[0]!.ops : items.flatMap((p) => p.ops)
    const rollback = items.length === 1 && items[0]!.rollback
    const task: Task = {
      group,
      items,
      opCount: ops.length,
      started: performance.now(),
      seq: nextSeq++ & 0x7fffffff || nextSeq++,
    }
    const bytes = encodeBatch({ in: group.ns, rollback, ops })
    for (const pending of items) {
      pending.state = SENT
      pending.sentAt = task.started
    }
    running.add(task)
    group.running++
    growing = true
    try {
      pool.run([bytes, task.seq]).then(
        (outcome) => complete(task, outcome),
        (error: unknown) => complete(task, error),
      )
    } catch {
      // No worker could be started for it (a thread limit): piscina has queued it; typed,
      // never thrown out of dispatch, where nothing could catch it.
      cancel(task)
    } finally {
      growing = false
    }
  }

  // Hands queued requests to workers while there is room: round robin over namespaces,
  // each namespace's requests of a tick as one task.
  const dispatch = (): void => {
    flushScheduled = false
    const now = performance.now()
    let room = capacity(now) - running.size
    for (let i = 0; room > 0 && i < ready.length; ) {
      const group = ready[i]!
      if (group.running >= perNamespace) {
        i++
        continue
      }
      ready.splice(i, 1)
      group.listed = false
      const items: Array<Pending> = []
      let ops = 0
      while (group.queue.length > 0) {
        const next = group.queue[0]!
        // A rollback batch travels alone.
        if (items.length > 0 && (next.rollback || ops + next.ops.length > defaults.maxOps)) break
        items.push(group.queue.shift()!)
        ops += next.ops.length
        if (next.rollback) break
      }
      send(group, items)
      room--
      if (group.queue.length > 0) {
        group.listed = true
        ready.push(group)
      }
    }
    // Work is waiting for room that a stuck task may free: look again when it would count
    // as stuck.
    if (ready.length > 0 && running.size > 0 && stuckTimer === undefined) {
      let oldest = Number.POSITIVE_INFINITY
      for (const task of running) {
        if (now - task.started < defaults.stuckAfterMs) oldest = Math.min(oldest, task.started)
      }
      if (oldest !== Number.POSITIVE_INFINITY) {
        stuckTimer = setTimeout(
          () => {
            stuckTimer = undefined
            dispatch()
          },
          oldest + defaults.stuckAfterMs - now + 1,
        )
        stuckTimer.unref()
      }
    }
    idleCheck()
  }

  const enqueue = (pending: Pending, group: Group): void => {
    group.queue.push(pending)
    list(group)
    if (!flushScheduled) {
      flushScheduled = true
      queueMicrotask(dispatch)
    }
  }

  const withdraw = (pending: Pending): void => {
    const group = groups.get(pending.key)
    const at = group?.queue.indexOf(pending) ?? -1
    if (group === undefined || at < 0) return
    group.queue.splice(at, 1)
    if (group.queue.length === 0 && group.listed) {
      group.listed = false
      ready.splice(ready.indexOf(group), 1)
    }
  }

  const run = (
    ns: Namespace,
    ops: ReadonlyArray<Op>,
    rollback: boolean,
  ): Effect.Effect<RunResult> =>
    Effect.callback<RunResult>((resume) => {
      if (closing) {
        resume(Effect.succeed(failedAll(ops.length, ESHUTDOWN)))
        return
      }
      const group = groupOf(ns)
      const pending: Pending = {
        key: group.key,
        ns,
        ops,
        rollback,
        resume: (result) => resume(Effect.succeed(result)),
        state: QUEUED,
        sentAt: 0,
        waiter: undefined,
      }
      enqueue(pending, group)
      // Interrupted: withdrawn if it has not reached a worker; otherwise the interruption
      // waits for its outcome.
      return Effect.suspend(() => {
        if (pending.state === QUEUED) {
          pending.state = SETTLED
          withdraw(pending)
          return Effect.void
        }
        if (pending.state === SETTLED) return Effect.void
        // A call stuck in the kernel (a filesystem that never answers) cannot be waited
        // for: the interruption waits until the call counts as stuck, no longer.
        return Effect.callback<void>((done) => {
          const wait = pending.sentAt + defaults.stuckAfterMs - performance.now()
          const timer = setTimeout(() => done(Effect.void), Math.max(0, wait))
          pending.waiter = () => {
            clearTimeout(timer)
            done(Effect.void)
          }
          return Effect.sync(() => clearTimeout(timer))
        })
      })
    })

  // The workers start now, in the background, each with an empty task: the first requests
  // find them ready. Counted as running, so that they never make piscina start extra ones.
  const warmGroup: Group = { key: "", ns: { _tag: "Self" }, queue: [], running: 0, listed: false }
  for (let i = 0; i < maxThreads; i++) send(warmGroup, [])

  const close = Effect.gen(function* () {
    closing = true
    // Finish what is queued and running; a task stuck in the kernel is not waited for.
    yield* Effect.callback<void>((resume) => {
      // Tasks become stuck by the clock alone: look every 100 ms.
      const poll = setInterval(idleCheck, 100)
      const stop = () => {
        onIdle = undefined
        clearInterval(poll)
      }
      onIdle = () => {
        stop()
        resume(Effect.void)
      }
      dispatch()
      return Effect.sync(stop)
    })
    if (stuckTimer !== undefined) clearTimeout(stuckTimer)
    // What is still queued waits behind a stuck task of its namespace: it never runs.
    for (const group of ready.splice(0)) {
      group.listed = false
      for (const pending of group.queue.splice(0)) {
        settle(pending, failedAll(pending.ops.length, ESHUTDOWN))
      }
    }
    // Ending the workers fails the stuck tasks (their callers settle ECANCELED); a worker
    // stuck in the kernel exits only when its syscall returns, so this waits no longer.
    yield* Effect.promise(() =>
      Promise.race([
        pool.destroy(),
        new Promise((resolve) => setTimeout(resolve, defaults.exitGraceMs).unref()),
      ]),
    )
  })
  let closed: Promise<void> | undefined
  const shutdown = Effect.promise(() => {
    closed ??= Effect.runPromise(close)
    return closed
  })
  yield* Effect.addFinalizer(() => shutdown)

  return Mounter.of({ run, shutdown })
})

// Node's error when a worker thread cannot be started (a thread limit): nothing ran.
const isStartFailure = (error: unknown): boolean =>
  error instanceof Error &&
  ((error as { code?: unknown }).code === "ERR_WORKER_INIT_FAILED" ||
    /ERR_WORKER_INIT_FAILED/.test(error.message))
