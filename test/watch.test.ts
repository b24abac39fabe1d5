/**
 * `Mount.watch` against the real kernel, through the public API (`linx-mount`'s Effect API
 * on a Mounter of two workers, and `linx-mount/promises`' async iterator): mounts made by
 * util-linux in a target started with `unshare -m --propagation private sleep 600` (and in
 * this process's own namespace) arrive as events of the right kind, with the unique id
 * statx(STATX_MNT_ID_UNIQUE) gives and the mount point the target sees, within 100 ms;
 * nothing from other namespaces leaks in; the fanotify setup runs on a Mounter worker
 * thread; closing stops the events and frees the descriptors (read from /proc/self/fd); the
 * mountinfo fallback gives the same kinds; the kernel's queue overflowing fails the stream,
 * after the events before it; setup failures are typed.
 */
import { execFile, spawn, spawnSync } from "node:child_process"
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { InvalidArgument, Mount, MountError, type MountEvent, Mounter } from "linx-mount"
import * as Promises from "linx-mount/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parseMountInfo } from "../src/internal/mountinfo.js"
import { native } from "../src/internal/native.js"
import { decodeRecords, diffTables } from "../src/internal/watch.js"
import { MountEntry } from "../src/MountEntry.js"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { mountNamespaceTarget, type Target } from "./support/targets.js"

type Mechanism = NonNullable<Mount.WatchOptions["mechanism"]>
type WatchIterator = ReturnType<typeof Promises.watch>

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const entry = (mountId: number, parentId: number, mountPoint: string, minor = mountId) =>
  new MountEntry({
    mountId,
    parentId,
    major: 0,
    minor,
    root: "/",
    mountPoint,
    mountOptions: "rw",
    propagation: [],
    fstype: "tmpfs",
    source: "t",
    superOptions: "rw",
  })

describe("decodeRecords", () => {
  const record = (kind: number, id: bigint, point?: string) => {
    const bytes = point === undefined ? Buffer.alloc(0) : Buffer.from(point)
    const head = Buffer.alloc(16)
    head[0] = kind
    head.writeUInt32LE(point === undefined ? 0xffffffff : bytes.length, 4)
    head.writeBigUInt64LE(id, 8)
    return Buffer.concat([head, bytes])
  }

  it("reads kinds, ids past 2^53 and mount points, and stops at an overflow", () => {
    const records = Buffer.concat([
      record(1, 2n ** 63n + 5n, "/mnt/é"),
      record(9, 1n),
      record(2, 7n),
      record(3, 8n, ""),
      record(4, 0n),
      record(1, 9n, "/after/the/loss"),
    ])
    expect(decodeRecords(records)).toEqual({
      events: [
        { kind: "attach", uniqueId: 2n ** 63n + 5n, mountPoint: "/mnt/é" },
        { kind: "detach", uniqueId: 7n },
        { kind: "move", uniqueId: 8n, mountPoint: "" },
      ],
      overflow: true,
    })
  })
  it("keeps a mount point's bytes only when UTF-8 cannot carry them", () => {
    const raw = Buffer.from([0x2f, 0x62, 0xff])
    const head = Buffer.alloc(16)
    head[0] = 1
    head.writeUInt32LE(raw.length, 4)
    head.writeBigUInt64LE(3n, 8)
    const [event] = decodeRecords(Buffer.concat([head, raw])).events
    expect(event).toEqual({
      kind: "attach",
      uniqueId: 3n,
      mountPoint: "/b\uFFFD",
      mountPointBytes: raw,
    })
    expect(decodeRecords(record(1, 3n, "/b")).events[0]).not.toHaveProperty("mountPointBytes")
  })
})

describe("diffTables (the fallback's comparison)", () => {
  const root = entry(1, 0, "/")
  it("a new id is an attach, one gone a detach, with their mount points", () => {
    expect(diffTables([root, entry(2, 1, "/a")], [root, entry(3, 1, "/b")])).toEqual([
      { kind: "detach", uniqueId: 2n, mountPoint: "/a" },
      { kind: "attach", uniqueId: 3n, mountPoint: "/b" },
    ])
  })
  it("a mount moved is one move; its submounts, moved with it, make none", () => {
    const before = [root, entry(2, 1, "/a"), entry(3, 2, "/a/sub")]
    const after = [root, entry(2, 1, "/c"), entry(3, 2, "/c/sub")]
    expect(diffTables(before, after)).toEqual([{ kind: "move", uniqueId: 2n, mountPoint: "/c" }])
  })
  it("an id the kernel reused for another filesystem is a detach then an attach", () => {
    expect(diffTables([root, entry(2, 1, "/a", 40)], [root, entry(2, 1, "/a", 41)])).toEqual([
      { kind: "detach", uniqueId: 2n, mountPoint: "/a" },
      { kind: "attach", uniqueId: 2n, mountPoint: "/a" },
    ])
  })
  it("an unchanged table makes no event", () => {
    expect(diffTables([root, entry(2, 1, "/a")], [root, entry(2, 1, "/a")])).toEqual([])
  })
})

