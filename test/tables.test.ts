/**
 * The table readers (src/internal/tables.ts and the addon's native/read.cc, native/tables.cc)
 * against the real kernel: statmount-built tables checked field by field against the
 * kernel's own mountinfo text (parsed by the mountinfo parser, itself checked against
 * findmnt in mountinfo.test.ts), namespaces read by file, unique ids, exact bytes, caps, the
 * mountinfo fallback, and the cost of a hostile table.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseMountInfo } from "../src/internal/mountinfo.js"
import { native } from "../src/internal/native.js"
import {
  maxTableBytes,
  type ReadOptions,
  readTable,
  readTableSync,
  type Table,
  type TableResult,
  type TableTarget,
} from "../src/internal/tables.js"
import type { MountEntry } from "../src/MountEntry.js"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/** The addon's table functions, as tables.ts sees them. */
const addon = native() as unknown as {
  readFileSync(path: unknown, max: unknown): Buffer | { stage: string; errno: number }
  listMountsSync(
    ns: unknown,
    max: unknown,
    mounts: unknown,
  ): Buffer | { stage: string; errno: number }
  listMounts(ns: unknown, max: unknown, mounts: unknown, callback: unknown): void
  readFile(path: unknown, max: unknown, callback: unknown): void
}

const readAsync = (target: TableTarget, options?: ReadOptions): Promise<TableResult> =>
  new Promise((resolve, reject) =>
    readTable(
      target,
      (result) => ("defect" in result ? reject(result.defect) : resolve(result)),
      options,
    ),
  )

const table = (result: TableResult): Table => {
  if ("failure" in result) throw new Error(`read failed: ${JSON.stringify(result.failure)}`)
  return result
}

/**
 * What a statmount-built entry must share with the parse of the kernel's mountinfo: every
 * field, with the exact bytes of the names, but uniqueId (mountinfo has none) and
 * propagate_from tags (statmount is never asked for them).
 */
const facts = (e: MountEntry) => {
  const { uniqueId: _, ...fields } = e.toJSON()
  return {
    ...fields,
    propagation: fields.propagation.filter((p) => p.kind !== "propagate_from"),
    rootBytes: e.rootBytes.toString("hex"),
    mountPointBytes: e.mountPointBytes.toString("hex"),
    sourceBytes: e.sourceBytes.toString("hex"),
  }
}

const fdCount = () => readdirSync("/proc/self/fd").length

/** The CPUs this process may run on (`Cpus_allowed_list`: "0-1,4"). */
const allowedCpus = (): Array<number> => {
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]
  return (list ?? "0").split(",").flatMap((range) => {
    const [from, to = from] = range.split("-").map(Number)
    return Array.from({ length: to! - from! + 1 }, (_, i) => from! + i)
  })
}

