/**
 * Leaks: a pool's worker threads are a fixed set, started once; over a run of hostile calls,
 * concurrent mixed operations, proc mounts into PID namespaces, a pool closed mid-flight,
 * workers that misbehave (test/fixtures/faulty-worker.mjs: garbage, throws, exits, a retired
 * thread — each replaced by piscina), a signal storm and overmount refusals, this process's
 * threads, open descriptors and zombie children do not grow beyond what the warmed-up pools
 * had, and once the pools are closed they are back where they started (read from /proc/self).
 * And children spawned while operations run inherit no namespace descriptor and no O_PATH
 * /proc descriptor (read from /proc/<child>/fd).
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync } from "node:fs"
import { readFile } from "node:fs/promises"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Mount, MountError, Mounter } from "linx-mount"
import * as Promises from "linx-mount/promises"
import { beforeAll, describe, expect, it } from "vitest"
import { hostileSetup } from "./support/fixtures.js"
import { effectVerbs, hostileCases, promiseVerbs } from "./support/hostile.js"
import { privileged } from "./support/privileged.js"
import {
  fdLinks,
  isNamespaceOrProcLink,
  type Resources,
  resources,
  settledResources,
  zombies,
} from "./support/probes.js"
import { mountNamespaceTarget, pidNamespaceTarget, type Target } from "./support/targets.js"
import {
  effectRunner,
  faultyWorker,
  hook,
  mismatch,
  mixedPlan,
  procMounts,
  signalStorm,
} from "./support/workloads.js"

// Every pool of this file (the Promise facade's too) runs the misbehaving worker, which
// passes everything but its magic paths to the real one.
process.env.LINX_MOUNT_WORKER = faultyWorker

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts a child and reads where its descriptors point, right after exec. */
const childFds = async (): Promise<Array<string>> => {
  const child = spawn("sleep", ["30"], { stdio: "ignore" })
  const exited = new Promise((resolve) => child.once("exit", resolve))
  try {
    // What the child opened itself is not inherited: under test/sanitize.sh its preloaded
    // libasan reads /proc/<child>/maps while it starts.
    return [...fdLinks(child.pid!).values()].filter(
      (link) => !link.startsWith(`/proc/${child.pid}/`),
    )
  } finally {
    child.kill("SIGKILL")
    await exited
  }
}

