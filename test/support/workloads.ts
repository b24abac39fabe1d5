/**
 * Workloads shared by test/faults.test.ts, test/fuzz.test.ts and test/leaks.test.ts:
 * concurrent mixed operations, proc mounts into PID namespaces, heavy allocation, a signal
 * storm, and the magic paths of the misbehaving worker (test/fixtures/faulty-worker.mjs).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import type * as Effect from "effect/Effect"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import { Mount, MountError, type Mounter } from "linx-mount"
import * as Promises from "linx-mount/promises"

/** What one operation ended with. */
export type Outcome = { readonly ok: true } | { readonly ok: false; readonly error: unknown }

const settle = (promise: Promise<void>): Promise<Outcome> =>
  promise.then(
    () => ({ ok: true }) as const,
    (error: unknown) => ({ ok: false, error }) as const,
  )

export type Runner = (effect: Effect.Effect<void, unknown, Mounter>) => Promise<void>

export const effectRunner =
  (runtime: ManagedRuntime.ManagedRuntime<Mounter, unknown>): Runner =>
  (effect) =>
    runtime.runPromise(effect)

export interface MixedPlan {
  /** Runs every operation concurrently; one outcome per operation, in plan order. */
  readonly run: () => Promise<Array<Outcome>>
  /** For each operation: undefined when it must succeed, else the MountError it must yield. */
  readonly expected: ReadonlyArray<
    undefined | { readonly operation: string; readonly code: string }
  >
  /** The mount points that must exist afterwards: ours, and the target's. */
  readonly selfPoints: ReadonlyArray<string>
  readonly targetPoints: ReadonlyArray<string>
  /** Unmounts everything the plan mounted, concurrently. */
  readonly undo: () => Promise<Array<Outcome>>
}

/**
 * `total` concurrent operations, a third of which must fail: binds in this namespace and
 * tmpfs mounts in `targetPid`'s succeed; binds of a missing source (its lookup: resolve
 * ENOENT), unmounts of a directory that is no mount (EINVAL), an unknown filesystem (fsopen
 * ENODEV) and a pid that cannot exist (open_ns ENOENT) fail. Even operations go through the Effect API, odd ones through
 * the Promise facade, all in flight at once.
 */
export function mixedPlan(
  dir: string,
  targetPid: number,
  noSuchPid: number,
  runner: Runner,
  total = 1000,
): MixedPlan {
  const fail = Math.ceil(total / 3)
  const ok = total - fail
  const source = `${dir}/source`
  const plain = `${dir}/plain`
  mkdirSync(source, { recursive: true })
  mkdirSync(plain, { recursive: true })
  writeFileSync(`${source}/marker`, "")
  type Op = {
    readonly effect: () => Effect.Effect<void, unknown, Mounter>
    readonly promise: () => Promise<void>
    readonly expected: undefined | { readonly operation: string; readonly code: string }
  }
  const ops: Array<Op> = []
  const selfPoints: Array<string> = []
  const targetPoints: Array<string> = []
  const inTarget = { in: { pid: targetPid } }
  for (let i = 0; i < ok; i++) {
    const point = `${dir}/p${i}`
    mkdirSync(point)
    if (i % 2 === 0) {
      selfPoints.push(point)
      ops.push({
        effect: () => Mount.bind(source, point),
        promise: () => Promises.bind(source, point),
        expected: undefined,
      })
    } else {
      targetPoints.push(point)
      ops.push({
        effect: () => Mount.mount("linx-mixed", point, "tmpfs", { data: "size=64k", ...inTarget }),
        promise: () =>
          Promises.mount("linx-mixed", point, "tmpfs", { data: "size=64k", ...inTarget }),
        expected: undefined,
      })
    }
  }
  for (let i = 0; i < fail; i++) {
    switch (i % 4) {
      case 0:
        ops.push({
          effect: () => Mount.bind(`${dir}/missing`, plain),
          promise: () => Promises.bind(`${dir}/missing`, plain),
          expected: { operation: "resolve", code: "ENOENT" },
        })
        break
      case 1:
        ops.push({
          effect: () => Mount.umount(plain),
          promise: () => Promises.umount(plain),
          expected: { operation: "umount", code: "EINVAL" },
        })
        break
      case 2:
        ops.push({
          effect: () => Mount.mount("x", plain, "linx-no-such-fs"),
          promise: () => Promises.mount("x", plain, "linx-no-such-fs"),
          expected: { operation: "fsopen", code: "ENODEV" },
        })
        break
      default:
        ops.push({
          effect: () => Mount.umount("/mnt", { in: { pid: noSuchPid } }),
          promise: () => Promises.umount("/mnt", { in: { pid: noSuchPid } }),
          expected: { operation: "open_ns", code: "ENOENT" },
        })
    }
  }
  // Interleave successes and failures deterministically.
  const order = ops.map((_, i) => i).sort((a, b) => ((a * 7919) % total) - ((b * 7919) % total))
  const plan = order.map((i) => ops[i]!)
  const viaBoth = (op: Op, i: number) => (i % 2 === 0 ? runner(op.effect()) : op.promise())
  return {
    run: () => Promise.all(plan.map((op, i) => settle(viaBoth(op, i)))),
    expected: plan.map((op) => op.expected),
    selfPoints,
    targetPoints,
    undo: () =>
      Promise.all([
        ...selfPoints.map((p) => settle(runner(Mount.umount(p)))),
        ...targetPoints.map((p) => settle(Promises.umount(p, inTarget))),
      ]),
  }
}