describe("table readers: bad input", () => {
  it.each([
    ["readFileSync without arguments", () => addon.readFileSync(undefined, undefined)],
    ["readFileSync of a path with NUL", () => addon.readFileSync("/proc/self/mount\0info", 10)],
    ["readFileSync of an empty path", () => addon.readFileSync("", 10)],
    ["readFileSync with a negative cap", () => addon.readFileSync("/proc/self/mountinfo", -1)],
    ["readFileSync with a fractional cap", () => addon.readFileSync("/proc/self/mountinfo", 1.5)],
    ["readFile without a callback", () => addon.readFile("/proc/self/mountinfo", 10, "no")],
    ["listMountsSync of a number", () => addon.listMountsSync(5, 10, 10)],
    ["listMountsSync with NaN mounts", () => addon.listMountsSync(null, 10, Number.NaN)],
    ["listMountsSync with a huge cap", () => addon.listMountsSync(null, 2 ** 40, 10)],
    ["listMounts without a callback", () => addon.listMounts(null, 10, 10, undefined)],
  ])("throws a TypeError for %s", (_, call) => {
    expect(call).toThrow(TypeError)
  })

  describe("a namespace file that is not one", () => {
    let dir = ""
    beforeAll(() => {
      dir = execFileSync("mktemp", ["-d"]).toString().trim()
      writeFileSync(`${dir}/file`, "not a namespace\n")
      mkdirSync(`${dir}/dir`)
      execFileSync("mkfifo", [`${dir}/fifo`])
    })
    afterAll(() => {
      execFileSync("rm", ["-rf", dir])
    })

    it.each([
      ["a missing file", "missing", "open_ns", 2],
      ["a regular file", "file", "open_ns", 22],
      ["a directory", "dir", "open_ns", 22],
      // Opened O_NONBLOCK: a FIFO without a writer must not hold the thread.
      ["a FIFO", "fifo", "open_ns", 22],
      ["another type of namespace", "/proc/self/ns/net", "open_ns", 22],
    ])("fails on %s, sync and async, leaking no descriptor", async (_, name, stage, errno) => {
      const path = name.startsWith("/") ? name : `${dir}/${name}`
      const before = fdCount()
      const expected = { failure: { stage, errno, path } }
      expect(readTableSync({ kind: "namespace", path })).toEqual(expected)
      expect(await readAsync({ kind: "namespace", path })).toEqual(expected)
      expect(fdCount()).toBe(before)
    })
  })

  it("caps a file at maxBytes exactly: one byte more is EFBIG", () => {
    const dir = execFileSync("mktemp", ["-d"]).toString().trim()
    try {
      writeFileSync(`${dir}/ten`, "0123456789")
      expect(addon.readFileSync(`${dir}/ten`, 9)).toEqual({ stage: "read", errno: 27 })
      expect(addon.readFileSync(`${dir}/ten`, 10)).toEqual(Buffer.from("0123456789"))
      // A file that does not announce its size (procfs) is cut off by reading, too.
      const size = readFileSync("/proc/self/mountinfo").length
      expect(addon.readFileSync("/proc/self/mountinfo", size - 1)).toEqual({
        stage: "read",
        errno: 27,
      })
    } finally {
      execFileSync("rm", ["-rf", dir])
    }
  })

  it("caps a statmount table at maxBytes and at maxMounts: EFBIG, never a crash", () => {
    const whole = addon.listMountsSync(null, maxTableBytes, 1_000_000)
    expect(Buffer.isBuffer(whole)).toBe(true)
    const bytes = (whole as Buffer).length
    expect(addon.listMountsSync(null, bytes, 1_000_000)).toEqual(whole)
    expect(addon.listMountsSync(null, bytes - 1, 1_000_000)).toEqual({ stage: "read", errno: 27 })
    expect(addon.listMountsSync(null, maxTableBytes, 1)).toEqual({ stage: "read", errno: 27 })
  })
})

