/**
 * `Mount.watch`: a stream of a mount namespace's mount-table changes, never blocking the
 * event loop.
 *
 * Two mechanisms, one model (`MountEvent`):
 *
 * - fanotify (Linux 6.14+): a group made with `FAN_REPORT_MNT` and marked
 *   (`FAN_MARK_MNTNS`) for the namespace's `FAN_MNT_ATTACH` / `FAN_MNT_DETACH`; the kernel
 *   queues one event per mount attached, detached or moved (a move is one event with both
 *   bits), in the order of the changes. The setup is one synchronous native call (an
 *   `open` Effect, which the caller may run on a worker thread; descriptors are
 *   process-wide); the events are then read on the main thread, when a `uv_poll_t` on the
 *   main loop says the group's descriptor is readable. For attach and move the mount point
 *   comes from statmount(2) in that namespace, when the event is read.
 * - the fallback (older kernels, or fanotify refused): `/proc/<pid>/mountinfo`, which the
 *   kernel marks POLLPRI on every change to that namespace's table. Each time, the table is
 *   read again through the descriptor polled (the reads in libuv's threadpool, the parse on
 *   the main thread in slices of ~0.5 ms between them) and compared with the last one: a new
 *   mount id is an attach, one gone a detach, one whose place (parent and path below it)
 *   changed a move. Changes that come and go between two readings are not seen; ids are
 *   mountinfo's (reused by the kernel, see `MountEvent.uniqueId`); an id seen again on
 *   another filesystem or root is a detach then an attach. Mount points are as that
 *   process sees them (relative to its root). A table's changes come as detaches, then
 *   moves and attaches in table order.
 *
 * Lifetime: fanotify's mark does not keep the namespace alive; when its last process ends,
 * every mount's detach event arrives, and the stream then stays open with nothing more to
 * say (end it when the process ends). The fallback's open mountinfo does keep the namespace
 * and its mounts alive while the watch runs (checked on 6.18), and goes on reading it.
 *
 * Memory stays bounded whatever the consumer does: the stream buffers `bufferSize` events
 * and stops reading while they are not taken (backpressure: at most one read more). With
 * fanotify, the kernel then keeps the rest in its own queue (fs.fanotify.max_queued_events,
 * 16384 by default); when that overflows, the kernel drops events and says so
 * (`FAN_Q_OVERFLOW`), and the stream fails, after the events before it, with a `MountError`
 * whose operation is `watch_overflow` (ENOBUFS): the consumer knows its view is stale, lists
 * the mounts again and watches anew. The fallback never overflows: while it is not read,
 * changes accumulate in the table itself, and the next comparison sums them up.
 */
import { isUtf8 } from "node:buffer"
import { read as readFd } from "node:fs"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { MountEntry } from "../MountEntry.js"
import { MountError, type Stage } from "../MountError.js"
import type { MountEvent, MountEventKind } from "../MountEvent.js"
import { parseMountInfo } from "./mountinfo.js"
import { type NativeFailure, type NativePoller, type NativeWatch, native } from "./native.js"

/**
 * Which mount namespace to watch: ours, a process's, or a namespace file (nsfs). Validated
 * by the caller (the public edge); the same shape as the verbs' `in`.
 */
export type WatchTarget = "self" | { readonly pid: number } | { readonly path: string }

/** What the fanotify setup hands over: the group's descriptor (now the watch's) and the namespace's id. */
export interface FanotifySetup {
  readonly fd: number
  readonly nsId: bigint
}

/**
 * `auto`: fanotify, else the fallback when the kernel refuses fanotify's mount events (any
 * failure at `mntns_id`, `fanotify_init` or `fanotify_mark`; a namespace file that cannot
 * be opened fails the watch). `fanotify`, `mountinfo`: that mechanism only (tests).
 */
export type Mechanism = "auto" | "fanotify" | "mountinfo"

export interface WatchConfig<R = never> {
  readonly in: WatchTarget
  /**
   * The fanotify setup for `namespaceFile(in)`, run on a worker thread (`Mount.watch` sends
   * it through the Mounter). It must be safe to run uninterruptibly: its descriptor is the
   * watch's as soon as it succeeds.
   */
  readonly open: Effect.Effect<FanotifySetup, MountError, R>
  readonly mechanism?: Mechanism
  /** Events buffered before the stream stops reading (default 1024). */
  readonly bufferSize?: number
}

const binding = (): NativeWatch => native().watch

const FANOTIFY = 0
const MOUNTINFO = 1
const ENOBUFS = 105
const EIO = 5
const defaultBufferSize = 1024
const eventsPerTurn = 256