/** Checks an outcome against its expectation; returns a description of a mismatch. */
export function mismatch(
  outcome: Outcome,
  expected: undefined | { readonly operation: string; readonly code: string },
): string | undefined {
  if (expected === undefined)
    return outcome.ok
      ? undefined
      : `expected success, got ${String((outcome as { error: unknown }).error)}`
  if (outcome.ok) return `expected ${expected.operation} ${expected.code}, got success`
  const error = outcome.error
  if (!(error instanceof MountError)) return `expected a MountError, got ${String(error)}`
  if (error.operation !== expected.operation || error.code !== expected.code) {
    return `expected ${expected.operation} ${expected.code}, got ${error.operation} ${error.code}`
  }
  return undefined
}

/**
 * `count` proc mounts, stacked on /proc in the PID namespaces of `pids` (round robin), in
 * waves of `wave` concurrent requests. Returns the failures (there must be none).
 */
export async function procMounts(
  runner: Runner,
  pids: ReadonlyArray<number>,
  count: number,
  wave = 1000,
): Promise<Array<unknown>> {
  const failures: Array<unknown> = []
  for (let start = 0; start < count; start += wave) {
    const n = Math.min(wave, count - start)
    const outcomes = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        settle(
          runner(
            Mount.mount("proc", "/proc", "proc", { in: { pid: pids[(start + i) % pids.length]! } }),
          ),
        ),
      ),
    )
    for (const o of outcomes) if (!o.ok) failures.push(o.error)
  }
  return failures
}

/**
 * Keeps the main thread allocating: 256 MiB held and touched (what makes a fork() slow),
 * plus short-lived garbage every turn of the event loop. Returns a stop function that
 * reports how many megabytes of garbage were made.
 */
export function allocateHeavily(): () => number {
  let held: Array<Buffer> | undefined = Array.from({ length: 16 }, () => Buffer.alloc(16 << 20, 1))
  let garbageMb = 0
  let running = true
  const churn = () => {
    if (!running) return
    const junk: Array<{ i: number; s: string }> = []
    for (let i = 0; i < 20_000; i++) junk.push({ i, s: `x${i}` })
    garbageMb += 1
    setImmediate(churn)
  }
  setImmediate(churn)
  return () => {
    running = false
    // Touch the held memory once more so it really stayed resident for the whole run.
    if ((held?.reduce((n, b) => n + b[b.length - 1]!, 0) ?? 0) !== 16)
      throw new Error("lost the held memory")
    held = undefined
    return garbageMb
  }
}

/**
 * A process that sends SIGUSR2 and SIGCHLD to `pid` as fast as a shell loop can, until
 * stopped. The caller must handle SIGUSR2 (its default action ends the process).
 */
export function signalStorm(pid: number): {
  readonly stop: () => Promise<void>
  readonly child: ChildProcess
} {
  const child = spawn("bash", ["-c", `while kill -USR2 ${pid} && kill -CHLD ${pid}; do :; done`], {
    stdio: "ignore",
  })
  return {
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once("exit", () => resolve())
        child.kill("SIGKILL")
      }),
  }
}

// ---- the misbehaving worker ---------------------------------------------------------------

/** The module to name in LINX_MOUNT_WORKER: wraps the real worker, misbehaves on magic paths. */
export const faultyWorker = new URL("../fixtures/faulty-worker.mjs", import.meta.url).href

const hex = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("hex")

/** The magic targets of test/fixtures/faulty-worker.mjs (see its header). */
export const hook = {
  /** Runs the batch, then replies `value` (bytes as a Uint8Array) instead of its outcome. */
  reply: (value: unknown): string =>
    value === undefined
      ? "/linx-test-hook/reply/u"
      : value instanceof Uint8Array
        ? `/linx-test-hook/reply/b${hex(value)}`
        : `/linx-test-hook/reply/j${hex(JSON.stringify(value))}`,
  /** Throws `value` (`{ message, code }`: an Error with that code) without running. */
  throw: (value: unknown): string => `/linx-test-hook/throw/j${hex(JSON.stringify(value))}`,
  /** Runs the batch, then ends the worker thread with `process.exit(code)`. */
  exit: (code = 1): string => `/linx-test-hook/exit/${code}`,
  /** Blocks `ms` before running the batch. */
  stall: (ms: number): string => `/linx-test-hook/stall/${ms}`,
  /** Runs the batch and reports its thread as retired. */
  retire: "/linx-test-hook/retire",
  /** Refuses the batch (ran nothing) if `marker` can be removed, else runs it. */
  refuseOnce: (marker: string): string => {
    writeFileSync(marker, "")
    return `/linx-test-hook/refuse-once${marker}`
  },
} as const

/** One task as the faulty worker logged it (LINX_FAULT_LOG). */
export interface TaskRecord {
  readonly threadId: number
  readonly ops: number
  readonly hook: string | null
  /** The thread had reported itself retired: the batch was refused, nothing ran. */
  readonly retired: boolean
}

/** The tasks logged so far, in the order they started. */
export const taskLog = (file: string): Array<TaskRecord> =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as TaskRecord)
    : []
