/**
 * The container walk-through (examples/container.ts), run as a user runs it — the built
 * program in a child process — and judged by what the container itself reported (its own
 * `ps`, mount table, `ls -ln`, refused writes), by the watch events the example received,
 * and by what the kernel shows us afterwards: our mount table unchanged, no process left.
 *
 * Runs inside the private mount namespace of test/run.mjs. The example mounts nothing in it;
 * this file mounts one tmpfs of its own there (the submount of the volume it hands over with
 * `--volume`), which the container's namespace, a copy of ours, inherits. Other test files
 * may mount and unmount their scratch tmpfs under /tmp meanwhile, so "our table unchanged"
 * is judged on what is not under /tmp and on the paths this file and the example use.
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import { Mount, type MountEntry } from "linx-mount"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { EventRow, Probe, Record } from "../examples/internal/report.js"
import { privileged } from "./support/privileged.js"

const example = fileURLToPath(new URL("../dist/examples/container.js", import.meta.url))

/** The example's idmap: ids 0–65535 of its user namespace are 100000–165535 outside. */
const mapped = (id: number) => 100000 + id
const owner = 1000

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

const table = (): Promise<ReadonlyArray<MountEntry>> => Effect.runPromise(Mount.list())

const key = (m: MountEntry) =>
  `${m.uniqueId} ${m.mountPoint} ${m.mountOptions} ${JSON.stringify(m.propagation)}`

/** Where the example works on the host, and where this file does. */
const examplePath = /^\/tmp\/linx-(?:rootfs|volume|nested|hot)-/

/**
 * Our mount table, the parts that matter here: every mount not under /tmp (each with its
 * options and propagation: a `/` made rprivate here would show), and every mount on a path
 * of the example's or this file's.
 */
const hostState = async (scratch: string) => {
  const now = await table()
  return {
    system: now.filter((m) => !m.mountPoint.startsWith("/tmp/")).map(key),
    ours: now
      .filter((m) => m.mountPoint.startsWith(`${scratch}/`) || examplePath.test(m.mountPoint))
      .map(key),
  }
}

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

const recordedPids = (record: Record): ReadonlyArray<number> => [
  ...(record.container === undefined ? [] : [record.container.pid, record.container.unsharePid]),
  ...(record.idmap === undefined ? [] : [record.idmap.pid]),
]

/** The step with this title, which must be there. */
const step = (record: Record, title: string) => {
  const found = record.steps.find((s) => s.title === title)
  if (found === undefined)
    throw new Error(`no step "${title}" in ${record.steps.map((s) => s.title).join(" | ")}`)
  return found
}

const eventsOf = (record: Record, title: string): ReadonlyArray<EventRow> =>
  record.events.filter((e) => e.step === step(record, title).n)

const kinds = (events: ReadonlyArray<EventRow>, kind: EventRow["kind"]) =>
  events.filter((e) => e.kind === kind)

/** A mount point as the container has it: below the rootfs before the pivot, at / after. */
const inContainer = (record: Record, point: string | undefined) => {
  const root = record.rootfs?.path ?? "/nonexistent"
  if (point === root) return "/"
  return point?.startsWith(`${root}/`) ? point.slice(root.length) : point
}

/** The volume's probe (or a submount's): owners as mapped, and the write refused. */
const expectMappedAndReadOnly = (probe: Probe | undefined, files: ReadonlyArray<string>) => {
  expect(probe).toBeDefined()
  for (const name of files) {
    const entry = probe?.entries.find((e) => e.name === name)
    expect(entry, `${probe?.path}/${name} in ls -ln`).toMatchObject({
      uid: mapped(owner),
      gid: mapped(owner),
    })
  }
  expect(probe?.write).toBe("refused")
  expect(probe?.message).toContain("Read-only file system")
}