/** The namespace file a target names. */
export const namespaceFile = (target: WatchTarget): string =>
  target === "self"
    ? "/proc/self/ns/mnt"
    : "pid" in target
      ? `/proc/${target.pid}/ns/mnt`
      : target.path

/** The mountinfo file the fallback polls, if the target has one (a namespace file has none). */
export const mountInfoFile = (target: WatchTarget): string | undefined =>
  target === "self"
    ? "/proc/self/mountinfo"
    : "pid" in target
      ? `/proc/${target.pid}/mountinfo`
      : undefined

const isFailure = (value: unknown): value is NativeFailure =>
  typeof value === "object" && value !== null && "stage" in value && !Buffer.isBuffer(value)

const failure = (stage: string, path: string, errno: number): MountError =>
  MountError.fromErrno(stage as Stage, path, errno > 0 ? errno : EIO)

// Stages at which fanotify's mount events were refused, rather than the namespace.
const refusedStages: ReadonlySet<string> = new Set(["mntns_id", "fanotify_init", "fanotify_mark"])

/**
 * Starts a watch: the setup is done, and events buffered, once this succeeds; the stream
 * returned (to be run once) delivers them. Closing the scope stops the watch and frees its
 * descriptors. For callers that must know the watch is in place before they change the
 * table (the Promise facade, tests); `watch` is this, unwrapped.
 */
export const subscribe = Effect.fnUntraced(function* <R = never>(
  config: WatchConfig<R>,
): Effect.fn.Return<Stream.Stream<MountEvent, MountError>, MountError, R | Scope.Scope> {
  const nsPath = namespaceFile(config.in)
  const mountInfo = mountInfoFile(config.in)
  const mechanism = config.mechanism ?? "auto"
  const capacity = config.bufferSize ?? defaultBufferSize
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    return yield* Effect.die(new RangeError("watch: bufferSize must be a positive integer"))
  }
  const queue = yield* Queue.bounded<MountEvent, MountError | Cause.Done>(capacity)
  yield* Effect.addFinalizer(() => Queue.shutdown(queue))
  if (mechanism === "mountinfo") {
    if (mountInfo === undefined) {
      // A bare namespace file has no mountinfo of its own to poll.
      return yield* Effect.fail(
        MountError.fromErrno("open_ns", nsPath, 95 /* ENOTSUP (EOPNOTSUPP) */),
      )
    }
    yield* fallback(mountInfo, queue)
  } else {
    const started = yield* fanotify(config.open, nsPath, queue, capacity).pipe(
      Effect.map(() => true),
      Effect.catchIf(
        (error) =>
          mechanism === "auto" && mountInfo !== undefined && refusedStages.has(error.operation),
        () => Effect.succeed(false),
      ),
    )
    if (!started && mountInfo !== undefined) yield* fallback(mountInfo, queue)
  }
  return Stream.fromQueue(queue)
})

/**
 * The watch as a stream: set up when the stream starts (events from then on), stopped and
 * its descriptors closed when the stream ends, fails or is interrupted.
 */
export const watch = <R = never>(
  config: WatchConfig<R>,
): Stream.Stream<MountEvent, MountError, R> => Stream.unwrap(subscribe(config))

/**
 * A poller's readiness as an Effect: `wait` arms the poll and suspends until the native
 * callback fires. It latches: a fallback poll stays armed and may fire while the pump is
 * busy (reading the table, or waiting for room), and that change must not be lost.
 */
const readiness = () => {
  let waiter: ((errno: number) => void) | undefined
  let fired: number | undefined
  const onReady = (errno: number): void => {
    const resume = waiter
    waiter = undefined
    if (resume === undefined) fired = fired === undefined || fired === 0 ? errno : fired
    else resume(errno)
  }
  const wait = (poller: NativePoller, path: string): Effect.Effect<void, MountError> =>
    Effect.callback<void, MountError>((resume) => {
      const done = (errno: number) =>
        resume(errno === 0 ? Effect.void : Effect.fail(failure("watch_read", path, errno)))
      if (fired !== undefined) {
        const errno = fired
        fired = undefined
        done(errno)
        return
      }
      const refused = poller.arm()
      if (refused !== undefined) {
        done(refused.errno)
        return
      }
      waiter = done
      // Interrupted: forget the waiter; the poll stays armed until the poller is closed.
      return Effect.sync(() => {
        waiter = undefined
      })
    })
  return { onReady, wait }
}

