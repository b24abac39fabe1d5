/**
 * The Mounter: piscina workers that do the namespace work themselves, and a scheduler that
 * a bad target cannot break. Against the real kernel, inside the private mount namespace of
 * test/run.mjs, with targets started by unshare(1) and a FUSE filesystem that never answers
 * (test/support/fuse.ts) standing in for a hostile container's hung mount.
 */
import { spawn } from "node:child_process"
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  writeFileSync,
} from "node:fs"
import { readFile, realpath } from "node:fs/promises"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Mount, MountError, Mounter } from "linx-mount"
import * as Promises from "linx-mount/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type HangingFuse, hangingFuse } from "./support/fuse.js"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { mountNamespaceTarget, type Target } from "./support/targets.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Threads of this process whose mount namespace, root or cwd differ from the main thread's. */
const threadsAway = (): Array<string> => {
  const main = ["ns/mnt", "root", "cwd"].map((what) => readlinkSync(`/proc/self/${what}`))
  const away: Array<string> = []
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const mine = ["ns/mnt", "root", "cwd"].map((what) =>
        readlinkSync(`/proc/self/task/${tid}/${what}`),
      )
      if (mine.some((value, i) => value !== main[i])) away.push(`${tid}: ${mine.join(" ")}`)
    } catch {
      // the thread ended meanwhile
    }
  }
  return away
}

/** Waits until `n` threads are away: held inside a target by a hung call. */
const untilAway = async (n: number) => {
  const deadline = performance.now() + 5000
  while (threadsAway().length < n && performance.now() < deadline) await sleep(10)
  expect(threadsAway()).toHaveLength(n)
}

const mountedAt = async (pid: number, mountPoint: string) =>
  (await Effect.runPromise(Mount.list({ pid }))).filter((e) => e.mountPoint === mountPoint)