describe.skipIf(!privileged)("table readers: the real kernel (privileged)", () => {
  let scratch = ""
  const children: Array<() => void> = []

  beforeAll(() => {
    scratch = scratchTmpfs("linx-tables-")
  })
  afterAll(() => {
    // Only the processes this file started, by pid.
    for (const kill of children) kill()
    if (scratch) removeScratch(scratch)
  })

  /**
   * A bash script run in a new private mount namespace (made on `cpu` if given); it prints
   * one line (read as the result) when it is ready, then `exec sleep` keeps the same pid in
   * that namespace.
   */
  const inNamespace = async (
    script: string,
    cpu?: number,
  ): Promise<{ pid: number; line: string }> => {
    const unshare = ["unshare", "--mount", "--propagation", "private"]
    const argv = [...unshare, "bash", "-ec", `${script}\nexec sleep 600`]
    // taskset execs unshare, which execs bash: one pid all along.
    const command = cpu === undefined ? argv : ["taskset", "-c", String(cpu), ...argv]
    const child = spawn(command[0]!, command.slice(1), { stdio: ["ignore", "pipe", "inherit"] })
    children.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    })
    const line = await new Promise<string>((resolve, reject) => {
      let out = ""
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString("latin1")
        if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")))
      })
      child.once("exit", (code) => reject(new Error(`the namespace's script exited with ${code}`)))
    })
    // Until bash has become sleep, the namespace file cannot always be bound (EINVAL while
    // the exec runs, measured here): wait for it.
    for (let i = 0; i < 500 && !readlinkSync(`/proc/${child.pid}/exe`).endsWith("/sleep"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    return { pid: child.pid!, line }
  }

  it("reads this process's table with statmount, as mountinfo shows it, sync and async", async () => {
    // Other test files mount in this namespace too: compare reads taken while mountinfo
    // stood still.
    for (let attempt = 0; ; attempt++) {
      const before = readFileSync("/proc/self/mountinfo")
      const sync = table(readTableSync({ kind: "self" }))
      const async = table(await readAsync({ kind: "self" }))
      const fallback = table(await readAsync({ kind: "self" }, { via: "mountinfo" }))
      const after = readFileSync("/proc/self/mountinfo")
      if (!before.equals(after) && attempt < 20) continue
      expect(sync.reader).toBe("statmount")
      expect(async.reader).toBe("statmount")
      expect(fallback.reader).toBe("mountinfo")
      const expected = parseMountInfo(after).map(facts)
      expect(sync.entries.map(facts)).toEqual(expected)
      expect(async.entries.map(facts)).toEqual(expected)
      expect(fallback.entries.map(facts)).toEqual(expected)
      expect(fallback.entries.every((e) => e.uniqueId === undefined)).toBe(true)
      expect(sync.entries.map((e) => e.uniqueId)).toEqual(async.entries.map((e) => e.uniqueId))
      break
    }
  })

  it("reads another namespace's awkward table by pid and by namespace file, as its mountinfo", async () => {
    // Names made of every byte class the kernel treats specially, sources too, and every
    // propagation and attribute mountinfo can show.
    const { pid, line } = await inNamespace(String.raw`
      D=$(mktemp -d ${scratch}/ns-XXXXXX)
      mount -t tmpfs -o size=4m linx-tables-ns "$D" && cd "$D"
      mkdir "with space" $'tab\there' $'new\nline' 'back\slash' 'lit\040eral' $'cr\rhere' \
        $'raw-\xff\xfe' '日本語' 'hash#dir' shared peer slave both unbindable empty attrs \
        atimes syncs rosub sub bindsub
      mount -t tmpfs 'src with space' "with space"
      mount -t tmpfs $'src\ttab' $'tab\there'
      mount -t tmpfs $'src\nnl' $'new\nline'
      mount -t tmpfs 'src\bs' 'back\slash'
      mount -t tmpfs 'src\040lit' 'lit\040eral'
      mount -t tmpfs $'src\rcr' $'cr\rhere'
      mount -t tmpfs $'raw\xff' $'raw-\xff\xfe'
      mount -t tmpfs '源' '日本語'
      mount -t tmpfs 'src#hash' 'hash#dir'
      mount -t tmpfs shared shared && mount --make-shared shared
      mount --bind shared peer
      mount --bind shared slave && mount --make-slave slave
      mount --bind shared both && mount --make-slave both && mount --make-shared both
      mount -t tmpfs unbindable unbindable && mount --make-unbindable unbindable
      mount -t tmpfs "" empty
      mount -t tmpfs -o ro,nosuid,nodev,noexec,noatime,nodiratime,nosymfollow attrs attrs
      mount -t tmpfs -o strictatime,lazytime atimes atimes
      mount -t tmpfs -o sync,dirsync,size=1m,mode=750 syncs syncs
      mount -t tmpfs rwsb rosub && mount -o remount,bind,ro rosub
      mkdir -p "sub/in side" && mount --bind "sub/in side" bindsub
      echo "$D"`)
    const base = line
    const mountinfo = readFileSync(`/proc/${pid}/mountinfo`)
    const expected = parseMountInfo(mountinfo)
    expect(expected.filter((e) => e.mountPoint.startsWith(`${base}/`))).toHaveLength(20)

    const byPid = table(await readAsync({ kind: "pid", pid }))
    expect(byPid.reader).toBe("statmount")
    expect(byPid.entries.map(facts)).toEqual(expected.map(facts))
    expect(table(readTableSync({ kind: "pid", pid })).entries.map(facts)).toEqual(
      expected.map(facts),
    )

    // The namespace file, opened directly.
    const byFile = table(await readAsync({ kind: "namespace", path: `/proc/${pid}/ns/mnt` }))
    expect(byFile.entries.map(facts)).toEqual(expected.map(facts))
    expect(byFile.entries.map((e) => e.uniqueId)).toEqual(byPid.entries.map((e) => e.uniqueId))

    const at = (name: string) => byPid.entries.find((e) => e.mountPoint === `${base}/${name}`)!
    expect(at("attrs").mountOptions).toBe("ro,nosuid,nodev,noexec,noatime,nodiratime,nosymfollow")
    expect(at("attrs").superOptions).toBe("ro")
    expect(at("atimes")).toMatchObject({ mountOptions: "rw", superOptions: "rw,lazytime" })
    expect(at("syncs").superOptions).toBe("rw,sync,dirsync,size=1024k,mode=750")
    expect(at("rosub")).toMatchObject({ mountOptions: "ro,relatime", superOptions: "rw" })
    expect(at("hash#dir").source).toBe("src#hash")
    expect(at("empty").source).toBe("")
    expect(at("日本語").source).toBe("源")
    expect(at("both").propagation.map((p) => p.kind)).toEqual(["shared", "master"])

    // Names that are not UTF-8 keep their bytes: the kernel's own names for them.
    const names = readdirSync(`/proc/${pid}/root${base}`, { encoding: "buffer" })
    const raw = names.find((n) => n.includes(0xff))!
    const entry = byPid.entries.find((e) => e.mountPoint === `${base}/raw-\uFFFD\uFFFD`)!
    expect(entry.mountPointBytes).toEqual(Buffer.concat([Buffer.from(`${base}/`), raw]))
    expect(entry.sourceBytes).toEqual(Buffer.from([0x72, 0x61, 0x77, 0xff]))
    expect(entry.mountPoint).toBe(`${base}/raw-\uFFFD\uFFFD`)
  })

  it("reads a bind mount of a namespace file like the process it came from", async () => {
    // The kernel refuses (EINVAL) to bind a namespace file into a namespace whose id is not
    // lower, and on 6.18 ids come from per-CPU batches: a namespace made on another CPU
    // than ours can have a lower id than ours. One made on the CPU that made ours cannot,
    // so one of them, pinned to each CPU in turn, can be bound.
    let bound: { pid: number; file: string } | undefined
    for (const cpu of allowedCpus()) {
      if (bound !== undefined) break
      const { pid } = await inNamespace("echo ready", cpu)
      const file = `${scratch}/ns-${pid}`
      writeFileSync(file, "")
      const r = spawnSync("mount", ["--bind", `/proc/${pid}/ns/mnt`, file])
      if (r.status === 0) bound = { pid, file }
    }
    expect(bound).toBeDefined()
    const { pid, file } = bound!
    const byPid = table(await readAsync({ kind: "pid", pid }))
    const byFile = table(await readAsync({ kind: "namespace", path: file }))
    expect(byFile.path).toBe(file)
    expect(byFile.entries.map((e) => e.uniqueId)).toEqual(byPid.entries.map((e) => e.uniqueId))
    expect(byFile.entries.map(facts)).toEqual(
      parseMountInfo(readFileSync(`/proc/${pid}/mountinfo`)).map(facts),
    )
    expect(table(readTableSync({ kind: "namespace", path: file })).entries.map(facts)).toEqual(
      byFile.entries.map(facts),
    )
  })

  it("shows another namespace from its root, where mountinfo shows a chrooted process's view", async () => {
    const { pid, line: jail } = await inNamespace(`
      J=$(mktemp -d ${scratch}/jail-XXXXXX)
      mount -t tmpfs -o size=1m linx-jail "$J"
      mkdir "$J/usr" "$J/inner" && mount --rbind /usr "$J/usr" && mount -t tmpfs inner "$J/inner"
      ln -s usr/bin "$J/bin" && ln -s usr/lib "$J/lib" && ln -s usr/lib64 "$J/lib64"
      echo "$J"
      exec chroot "$J" /usr/bin/sleep 600`)
    // inNamespace has waited for sleep: the chroot is done.
    const fromItsRoot = parseMountInfo(readFileSync(`/proc/${pid}/mountinfo`))
    const fromNamespaceRoot = table(await readAsync({ kind: "pid", pid })).entries
    const inner = (entries: ReadonlyArray<MountEntry>) =>
      entries.filter((e) => e.source === "inner").map((e) => e.mountPoint)
    expect(inner(fromItsRoot)).toEqual(["/inner"])
    expect(inner(fromNamespaceRoot)).toEqual([`${jail}/inner`])
    // Mounts outside the chroot are missing from its mountinfo, not from the namespace.
    expect(fromItsRoot.some((e) => e.mountPoint === "/proc")).toBe(false)
    expect(fromNamespaceRoot.some((e) => e.mountPoint === "/proc")).toBe(true)
    // The mountinfo route of { pid } is that process's view.
    const viaMountinfo = table(await readAsync({ kind: "pid", pid }, { via: "mountinfo" }))
    expect(inner(viaMountinfo.entries)).toEqual(["/inner"])
  })

  it("keeps uniqueId across a remount, and tells apart mounts that reuse a mount id", () => {
    const dir = `${scratch}/reuse`
    mkdirSync(dir)
    const entryAt = () => {
      const entries = table(readTableSync({ kind: "self" })).entries
      return entries.filter((e) => e.mountPoint === dir).at(-1)
    }
    execFileSync("mount", ["-t", "tmpfs", "reuse", dir])
    const first = entryAt()!
    execFileSync("mount", ["-o", "remount,ro", dir])
    const remounted = entryAt()!
    expect(remounted.mountOptions.startsWith("ro")).toBe(true)
    expect(remounted.uniqueId).toBe(first.uniqueId)
    expect(remounted.mountId).toBe(first.mountId)

    // Unmount and mount again until the kernel hands out a mount id it gave before.
    const seen = new Map<number, bigint>([[first.mountId, first.uniqueId!]])
    let reused: { mountId: number; before: bigint; after: bigint } | undefined
    execFileSync("umount", [dir])
    for (let i = 0; i < 200 && reused === undefined; i++) {
      execFileSync("mount", ["-t", "tmpfs", "reuse", dir])
      const e = entryAt()!
      const before = seen.get(e.mountId)
      if (before !== undefined) reused = { mountId: e.mountId, before, after: e.uniqueId! }
      else seen.set(e.mountId, e.uniqueId!)
      execFileSync("umount", [dir])
    }
    expect(reused).toBeDefined()
    expect(reused!.after).not.toBe(reused!.before)
    expect(reused!.after > reused!.before).toBe(true)
  })

  it("leaks no file descriptor, whatever the route", async () => {
    const before = fdCount()
    for (let i = 0; i < 20; i++) {
      readTableSync({ kind: "self" })
      await readAsync({ kind: "self" })
      await readAsync({ kind: "pid", pid: process.pid })
      await readAsync({ kind: "namespace", path: "/proc/self/ns/mnt" })
      await readAsync({ kind: "file", path: "/proc/self/mountinfo" })
      await readAsync({ kind: "pid", pid: 2 ** 22 + 1 }) // no such process: both routes fail
    }
    expect(fdCount()).toBe(before)
  })

  it("reads a hostile table within 3× its text's size and 5× the kernel's read", () => {
    // Times are the best of 7 interleaved runs (the rest of the suite runs meanwhile).
    // In a namespace of its own (so the other test files never see it): 1,701 mounts whose
    // paths are ~4,000 bytes of space, tab, newline and backslash (~16 KB of text each once
    // escaped), each with a byte that is not UTF-8; measured by a child with --expose-gc.
    const fixtures = join(root, "test", "fixtures", "tables")
    const script = `
      D=$(mktemp -d ${scratch}/hostile-XXXXXX)
      mount -t tmpfs -o size=64m linx-hostile "$D"
      bash "$1/hostile-build.sh" "$D" 14 40 40
      exec "$2" --expose-gc "$1/hostile-measure.mjs" 7`
    const out = spawnSync(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "bash",
        "-ec",
        script,
        "_",
        fixtures,
        process.execPath,
      ],
      { encoding: "utf8", timeout: 120_000 },
    )
    expect(out.stderr).toBe("")
    const m = JSON.parse(out.stdout) as {
      mounts: number
      textBytes: number
      longestMountPoint: number
      ms: Record<"kernel" | "mountinfo" | "mountinfoSync" | "statmount" | "statmountSync", number>
      medianMs: Record<string, number>
      retainedBytes: Record<"mountinfo" | "statmount", number>
    }
    const ratios = {
      timeMountinfo: m.ms.mountinfo / m.ms.kernel,
      timeMountinfoSync: m.ms.mountinfoSync / m.ms.kernel,
      timeStatmount: m.ms.statmount / m.ms.kernel,
      timeStatmountSync: m.ms.statmountSync / m.ms.kernel,
      memoryMountinfo: m.retainedBytes.mountinfo / m.textBytes,
      memoryStatmount: m.retainedBytes.statmount / m.textBytes,
    }
    console.log(
      `hostile table: ${m.mounts} mounts, ${(m.textBytes / 2 ** 20).toFixed(1)} MiB of mountinfo, ` +
        `mount points up to ${m.longestMountPoint} bytes\n` +
        `  ms, best of 7: ${JSON.stringify(m.ms)}\n` +
        `  ms, median of 7: ${JSON.stringify(m.medianMs)}\n` +
        `  retained MiB: mountinfo ${(m.retainedBytes.mountinfo / 2 ** 20).toFixed(1)}, ` +
        `statmount ${(m.retainedBytes.statmount / 2 ** 20).toFixed(1)}\n` +
        `  ratios: ${JSON.stringify(ratios, (_, v) => (typeof v === "number" ? Number(v.toFixed(2)) : v))}`,
    )
    expect(m.mounts).toBeGreaterThan(1700)
    expect(m.longestMountPoint).toBeGreaterThan(3900)
    expect(m.longestMountPoint).toBeLessThan(4096)
    for (const [name, ratio] of Object.entries(ratios)) {
      expect({ name, ratio }).toEqual({
        name,
        ratio: expect.toSatisfy((r: number) => r > 0 && r <= (name.startsWith("time") ? 5 : 3)),
      })
    }
  }, 120_000)
})