/** A poller made from a setup's descriptor, closed with the scope. */
const poller = <R>(
  open: Effect.Effect<{ readonly fd: number; readonly nsId: bigint }, MountError, R>,
  kind: 0 | 1,
  onReady: (errno: number) => void,
) =>
  // Acquired uninterruptibly: a descriptor handed over by `open` is always closed.
  Effect.acquireRelease(
    Effect.map(open, (setup) => ({
      fd: setup.fd,
      poller: new (binding().Poller)(setup.fd, kind, setup.nsId, (errno) => {
        // Called from the event loop: nothing may escape to crash the process.
        try {
          onReady(errno)
        } catch (defect) {
          queueMicrotask(() => {
            throw defect
          })
        }
      }),
    })),
    ({ poller }) => Effect.sync(() => poller.close()),
  )

/** Runs `pump` in the scope; its failure fails the queue, after the events before it. */
const pumpInto = (
  queue: Queue.Queue<MountEvent, MountError | Cause.Done>,
  pump: Effect.Effect<never, MountError>,
) =>
  pump.pipe(
    Effect.catchCause((cause) => Queue.failCause(queue, cause)),
    Effect.forkScoped,
  )

const kinds = [undefined, "attach", "detach", "move"] as const

/**
 * Decodes the addon's records (native/watch.cc): u8 kind, 3 bytes, u32 LE mount point
 * length (0xffffffff: none), u64 LE unique id, then the mount point's bytes. Stops at an
 * overflow record. Mount points are decoded as UTF-8, as the mountinfo parser decodes them.
 */
export const decodeRecords = (
  records: Buffer,
): { readonly events: Array<MountEvent>; readonly overflow: boolean } => {
  const events: Array<MountEvent> = []
  let overflow = false
  let at = 0
  while (at + 16 <= records.length) {
    const kind = records[at] ?? 0
    const length = records.readUInt32LE(at + 4)
    const uniqueId = records.readBigUInt64LE(at + 8)
    at += 16
    const name = kinds[kind]
    if (kind === 4) {
      // The point of the loss: what follows came after events were dropped, and the
      // consumer must list the mounts again anyway.
      overflow = true
      break
    }
    if (name === undefined) continue
    if (length === 0xffffffff) {
      events.push({ kind: name, uniqueId })
    } else {
      events.push(located(name, uniqueId, records.subarray(at, at + length)))
      at += length
    }
  }
  return { events, overflow }
}

/** An event with a mount point; its bytes kept (copied) when UTF-8 cannot carry them. */
const located = (kind: MountEventKind, uniqueId: bigint, bytes: Uint8Array): MountEvent => {
  const mountPoint = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return isUtf8(mountPoint)
    ? { kind, uniqueId, mountPoint: mountPoint.toString("utf8") }
    : {
        kind,
        uniqueId,
        mountPoint: mountPoint.toString("utf8"),
        mountPointBytes: Buffer.from(mountPoint),
      }
}

const fanotify = <R>(
  open: Effect.Effect<FanotifySetup, MountError, R>,
  nsPath: string,
  queue: Queue.Queue<MountEvent, MountError | Cause.Done>,
  capacity: number,
) =>
  Effect.gen(function* () {
    const ready = readiness()
    const { poller: watcher } = yield* poller(open, FANOTIFY, ready.onReady)
    const pump = Effect.gen(function* () {
      for (;;) {
        yield* ready.wait(watcher, nsPath)
        // Only what the buffer has room for (the kernel keeps the rest), and at most a slice
        // per turn of the loop: ~2 µs an event read, statmount'ed and decoded (measured).
        const room = Math.max(1, capacity - Queue.sizeUnsafe(queue))
        const records = watcher.read(Math.min(room, eventsPerTurn))
        if (isFailure(records)) {
          return yield* Effect.fail(failure(records.stage, nsPath, records.errno))
        }
        const { events, overflow } = decodeRecords(records)
        if (events.length > 0) yield* Queue.offerAll(queue, events)
        if (overflow) return yield* Effect.fail(failure("watch_overflow", nsPath, ENOBUFS))
      }
    })
    yield* pumpInto(queue, pump)
  })

/**
 * Resumes once libuv has run its poll phase, where it makes the epoll_ctl calls of the polls
 * started before: two `setImmediate` turns (the first may come in the same turn of the loop,
 * before its poll phase).
 */
const afterPollPhase = Effect.callback<void>((resume) => {
  setImmediate(() => setImmediate(() => resume(Effect.void)))
})

