/**
 * Faults, injected for real: targets that exit or whose pid is reused, a pool closed with
 * thousands of requests in flight, batches refused or lost by the native pool (through the
 * test hook of test/support/nativeHooks.ts), 1,000 concurrent operations of which a third fail,
 * 10,000 proc mounts into PID namespaces under allocation pressure, a signal storm, and a
 * /proc/<pid> overmounted to redirect a request. Each must end in a typed outcome — never a
 * crash, a hang or a mount in the wrong place — and leave no zombie behind.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, readlinkSync, symlinkSync } from "node:fs"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { Mount, type MountEntry, MountError, Mounter } from "linx-mount"
import * as Promises from "linx-mount/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { releaseLost } from "./support/nativeHooks.js"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { comparable, processState, zombies } from "./support/probes.js"
import { mountNamespaceTarget, pidNamespaceTarget, type Target } from "./support/targets.js"
import {
  allocateHeavily,
  effectRunner,
  mismatch,
  mixedPlan,
  type Outcome,
  procMounts,
  type Runner,
  signalStorm,
} from "./support/workloads.js"

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

  describe("the native pool: closed mid-flight, threads that cannot start, batches lost", () => {
    const works = async (runner: Runner) => {
      const src = dir("pool", "src")
      const dst = dir("pool", "dst")
      await runner(Mount.bind(src, dst))
      expect(await at(dst)).toHaveLength(1)
      await runner(Mount.umount(dst))
      expect(await at(dst)).toHaveLength(0)
    }

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
      expect(
        Object.keys(counts).filter(
          (o) => o !== "done" && o !== "interrupted" && !o.startsWith("thread "),
        ),
      ).toEqual([])
      expect(zombies()).toEqual([])
      // Another pool works at once.
      await works(run)
    })

    it("a batch no thread could take (submit refused): typed thread failure, the pool goes on", async () => {
      faults++
      const data = JSON.stringify({ stage: "thread", errno: 11 })
      const error = await run(Mount.mount("x", "/linx-test-hook/refuse", "tmpfs", { data })).catch(
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(MountError)
      expect(error).toMatchObject({
        operation: "thread",
        code: "EAGAIN",
        path: "/linx-test-hook/refuse",
      })
      await works(run)
    })

    it("a batch whose thread died holding it: no reply until garbage comes back for it, then typed, not a hang", async () => {
      faults++
      const pending = run(Mount.umount("/linx-test-hook/lost")).catch((e: unknown) => e)
      await sleep(50)
      expect(releaseLost()).toBe(1)
      const error = await pending
      expect(error).toBeInstanceOf(MountError)
      expect(error).toMatchObject({ operation: "thread", code: "ECANCELED" })
      await works(run)
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
      // namespace (the vfork path), and an umount refused in another mount namespace.
      const round = async (i: number) => {
        const point = dir("storm", `p${i}`)
        const [bound, proc, refused] = await Promise.all([
          settled(run(Mount.bind(src, point))),
          settled(run(Mount.mount("proc", "/proc", "proc", { in: { pid: p.pid } }))),
          settled(Promises.umount("/linx-storm-missing", { in: { pid: t.pid } })),
        ])
        check(bound)
        check(proc)
        check(refused, { operation: "umount", code: "ENOENT" })
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
