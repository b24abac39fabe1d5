/**
 * The container walk-through (examples/container.ts), run as a user runs it — the built
 * program in a child process — and judged by what the container itself reported and by what
 * the kernel shows us afterwards: our mount table (Mount.list) unchanged, no process left.
 * Runs inside the private mount namespace of test/run.mjs; the example mounts nothing in it.
 */

import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import { Mount } from "linx-mount"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Record } from "../examples/internal/report.js"
import { privileged } from "./support/privileged.js"

const example = fileURLToPath(new URL("../dist/examples/container.js", import.meta.url))

interface Run {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

const start = (args: ReadonlyArray<string>): ChildProcess =>
  spawn(process.execPath, [example, ...args], { stdio: ["ignore", "pipe", "pipe"] })

const finish = (child: ChildProcess): Promise<Run> =>
  new Promise((resolve, reject) => {
    let stdout = ""
    let stderr = ""
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
    })
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
    })
    child.on("error", reject)
    child.on("close", (status) => resolve({ status, stdout, stderr }))
  })

const runJson = async (args: ReadonlyArray<string>): Promise<Run & { readonly record: Record }> => {
  const run = await finish(start(["--json", ...args]))
  let record: Record
  try {
    record = JSON.parse(run.stdout) as Record
  } catch {
    throw new Error(
      `no JSON record from the example (status ${run.status}):\n${run.stdout}\n${run.stderr}`,
    )
  }
  return { ...run, record }
}

const mountIds = async (): Promise<ReadonlyArray<number>> =>
  (await Effect.runPromise(Mount.list())).map((entry) => entry.mountId).sort((a, b) => a - b)

/** Our children, from the kernel's list for each of our threads. */
const children = (): ReadonlyArray<number> =>
  readdirSync(`/proc/${process.pid}/task`)
    .flatMap((task) =>
      readFileSync(`/proc/${process.pid}/task/${task}/children`, "utf8").trim().split(" "),
    )
    .filter((pid) => pid !== "")
    .map(Number)
    .sort((a, b) => a - b)

const alive = (pid: number) => existsSync(`/proc/${pid}`)

const recordedPids = (record: Record): ReadonlyArray<number> => {
  const c = record.container
  if (c === undefined) return []
  return [c.pid, c.unsharePid, ...(c.sidecarPid === undefined ? [] : [c.sidecarPid])]
}