// procfs hands out at most a page per read; a bigger buffer only costs memory.
const readChunk = 64 * 1024
// Parsed in slices of whole lines of about this much (~0.5 ms each), between reads, so a
// table of 10,000 mounts (~1.3 MB, ~9 ms to parse, measured) never holds the loop at once.
const parseSlice = 64 * 1024
const NEWLINE = 10

/**
 * Reads a whole mountinfo table through the polled descriptor, from offset 0, in libuv's
 * threadpool, parsing it slice by slice as it comes. Uninterruptible: the descriptor is
 * closed by the scope only once no read of it is in flight, so a read can never land on a
 * descriptor number reused meanwhile.
 */
const readTable = (fd: number, path: string): Effect.Effect<Array<MountEntry>, MountError> =>
  Effect.uninterruptible(
    Effect.callback<Array<MountEntry>, MountError>((resume) => {
      const entries: Array<MountEntry> = []
      let pending = Buffer.alloc(0)
      let position = 0
      const parse = (text: Buffer) => {
        for (const entry of parseMountInfo(text)) entries.push(entry)
      }
      const next = (): void => {
        const buffer = Buffer.allocUnsafe(readChunk)
        readFd(fd, buffer, 0, readChunk, position, (error, bytes) => {
          if (error) {
            resume(Effect.fail(failure("read", path, Math.abs(error.errno ?? EIO))))
            return
          }
          try {
            if (bytes === 0) {
              parse(pending)
              resume(Effect.succeed(entries))
              return
            }
            position += bytes
            pending = Buffer.concat([pending, buffer.subarray(0, bytes)])
            const cut = pending.length >= parseSlice ? pending.lastIndexOf(NEWLINE) + 1 : 0
            if (cut > 0) {
              parse(pending.subarray(0, cut))
              pending = Buffer.from(pending.subarray(cut))
            }
          } catch (defect) {
            // Outside any fiber here: a parser bug must reach the stream, not crash the process.
            resume(Effect.die(defect))
            return
          }
          next()
        })
      }
      next()
    }),
  )

// What makes a mount the same mount when its id is seen again (mountinfo ids are reused).
const sameMount = (a: MountEntry, b: MountEntry): boolean =>
  a.major === b.major &&
  a.minor === b.minor &&
  a.root === b.root &&
  a.fstype === b.fstype &&
  a.source === b.source

// A mount's place: its parent, and its path below the parent's mount point. A mount that
// moves along with an ancestor keeps its place (fanotify reports only the mount moved).
const place = (entry: MountEntry, table: ReadonlyMap<number, MountEntry>): string => {
  const parent = table.get(entry.parentId)
  if (parent === undefined || parent === entry) return `${entry.parentId}:${entry.mountPoint}`
  const base = parent.mountPoint === "/" ? "" : parent.mountPoint
  const below =
    entry.mountPoint.startsWith(base) && entry.mountPoint.charCodeAt(base.length) === 47
      ? entry.mountPoint.slice(base.length)
      : entry.mountPoint
  return `${entry.parentId}:${below}`
}

const byId = (entries: ReadonlyArray<MountEntry>): Map<number, MountEntry> => {
  const table = new Map<number, MountEntry>()
  for (const entry of entries) table.set(entry.mountId, entry)
  return table
}

/**
 * The events that turn table `before` into table `after`: detaches (in `before`'s order),
 * then moves and attaches (in `after`'s order).
 */
export const diffTables = (
  before: ReadonlyArray<MountEntry>,
  after: ReadonlyArray<MountEntry>,
): Array<MountEvent> => {
  const old = byId(before)
  const now = byId(after)
  const events: Array<MountEvent> = []
  for (const entry of old.values()) {
    const still = now.get(entry.mountId)
    if (still === undefined || !sameMount(entry, still)) {
      events.push(located("detach", BigInt(entry.mountId), entry.mountPointBytes))
    }
  }
  for (const entry of now.values()) {
    const was = old.get(entry.mountId)
    const uniqueId = BigInt(entry.mountId)
    if (was === undefined || !sameMount(was, entry)) {
      events.push(located("attach", uniqueId, entry.mountPointBytes))
    } else if (
      // Same parent and path: same place. Else compare the paths below the parents.
      (was.parentId !== entry.parentId || was.mountPoint !== entry.mountPoint) &&
      place(was, old) !== place(entry, now)
    ) {
      events.push(located("move", uniqueId, entry.mountPointBytes))
    }
  }
  return events
}