/** A watch's events as they arrive, with their arrival times (performance.now()). */
class Recorder {
  readonly events: Array<{ readonly event: MountEvent; readonly at: number }> = []
  error: unknown
  constructor(private readonly stop: () => Promise<void>) {}
  push(event: MountEvent): void {
    this.events.push({ event, at: performance.now() })
  }
  /** Waits until `count` events arrived (or fails after `ms`), and returns them all. */
  async waitFor(count: number, ms = 3000): Promise<Array<MountEvent>> {
    const deadline = performance.now() + ms
    while (this.events.length < count && this.error === undefined) {
      if (performance.now() > deadline) {
        throw new Error(
          `expected ${count} events, got ${JSON.stringify(this.kinds(), (_, v) => (typeof v === "bigint" ? `${v}` : v))}`,
        )
      }
      await sleep(2)
    }
    if (this.error !== undefined) throw this.error
    return this.events.map((e) => e.event)
  }
  kinds() {
    return this.events.map(({ event }) => [event.kind, event.mountPoint])
  }
  close(): Promise<void> {
    return this.stop()
  }
}

describe.skipIf(!privileged)("Mount.watch (real kernel)", () => {
  let base: string
  let target: Target
  let other: Target
  let runtime: ManagedRuntime.ManagedRuntime<Mounter, InvalidArgument>
  const run = <A, E>(effect: Effect.Effect<A, E, Mounter>) => runtime.runPromise(effect)
  const watch_ = native() as unknown as {
    readonly watch: { readonly uniqueMountId: (path: string) => bigint | { errno: number } }
  }

  /** Runs util-linux in `pid`'s mount namespace, without blocking the event loop. */
  const nsenter = (pid: number, ...args: Array<string>) =>
    new Promise<void>((resolve, reject) =>
      execFile("nsenter", ["-t", String(pid), "-m", ...args], (error) =>
        error ? reject(error) : resolve(),
      ),
    )
  const here = (...args: Array<string>) =>
    new Promise<void>((resolve, reject) =>
      execFile(args[0]!, args.slice(1), (error) => (error ? reject(error) : resolve())),
    )
  const dir = (...parts: Array<string>) => {
    const path = [base, ...parts].join("/")
    mkdirSync(path, { recursive: true })
    return path
  }
  /** A watch through the Promise facade (`linx-mount/promises`), in place once this resolves. */
  const start = async (options: Mount.WatchOptions) => {
    const iterator = Promises.watch(options)
    await iterator.ready
    let loop: Promise<void> = Promise.resolve()
    const recorder = new Recorder(async () => {
      await iterator.return()
      await loop
    })
    loop = (async () => {
      try {
        for await (const event of iterator) recorder.push(event)
      } catch (error) {
        recorder.error = error
      }
    })()
    return Object.assign(recorder, { iterator })
  }
  /** A watch through the Effect API: `Mount.subscribe` in a scope of its own, on `runtime`. */
  const startEffect = async (options: Mount.WatchOptions) => {
    const stopped = new AbortController()
    let ready: () => void = () => undefined
    const inPlace = new Promise<void>((resolve) => {
      ready = resolve
    })
    let ended: Promise<void> = Promise.resolve()
    const recorder = new Recorder(async () => {
      stopped.abort()
      await ended
    })
    ended = runtime
      .runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const stream = yield* Mount.subscribe(options)
            ready()
            yield* Stream.runForEach(stream, (event) => Effect.sync(() => recorder.push(event)))
          }),
        ),
        { signal: stopped.signal },
      )
      .catch((error: unknown) => {
        if (!stopped.signal.aborted) recorder.error = error
      })
    await Promise.race([inPlace, ended])
    if (recorder.error !== undefined) throw recorder.error
    return recorder
  }
  /** The unique id of the mount at `mountPoint` in `pid`'s namespace: the oracle. */
  const uniqueIdAt = (pid: number, mountPoint: string): bigint => {
    const id = watch_.watch.uniqueMountId(`/proc/${pid}/root${mountPoint}`)
    if (typeof id !== "bigint") throw new Error(`statx ${mountPoint}: errno ${id.errno}`)
    return id
  }
  /** The mountinfo id of the mount at `mountPoint` in `pid`'s table (the fallback's oracle). */
  const mountIdAt = (pid: number, mountPoint: string): bigint => {
    const found = parseMountInfo(readFileSync(`/proc/${pid}/mountinfo`)).filter(
      (e) => e.mountPoint === mountPoint,
    )
    const last = found[found.length - 1]
    if (last === undefined) throw new Error(`nothing mounted at ${mountPoint}`)
    return BigInt(last.mountId)
  }
  const link = (fd: string | number): string | undefined => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      return undefined // the directory's own descriptor, closed by now
    }
  }
  /**
   * The descriptors of this process a watch may hold: fanotify groups, mountinfo files, and
   * nsfs files of other mount namespaces than ours. (The Mounter's workers open their home
   * descriptors — our own namespaces, "/", the cwd — on their first batch: counting every
   * descriptor would count those too.)
   */
  const watchFds = (): Array<string> => {
    const ours = readlinkSync("/proc/self/ns/mnt")
    return readdirSync("/proc/self/fd").flatMap((fd) => {
      const to = link(fd)
      return to === "anon_inode:[fanotify]" ||
        to?.endsWith("/mountinfo") === true ||
        (to?.startsWith("mnt:[") === true && to !== ours)
        ? [`${fd} -> ${to}`]
        : []
    })
  }
  /** The inode number of `pid`'s mount namespace, as fanotify's fdinfo shows its marks. */
  const nsInode = (pid: number): string => readlinkSync(`/proc/${pid}/ns/mnt`).replace(/\D/g, "")

  beforeAll(async () => {
    base = scratchTmpfs("linx-watch-")
    runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
    // Built now: the test of the setup's thread names another worker module while its own
    // Mounter is built, and this one must not be built then.
    await runtime.runPromise(Effect.void)
    // Both copy this namespace, the scratch tmpfs included (the same superblock: a
    // directory made here is there too).
    target = await mountNamespaceTarget()
    other = await mountNamespaceTarget()
  })
  afterAll(async () => {
    target?.kill()
    other?.kill()
    await runtime?.dispose()
    await Promises.close()
    removeScratch(base)
  })

  it("refuses a file that is not a mount namespace: open_ns, EINVAL", async () => {
    for (const path of ["/etc/hostname", "/proc/self/ns/pid", dir("plain")]) {
      const error = await run(Effect.flip(Stream.runDrain(Mount.watch({ in: { path } }))))
      expect(error).toBeInstanceOf(MountError)
      expect(error).toMatchObject({ operation: "open_ns", code: "EINVAL", path })
    }
  })

  it("has no fallback for a bare namespace file: open_ns, ENOTSUP", async () => {
    const path = `/proc/${target.pid}/ns/mnt`
    const error = await run(
      Effect.flip(Stream.runDrain(Mount.watch({ in: { path }, mechanism: "mountinfo" }))),
    )
    expect(error).toBeInstanceOf(MountError)
    expect(error).toMatchObject({ operation: "open_ns", code: "ENOTSUP", path })
    expect(error.message).toContain("needs { pid }")
  })

  it("refuses invalid options with InvalidArgument, from both APIs, before any setup", async () => {
    const before = watchFds()
    for (const [options, argument] of [
      [{ bufferSize: 0 }, "bufferSize"],
      [{ bufferSize: 1.5 }, "bufferSize"],
      [{ bufferSize: 2 ** 20 + 1 }, "bufferSize"],
      [{ mechanism: "inotify" }, "mechanism"],
      [{ in: { pid: 0 } }, "in"],
      [{ in: { path: "" } }, "in"],
      [{ since: "now" }, "since"],
    ] as const) {
      const given = options as unknown as Mount.WatchOptions
      const error = await run(Effect.flip(Stream.runDrain(Mount.watch(given))))
      expect(error).toBeInstanceOf(InvalidArgument)
      expect(error).toMatchObject({ _tag: "InvalidArgument", argument })
      const iterator = Promises.watch(given)
      await expect(iterator.ready).rejects.toBeInstanceOf(Promises.InvalidArgument)
      await expect(iterator.next()).rejects.toMatchObject({ argument })
    }
    expect(watchFds()).toEqual(before)
  })

  it("a failed setup rejects the iterator's ready and its first next(), typed", async () => {
    const iterator = Promises.watch({ in: { path: "/etc/hostname" } })
    await expect(iterator.ready).rejects.toMatchObject({ operation: "open_ns", code: "EINVAL" })
    await expect(iterator.next()).rejects.toBeInstanceOf(Promises.MountError)
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
  })

  it("falls back to mountinfo when the kernel refuses the fanotify mark (no CAP_SYS_ADMIN)", async () => {
    const fixture = new URL("./fixtures/watch/refused.mjs", import.meta.url).pathname
    const point = dir("refused")
    const spawnRefused = (mechanism: Mechanism) => {
      const child = spawn(
        "setpriv",
        [
          "--inh-caps=-all",
          "--bounding-set=-sys_admin",
          "--",
          process.execPath,
          fixture,
          mechanism,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      )
      const lines: Array<string> = []
      child.stdout.on("data", (data: Buffer) =>
        lines.push(...data.toString().split("\n").filter(Boolean)),
      )
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
      return { child, lines, exited }
    }
    // The mark is refused on the Mounter's worker thread, and the refusal comes back typed.
    const forced = spawnRefused("fanotify")
    expect(await forced.exited).toBe(0)
    expect(JSON.parse(forced.lines[0]!)).toEqual({
      error: { typed: true, operation: "fanotify_mark", code: "EPERM" },
    })

    const auto = spawnRefused("auto")
    const deadline = performance.now() + 5000
    while (auto.lines[0] !== "ready" && performance.now() < deadline) await sleep(5)
    expect(auto.lines[0]).toBe("ready")
    await here("mount", "-t", "tmpfs", "refused", point)
    expect(await auto.exited).toBe(0)
    const event = JSON.parse(auto.lines[1]!)
    // mountinfo's id (below 2^31), not fanotify's unique one
    expect(event).toEqual({
      kind: "attach",
      uniqueId: `${mountIdAt(process.pid, point)}`,
      mountPoint: point,
    })
    await here("umount", point)
  })

  it("fails for a process that has exited: open_ns (fanotify) or read (fallback), ENOENT", async () => {
    const child = spawnSync("true")
    const pid = child.pid
    for (const [mechanism, operation, path] of [
      ["fanotify", "open_ns", `/proc/${pid}/ns/mnt`],
      ["auto", "open_ns", `/proc/${pid}/ns/mnt`],
      ["mountinfo", "read", `/proc/${pid}/mountinfo`],
    ] as const) {
      const error = await run(Effect.flip(Stream.runDrain(Mount.watch({ in: { pid }, mechanism }))))
      expect(error).toBeInstanceOf(MountError)
      expect(error).toMatchObject({ _tag: "MountError", operation, code: "ENOENT", path })
    }
  })

  it("reports tmpfs, bind, move and umount in another namespace, with statx's unique ids", async () => {
    const [a, b, c] = [dir("k", "a"), dir("k", "b"), dir("k", "c")]
    const pid = target.pid
    const events = await startEffect({ in: { pid }, mechanism: "fanotify" })
    const started = performance.now()
    await nsenter(pid, "mount", "-t", "tmpfs", "k", a)
    const [attach] = await events.waitFor(1)
    expect(attach).toEqual({ kind: "attach", uniqueId: uniqueIdAt(pid, a), mountPoint: a })
    expect(events.events[0]!.at - started).toBeLessThan(100)

    await nsenter(pid, "mount", "--bind", a, b)
    const bind = (await events.waitFor(2))[1]
    expect(bind).toEqual({ kind: "attach", uniqueId: uniqueIdAt(pid, b), mountPoint: b })

    // One event with both of fanotify's bits: a move, of the same mount.
    await nsenter(pid, "mount", "--move", a, c)
    const move = (await events.waitFor(3))[2]
    expect(move).toEqual({ kind: "move", uniqueId: attach!.uniqueId, mountPoint: c })
    expect(uniqueIdAt(pid, c)).toBe(attach!.uniqueId)

    // A remount changes no place in the tree: no event; the detach that follows is next.
    await nsenter(pid, "mount", "-o", "remount,ro", c)
    await nsenter(pid, "umount", b)
    await nsenter(pid, "umount", c)
    const all = await events.waitFor(5)
    expect(all.slice(3)).toEqual([
      { kind: "detach", uniqueId: bind!.uniqueId },
      { kind: "detach", uniqueId: attach!.uniqueId },
    ])
    await sleep(20)
    expect(events.events).toHaveLength(5)
    await events.close()
  })

  it("reports each mount of a recursive bind and of a lazy recursive unmount", async () => {
    const [tree, copy] = [dir("r", "tree"), dir("r", "copy")]
    const pid = target.pid
    await nsenter(pid, "mount", "-t", "tmpfs", "r", tree)
    await nsenter(pid, "mkdir", `${tree}/sub`)
    await nsenter(pid, "mount", "-t", "tmpfs", "rs", `${tree}/sub`)
    const events = await start({ in: { pid } })
    await nsenter(pid, "mount", "--rbind", tree, copy)
    expect(await events.waitFor(2)).toEqual([
      { kind: "attach", uniqueId: uniqueIdAt(pid, copy), mountPoint: copy },
      { kind: "attach", uniqueId: uniqueIdAt(pid, `${copy}/sub`), mountPoint: `${copy}/sub` },
    ])
    await nsenter(pid, "umount", "--recursive", "--lazy", copy)
    await nsenter(pid, "umount", "--recursive", "--lazy", tree)
    const all = await events.waitFor(6)
    expect(all.slice(2).map((e) => e.kind)).toEqual(["detach", "detach", "detach", "detach"])
    expect(new Set(all.slice(2).map((e) => e.uniqueId)).size).toBe(4)
    await events.close()
  })

  it("sets up on a Mounter worker thread: a namespace file the main thread never opens", async () => {
    const pid = target.pid
    const point = dir("on-worker", "m")
    const spyLog = `${dir("on-worker")}/spy.log`
    writeFileSync(spyLog, "")
    // A symbolic link to a plain empty file, which names the target's namespace only while
    // the spying worker (fixtures/watch/spy-worker.mjs) runs the watch's batch.
    const plain = `${dir("on-worker")}/plain`
    const nsFile = `${dir("on-worker")}/mnt`
    writeFileSync(plain, "")
    symlinkSync(plain, nsFile)
    // As the main thread sees it, before and after that batch, it is no namespace.
    const notNs = await run(Effect.flip(Stream.runDrain(Mount.watch({ in: { path: nsFile } }))))
    expect(notNs).toMatchObject({ operation: "open_ns", code: "EINVAL", path: nsFile })

    // The seam the fault tests use: LINX_MOUNT_WORKER names the Mounter's worker module. Its
    // workers copy the environment when they start, with the Mounter.
    const seam = {
      LINX_MOUNT_WORKER: new URL("./fixtures/watch/spy-worker.mjs", import.meta.url).href,
      LINX_WATCH_SPY_LOG: spyLog,
      LINX_WATCH_SPY_LINK: `/proc/${pid}/ns/mnt\n${nsFile}`,
    }
    const saved = Object.keys(seam).map((name) => [name, process.env[name]] as const)
    Object.assign(process.env, seam)
    const spied = ManagedRuntime.make(Mounter.layer({ maxThreads: 1 }))
    const before = watchFds()
    try {
      let held: Array<string> = []
      let fdinfo = ""
      const taken = await spied.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const stream = yield* Mount.subscribe({ in: { path: nsFile }, mechanism: "fanotify" })
            held = watchFds().filter((fd) => !before.includes(fd))
            fdinfo = readFileSync(`/proc/self/fdinfo/${held[0]?.split(" ")[0]}`, "utf8")
            yield* Effect.promise(() => nsenter(pid, "mount", "-t", "tmpfs", "spied", point))
            return yield* stream.pipe(Stream.take(1), Stream.runCollect)
          }),
        ),
      )
      expect(taken).toEqual([
        { kind: "attach", uniqueId: uniqueIdAt(pid, point), mountPoint: point },
      ])
      // One batch, run on a worker thread, while the link named the target's namespace.
      const batches = readFileSync(spyLog, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { readonly outcomes: Array<{ handle: number }> })
      expect(batches).toEqual([
        {
          isMainThread: false,
          threadId: expect.any(Number),
          ns: "Path",
          nsPath: nsFile,
          swapped: true,
          ops: ["Watch"],
          outcomes: [{ _tag: "Done", handle: expect.any(Number) }],
        },
      ])
      expect(readlinkSync(nsFile)).toBe(plain)
      // The main thread held the group that batch made, marked for the target's namespace,
      // and nothing else: no namespace file.
      const handle = batches[0]!.outcomes[0]!.handle
      expect(held).toEqual([`${handle} -> anon_inode:[fanotify]`])
      expect(fdinfo).toContain(`fanotify mnt_ns:${nsInode(pid)} `)
      // Closed with the scope.
      expect(watchFds()).toEqual(before)
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      await spied.dispose()
      await nsenter(pid, "umount", point).catch(() => undefined)
    }
  })

  it("watches this process's own namespace ('self')", async () => {
    const point = dir("self", "m")
    const events = await start({ in: "self" })
    await here("mount", "-t", "tmpfs", "self", point)
    const [attach] = await events.waitFor(1)
    expect(attach).toEqual({
      kind: "attach",
      uniqueId: uniqueIdAt(process.pid, point),
      mountPoint: point,
    })
    await here("umount", point)
    expect((await events.waitFor(2))[1]).toEqual({ kind: "detach", uniqueId: attach!.uniqueId })
    await events.close()
  })

  for (const mechanism of ["fanotify", "mountinfo"] as const satisfies ReadonlyArray<Mechanism>) {
    it(`keeps a mount point's bytes when they are not UTF-8 (${mechanism})`, async () => {
      const parent = dir("raw", mechanism)
      const name = Buffer.concat([Buffer.from(`${parent}/bad`), Buffer.from([0xff])])
      mkdirSync(name)
      // A shell spells the byte; an argument from Node would be a UTF-8 string.
      const sh = (command: string) => here("sh", "-c", command, "sh", `${parent}/bad`)
      const events = await start({ in: "self", mechanism })
      await sh(`mount -t tmpfs raw "$1$(printf '\\377')"`)
      const [attach] = await events.waitFor(1)
      expect(attach?.mountPointBytes).toEqual(name)
      expect(attach?.mountPoint).toBe(name.toString("utf8"))
      await sh(`umount "$1$(printf '\\377')"`)
      const [, detach] = await events.waitFor(2)
      expect(detach?.kind).toBe("detach")
      if (mechanism === "mountinfo") expect(detach?.mountPointBytes).toEqual(name)
      await events.close()
    })
  }

  it("two watches set up in the same tick get a group each, and every event", async () => {
    const pid = target.pid
    const point = dir("twice", "m")
    const before = watchFds()
    const [first, second] = await Promise.all([
      startEffect({ in: { pid }, mechanism: "fanotify" }),
      startEffect({ in: { pid }, mechanism: "fanotify" }),
    ])
    const groups = watchFds().filter((fd) => !before.includes(fd))
    expect(groups).toHaveLength(2)
    for (const fd of groups) expect(fd).toMatch(/ -> anon_inode:\[fanotify\]$/)
    await nsenter(pid, "mount", "-t", "tmpfs", "twice", point)
    const attach = { kind: "attach", uniqueId: uniqueIdAt(pid, point), mountPoint: point }
    expect(await first!.waitFor(1)).toEqual([attach])
    expect(await second!.waitFor(1)).toEqual([attach])
    await first!.close()
    await nsenter(pid, "umount", point)
    expect((await second!.waitFor(2))[1]).toEqual({ kind: "detach", uniqueId: attach.uniqueId })
    expect(first!.events).toHaveLength(1)
    await second!.close()
    expect(watchFds()).toEqual(before)
  })

  for (const mechanism of ["fanotify", "mountinfo"] as const satisfies ReadonlyArray<Mechanism>) {
    it(`lets nothing in from other namespaces (${mechanism})`, async () => {
      const [mine, theirs, ours] = [
        dir("leak", mechanism, "t"),
        dir("leak", mechanism, "o"),
        dir("leak", mechanism, "s"),
      ]
      const events = await start({ in: { pid: target.pid }, mechanism })
      await nsenter(other.pid, "mount", "-t", "tmpfs", "other", theirs)
      await here("mount", "-t", "tmpfs", "ours", ours)
      await here("umount", ours)
      await nsenter(other.pid, "umount", theirs)
      // The sentinel, in the namespace watched: the first event must be it.
      await nsenter(target.pid, "mount", "-t", "tmpfs", "sentinel", mine)
      const [first] = await events.waitFor(1)
      expect(first).toMatchObject({ kind: "attach", mountPoint: mine })
      await nsenter(target.pid, "umount", mine)
      await events.waitFor(2)
      await sleep(20)
      expect(events.kinds()).toEqual([
        ["attach", mine],
        ["detach", mechanism === "fanotify" ? undefined : mine],
      ])
      await events.close()
    })
  }

  it("the fallback gives the same kinds, with mountinfo's ids and the last mount point on detach", async () => {
    const [a, b, c] = [dir("f", "a"), dir("f", "b"), dir("f", "c")]
    const pid = target.pid
    const events = await startEffect({ in: { pid }, mechanism: "mountinfo" })
    const started = performance.now()
    await nsenter(pid, "mount", "-t", "tmpfs", "f", a)
    const [attach] = await events.waitFor(1)
    expect(attach).toEqual({ kind: "attach", uniqueId: mountIdAt(pid, a), mountPoint: a })
    expect(events.events[0]!.at - started).toBeLessThan(100)
    await nsenter(pid, "mount", "--bind", a, b)
    const bind = (await events.waitFor(2))[1]
    expect(bind).toEqual({ kind: "attach", uniqueId: mountIdAt(pid, b), mountPoint: b })
    await nsenter(pid, "mount", "--move", a, c)
    expect((await events.waitFor(3))[2]).toEqual({
      kind: "move",
      uniqueId: attach!.uniqueId,
      mountPoint: c,
    })
    await nsenter(pid, "mount", "-o", "remount,ro", c)
    await nsenter(pid, "umount", b)
    await nsenter(pid, "umount", c)
    const all = await events.waitFor(5)
    expect(all.slice(3)).toEqual([
      { kind: "detach", uniqueId: bind!.uniqueId, mountPoint: b },
      { kind: "detach", uniqueId: attach!.uniqueId, mountPoint: c },
    ])
    await sleep(20)
    expect(events.events).toHaveLength(5)
    await events.close()
  })

  for (const mechanism of ["fanotify", "mountinfo"] as const satisfies ReadonlyArray<Mechanism>) {
    it(`closing stops the events and frees the descriptors (${mechanism})`, async () => {
      const point = dir("close", mechanism)
      const held =
        mechanism === "fanotify" ? "anon_inode:[fanotify]" : `/proc/${target.pid}/mountinfo`
      const before = watchFds()
      const events = await start({ in: { pid: target.pid }, mechanism })
      expect(watchFds().filter((fd) => !before.includes(fd))).toEqual([
        expect.stringMatching(` -> ${held.replace(/[[\]]/g, "\\$&")}$`),
      ])
      await events.close()
      expect(watchFds()).toEqual(before)
      await nsenter(target.pid, "mount", "-t", "tmpfs", "closed", point)
      await sleep(30)
      expect(events.events).toHaveLength(0)
      expect(await events.iterator.next()).toEqual({ done: true, value: undefined })
      await nsenter(target.pid, "umount", point)

      // Ending the stream by taking what it needs closes it too.
      const taken = run(
        Mount.watch({ in: { pid: target.pid }, mechanism }).pipe(Stream.take(1), Stream.runCollect),
      )
      // The stream sets itself up when it starts; give it time (the fallback reads the table).
      await sleep(200)
      await nsenter(target.pid, "mount", "-t", "tmpfs", "taken", point)
      expect(await taken).toEqual([expect.objectContaining({ kind: "attach", mountPoint: point })])
      expect(watchFds()).toEqual(before)
      await nsenter(target.pid, "umount", point)
    })
  }

  it("an iterator returned before or while its setup runs leaves no descriptor behind", async () => {
    const before = watchFds()
    // At once (the request withdrawn before it reaches a worker), or a little later (the
    // setup under way on a worker, or done): each way, nothing may stay open.
    const delays = [undefined, 0, 1, 2, 3, 5, 8, 13]
    const settled = await Promise.all(
      delays.map(async (delay, i) => {
        const iterator: WatchIterator = Promises.watch({
          in: { pid: target.pid },
          mechanism: i % 2 ? "mountinfo" : "fanotify",
        })
        // Returned early, `ready` resolves all the same: nothing is left to wait for.
        const ready = iterator.ready.then(
          () => "resolved",
          (error: unknown) => `rejected: ${String(error)}`,
        )
        if (delay !== undefined) await sleep(delay)
        expect(await iterator.return()).toEqual({ done: true, value: undefined })
        expect(await iterator.next()).toEqual({ done: true, value: undefined })
        return ready
      }),
    )
    expect(settled).toEqual(delays.map(() => "resolved"))
    expect(watchFds()).toEqual(before)
  })

  it("delivers within 100 ms of the change (measured)", async () => {
    const pid = target.pid
    const point = dir("latency")
    const rounds = 10
    const events = await start({ in: { pid } })
    // The target prints the wall-clock time right before and right after each mount(8).
    const stamps: Array<number> = []
    await new Promise<void>((resolve, reject) => {
      const child = spawn("nsenter", [
        "-t",
        String(pid),
        "-m",
        "sh",
        "-c",
        `for i in $(seq ${rounds}); do date +%s%N; mount -t tmpfs l ${point}; date +%s%N; umount ${point}; sleep 0.02; done`,
      ])
      child.stdout.on("data", (data: Buffer) => {
        for (const line of data.toString().split("\n")) {
          if (line) stamps.push(Number(BigInt(line) / 1000n) / 1000)
        }
      })
      child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))))
    })
    await events.waitFor(2 * rounds)
    const attaches = events.events.filter(({ event }) => event.kind === "attach")
    const arrival = (i: number) => performance.timeOrigin + attaches[i]!.at
    // Upper bound: since mount(8) started; lower bound: since it returned (negative when the
    // event was in before `date` ran).
    const upper = attaches.map((_, i) => arrival(i) - stamps[2 * i]!)
    const lower = attaches.map((_, i) => arrival(i) - stamps[2 * i + 1]!)
    const fixed = (values: Array<number>) => values.map((v) => v.toFixed(1)).join(" ")
    console.info(
      `watch latency, ms since mount(8) started: ${fixed(upper)}; since it returned: ${fixed(lower)}`,
    )
    expect(attaches).toHaveLength(rounds)
    expect(Math.max(...upper)).toBeLessThan(100)
    await events.close()
  })

  it("a slow consumer: bounded buffer, then the kernel's overflow fails the stream typed", async () => {
    // The kernel's queue of events per group (16,384 unless the sysctl says otherwise).
    const queued = Number(readFileSync("/proc/sys/fs/fanotify/max_queued_events", "utf8"))
    // A target of its own: its mounts go with it.
    const flooded = await mountNamespaceTarget()
    const pid = flooded.pid
    const tree = dir("overflow", "tree")
    const copies = dir("overflow", "copies")
    // 1 + 127 mounts, bound recursively often enough to make more attach events than the
    // kernel queues, while nobody reads the stream.
    const binds = Math.ceil((queued + 256) / 128)
    const script = [
      `mount -t tmpfs o ${tree}`,
      `for i in $(seq 127); do mkdir ${tree}/$i; mount -t tmpfs o ${tree}/$i; done`,
      `for i in $(seq ${binds}); do mkdir ${copies}/$i; mount --rbind ${tree} ${copies}/$i; done`,
    ].join("; ")
    const bufferSize = 16
    let delivered = 0
    try {
      const error = await run(
        Effect.scoped(
          Effect.gen(function* () {
            const stream = yield* Mount.subscribe({
              in: { pid },
              mechanism: "fanotify",
              bufferSize,
            })
            yield* Effect.promise(() => nsenter(pid, "sh", "-c", script))
            return yield* stream.pipe(
              Stream.runForEach(() => Effect.sync(() => delivered++)),
              Effect.flip,
            )
          }),
        ),
      )
      expect(error).toBeInstanceOf(MountError)
      expect(error).toMatchObject({ operation: "watch_overflow", code: "ENOBUFS" })
      expect(error.message).toContain("list the mounts again")
      // What the kernel had queued came first (and what the stream had taken before it
      // filled: its buffer, and one read past it); what the kernel dropped never came.
      console.info(
        `overflow: ${delivered} events delivered of ${binds * 128}, kernel queue ${queued}`,
      )
      expect(delivered).toBeGreaterThanOrEqual(queued)
      expect(delivered).toBeLessThanOrEqual(queued + bufferSize + 1)
    } finally {
      flooded.kill()
    }
  }, 60_000)

  for (const mechanism of ["fanotify", "mountinfo"]) {
    it(`an open watch keeps the process alive, a closed one does not (${mechanism})`, async () => {
      const fixture = new URL("./fixtures/watch/alive.mjs", import.meta.url).pathname
      const spawnAlive = (mode: string) => {
        const child = spawn(process.execPath, [fixture, mode, mechanism], {
          stdio: ["ignore", "pipe", "inherit"],
        })
        const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
        const ready = new Promise<string>((resolve) =>
          child.stdout.once("data", (data: Buffer) => resolve(data.toString())),
        )
        return { child, exited, ready }
      }
      const open = spawnAlive("open")
      expect(await open.ready).toBe("ready\n")
      const stillRunning = await Promise.race([
        open.exited.then(() => false),
        sleep(300).then(() => true),
      ])
      open.child.kill("SIGKILL")
      await open.exited
      expect(stillRunning).toBe(true)

      const closed = spawnAlive("close")
      const code = await Promise.race([closed.exited, sleep(5000).then(() => "timeout")])
      if (code === "timeout") closed.child.kill("SIGKILL")
      expect(code).toBe(0)
      expect(await closed.ready).toBe("ready\n")
    })

    it(`a worker thread ended with a watch open exits cleanly (${mechanism})`, async () => {
      const fixture = new URL("./fixtures/watch/worker.mjs", import.meta.url).pathname
      const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [fixture, mechanism], {
          stdio: ["ignore", "pipe", "pipe"],
        })
        let out = ""
        child.stdout.on("data", (d: Buffer) => {
          out += d
        })
        child.stderr.on("data", (d: Buffer) => {
          out += d
        })
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
        child.once("exit", (code) => {
          clearTimeout(timer)
          resolve({ code, out })
        })
      })
      expect(result).toEqual({ code: 0, out: "terminated\n" })
    })
  }
})