describe.skipIf(!privileged)("leaks", () => {
  let baseline: Resources
  let warm: Resources
  let whileOpen: Resources
  let childBaseline: Array<string>
  const inherited: Array<string> = []
  let childrenChecked = 0
  let leaks = 0

  beforeAll(async () => {
    // Warm up what lives for the whole process anyway: libuv's threadpool and the
    // child_process machinery.
    await readFile("/proc/self/status")
    childBaseline = await childFds()
    await sleep(100)
    baseline = resources()
  })

  it("runs the workloads while children spawned meanwhile inherit nothing of ours", async () => {
    const runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
    const run = effectRunner(runtime)
    const setup = await hostileSetup("linx-leaks-")
    const targets: Array<Target> = []
    // Both pools up (ours and the Promise facade's), each with its fixed set of workers, and
    // every worker has run a batch (its home descriptors are open): what may not grow.
    for (let i = 0; i < 4; i++) {
      await Promise.all([
        run(Mount.umount("/linx-leaks-missing")).catch(() => undefined),
        Promises.umount("/linx-leaks-missing").catch(() => undefined),
        run(Mount.umount("/mnt", { in: { pid: setup.fixtures.noSuchPid } })).catch(() => undefined),
      ])
    }
    await sleep(200)
    warm = resources()
    let spawning = true
    const spawner = (async () => {
      while (spawning) {
        const links = await childFds()
        childrenChecked++
        // Only our kinds of descriptor: the child's own loader may have libc open right
        // after exec.
        for (const link of links) if (isNamespaceOrProcLink(link)) inherited.push(link)
        await sleep(5)
      }
    })()
    try {
      // 1. every hostile call, both APIs
      const cases = hostileCases(setup.fixtures)
      for (const verbs of [effectVerbs(runtime), promiseVerbs()]) {
        for (const c of cases) await c.call(verbs).catch(() => undefined)
      }
      // 2. concurrent mixed operations, a third failing, then undone
      const live = await mountNamespaceTarget()
      targets.push(live)
      const mixedDir = `${setup.fixtures.base}/mixed`
      mkdirSync(mixedDir)
      const plan = mixedPlan(mixedDir, live.pid, setup.fixtures.noSuchPid, run, 300)
      const outcomes = await plan.run()
      expect(outcomes.map((o, i) => mismatch(o, plan.expected[i])).filter(Boolean)).toEqual([])
      expect((await plan.undo()).filter((o) => !o.ok)).toEqual([])
      // 3. proc mounts into PID namespaces (the vfork child path)
      const pidTargets = await Promise.all([pidNamespaceTarget(), pidNamespaceTarget()])
      targets.push(...pidTargets)
      expect(
        await procMounts(
          run,
          pidTargets.map((t) => t.pid),
          2000,
          500,
        ),
      ).toEqual([])
      // 4. pool faults: a pool closed with 1,000 requests in flight, workers that reply
      // garbage, throw, exit mid-task (replaced), or report their thread retired (replaced)
      const doomed = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
      const inFlight = Array.from({ length: 1000 }, () =>
        doomed.runPromiseExit(
          Mount.mount("proc", "/proc", "proc", { in: { pid: pidTargets[1]!.pid } }),
        ),
      )
      await sleep(10)
      await doomed.dispose()
      await Promise.all(inFlight)
      for (let i = 0; i < 3; i++) {
        for (const path of [
          hook.reply({ garbage: i }),
          hook.reply(new Uint8Array([0x4c, 0x58, 0x4f, 0x31, i])),
          hook.throw({ message: `linx-leaks ${i}` }),
          hook.exit(i + 1),
        ]) {
          const error = await run(Mount.umount(path)).catch((e: unknown) => e)
          expect(error).toMatchObject({ operation: "thread", code: "ECANCELED" })
        }
        // An exited worker is replaced: the pool goes on.
        const missing = await run(Mount.makePrivate("/linx-leaks-missing")).catch((e: unknown) => e)
        expect(missing).toMatchObject({ operation: "resolve", code: "ENOENT" })
      }
      const retired = await run(Mount.umount(hook.retire)).catch((e: unknown) => e)
      expect(retired).toBeInstanceOf(MountError)
      // What settles right after a retired thread is test/faults.test.ts's to judge; here
      // it only has to settle, and the replacement to be counted below.
      for (let i = 0; i < 5; i++)
        await run(Mount.makePrivate("/linx-leaks-missing")).catch(() => undefined)
      // 5. a signal storm over 200 operations
      const onUsr2 = () => undefined
      process.on("SIGUSR2", onUsr2)
      const storm = signalStorm(process.pid)
      try {
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            i % 2 === 0
              ? run(Mount.mount("proc", "/proc", "proc", { in: { pid: pidTargets[0]!.pid } })).then(
                  () => "ok",
                  String,
                )
              : Promises.umount("/linx-missing", { in: { pid: live.pid } }).then(
                  () => "ok",
                  (e: MountError) => e.code,
                ),
          ),
        )
        expect(results.filter((r) => r !== "ok" && r !== "ENOENT")).toEqual([])
      } finally {
        await storm.stop()
        process.off("SIGUSR2", onUsr2)
      }
      // 6. an overmounted /proc/<pid>/ns, refused
      execFileSync("mount", ["-t", "tmpfs", "linx-overmount", `/proc/${live.pid}/ns`])
      try {
        const error = await Promises.bind("/", "/mnt", { in: { pid: live.pid } }).catch(
          (e: unknown) => e,
        )
        expect(error).toMatchObject({ operation: "open_ns", code: "EINVAL" })
      } finally {
        execFileSync("umount", [`/proc/${live.pid}/ns`])
      }
    } finally {
      spawning = false
      await spawner
      await Promise.all(
        targets.map(async (t) => {
          t.kill()
        }),
      )
      // With both pools still open: their threads are the same fixed set as when warm.
      whileOpen = await settledResources(warm, 15_000)
      await Promises.close()
      await runtime.dispose()
      await setup.dispose()
    }
    console.log(
      `leaks: ${childrenChecked} children spawned during the workloads, ${inherited.length} inherited descriptors`,
    )
    leaks += inherited.length
    expect(childrenChecked).toBeGreaterThan(5)
    expect(childBaseline.filter(isNamespaceOrProcLink)).toEqual([])
    expect(inherited).toEqual([])
  }, 120_000)

  it("while the pools were open: no thread, descriptor or zombie more than when they were warm", () => {
    const grown = {
      fds: Math.max(0, whileOpen.fds - warm.fds),
      threads: Math.max(0, whileOpen.threads - warm.threads),
      zombies: whileOpen.zombies.length,
    }
    leaks += grown.fds + grown.threads + grown.zombies
    console.log(
      `leaks: warm pools ${warm.threads} threads, ${warm.fds} fds (before them: ${baseline.threads}, ` +
        `${baseline.fds}); after the workloads ${whileOpen.threads} threads, ${whileOpen.fds} fds`,
    )
    // The pools really were there: two of them, two workers each.
    expect(warm.threads).toBeGreaterThanOrEqual(baseline.threads + 4)
    expect(grown).toEqual({ fds: 0, threads: 0, zombies: 0 })
  })

  it("open descriptors, threads and zombie children are back where they started", async () => {
    // The killed targets are our children until Node reaps them.
    const after = await settledResources(baseline, 15_000)
    const leaked = {
      fds: Math.max(0, after.fds - baseline.fds),
      threads: Math.max(0, after.threads - baseline.threads),
      zombies: after.zombies.length,
      children: after.children.filter((pid) => !baseline.children.includes(pid)).length,
    }
    leaks += leaked.fds + leaked.threads + leaked.zombies + leaked.children
    console.log(
      `leaks: fds ${baseline.fds} → ${after.fds}, threads ${baseline.threads} → ${after.threads}, ` +
        `zombies ${after.zombies.length}, new children ${leaked.children}; leaks found: ${leaks}`,
    )
    expect(leaked).toEqual({ fds: 0, threads: 0, zombies: 0, children: 0 })
    expect(zombies()).toEqual([])
  })
})