const fallback = (path: string, queue: Queue.Queue<MountEvent, MountError | Cause.Done>) =>
  Effect.gen(function* () {
    const ready = readiness()
    const open = Effect.suspend(() => {
      const result = binding().openMountInfo(path)
      return isFailure(result)
        ? Effect.fail(failure(result.stage, path, result.errno))
        : Effect.succeed({ fd: result.fd, nsId: 0n })
    })
    const { fd, poller: watcher } = yield* poller(open, MOUNTINFO, ready.onReady)
    // Registered with epoll before the first reading: epoll's first poll of the descriptor
    // takes any change pending then without reporting it (see native/watch.cc, onPoll), so
    // the table must be read after it, and every change after it is reported.
    const refused = watcher.arm()
    if (refused !== undefined) return yield* Effect.fail(failure("watch_read", path, refused.errno))
    yield* afterPollPhase
    let table = yield* readTable(fd, path)
    const pump = Effect.gen(function* () {
      for (;;) {
        yield* ready.wait(watcher, path)
        const next = yield* readTable(fd, path)
        const events = diffTables(table, next)
        table = next
        // Suspends while the buffer is full; changes meanwhile are summed up next time.
        if (events.length > 0) yield* Queue.offerAll(queue, events)
      }
    })
    yield* pumpInto(queue, pump)
  })

/**
 * An async iterator over a watch, for the Promise facade: the watch is set up at once (not
 * at the first `next()`), `ready` settles when it is in place (rejecting with the setup's
 * `MountError`, which the first `next()` also rejects with), and `return()` — what
 * `for await` calls on `break` — stops it and frees its descriptors.
 *
 * @since 0.1.0
 */
export interface MountWatchIterator extends AsyncIterableIterator<MountEvent> {
  readonly ready: Promise<void>
  return(): Promise<IteratorResult<MountEvent, undefined>>
}

/** How the facade runs an Effect: `Effect.runPromise`, or its ManagedRuntime's `runPromise`. */
export type RunPromise<R> = <A, E>(
  effect: Effect.Effect<A, E, R>,
  options?: { readonly signal?: AbortSignal },
) => Promise<A>

/**
 * Adapts `subscribe(config)` (or anything of its shape) into a `MountWatchIterator`.
 * Events are pulled one chunk at a time, as `next()` asks: the watch's own bound applies.
 * One `next()` at a time, as `for await` does; `return()` may come at any time.
 */
export const toAsyncIterator = <R = never>(
  subscription: Effect.Effect<Stream.Stream<MountEvent, MountError>, MountError, R | Scope.Scope>,
  run: RunPromise<R> = Effect.runPromise as RunPromise<R>,
): MountWatchIterator => {
  const scope = Scope.makeUnsafe()
  let closed = false
  const buffered: Array<MountEvent> = []
  const setup = new AbortController()
  let pending: AbortController | undefined
  const pullReady = run(
    Effect.flatMap(subscription, Stream.toPull).pipe(Scope.provide(scope)) as Effect.Effect<
      Effect.Effect<ReadonlyArray<MountEvent>, MountError | Cause.Done>,
      MountError,
      R
    >,
    { signal: setup.signal },
  )
  // Returned before its setup finished: nothing is left to wait for, and no error (the
  // setup's interruption is ours, not the caller's).
  const ready = pullReady.then(
    () => undefined,
    (error: unknown) => (closed ? undefined : Promise.reject(error)),
  )
  // The facade's user may never look at `ready`: no unhandled rejection from it.
  ready.catch(() => undefined)
  const done = (): IteratorResult<MountEvent, undefined> => ({ done: true, value: undefined })
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    setup.abort()
    pending?.abort()
    // A setup under way finishes (its acquisitions are uninterruptible) before the scope
    // that releases them is closed.
    await pullReady.catch(() => undefined)
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  const iterator: MountWatchIterator = {
    ready,
    async next() {
      const event = buffered.shift()
      if (event !== undefined) return { done: false, value: event }
      if (closed) return done()
      let chunk: ReadonlyArray<MountEvent> | undefined
      try {
        const pull = await pullReady
        if (closed) return done()
        pending = new AbortController()
        chunk = await run(
          Effect.catchIf(
            pull,
            (error): error is Cause.Done => Cause.isDone(error),
            () => Effect.succeed(undefined),
          ),
          { signal: pending.signal },
        )
      } catch (error) {
        // Aborted by return(): the iteration is over. Anything else ends it with the error.
        if (closed) return done()
        await close()
        throw error
      } finally {
        pending = undefined
      }
      if (chunk === undefined || closed) {
        await close()
        return done()
      }
      buffered.push(...chunk)
      const first = buffered.shift()
      return first === undefined ? done() : { done: false, value: first }
    },
    async return() {
      await close()
      return done()
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}