/** Nothing of the run left: mounts, processes, temporary directories. */
const expectNothingLeft = async (
  record: Record,
  scratch: string,
  before: Awaited<ReturnType<typeof hostState>>,
  childrenBefore: ReadonlyArray<number>,
) => {
  expect(record.host).toMatchObject({ leftoverMounts: [], leftoverProcesses: [] })
  expect(await hostState(scratch)).toEqual(before)
  expect(children()).toEqual(childrenBefore)
  for (const pid of recordedPids(record)) expect(alive(pid), `pid ${pid}`).toBe(false)
  expect(existsSync(record.rootfs?.path ?? "/nonexistent")).toBe(false)
}

describe.skipIf(!privileged)("the container walk-through (examples/container.ts)", () => {
  let scratch: string
  let volume: string
  let sub: string
  let hot: string

  beforeAll(() => {
    if (!existsSync(example)) {
      throw new Error(`${example} is missing: build the examples first (npm run build:ts)`)
    }
    scratch = mkdtempSync(join(tmpdir(), "linx-container-test-"))
    // A volume as a user brings it: files owned by uid 1000, and a submount (a tmpfs, ours,
    // in this file's private namespace) with a file of the same owner.
    volume = join(scratch, "volume")
    sub = join(volume, "sub")
    mkdirSync(sub, { recursive: true })
    writeFileSync(join(volume, "data.txt"), "volume data\n")
    chownSync(join(volume, "data.txt"), owner, owner)
    execFileSync("mount", [
      "-t",
      "tmpfs",
      "-o",
      `size=1m,mode=755,uid=${owner},gid=${owner}`,
      "linx-container-sub",
      sub,
    ])
    execFileSync("mount", ["--make-private", sub])
    writeFileSync(join(sub, "inner.txt"), "in the submount\n")
    chownSync(join(sub, "inner.txt"), owner, owner)
    hot = mkdtempSync(join(scratch, "hot-"))
    writeFileSync(join(hot, "late.txt"), "plugged in late\n")
  })
  afterAll(() => {
    if (sub !== undefined && existsSync(sub)) execFileSync("umount", [sub])
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true })
  })

  it("builds the container as one batch; it sees only itself, the volume idmapped and read-only", async () => {
    const before = await hostState(scratch)
    const childrenBefore = children()

    const { status, stderr, record } = await runJson(["--volume", volume, "--hot", hot])

    expect(stderr).toBe("")
    expect(status).toBe(0)
    expect(record.ok).toBe(true)
    expect(record.steps.every((s) => s.ok && Number.isInteger(s.micros))).toBe(true)
    expect(record.watchError).toBeUndefined()
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
    const mounts = view.mounts ?? []
    expect(mounts.some((m) => m.target.startsWith("/old_root"))).toBe(false)
    const at = (target: string) => mounts.find((m) => m.target === target)
    expect(mounts[0]?.target).toBe("/")
    expect(at("/proc")?.fstype).toBe("proc")
    expect(at("/dev")?.fstype).toBe("tmpfs")
    expect(at("/tmp")?.fstype).toBe("tmpfs")
    for (const device of ["null", "zero", "random", "urandom"])
      expect(at(`/dev/${device}`)).toBeDefined()

    // The volume and its submount, both brought by `rec`, both read-only and idmapped: the
    // files owned by 1000 on the host show as 101000 inside; writes are refused in both.
    for (const point of ["/volume", "/volume/sub"]) {
      const options = at(point)?.options.split(",") ?? []
      expect(options, point).toContain("ro")
      expect(options, point).toContain("idmapped")
    }
    expect(at("/volume/sub")?.fstype).toBe("tmpfs")
    expectMappedAndReadOnly(view.volume, ["data.txt", "sub"])
    expect(view.submounts?.map((p) => p.path)).toEqual(["/volume/sub"])
    expectMappedAndReadOnly(view.submounts?.[0], ["inner.txt"])
    // On the host nothing changed: same owner, nothing written.
    expect(statSync(join(volume, "data.txt")).uid).toBe(owner)
    expect(statSync(join(sub, "inner.txt")).uid).toBe(owner)
    expect(existsSync(join(volume, "written-by-the-container"))).toBe(false)
    expect(existsSync(join(sub, "written-by-the-container"))).toBe(false)

    // One batch made it all, pivot_root last; the user's volume needs no submount of ours.
    const ops = record.batch?.ops ?? []
    expect(record.batch?.failed).toBeUndefined()
    expect(ops[0]).toContain('makePrivate("/", { recursive: true })')
    expect(ops.at(-1)).toContain("pivotRoot(rootfs, rootfs/old_root)")
    expect(
      ops.some((op) => op.includes("bind(volume, rootfs/volume") && op.includes('"rec"')),
    ).toBe(true)
    expect(ops.some((op) => op.includes("nested"))).toBe(false)

    // The watch saw it: each mount of the batch attached (the submount with the volume), the
    // pivot's two moves; the old root's mounts detached; the hot mount come and go; and the
    // container's mounts go with its namespace.
    const batch = eventsOf(record, "assembled its filesystem: one batch of 11 ops")
    expect(kinds(batch, "attach").map((e) => inContainer(record, e.mountPoint))).toEqual(
      expect.arrayContaining([
        "/",
        "/proc",
        "/dev",
        "/dev/null",
        "/dev/zero",
        "/dev/random",
        "/dev/urandom",
        "/tmp",
        "/volume",
        "/volume/sub",
      ]),
    )
    expect(kinds(batch, "attach")).toHaveLength(10)
    expect(kinds(batch, "move").map((e) => e.mountPoint)).toEqual(["/old_root", "/"])
    const oldRoot = kinds(eventsOf(record, "detached the old root"), "detach")
    expect(oldRoot.map((e) => e.lastKnown)).toContain("/old_root")
    expect(oldRoot.map((e) => e.lastKnown)).toContain(`/old_root${sub}`)
    expect(eventsOf(record, "hot-mounted a host directory on /mnt/hot")).toMatchObject([
      { kind: "attach", mountPoint: "/mnt/hot" },
    ])
    const hotUniqueId = eventsOf(record, "hot-mounted a host directory on /mnt/hot")[0]?.uniqueId
    expect(eventsOf(record, "took the hot mount away")).toEqual([
      expect.objectContaining({ kind: "detach", uniqueId: hotUniqueId, lastKnown: "/mnt/hot" }),
    ])
    const end = kinds(eventsOf(record, "let the workload finish"), "detach")
    expect(end.map((e) => e.lastKnown)).toEqual(
      expect.arrayContaining(["/", "/proc", "/dev", "/tmp", "/volume", "/volume/sub"]),
    )

    // The hot mount showed up in the running container, and went away again.
    expect(view.hot?.files).toEqual(["late.txt"])
    expect(view.hot?.content).toEqual(["plugged in late"])
    expect(view.hot?.mount?.target).toBe("/mnt/hot")
    expect(view.hotAfterUnmount).toEqual([])

    // Nothing left: not in our mount table, not among the processes, not in /tmp.
    await expectNothingLeft(record, scratch, before, childrenBefore)
    // The user's own directories are theirs: still there, unchanged.
    expect(readFileSync(join(volume, "data.txt"), "utf8")).toBe("volume data\n")
    expect(readFileSync(join(sub, "inner.txt"), "utf8")).toBe("in the submount\n")
    expect(readFileSync(join(hot, "late.txt"), "utf8")).toBe("plugged in late\n")
  })

  it("with its own volume, gives it a submount in the container's namespace only", async () => {
    const before = await hostState(scratch)
    const childrenBefore = children()

    const { status, record } = await runJson([])

    expect(status).toBe(0)
    expect(record.ok).toBe(true)
    expect(record.batch?.ops.some((op) => op.includes("bind(nested, volume/nested)"))).toBe(true)
    expectMappedAndReadOnly(record.view.volume, ["hello.txt", "nested"])
    expect(record.view.submounts?.map((p) => p.path)).toEqual(["/volume/nested"])
    expectMappedAndReadOnly(record.view.submounts?.[0], ["notes.txt"])
    await expectNothingLeft(record, scratch, before, childrenBefore)
    for (const path of [record.volume, record.nested, record.hotDirectory])
      expect(existsSync(path ?? "/nonexistent"), path).toBe(false)
  })

  it("a batch that fails (a volume that does not exist) is rolled back, then all torn down", async () => {
    const before = await hostState(scratch)
    const childrenBefore = children()

    const { status, record } = await runJson(["--volume", join(scratch, "no-such-volume")])

    expect(status).toBe(1)
    expect(record.ok).toBe(false)
    expect(record.error).toContain("batch operation #9 failed")
    expect(record.error).toContain("ENOENT")
    const title = "assembled its filesystem: one batch of 11 ops"
    expect(record.steps.filter((s) => !s.ok).map((s) => s.title)).toEqual([title])

    // The ops before #9 undone, in reverse; the mounts among them all (#1–#8).
    const failed = record.batch?.failed
    expect(failed?.index).toBe(9)
    // #0 (rprivate) too: it changed nothing (the container was private already), so even a
    // mount covered by another on its point, out of reach by path, needs no restoring.
    expect(failed?.undone).toEqual([8, 7, 6, 5, 4, 3, 2, 1, 0])
    expect(failed?.notUndone).toEqual([])

    // What the container's table says: as before the batch, mount for mount.
    expect(record.rollback).toMatchObject({ same: true })
    expect(record.rollback?.mountsAfter).toBe(record.rollback?.mountsBefore)
    // And the watch: the 8 mounts attached, and detached again.
    const events = eventsOf(record, title)
    expect(kinds(events, "attach")).toHaveLength(8)
    expect(kinds(events, "detach")).toHaveLength(8)
    expect(new Set(kinds(events, "detach").map((e) => e.uniqueId))).toEqual(
      new Set(kinds(events, "attach").map((e) => e.uniqueId)),
    )

    const titles = record.steps.map((s) => s.title)
    expect(titles.indexOf("checked the rollback")).toBe(titles.indexOf(title) + 1)
    expect(titles.indexOf("stopped the container")).toBeGreaterThan(titles.indexOf(title))
    expect(titles).not.toContain("detached the old root")
    expect(titles).not.toContain("released the workload")
    await expectNothingLeft(record, scratch, before, childrenBefore)
  })

  it("Ctrl-C while the container runs interrupts it and still tears everything down", async () => {
    const before = await hostState(scratch)
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
    const teardown = stdout.slice(stdout.indexOf("holding for"))
    expect(teardown).toContain("stopped the container")
    // The watch outlives the container: it sees the namespace's mounts go.
    expect(teardown.indexOf("watch: detach")).toBeGreaterThan(
      teardown.indexOf("stopped the container"),
    )
    expect(teardown.indexOf("stopped watching")).toBeGreaterThan(teardown.indexOf("watch: detach"))
    expect(teardown).toContain("no process of ours left")
    expect(teardown).toContain("failed: interrupted")
    const container = Number(/nsenter -t (\d+)/.exec(stdout)?.[1])
    expect(container).toBeGreaterThan(0)
    expect(alive(container)).toBe(false)
    const userns = Number(/unshare --user sleep infinity: pid (\d+)/.exec(stdout)?.[1])
    expect(userns).toBeGreaterThan(0)
    expect(alive(userns)).toBe(false)
    for (const path of stdout.match(/\/tmp\/linx-(?:rootfs|volume|nested|hot)-\w+/g) ?? [])
      expect(existsSync(path), path).toBe(false)
    expect(await hostState(scratch)).toEqual(before)
    expect(children()).toEqual(childrenBefore)
  })
})