describe.skipIf(!privileged)("Mounter (real kernel)", () => {
  let base: string
  const targets: Array<Target> = []
  const fuses: Array<HangingFuse> = []
  const target = async () => {
    const t = await mountNamespaceTarget()
    targets.push(t)
    return t
  }
  const hung = async (t: Target, name: string) => {
    const point = `${base}/${name}`
    mkdirSync(point, { recursive: true })
    const fuse = hangingFuse(t.pid, point)
    fuses.push(fuse)
    return fuse
  }
  const dir = (...parts: Array<string>) => {
    const path = [base, ...parts].join("/")
    mkdirSync(path, { recursive: true })
    return path
  }

  beforeAll(() => {
    base = scratchTmpfs("linx-mounter-")
  })
  afterAll(() => {
    for (const fuse of fuses) fuse.release()
    for (const t of targets) t.kill()
    removeScratch(base)
  })

  describe("the worker threads", () => {
    it("are home after every batch: namespace, root and cwd; the main thread never moves", async () => {
      const runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
      const mainBefore = ["ns/mnt", "root", "cwd"].map((w) => readlinkSync(`/proc/self/${w}`))
      const t = await target()
      const src = dir("home", "src")
      const here = dir("home", "here")
      const there = dir("home", "there")
      try {
        for (let i = 0; i < 100; i++) {
          await runtime.runPromise(Mount.bind(src, there, { in: { pid: t.pid } }))
          expect(threadsAway()).toEqual([])
          await runtime.runPromise(
            Effect.all([Mount.umount(there, { in: { pid: t.pid } }), Mount.bind(src, here)], {
              concurrency: "unbounded",
            }),
          )
          expect(threadsAway()).toEqual([])
          await runtime.runPromise(Mount.umount(here))
        }
        // The probe can see a thread away: one held inside the target by a hung lookup.
        const fuse = await hung(t, "home-hang")
        const stuck = runtime.runPromise(
          Mount.bind(src, `${fuse.mountPoint}/x`, { in: { pid: t.pid } }),
        )
        stuck.catch(() => undefined)
        await untilAway(1)
        fuse.release()
        await expect(stuck).rejects.toBeInstanceOf(MountError)
        expect(threadsAway()).toEqual([])
        expect(["ns/mnt", "root", "cwd"].map((w) => readlinkSync(`/proc/self/${w}`))).toEqual(
          mainBefore,
        )
      } finally {
        await runtime.dispose()
      }
    })

    it("leave the main thread's async fs alone: relative paths resolve against process.cwd()", async () => {
      // A fresh process: libuv's threadpool must not inherit a worker's private fs_struct.
      const script = `
        import { Effect, ManagedRuntime } from "effect"
        import { Mount, Mounter } from "linx-mount"
        import { readFile, realpath } from "node:fs/promises"
        const [src, dst, pid, cwd] = process.argv.slice(1)
        const rt = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
        for (let i = 0; i < 50; i++) {
          await rt.runPromise(Mount.bind(src, dst, { in: { pid: Number(pid) } }))
          await rt.runPromise(Mount.umount(dst, { in: { pid: Number(pid) } }))
        }
        process.chdir(cwd)
        console.log(JSON.stringify({ text: await readFile("marker", "utf8"), real: await realpath(".") }))
        await rt.dispose()`
      const t = await target()
      const cwd = dir("cwd", "elsewhere")
      writeFileSync(`${cwd}/marker`, "found")
      const child = spawn(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          script,
          dir("cwd", "src"),
          dir("cwd", "dst"),
          String(t.pid),
          cwd,
        ],
        { stdio: ["ignore", "pipe", "inherit"], cwd: process.cwd() },
      )
      let out = ""
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString()
      })
      const code = await new Promise((resolve) => child.on("exit", resolve))
      expect(code).toBe(0)
      expect(JSON.parse(out)).toEqual({ text: "found", real: cwd })
      // And in this process too, after all the batches above.
      process.chdir(cwd)
      try {
        expect(await readFile("marker", "utf8")).toBe("found")
        expect(await realpath(".")).toBe(cwd)
      } finally {
        process.chdir("/")
      }
    })
  })

  describe("requests issued in one tick", () => {
    it("travel as one task per namespace (seen by the worker)", async () => {
      const log = `${dir("coalesce")}/tasks.log`
      writeFileSync(log, "")
      const previous = [process.env.LINX_MOUNT_WORKER, process.env.LINX_FAULT_LOG]
      process.env.LINX_MOUNT_WORKER = new URL("./fixtures/faulty-worker.mjs", import.meta.url).href
      process.env.LINX_FAULT_LOG = log
      const runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
      const t = await target()
      try {
        await runtime.runPromise(Effect.void) // the layer, and its warm-up, done
        const src = dir("coalesce", "src")
        const points = Array.from({ length: 16 }, (_, i) => dir("coalesce", `p${i}`))
        const before = readFileSync(log, "utf8").split("\n").filter(Boolean).length
        await runtime.runPromise(
          Effect.all(
            [
              ...points.map((p) => Mount.bind(src, p)),
              ...points
                .slice(0, 4)
                .map((p) => Mount.umount(p, { in: { pid: t.pid } }).pipe(Effect.ignore)),
            ],
            { concurrency: "unbounded" },
          ),
        )
        const tasks = readFileSync(log, "utf8")
          .split("\n")
          .filter(Boolean)
          .slice(before)
          .map((line) => JSON.parse(line) as { ops: number })
          .filter((task) => task.ops > 0) // the warm-up's empty tasks
        // Sixteen binds here, four unmounts there: two tasks, not twenty.
        expect(tasks.map((task) => task.ops).sort((a, b) => a - b)).toEqual([4, 16])
        await runtime.runPromise(Effect.forEach(points, (p) => Mount.umount(p)))
      } finally {
        process.env.LINX_MOUNT_WORKER = previous[0]
        process.env.LINX_FAULT_LOG = previous[1]
        if (previous[0] === undefined) delete process.env.LINX_MOUNT_WORKER
        if (previous[1] === undefined) delete process.env.LINX_FAULT_LOG
        await runtime.dispose()
      }
    })
  })

  describe("a target that never answers", () => {
    it("stalls only its own calls: with 8 of them hung, a bind+umount here and in another target is quick", async () => {
      const runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
      const bad = await target()
      const good = await target()
      const fuse = await hung(bad, "hang8")
      const src = dir("hang8-src")
      const here = dir("hang8-here")
      try {
        const stuck: Array<Promise<unknown>> = []
        for (let i = 0; i < 8; i++) {
          const call = runtime.runPromise(
            Mount.bind(src, `${fuse.mountPoint}/d${i}`, { in: { pid: bad.pid } }),
          )
          call.catch(() => undefined)
          stuck.push(call)
          await sleep(5) // separate ticks: separate tasks, each its own chance to take a worker
        }
        await untilAway(1)
        const start = performance.now()
        await runtime.runPromise(Mount.bind(src, here))
        await runtime.runPromise(Mount.umount(here))
        await runtime.runPromise(Mount.bind(src, "/mnt", { in: { pid: good.pid } }))
        await runtime.runPromise(Mount.umount("/mnt", { in: { pid: good.pid } }))
        const elapsed = performance.now() - start
        expect(elapsed).toBeLessThan(500)
        fuse.release()
        const settled = await Promise.allSettled(stuck)
        for (const s of settled) {
          expect(s.status).toBe("rejected")
          expect((s as PromiseRejectedResult).reason).toBeInstanceOf(MountError)
        }
      } finally {
        fuse.release()
        await runtime.dispose()
      }
    })

    it("two hung targets on a pool of two: the pool grows past the stuck workers", async () => {
      const runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
      const first = await target()
      const second = await target()
      const fuseA = await hung(first, "hang2a")
      const fuseB = await hung(second, "hang2b")
      const src = dir("hang2-src")
      const here = dir("hang2-here")
      try {
        const stuck = [
          runtime.runPromise(Mount.bind(src, `${fuseA.mountPoint}/x`, { in: { pid: first.pid } })),
          runtime.runPromise(Mount.bind(src, `${fuseB.mountPoint}/x`, { in: { pid: second.pid } })),
        ]
        for (const call of stuck) call.catch(() => undefined)
        await untilAway(2)
        const start = performance.now()
        await runtime.runPromise(Mount.bind(src, here))
        await runtime.runPromise(Mount.umount(here))
        // Both workers are stuck: the call waits until they count as stuck (1 s), no longer.
        expect(performance.now() - start).toBeLessThan(2500)
        fuseA.release()
        fuseB.release()
        await Promise.allSettled(stuck)
      } finally {
        fuseA.release()
        fuseB.release()
        await runtime.dispose()
      }
    })
  })

  describe("a transient shortage is never sticky", () => {
    const fixture = new URL("./fixtures/transient.mjs", import.meta.url).pathname
    // Runs the fixture; `reply(line)` answers each JSON line it prints (or not).
    const runFixture = async (
      command: ReadonlyArray<string>,
      reply: (line: Record<string, unknown>, child: ReturnType<typeof spawn>) => void,
    ) => {
      const child = spawn(command[0]!, command.slice(1), { stdio: ["pipe", "pipe", "inherit"] })
      const lines: Array<Record<string, unknown>> = []
      let buffered = ""
      child.stdout!.on("data", (chunk: Buffer) => {
        buffered += chunk.toString()
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>
          buffered = buffered.slice(nl + 1)
          lines.push(line)
          reply(line, child)
        }
      })
      const code = await new Promise((resolve) => child.on("exit", resolve))
      return { code, lines }
    }

    it("out of descriptors: the calls meanwhile fail typed, the next ones succeed", async () => {
      const t = await target()
      const { code, lines } = await runFixture(
        [
          "prlimit",
          "--nofile=300:300",
          process.execPath,
          fixture,
          "fds",
          dir("fds", "src"),
          dir("fds", "dst"),
          String(t.pid),
        ],
        () => {},
      )
      expect(code).toBe(0)
      expect(lines).toEqual([
        { warm: "ok" },
        { exhausted: "EMFILE", opened: expect.any(Number) },
        { during: { tag: "MountError", operation: expect.any(String), code: "EMFILE" } },
        { after: "ok" },
      ])
    })

    it("no thread to start a worker (a pids cgroup at its limit): typed EAGAIN, then calls succeed", async () => {
      const t = await target()
      const cgroup = mkdtempSync("/sys/fs/cgroup/pids/linx-test-")
      try {
        const { code, lines } = await runFixture(
          [
            process.execPath,
            fixture,
            "threads",
            dir("threads", "src"),
            dir("threads", "dst"),
            String(t.pid),
          ],
          (line, child) => {
            if (typeof line.pid === "number") {
              writeFileSync(`${cgroup}/cgroup.procs`, String(line.pid))
              // Not one thread more than it has now: no worker can start.
              const tasks = readFileSync(`${cgroup}/tasks`, "utf8").trim().split("\n").length
              writeFileSync(`${cgroup}/pids.max`, String(tasks))
              child.stdin!.write("capped\n")
            } else if (line.waiting === true) {
              writeFileSync(`${cgroup}/pids.max`, "max")
              child.stdin!.write("lift\n")
            }
          },
        )
        expect(code).toBe(0)
        expect(lines.slice(1)).toEqual([
          { during: { tag: "MountError", operation: "thread", code: "EAGAIN" } },
          { again: { tag: "MountError", operation: "thread", code: "EAGAIN" } },
          { waiting: true },
          { after: "ok" },
        ])
      } finally {
        rmdirSync(cgroup)
      }
    })
  })

  describe("interruption", () => {
    it("before a request reached a worker: withdrawn, it never runs", async () => {
      const runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
      const t = await target()
      const fuse = await hung(t, "withdraw")
      const src = dir("withdraw-src")
      try {
        // The target's one worker is held by a hung call; the next call for it must queue.
        const stuck = runtime.runPromise(
          Mount.bind(src, `${fuse.mountPoint}/x`, { in: { pid: t.pid } }),
        )
        stuck.catch(() => undefined)
        // In the kernel (its worker away in the target's namespace) before the next call is
        // made: a worker slow to start (the sanitizer build) would otherwise take both calls
        // as one task.
        await untilAway(1)
        const queued = runtime.runFork(Mount.bind(src, "/mnt", { in: { pid: t.pid } }))
        await sleep(50)
        const started = performance.now()
        await runtime.runPromise(Fiber.interrupt(queued))
        expect(performance.now() - started).toBeLessThan(100) // nothing to wait for
        fuse.release()
        await expect(stuck).rejects.toBeInstanceOf(MountError)
        // Had it run, it would have run now: the worker is free.
        await sleep(200)
        expect(await mountedAt(t.pid, "/mnt")).toEqual([])
      } finally {
        fuse.release()
        await runtime.dispose()
      }
    })

    it("after it reached a worker: it runs to completion and the interruption waits for it", async () => {
      const runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
      const t = await target()
      const fuse = await hung(t, "await")
      const src = dir("await-src")
      try {
        const fiber = runtime.runFork(
          Effect.flip(Mount.bind(src, `${fuse.mountPoint}/x`, { in: { pid: t.pid } })),
        )
        await untilAway(1)
        let interrupted = false
        const interruption = runtime.runPromise(Fiber.interrupt(fiber)).then(() => {
          interrupted = true
        })
        await sleep(300)
        expect(interrupted).toBe(false) // still waiting: the call is in the kernel
        fuse.release()
        await interruption
        expect(interrupted).toBe(true)
      } finally {
        fuse.release()
        await runtime.dispose()
      }
    })
  })

  describe("closing", () => {
    it("close() finishes what is queued, fails a call stuck in the kernel, and the process lives on", async () => {
      const t = await target()
      const fuse = await hung(t, "close")
      const src = dir("close-src")
      const here = dir("close-here")
      try {
        const stuck = Promises.bind(src, `${fuse.mountPoint}/x`, { in: { pid: t.pid } })
        stuck.catch(() => undefined)
        await untilAway(1)
        const queued = Promises.bind(src, here)
        const start = performance.now()
        await Promises.close()
        expect(performance.now() - start).toBeLessThan(3000)
        await queued // finished, not dropped
        expect((await Promises.list()).some((e) => e.mountPoint === here)).toBe(true)
        await Promises.umount(here)
        // The stuck call's worker was ended under it: its outcome is unknown, and says so.
        const error = await stuck.then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(error).toMatchObject({ _tag: "MountError", operation: "thread", code: "ECANCELED" })
      } finally {
        fuse.release()
        await Promises.close()
      }
      // Released: the ended worker's thread leaves once its syscall returns.
      const deadline = performance.now() + 5000
      while (threadsAway().length > 0 && performance.now() < deadline) await sleep(20)
      expect(threadsAway()).toEqual([])
    })

    it("disposing a runtime does not hang on a call stuck in the kernel", async () => {
      const runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
      const t = await target()
      const fuse = await hung(t, "dispose")
      const src = dir("dispose-src")
      try {
        const stuck = runtime.runPromise(
          Mount.bind(src, `${fuse.mountPoint}/x`, { in: { pid: t.pid } }),
        )
        stuck.catch(() => undefined)
        await untilAway(1)
        const start = performance.now()
        await runtime.dispose()
        // The stuck fiber's interruption waited until the call counted as stuck (1 s).
        expect(performance.now() - start).toBeLessThan(3000)
        await expect(stuck).rejects.toThrow()
      } finally {
        fuse.release()
      }
    })

    it("calls after closing fail typed and never run", async () => {
      const runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 1 }))
      const src = dir("closed-src")
      const dst = dir("closed-dst")
      const mounter = await runtime.runPromise(
        Effect.gen(function* () {
          return yield* Mounter
        }),
      )
      await runtime.dispose()
      const result = await Effect.runPromise(
        mounter.run(
          { _tag: "Self" },
          [
            {
              _tag: "Bind",
              source: src,
              target: dst,
              recursive: false,
              attrSet: 0,
              attrClear: 0,
              create: false,
              sourceAtHome: false,
              idmap: { _tag: "None" },
            },
          ],
          false,
        ),
      )
      expect(result.outcomes).toEqual([
        { _tag: "Failed", stage: "thread", errno: 108, subject: "target", message: "" },
      ])
      expect((await Effect.runPromise(Mount.list())).some((e) => e.mountPoint === dst)).toBe(false)
    })
  })
})
