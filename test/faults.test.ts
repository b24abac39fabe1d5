/**
 * Faults, injected for real: targets that exit or whose pid is reused, a pool closed with
 * thousands of requests in flight, worker threads that misbehave (test/fixtures/
 * faulty-worker.mjs, loaded through LINX_MOUNT_WORKER: garbage replies, throws, exits
 * mid-task, stalls, retired threads, refused batches), callers interrupted, 1,000 concurrent
 * operations of which a third fail, 10,000 proc mounts into PID namespaces under allocation
 * pressure, a signal storm, and a /proc/<pid> overmounted to redirect a request. Each must
 * end in a typed outcome — never a crash, a hang or a mount in the wrong place — the pool
 * must go on working, and no zombie may be left behind.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { Mount, type MountEntry, MountError, Mounter } from "linx-mount"
import * as Promises from "linx-mount/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { comparable, processState, zombies } from "./support/probes.js"
import { mountNamespaceTarget, pidNamespaceTarget, type Target } from "./support/targets.js"
import {
  allocateHeavily,
  effectRunner,
  faultyWorker,
  hook,
  mismatch,
  mixedPlan,
  type Outcome,
  procMounts,
  type Runner,
  signalStorm,
  taskLog,
} from "./support/workloads.js"

// Every pool of this file (the Promise facade's too) runs the misbehaving worker, which
// passes everything but its magic paths to the real one.
const faultLog = `/tmp/linx-faults-${process.pid}.log`
process.env.LINX_MOUNT_WORKER = faultyWorker
process.env.LINX_FAULT_LOG = faultLog

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const noSuchPid = Math.min(Number(readFileSync("/proc/sys/kernel/pid_max", "utf8")) + 1, 4_194_304)
let faults = 0
let signals = 0

describe.skipIf(!privileged)("faults", () => {
  let runtime: ManagedRuntime.ManagedRuntime<Mounter, unknown>
  let run: Runner
  let base: string
  const targets: Array<Target> = []
  const target = async (make: () => Promise<Target>) => {
    const t = await make()
    targets.push(t)
    return t
  }
  const table = (pid?: number): Promise<ReadonlyArray<MountEntry>> =>
    runtime.runPromise(pid === undefined ? Mount.list() : Mount.list({ pid }))
  const at = async (mountPoint: string, pid?: number) =>
    (await table(pid)).filter((e) => e.mountPoint === mountPoint)
  const dir = (...parts: Array<string>) => {
    const path = [base, ...parts].join("/")
    mkdirSync(path, { recursive: true })
    return path
  }

  beforeAll(() => {
    runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
    run = effectRunner(runtime)
    base = scratchTmpfs("linx-faults-")
  })
  afterAll(async () => {
    for (const t of targets) t.kill()
    await Promises.close()
    await runtime.dispose()
    removeScratch(base)
    rmSync(faultLog, { force: true })
    console.log(
      `faults: ${faults} faults injected, and ${signals} signals handled during the storm`,
    )
  })

  describe("the target process exits", () => {
    it("a zombie target (exited, not reaped) is refused at open_ns, nothing mounted anywhere", async () => {
      // The unshare child exits at once; its parent execs sleep and never reaps it.
      const parent = spawn(
        "sh",
        ["-c", "unshare --mount --propagation private true & exec sleep 600"],
        {
          stdio: "ignore",
        },
      )
      try {
        let zombie: number | undefined
        for (let i = 0; i < 500 && zombie === undefined; i++) {
          await sleep(10)
          const kids = readFileSync(
            `/proc/${parent.pid}/task/${parent.pid}/children`,
            "utf8",
          ).trim()
          const pid = Number(kids.split(" ")[0])
          if (kids !== "" && processState(pid) === "Z") zombie = pid
        }
        expect(zombie).toBeDefined()
        const before = comparable(await table(), base)
        const src = dir("zombie", "src")
        for (const call of [
          () => Promises.bind(src, "/mnt", { in: { pid: zombie! } }),
          () => Promises.mount("proc", "/proc", "proc", { in: { pid: zombie! } }),
          () => Promises.pivotRoot("/", "/old", { in: { pid: zombie! } }),
        ]) {
          faults++
          const error = await call().then(
            () => undefined,
            (e: unknown) => e,
          )
          expect(error).toBeInstanceOf(MountError)
          expect(error).toMatchObject({
            operation: "open_ns",
            code: "ENOENT",
            path: `/proc/${zombie}/ns/mnt`,
          })
        }
        expect(comparable(await table(), base)).toEqual(before)
      } finally {
        parent.kill("SIGKILL")
      }
    })

    it("a target killed while its request is in flight: success there or a typed refusal, 40 rounds", async () => {
      const src = dir("race", "src")
      const before = comparable(await table(), base)
      const seen = new Map<string, number>()
      for (let round = 0; round < 40; round++) {
        const t = await mountNamespaceTarget()
        faults++
        const request = Promises.bind(src, "/mnt", { in: { pid: t.pid } }).then(
          () => "mounted in the target",
          (e: unknown) =>
            e instanceof MountError ? `${e.operation} ${e.code}` : `untyped ${String(e)}`,
        )
        // Kill after 0–3 ms, so the death falls before, during and after the syscalls.
        if (round % 4 === 0) t.kill()
        else setTimeout(t.kill, round % 4)
        const outcome = await request
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1)
        expect(outcome).toMatch(
          /^(mounted in the target|open_ns (ENOENT|ESRCH)|setns (ENOENT|ESRCH|EINVAL))$/,
        )
      }
      console.log("target killed mid-request, outcomes:", Object.fromEntries(seen))
      expect(comparable(await table(), base)).toEqual(before)
    })

    it("a reused pid: a request follows the pid to its new holder, whole (own PID namespace, ns_last_pid)", () => {
      // Runs in a PID namespace of its own, where the fixture may set ns_last_pid without
      // touching anyone else's pids.
      faults++
      const result = spawnSync(
        "unshare",
        [
          "--pid",
          "--fork",
          "--mount-proc",
          "--",
          process.execPath,
          new URL("./fixtures/pid-reuse.mjs", import.meta.url).pathname,
        ],
        { encoding: "utf8", timeout: 30_000 },
      )
      expect(result.stderr).toBe("")
      const report = JSON.parse(result.stdout) as Record<string, unknown>
      expect(report).toMatchObject({
        reused: true,
        // A's mount went with A's namespace; B got only its own request, never A's.
        bSources: ["linx-b"],
        staleRequest: "mounted in B",
      })
    })
  })

  describe("the worker pool: closed mid-flight, workers that misbehave, callers that leave", () => {
    const works = async (runner: Runner) => {
      const src = dir("pool", "src")
      const dst = dir("pool", "dst")
      await runner(Mount.bind(src, dst))
      expect(await at(dst)).toHaveLength(1)
      await runner(Mount.umount(dst))
      expect(await at(dst)).toHaveLength(0)
    }
    // Several rounds, each with a second namespace's call beside ours so that both workers
    // are asked for: a replaced worker is back in service.
    const worksOnEveryWorker = async (runner: Runner) => {
      for (let i = 0; i < 3; i++) {
        const [, elsewhere] = await Promise.all([
          works(runner),
          runner(Mount.umount("/mnt", { in: { pid: noSuchPid } })).then(
            () => "done",
            (e: unknown) => e,
          ),
        ])
        expect(elsewhere).toMatchObject({ operation: "open_ns", code: "ENOENT" })
      }
    }
    const settled = (promise: Promise<void>): Promise<unknown> =>
      promise.then(
        () => "done",
        (e: unknown) => e,
      )
    const tasksSince = (mark: number) => taskLog(faultLog).slice(mark)

    it("a pool closed (its layer's scope ends) with 3,000 proc mounts in flight: every request settles, typed", async () => {
      faults++
      const t = await target(() => pidNamespaceTarget())
      const pool = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
      const runPool = effectRunner(pool)
      await works(runPool)
      // Each caller's fiber either finished, failed typed, or was interrupted by the close.
      const requests = Array.from({ length: 3000 }, () =>
        pool
          .runPromiseExit(Mount.mount("proc", "/proc", "proc", { in: { pid: t.pid } }))
          .then((exit) => {
            if (Exit.isSuccess(exit)) return "done"
            if (Cause.hasInterruptsOnly(exit.cause)) return "interrupted"
            const error = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
            return error instanceof MountError
              ? `${error.operation} ${error.code}`
              : `untyped ${Cause.pretty(exit.cause)}`
          }),
      )
      await sleep(20)
      const closing = pool.dispose()
      const outcomes = await Promise.race([
        Promise.all(requests),
        sleep(20_000).then(() => ["a hang"]),
      ])
      await closing
      const counts = Object.fromEntries(
        [...new Set(outcomes)].map((o) => [o, outcomes.filter((x) => x === o).length]),
      )
      console.log("pool closed mid-flight:", counts)
      // Closing finishes what was queued and running: only an outcome lost with its worker
      // (ECANCELED) or a call made after the close (ESHUTDOWN) may fail, at stage thread.
      expect(
        Object.keys(counts).filter(
          (o) =>
            o !== "done" &&
            o !== "interrupted" &&
            o !== "thread ECANCELED" &&
            o !== "thread ESHUTDOWN",
        ),
      ).toEqual([])
      expect(zombies()).toEqual([])
      // Another pool works at once.
      await works(run)
    })

    it("a call on a Mounter already closed fails at thread with ESHUTDOWN: it never ran", async () => {
      faults++
      const scope = await Effect.runPromise(Scope.make())
      const context = await Effect.runPromise(
        Layer.buildWithScope(Mounter.layer({ maxThreads: 1 }), scope),
      )
      const src = dir("shutdown", "src")
      const dst = dir("shutdown", "dst")
      const call = Mount.bind(src, dst).pipe(Effect.provide(context))
      await Effect.runPromise(call)
      await Effect.runPromise(Mount.umount(dst).pipe(Effect.provide(context)))
      await Effect.runPromise(Scope.close(scope, Exit.void))
      const error = await Effect.runPromise(Effect.flip(call))
      expect(error).toBeInstanceOf(MountError)
      expect(error).toMatchObject({ operation: "thread", code: "ESHUTDOWN", path: dst })
      expect(await at(dst)).toHaveLength(0)
    })

    it("a worker that replies garbage: its caller fails at thread with ECANCELED (outcome unknown), the pool goes on", async () => {
      const outcome = Buffer.from("LXO1")
      const garbage: ReadonlyArray<readonly [string, unknown]> = [
        ["undefined", undefined],
        ["null", null],
        ["a number", 42],
        ["a string", "LXO1"],
        ["an object", { outcomes: [{ _tag: "Done", uniqueId: 1 }] }],
        ["an array", [0, 1, 2]],
        ["a retired reply without bytes", { retiredThread: -1, outcome: "nothing" }],
        ["no bytes", new Uint8Array(0)],
        ["the magic alone", new Uint8Array(outcome)],
        ["random bytes", new Uint8Array([7, 1, 255, 0, 13, 37, 0, 0, 9])],
        [
          "a header for another op count",
          new Uint8Array(Buffer.concat([outcome, Buffer.from([9, 0, 0, 0, 0, 0, 0, 0])])),
        ],
        [
          "one op, truncated",
          new Uint8Array(Buffer.concat([outcome, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 1, 2])])),
        ],
        [
          "one op, an unknown stage",
          new Uint8Array(
            Buffer.concat([
              outcome,
              Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]),
              Buffer.from([1, 250, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
              Buffer.from([0, 0, 0, 0]),
            ]),
          ),
        ],
      ]
      for (const [what, value] of garbage) {
        faults++
        const path = hook.reply(value)
        const error = await settled(run(Mount.umount(path)))
        expect(error, what).toBeInstanceOf(MountError)
        expect(error, what).toMatchObject({ operation: "thread", code: "ECANCELED", path })
      }
      await worksOnEveryWorker(run)
    })

    it("no worker thread can start (RLIMIT_NPROC reached): every call fails at thread with EAGAIN, never ran; once threads can start, calls run", async () => {
      faults++
      // An unprivileged user (root ignores RLIMIT_NPROC), whose soft limit is lowered once it
      // is warmed up to the threads it already has, by a process of that same user (we may
      // not change another user's limits), and raised back to its hard limit the same way.
      const asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", "--"]
      const child = spawn(
        "setpriv",
        [
          ...asNobody,
          process.execPath,
          new URL("./fixtures/no-threads.mjs", import.meta.url).pathname,
        ],
        {
          stdio: ["pipe", "pipe", "pipe"],
          // The real worker: the faulty one and its root-owned log are this process's.
          env: Object.fromEntries(
            Object.entries(process.env).filter(
              ([key]) => key !== "LINX_MOUNT_WORKER" && key !== "LINX_FAULT_LOG",
            ),
          ),
        },
      )
      const prlimit = (...args: Array<string>) =>
        execFileSync("setpriv", [...asNobody, "prlimit", "--pid", String(child.pid), ...args], {
          encoding: "utf8",
        })
      const hard = () => prlimit("--nproc", "--raw", "--noheadings", "--output=HARD").trim()
      let out = ""
      let err = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk
      })
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        err += chunk
      })
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
      const waitFor = async (text: string) => {
        for (let i = 0; i < 1500 && !out.includes(text); i++) await sleep(10)
        expect(out, err).toContain(text)
      }
      try {
        await waitFor("ready ")
        const threads = Number(/ready (\d+)/.exec(out)?.[1])
        expect(threads).toBeGreaterThan(0)
        const limit = hard()
        prlimit(`--nproc=${threads}:`)
        child.stdin.write("limited\n")
        await waitFor("limited-done")
        prlimit(`--nproc=${limit}:`)
        child.stdin.write("lifted\n")
        expect(await exited, err).toBe(0)
      } finally {
        child.kill("SIGKILL")
      }
      const report = JSON.parse(out.slice(out.lastIndexOf("{"))) as {
        limited: Array<string>
        lifted: string
      }
      expect({ limited: report.limited, lifted: report.lifted }).toEqual({
        limited: [
          "MountError thread EAGAIN",
          "MountError thread EAGAIN",
          "MountError thread EAGAIN",
        ],
        lifted: "MountError resolve ENOENT",
      })
    })

    it("a worker that throws, before or after running: ECANCELED (outcome unknown), the pool goes on", async () => {
      for (const [thrown, code] of [
        [{ message: "linx: a worker bug" }, "ECANCELED"],
        ["a string, not an Error", "ECANCELED"],
        [null, "ECANCELED"],
      ] as const) {
        faults++
        const path = hook.throw(thrown)
        const error = await settled(run(Mount.umount(path)))
        expect(error).toBeInstanceOf(MountError)
        expect(error).toMatchObject({ operation: "thread", code, path })
      }
      await worksOnEveryWorker(run)
    })

    it("a worker thread that exits mid-task, after its syscalls: every caller of that task is told ECANCELED, the mount table tells the truth, the worker is replaced", async () => {
      const src = dir("exit", "src")
      for (let round = 0; round < 4; round++) {
        faults++
        const dst = dir("exit", `dst${round}`)
        const mark = taskLog(faultLog).length
        // Issued in one tick, for one namespace: one task, if the pool coalesced them.
        const [bound, exited] = await Promise.all([
          settled(run(Mount.bind(src, dst))),
          settled(run(Mount.umount(hook.exit(round + 1)))),
        ])
        expect(exited).toBeInstanceOf(MountError)
        expect(exited).toMatchObject({ operation: "thread", code: "ECANCELED" })
        // The bind ran either way (alone, or in the task whose reply was lost): the table
        // shows it, and its caller heard either success or "unknown", never a wrong "failed".
        const together = tasksSince(mark).some((t) => t.hook !== null && t.ops === 2)
        if (together) expect(bound).toMatchObject({ operation: "thread", code: "ECANCELED" })
        else expect(bound).toBe("done")
        expect(await at(dst)).toHaveLength(1)
        await run(Mount.umount(dst))
      }
      await worksOnEveryWorker(run)
    })

    it("a worker that stalls holds only its own namespace: ours and others' go on, and the stalled caller gets its real outcome", async () => {
      faults++
      const a = await target(() => mountNamespaceTarget())
      const b = await target(() => mountNamespaceTarget())
      const stalled = hook.stall(2500)
      const started = performance.now()
      const slow = settled(run(Mount.umount(stalled, { in: { pid: a.pid } }))).then((e) => [
        e,
        performance.now() - started,
      ])
      await sleep(100)
      // 40 calls here and in another namespace, all while the stall lasts.
      const quick = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          settled(
            run(
              Mount.umount(
                "/linx-faults-missing/x",
                i % 2 === 0 ? { in: { pid: b.pid } } : undefined,
              ),
            ),
          ),
        ),
      )
      const quickMs = performance.now() - started
      for (const e of quick) expect(e).toMatchObject({ _tag: "MountError", code: "ENOENT" })
      expect(quickMs).toBeLessThan(2000)
      const [error, slowMs] = await slow
      // The stalled batch ran, late, and its caller heard how it went: the lookup refused.
      expect(error).toMatchObject({ operation: "resolve", code: "ENOENT", path: stalled })
      expect(slowMs).toBeGreaterThanOrEqual(2400)
    })

    it("two namespaces stalled on both workers: a third is served within about a second (the pool grows for a stuck task)", async () => {
      faults++
      const a = await target(() => mountNamespaceTarget())
      const b = await target(() => mountNamespaceTarget())
      const stalls = [a, b].map((t) =>
        settled(run(Mount.umount(hook.stall(3500), { in: { pid: t.pid } }))),
      )
      await sleep(100)
      const started = performance.now()
      let stallsDone = false
      void Promise.all(stalls).then(() => {
        stallsDone = true
      })
      await works(run)
      const waited = performance.now() - started
      console.log(`served beside two stalled workers after ${waited.toFixed(0)} ms`)
      expect(stallsDone).toBe(false)
      expect(waited).toBeLessThan(3000)
      for (const e of await Promise.all(stalls))
        expect(e).toMatchObject({ operation: "resolve", code: "ENOENT" })
    })

    it("a worker whose thread cannot get home (retired): its outcome still counts, the worker is replaced, that thread never runs another batch", async () => {
      faults++
      const mark = taskLog(faultLog).length
      const error = await settled(run(Mount.umount(hook.retire)))
      // The batch ran before the thread failed to get home: its outcome is true.
      expect(error).toMatchObject({ operation: "resolve", code: "ENOENT", path: hook.retire })
      const retired = tasksSince(mark).find((t) => t.hook === hook.retire)?.threadId
      expect(retired).toBeDefined()
      // The requests right after it must run, on another worker: none may be lost with the
      // retiring one (a batch such a thread is handed is refused, so it runs elsewhere).
      const next = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          settled(run(Mount.umount(`/linx-faults-missing/after-retire-${i}`))),
        ),
      )
      expect(next.map((e) => (e instanceof MountError ? `${e.operation} ${e.code}` : e))).toEqual(
        Array.from({ length: 10 }, () => "resolve ENOENT"),
      )
      await worksOnEveryWorker(run)
      // The retired thread ran nothing more: anything it was handed it refused.
      const later = tasksSince(mark).filter((t) => t.hook === null)
      expect(later.length).toBeGreaterThan(0)
      expect(later.filter((t) => t.threadId === retired && !t.retired)).toEqual([])
    })

    it("a batch refused by a retired worker (it ran nothing) runs again elsewhere, exactly once", async () => {
      faults++
      const marker = `${dir("refused")}/marker`
      const path = hook.refuseOnce(marker)
      const mark = taskLog(faultLog).length
      const error = await settled(run(Mount.umount(path)))
      expect(error).toMatchObject({ operation: "resolve", code: "ENOENT", path })
      expect(existsSync(marker)).toBe(false)
      expect(tasksSince(mark).filter((t) => t.hook === path)).toHaveLength(2)
      await works(run)
    })

    it("a caller interrupted before its request reached a worker: withdrawn, never run; after: the interruption waits for the outcome", async () => {
      faults++
      // The pool's own callbacks must not throw meanwhile (vitest would only report it
      // after the fact, against whichever test ran last).
      const unhandled: Array<unknown> = []
      const onUnhandled = (reason: unknown) => void unhandled.push(reason)
      process.on("unhandledRejection", onUnhandled)
      const t = await target(() => mountNamespaceTarget())
      const inT = { in: { pid: t.pid } }
      const src = dir("withdrawn", "src")
      const point = dir("withdrawn", "point")
      // The namespace's one worker slot (2 workers, one kept free) is held by a stall, shorter
      // than the second after which a call counts as stuck.
      const stalled = runtime.runFork(Mount.umount(hook.stall(800), inT))
      await sleep(100)
      const queued = runtime.runFork(Mount.bind(src, point, inT))
      await sleep(100)
      await runtime.runPromise(Fiber.interrupt(queued))
      // The stalled request is in a worker: interrupting it returns only once it is done.
      const started = performance.now()
      await runtime.runPromise(Fiber.interrupt(stalled))
      expect(performance.now() - started).toBeGreaterThan(450)
      // A call stuck longer (a syscall that never returns) is waited for until it counts as
      // stuck, no longer: then the interruption returns, the call left to the kernel.
      const stuck = runtime.runFork(Mount.umount(hook.stall(3000), inT))
      await sleep(100)
      const cut = performance.now()
      await runtime.runPromise(Fiber.interrupt(stuck))
      const waited = performance.now() - cut
      expect(waited).toBeGreaterThan(700)
      expect(waited).toBeLessThan(1500)
      await sleep(2500) // its worker free again
      await sleep(100)
      // The withdrawn bind never ran, not even once the namespace was free again.
      expect(await at(point, t.pid)).toHaveLength(0)
      await runtime.runPromise(Mount.bind(src, point, inT))
      expect(await at(point, t.pid)).toHaveLength(1)
      await runtime.runPromise(Mount.umount(point, inT))
      process.off("unhandledRejection", onUnhandled)
      expect(unhandled.map(String)).toEqual([])
    })
  })

  it("1,000 concurrent mixed operations, a third failing: each failure typed, each success real", async () => {
    const t = await target(() => mountNamespaceTarget())
    const before = comparable(await table(), base)
    const beforeTarget = (await table(t.pid)).length
    const plan = mixedPlan(dir("mixed"), t.pid, noSuchPid, run, 1000)
    const outcomes = await plan.run()
    faults += plan.expected.filter((e) => e !== undefined).length
    const problems = outcomes
      .map((o, i) => mismatch(o, plan.expected[i]))
      .filter((m) => m !== undefined)
    expect(problems).toEqual([])
    expect(outcomes.filter((o) => !o.ok)).toHaveLength(334)
    // Real: what the kernel shows, in both tables.
    const ours = new Set((await table()).map((e) => e.mountPoint))
    expect(plan.selfPoints.filter((p) => !ours.has(p))).toEqual([])
    const theirs = (await table(t.pid))
      .filter((e) => e.source === "linx-mixed")
      .map((e) => e.mountPoint)
    expect(new Set(theirs)).toEqual(new Set(plan.targetPoints))
    expect(plan.targetPoints.filter((p) => ours.has(p))).toEqual([])
    const undone = await plan.undo()
    expect(undone.filter((o) => !o.ok)).toEqual([])
    expect(comparable(await table(), base)).toEqual(before)
    expect((await table(t.pid)).length).toBe(beforeTarget)
  })

  it("10,000 proc mounts into 4 PID namespaces while the main thread allocates heavily: no deadlock, every child reaped", async () => {
    const ts = await Promise.all([0, 1, 2, 3].map(() => target(() => pidNamespaceTarget())))
    const count = 10_000
    const stop = allocateHeavily()
    const started = performance.now()
    const failures = await procMounts(
      run,
      ts.map((t) => t.pid),
      count,
    )
    const seconds = (performance.now() - started) / 1000
    const garbage = stop()
    console.log(
      `${count} proc mounts in ${seconds.toFixed(1)} s while allocating ${garbage} MB of garbage`,
    )
    expect(failures).toEqual([])
    for (const t of ts) {
      const procs = (await table(t.pid)).filter(
        (e) => e.mountPoint === "/proc" && e.fstype === "proc",
      )
      expect(procs.length).toBe(count / ts.length + 1)
    }
    expect(zombies()).toEqual([])
    for (const t of ts) t.kill()
  }, 120_000)

  it("a signal storm (SIGUSR2, SIGCHLD) during 1,000 operations: no EINTR, every outcome as expected", async () => {
    let usr2 = 0
    const onUsr2 = () => void usr2++
    process.on("SIGUSR2", onUsr2)
    const t = await target(() => mountNamespaceTarget())
    const p = await target(() => pidNamespaceTarget())
    const src = dir("storm", "src")
    const storm = signalStorm(process.pid)
    const problems: Array<string> = []
    try {
      await sleep(50)
      const settled = (promise: Promise<void>): Promise<Outcome> =>
        promise.then(
          () => ({ ok: true }) as const,
          (error: unknown) => ({ ok: false, error }) as const,
        )
      const check = (outcome: Outcome, expected?: { operation: string; code: string }) => {
        const m = mismatch(outcome, expected)
        if (m) problems.push(m)
      }
      // Four operations a round: a bind and its umount here, a proc mount into a PID
      // namespace (the vfork path), and an umount refused in another mount namespace (the
      // directory is there too, on our scratch tmpfs, and no mount point).
      const round = async (i: number) => {
        const point = dir("storm", `p${i}`)
        const [bound, proc, refused] = await Promise.all([
          settled(run(Mount.bind(src, point))),
          settled(run(Mount.mount("proc", "/proc", "proc", { in: { pid: p.pid } }))),
          settled(Promises.umount(src, { in: { pid: t.pid } })),
        ])
        check(bound)
        check(proc)
        check(refused, { operation: "umount", code: "EINVAL" })
        check(await settled(run(Mount.umount(point))))
      }
      for (let i = 0; i < 250; i += 10)
        await Promise.all(Array.from({ length: 10 }, (_, k) => round(i + k)))
    } finally {
      await storm.stop()
      process.off("SIGUSR2", onUsr2)
    }
    signals += usr2
    console.log(
      `signal storm: 1000 operations, ${usr2} SIGUSR2 handled, problems: ${problems.length}`,
    )
    expect(problems.filter((m) => m.includes("EINTR"))).toEqual([])
    expect(problems).toEqual([])
    expect(usr2).toBeGreaterThan(0)
  }, 60_000)

  describe("/proc/<pid> overmounted to redirect a request", () => {
    let t: Target
    let other: Target
    beforeAll(async () => {
      t = await target(() => mountNamespaceTarget())
      other = await target(() => mountNamespaceTarget())
    })
    const overmounts: ReadonlyArray<readonly [string, (pid: number, otherPid: number) => string]> =
      [
        [
          "an empty tmpfs over /proc/<pid>/ns",
          (pid) => {
            execFileSync("mount", ["-t", "tmpfs", "linx-overmount", `/proc/${pid}/ns`])
            return `/proc/${pid}/ns`
          },
        ],
        [
          "a tmpfs over /proc/<pid>/ns holding mnt -> another process's namespace",
          (pid, otherPid) => {
            execFileSync("mount", ["-t", "tmpfs", "linx-overmount", `/proc/${pid}/ns`])
            symlinkSync(`/proc/${otherPid}/ns/mnt`, `/proc/${pid}/ns/mnt`)
            symlinkSync(`/proc/${otherPid}/ns/pid`, `/proc/${pid}/ns/pid`)
            return `/proc/${pid}/ns`
          },
        ],
        [
          "another process's /proc/<pid>/ns bound over it",
          (pid, otherPid) => {
            execFileSync("mount", ["--bind", `/proc/${otherPid}/ns`, `/proc/${pid}/ns`])
            return `/proc/${pid}/ns`
          },
        ],
        [
          "a tmpfs over /proc/<pid> holding ns/mnt -> another process's namespace",
          (pid, otherPid) => {
            execFileSync("mount", ["-t", "tmpfs", "linx-overmount", `/proc/${pid}`])
            mkdirSync(`/proc/${pid}/ns`)
            symlinkSync(`/proc/${otherPid}/ns/mnt`, `/proc/${pid}/ns/mnt`)
            return `/proc/${pid}`
          },
        ],
        [
          "another process's /proc/<pid> bound over it",
          (pid, otherPid) => {
            execFileSync("mount", ["--bind", `/proc/${otherPid}`, `/proc/${pid}`])
            return `/proc/${pid}`
          },
        ],
      ]
    it.each(overmounts)(
      "%s: refused at open_ns (EINVAL), nothing mounted in either namespace",
      async (_, overmount) => {
        const src = dir("overmount", "src")
        const beforeT = await table(t.pid)
        const beforeOther = await table(other.pid)
        const point = overmount(t.pid, other.pid)
        faults++
        try {
          for (const call of [
            () => Promises.bind(src, "/mnt", { in: { pid: t.pid } }),
            () => Promises.mount("linx-redirected", "/mnt", "tmpfs", { in: { pid: t.pid } }),
          ]) {
            const error = await call().then(
              () => undefined,
              (e: unknown) => e,
            )
            expect(error).toBeInstanceOf(MountError)
            expect(error).toMatchObject({
              operation: "open_ns",
              code: "EINVAL",
              path: `/proc/${t.pid}/ns/mnt`,
            })
          }
        } finally {
          execFileSync("umount", ["--lazy", point])
        }
        expect(await table(t.pid)).toEqual(beforeT)
        expect(await table(other.pid)).toEqual(beforeOther)
        // With /proc as it should be, the same request lands where it was aimed.
        expect(readlinkSync(`/proc/${t.pid}/ns/mnt`)).not.toBe(
          readlinkSync(`/proc/${other.pid}/ns/mnt`),
        )
        await Promises.bind(src, "/mnt", { in: { pid: t.pid } })
        expect((await at("/mnt", t.pid)).length).toBe(1)
        expect(await at("/mnt", other.pid)).toHaveLength(0)
        await Promises.umount("/mnt", { in: { pid: t.pid } })
      },
    )
  })

  it("no zombie children are left", () => {
    expect(zombies()).toEqual([])
  })
})