describe("the sync reader's module graph", () => {
  /** The runtime imports of a module (type-only ones are erased), followed through src/. */
  const graph = (entry: string): { files: Array<string>; packages: Set<string> } => {
    const files: Array<string> = []
    const packages = new Set<string>()
    const visit = (file: string) => {
      if (files.includes(file)) return
      files.push(file)
      const text = readFileSync(file, "utf8")
      const statements =
        /^(?:import|export)\b([^"';]*?)\bfrom\s+["']([^"']+)["']|^import\s+["']([^"']+)["']/gm
      for (const [, clause, from, bare] of text.matchAll(statements)) {
        if (clause !== undefined && /^\s+type\b/.test(clause)) continue
        const spec = from ?? bare!
        if (spec.startsWith(".")) visit(join(dirname(file), spec.replace(/\.js$/, ".ts")))
        else packages.add(spec)
      }
    }
    visit(entry)
    return { files, packages }
  }

  it("imports nothing of effect, only node: modules", () => {
    const { files, packages } = graph(join(root, "src/internal/tables.ts"))
    expect(files.map((f) => f.slice(root.length + 1)).sort()).toEqual([
      "src/MountEntry.ts",
      "src/internal/mountinfo.ts",
      "src/internal/native.ts",
      "src/internal/tables.ts",
    ])
    expect([...packages].every((p) => p.startsWith("node:"))).toBe(true)
    // The check can fail: list.ts, the Effect wrapper, does import effect.
    expect(graph(join(root, "src/internal/list.ts")).packages.has("effect/Effect")).toBe(true)
  })

  it("starts and reads this process's table within twice `node -e 0`", () => {
    const tables = join(root, "dist", "src", "internal", "tables.js")
    const time = (args: ReadonlyArray<string>) => {
      const start = performance.now()
      const r = spawnSync(process.execPath, args, { encoding: "utf8" })
      if (r.status !== 0) throw new Error(r.stderr)
      return performance.now() - start
    }
    const read = [
      "--input-type=module",
      "-e",
      `const m = await import(${JSON.stringify(tables)}); if (!m.readTableSync({ kind: "self" }).entries) process.exit(1)`,
    ]
    const nothing: Array<number> = []
    const reading: Array<number> = []
    for (let i = 0; i < 5; i++) {
      nothing.push(time(["-e", "0"]))
      reading.push(time(read))
    }
    const median = (v: Array<number>) => v.sort((a, b) => a - b)[2]!
    console.log(
      `startup: node -e 0 ${median(nothing).toFixed(0)} ms; import tables.js + readTableSync ${median(reading).toFixed(0)} ms`,
    )
    expect(median(reading)).toBeLessThan(2 * median(nothing))
  })
})