describe.skipIf(!privileged)("the container walk-through (examples/container.ts)", () => {
  let scratch: string

  beforeAll(() => {
    if (!existsSync(example)) {
      throw new Error(`${example} is missing: build the examples first (npm run build:ts)`)
    }
    scratch = mkdtempSync(join(tmpdir(), "linx-container-test-"))
  })
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true })
  })

  it("assembles the container, which sees only itself, and leaves the host as it was", async () => {
    const volume = mkdtempSync(join(scratch, "volume-"))
    const hot = mkdtempSync(join(scratch, "hot-"))
    writeFileSync(join(volume, "data.txt"), "volume data\n")
    writeFileSync(join(hot, "late.txt"), "plugged in late\n")
    const mountsBefore = await mountIds()
    const childrenBefore = children()

    const { status, stderr, record } = await runJson(["--volume", volume, "--hot", hot])

    expect(stderr).toBe("")
    expect(status).toBe(0)
    expect(record.ok).toBe(true)
    expect(record.steps.every((step) => step.ok && Number.isInteger(step.micros))).toBe(true)
    const view = record.view

    // ps inside: pid 1 is the workload, and there is nothing but it and ps itself.
    expect(view.ps?.find((p) => p.pid === 1)?.args).toBe("/bin/sh /init")
    expect(view.ps?.map((p) => p.args.split(" ")[0])).toEqual(["/bin/sh", "ps"])
    expect(view.ps?.every((p) => p.pid < 100)).toBe(true)
    expect(view.hostname).toBe("linx-demo")

    // Its / is the rootfs we built, and the old root is gone from its table and its /.
    expect(view.marker).toBe(record.rootfs?.marker)
    expect(view.ls).toEqual(
      expect.arrayContaining(["LINX-ROOTFS", "bin", "dev", "proc", "tmp", "volume"]),
    )
    expect(view.ls).not.toContain("old_root")
    expect(view.oldRoot).toBe("absent")
    const table = view.mounts ?? []
    expect(table.some((m) => m.target.startsWith("/old_root"))).toBe(false)
    const at = (target: string) => table.find((m) => m.target === target)
    expect(table[0]?.target).toBe("/")
    expect(at("/proc")?.fstype).toBe("proc")
    expect(at("/dev")?.fstype).toBe("tmpfs")
    expect(at("/tmp")?.fstype).toBe("tmpfs")
    for (const device of ["null", "zero", "random", "urandom"])
      expect(at(`/dev/${device}`)).toBeDefined()

    // The volume: readable, and writes are refused by a read-only mount.
    expect(view.volume?.files).toEqual(["data.txt"])
    expect(at("/volume")?.options.split(",")).toContain("ro")
    expect(view.volume?.write).toBe("refused")
    expect(view.volume?.message).toContain("Read-only file system")
    expect(existsSync(join(volume, "written-by-the-container"))).toBe(false)

    // The hot mount showed up in the running container, and went away again.
    expect(view.hot?.files).toEqual(["late.txt"])
    expect(view.hot?.content).toEqual(["plugged in late"])
    expect(view.hot?.mount?.target).toBe("/mnt/hot")
    expect(view.hotAfterUnmount).toEqual([])

    // Nothing left: not in our mount table, not among the processes, not in /tmp.
    expect(record.host).toMatchObject({ leftoverMounts: [], leftoverProcesses: [] })
    expect(await mountIds()).toEqual(mountsBefore)
    expect(children()).toEqual(childrenBefore)
    for (const pid of recordedPids(record)) expect(alive(pid)).toBe(false)
    expect(existsSync(record.rootfs?.path ?? "/nonexistent")).toBe(false)
    // The user's own directories are theirs: still there, unchanged.
    expect(readFileSync(join(volume, "data.txt"), "utf8")).toBe("volume data\n")
    expect(readFileSync(join(hot, "late.txt"), "utf8")).toBe("plugged in late\n")
  })

  it("a failure half-way (a volume that does not exist) still tears everything down", async () => {
    const mountsBefore = await mountIds()
    const childrenBefore = children()

    const { status, record } = await runJson(["--volume", join(scratch, "no-such-volume")])

    expect(status).toBe(1)
    expect(record.ok).toBe(false)
    expect(record.error).toContain("ENOENT")
    const failed = record.steps.filter((step) => !step.ok)
    expect(failed.map((step) => step.title)).toEqual(["bound the volume read-only on /volume"])
    const titles = record.steps.map((step) => step.title)
    expect(titles.indexOf("stopped the container")).toBeGreaterThan(
      titles.indexOf(failed[0]!.title),
    )
    expect(titles).not.toContain("pivoted the root")
    expect(record.host).toMatchObject({ leftoverMounts: [], leftoverProcesses: [] })
    expect(await mountIds()).toEqual(mountsBefore)
    expect(children()).toEqual(childrenBefore)
    for (const pid of recordedPids(record)) expect(alive(pid)).toBe(false)
    expect(existsSync(record.rootfs?.path ?? "/nonexistent")).toBe(false)
  })

  it("Ctrl-C while the container runs interrupts it and still tears everything down", async () => {
    const mountsBefore = await mountIds()
    const childrenBefore = children()
    const child = start(["--hold", "30"])
    const done = finish(child)
    // Wait for the walk-through to reach its hold, with the container running.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("the example never reached its hold")),
        20_000,
      )
      child.stdout?.on("data", (chunk: string) => {
        if (String(chunk).includes("holding for")) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
    child.kill("SIGINT")
    const { status, stdout } = await done

    expect(status).toBe(130)
    expect(stdout).toContain("stopped the container")
    expect(stdout).toContain("no process of ours left")
    expect(stdout).toContain("failed: interrupted")
    const container = Number(/nsenter -t (\d+)/.exec(stdout)?.[1])
    expect(container).toBeGreaterThan(0)
    expect(alive(container)).toBe(false)
    const rootfs = /in (\/\S+linx-rootfs-\S+)/.exec(stdout)?.[1]
    expect(rootfs).toBeDefined()
    expect(existsSync(rootfs!)).toBe(false)
    expect(await mountIds()).toEqual(mountsBefore)
    expect(children()).toEqual(childrenBefore)
  })
})
