/**
 * The mutating verbs against the real kernel, following the seed's walk-through: each
 * example is a test, checked with what the kernel shows (/proc/…/mountinfo, file access),
 * not with what the code believes. Runs inside the private mount namespace of test/run.mjs.
 */

import { execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Tracer from "effect/Tracer"
import { Mount, type MountEntry, Mounter } from "linx-mount"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { mountNamespaceTarget, pidNamespaceTarget, type Target } from "./support/targets.js"

describe.skipIf(!privileged)("Mount verbs (real kernel)", () => {
  let runtime: ManagedRuntime.ManagedRuntime<Mounter, unknown>
  let base: string
  const targets: Array<Target> = []

  const run = <A, E>(effect: Effect.Effect<A, E, Mounter>) => runtime.runPromise(effect)
  const failure = <A, E>(effect: Effect.Effect<A, E, Mounter>) =>
    runtime.runPromise(Effect.flip(effect))
  const table = (pid?: number): Promise<ReadonlyArray<MountEntry>> =>
    run(pid === undefined ? Mount.list() : Mount.list({ pid }))
  const at = async (mountPoint: string, pid?: number) =>
    (await table(pid)).filter((entry) => entry.mountPoint === mountPoint)
  const dir = (...parts: Array<string>) => {
    const path = [base, ...parts].join("/")
    mkdirSync(path, { recursive: true })
    return path
  }
  const target = async (make: () => Promise<Target>) => {
    const t = await make()
    targets.push(t)
    return t
  }

  beforeAll(() => {
    runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
    base = scratchTmpfs("linx-verbs-")
  })
  afterAll(async () => {
    for (const t of targets) t.kill()
    await runtime.dispose()
    removeScratch(base)
  })

  it("each verb runs in a span named after it, also when it fails", async () => {
    const names: Array<string> = []
    const recording = Tracer.make({
      span: (options) => {
        names.push(options.name)
        return Tracer.nativeTracer.span(options)
      },
    })
    const src = dir("spans", "src")
    const dst = dir("spans", "dst")
    await run(
      Effect.withTracer(
        Effect.gen(function* () {
          yield* Mount.bind(src, dst)
          yield* Mount.makePrivate(dst)
          yield* Mount.umount(dst)
          yield* Effect.flip(Mount.umount(dst))
          yield* Effect.flip(Mount.mount("t", "", "tmpfs"))
        }),
        recording,
      ),
    )
    expect(names).toEqual([
      "Mount.bind",
      "Mount.makePrivate",
      "Mount.umount",
      "Mount.umount",
      "Mount.mount",
    ])
  })

  it("bind makes the source visible at the target, umount takes it away", async () => {
    const src = dir("bind", "src")
    const dst = dir("bind", "dst")
    writeFileSync(`${src}/hello`, "")
    await run(Mount.bind(src, dst))
    expect(existsSync(`${dst}/hello`)).toBe(true)
    const [entry] = await at(dst)
    expect(entry?.fstype).toBe("tmpfs")
    expect(entry?.root).toBe("/bind/src")
    await run(Mount.umount(dst))
    expect(existsSync(`${dst}/hello`)).toBe(false)
    expect(await at(dst)).toHaveLength(0)
  })

  it("a recursive bind brings the submounts along, a plain one does not", async () => {
    const src = dir("rec", "src")
    const sub = dir("rec", "src", "sub")
    execFileSync("mount", ["-t", "tmpfs", "inner", sub])
    writeFileSync(`${sub}/inside`, "")
    const plain = dir("rec", "plain")
    const recursive = dir("rec", "recursive")
    await run(Mount.bind(src, plain))
    await run(Mount.bind(src, recursive, { flags: ["rec"] }))
    expect(existsSync(`${plain}/sub/inside`)).toBe(false)
    expect(existsSync(`${recursive}/sub/inside`)).toBe(true)
    await run(Mount.umount(recursive, { flags: ["detach"] }))
    await run(Mount.umount(plain))
    execFileSync("umount", [sub])
  })

  it("remount ro of a bind gives EROFS at the target while the source stays writable", async () => {
    const src = dir("ro", "src")
    const dst = dir("ro", "dst")
    await run(Mount.bind(src, dst))
    await run(Mount.remount(dst, { flags: ["bind", "ro"] }))
    expect(() => writeFileSync(`${dst}/foo`, "")).toThrow(
      expect.objectContaining({ code: "EROFS" }),
    )
    writeFileSync(`${src}/foo`, "")
    expect((await at(dst))[0]?.mountOptions.split(",")).toContain("ro")
    await run(Mount.umount(dst))
  })

  it('bind with flags ["ro"] is really read-only, in one call', async () => {
    const src = dir("bindro", "src")
    const dst = dir("bindro", "dst")
    await run(Mount.bind(src, dst, { flags: ["ro", "nosuid"] }))
    const [entry] = await at(dst)
    expect(entry?.mountOptions.split(",")).toEqual(expect.arrayContaining(["ro", "nosuid"]))
    expect(() => writeFileSync(`${dst}/foo`, "")).toThrow(
      expect.objectContaining({ code: "EROFS" }),
    )
    writeFileSync(`${src}/foo`, "")
    await run(Mount.umount(dst))
  })

  it("a bind keeps the attributes that make its source safer, and adds the ones asked for", async () => {
    // One tmpfs of the test's own under everything, so one recursive unmount cleans up.
    execFileSync("mount", ["-t", "tmpfs", "keep", dir("keep")])
    const strict = dir("keep", "strict")
    execFileSync("mount", ["-t", "tmpfs", "-o", "nosuid,nodev,noexec", "strict", strict])
    const readOnly = dir("keep", "readonly")
    execFileSync("mount", ["-t", "tmpfs", "-o", "ro", "readonly", readOnly])
    const a = dir("keep", "a")
    const b = dir("keep", "b")
    const c = dir("keep", "c")
    try {
      // Asked for ro: the source's nosuid, nodev, noexec stay.
      await run(Mount.bind(strict, a, { flags: ["ro"] }))
      expect((await at(a))[0]?.mountOptions.split(",")).toEqual(
        expect.arrayContaining(["ro", "nosuid", "nodev", "noexec"]),
      )
      // Asked for nothing: a read-only source stays read-only.
      await run(Mount.bind(readOnly, b))
      expect((await at(b))[0]?.mountOptions.split(",")).toContain("ro")
      expect(() => writeFileSync(`${b}/x`, "")).toThrow(expect.objectContaining({ code: "EROFS" }))
      // mount(…, { flags: ["bind", …] }) is the same bind.
      await run(Mount.mount(strict, c, "", { flags: ["bind", "nosymfollow"] }))
      expect((await at(c))[0]?.mountOptions.split(",")).toEqual(
        expect.arrayContaining(["rw", "nosuid", "nodev", "noexec", "nosymfollow"]),
      )
    } finally {
      execFileSync("umount", ["--recursive", "--lazy", `${base}/keep`])
    }
  })

  it('a recursive bind with ["ro"] makes every submount read-only too, the sources stay writable', async () => {
    execFileSync("mount", ["-t", "tmpfs", "recro", dir("recro")])
    const src = dir("recro", "src")
    const sub = dir("recro", "src", "sub")
    execFileSync("mount", ["-t", "tmpfs", "recro-inner", sub])
    const dst = dir("recro", "dst")
    try {
      await run(Mount.bind(src, dst, { flags: ["rec", "ro"] }))
      for (const point of [dst, `${dst}/sub`]) {
        expect((await at(point))[0]?.mountOptions.split(",")).toContain("ro")
        expect(() => writeFileSync(`${point}/x`, "")).toThrow(
          expect.objectContaining({ code: "EROFS" }),
        )
      }
      writeFileSync(`${sub}/x`, "")
      writeFileSync(`${src}/x`, "")
    } finally {
      execFileSync("umount", ["--recursive", "--lazy", `${base}/recro`])
    }
  })

  it('propagation changes through mount("", target, "", { flags }) and the named helpers', async () => {
    const point = dir("prop")
    execFileSync("mount", ["-t", "tmpfs", "prop", point])
    await run(Mount.mount("", point, "", { flags: ["shared"] }))
    expect((await at(point))[0]?.propagation).toEqual([expect.objectContaining({ kind: "shared" })])
    await run(Mount.mount("", point, "", { flags: ["private"] }))
    expect((await at(point))[0]?.propagation).toEqual([])
    await run(Mount.makeUnbindable(point))
    expect((await at(point))[0]?.propagation).toEqual([{ kind: "unbindable" }])
    await run(Mount.makeShared(point))
    const sharedGroup = (await at(point))[0]?.propagation[0]
    expect(sharedGroup?.kind).toBe("shared")
    const slave = dir("prop-slave")
    await run(Mount.bind(point, slave))
    await run(Mount.makeSlave(slave))
    expect((await at(slave))[0]?.propagation).toEqual([
      { kind: "master", group: (sharedGroup as { group: number }).group },
    ])
    await run(Mount.makePrivate(point, { recursive: true }))
    expect((await at(point))[0]?.propagation).toEqual([])
    await run(Mount.umount(slave))
    execFileSync("umount", [point])
  })

  it("move relocates a mount inside a private tmpfs, and is refused under a shared parent", async () => {
    const src = dir("move", "src")
    const dst = dir("move", "dst")
    const moved = dir("move", "moved")
    writeFileSync(`${src}/marker`, "")
    await run(Mount.bind(src, dst))
    await run(Mount.move(dst, moved))
    expect(await at(dst)).toHaveLength(0)
    expect((await at(moved))[0]?.root).toBe("/move/src")
    expect(existsSync(`${moved}/marker`)).toBe(true)
    await run(Mount.umount(moved))

    const shared = dir("move-shared")
    execFileSync("mount", ["-t", "tmpfs", "shared", shared])
    execFileSync("mount", ["--make-shared", shared])
    mkdirSync(`${shared}/a`)
    mkdirSync(`${shared}/b`)
    await run(Mount.bind(src, `${shared}/a`))
    const error = await failure(Mount.move(`${shared}/a`, `${shared}/b`))
    expect(error).toMatchObject({
      _tag: "MountError",
      operation: "move_mount",
      verb: "move",
      path: `${shared}/b`,
      source: `${shared}/a`,
      code: "EINVAL",
      errno: 22,
    })
    // Refused: the mount stayed where it was.
    expect(await at(`${shared}/a`)).toHaveLength(1)
    expect(await at(`${shared}/b`)).toHaveLength(0)
    execFileSync("umount", ["--recursive", shared])
  })

  it("binds into a running unshare -m process: its table shows it, ours does not", async () => {
    const t = await target(() => mountNamespaceTarget())
    const src = dir("hot", "src")
    writeFileSync(`${src}/volume-marker`, "")
    await run(Mount.bind(src, "/mnt", { in: { pid: t.pid } }))
    expect((await at("/mnt", t.pid))[0]?.root).toBe("/hot/src")
    expect(await at("/mnt")).toHaveLength(0)
    expect(
      execFileSync("nsenter", ["-t", String(t.pid), "-m", "ls", "/mnt"], { encoding: "utf8" }),
    ).toContain("volume-marker")
    await run(Mount.umount("/mnt", { in: { pid: t.pid } }))
    expect(await at("/mnt", t.pid)).toHaveLength(0)
  })

  it("in: { path } targets the namespace file the same way", async () => {
    const t = await target(() => mountNamespaceTarget())
    const ns = { path: `/proc/${t.pid}/ns/mnt` }
    await run(Mount.mount("pathns", "/mnt", "tmpfs", { data: "size=1m", in: ns }))
    const [entry] = await at("/mnt", t.pid)
    expect(entry).toMatchObject({ fstype: "tmpfs", source: "pathns" })
    expect(entry?.superOptions).toContain("size=1024k")
    expect(await at("/mnt")).toHaveLength(0)
    await run(Mount.umount("/mnt", { in: ns }))
    expect(await at("/mnt", t.pid)).toHaveLength(0)
  })

  it("proc mounted into an unshare -m -p -f process shows only its pids", async () => {
    const t = await target(() => pidNamespaceTarget())
    await run(Mount.mount("proc", "/proc", "proc", { in: { pid: t.pid } }))
    const listing = execFileSync("nsenter", ["-t", String(t.pid), "-m", "ls", "/proc"], {
      encoding: "utf8",
    })
    const pids = listing.split("\n").filter((name) => /^[0-9]+$/.test(name))
    expect(pids).toEqual(["1"])
    await run(Mount.umount("/proc", { flags: ["detach"], in: { pid: t.pid } }))
  })

  it("the pivot_root ritual leaves the rootfs as / and the old root gone", async () => {
    const t = await target(() => mountNamespaceTarget())
    const rootfs = dir("pivot", "rootfs")
    mkdirSync(`${rootfs}/old_root`)
    writeFileSync(`${rootfs}/ROOTFS-MARKER`, "")
    const inT = { in: { pid: t.pid } }
    await run(Mount.makePrivate("/", { recursive: true, ...inT }))
    await run(Mount.bind(rootfs, rootfs, inT))
    await run(Mount.pivotRoot(rootfs, `${rootfs}/old_root`, inT))
    await run(Mount.umount("/old_root", { flags: ["detach"], ...inT }))
    const mounts = await table(t.pid)
    expect(mounts.map((m) => m.mountPoint)).toEqual(["/"])
    expect(mounts[0]?.root).toBe("/pivot/rootfs")
    // The process's root moved with the pivot: /proc/<pid>/root shows the rootfs.
    expect(existsSync(`/proc/${t.pid}/root/ROOTFS-MARKER`)).toBe(true)
    // Ours did not move.
    expect(existsSync("/ROOTFS-MARKER")).toBe(false)
    expect(process.cwd()).not.toContain("rootfs")
  })

  it('sourceIn: "self" binds a directory only we can see into a namespace that cannot see it', async () => {
    const t = await target(() => mountNamespaceTarget())
    const inT = { in: { pid: t.pid } }
    // Mounted after the target's namespace was copied from ours: it has no trace of it, as a
    // container that has pivoted has none of the host's directories.
    const hostOnly = dir("host-only")
    execFileSync("mount", ["-t", "tmpfs", "hostonly", hostOnly])
    writeFileSync(`${hostOnly}/only-here`, "")
    const lsMnt = () =>
      execFileSync("nsenter", ["-t", String(t.pid), "-m", "ls", "/mnt"], { encoding: "utf8" })
    try {
      // Looked up in the target's namespace, the same path is the empty directory below.
      await run(Mount.bind(hostOnly, "/mnt", inT))
      expect(lsMnt()).not.toContain("only-here")
      await run(Mount.umount("/mnt", inT))

      await run(Mount.bind(hostOnly, "/mnt", { ...inT, sourceIn: "self", flags: ["ro"] }))
      expect(lsMnt()).toContain("only-here")
      const [entry] = await at("/mnt", t.pid)
      expect(entry).toMatchObject({ fstype: "tmpfs", source: "hostonly" })
      expect(entry?.mountOptions.split(",")).toContain("ro")
      const write = spawnSync("nsenter", ["-t", String(t.pid), "-m", "touch", "/mnt/x"], {
        encoding: "utf8",
      })
      expect(write.status).not.toBe(0)
      expect(write.stderr).toContain("Read-only file system")
      expect(await at("/mnt")).toHaveLength(0)
      await run(Mount.umount("/mnt", inT))
    } finally {
      execFileSync("umount", [hostOnly])
    }
  })

  it("create: true makes the placeholder on a fresh /dev tmpfs, then binds /dev/null onto it", async () => {
    const t = await target(() => mountNamespaceTarget())
    const inT = { in: { pid: t.pid } }
    const dev = dir("container", "dev")
    await run(Mount.mount("tmpfs", dev, "tmpfs", { flags: ["nosuid"], data: "mode=755", ...inT }))
    await run(Mount.bind("/dev/null", `${dev}/null`, { create: true, ...inT }))
    const out = execFileSync(
      "nsenter",
      [
        "-t",
        String(t.pid),
        "-m",
        "sh",
        "-c",
        `echo gone > ${dev}/null && stat -c %t:%T ${dev}/null`,
      ],
      { encoding: "utf8" },
    )
    expect(out.trim()).toBe("1:3")
    // The placeholder was made in the target's tmpfs, not in ours.
    expect(existsSync(`${dev}/null`)).toBe(false)
    await run(Mount.umount(dev, { flags: ["detach"], ...inT }))
  })

  it("create: true makes a directory for a directory source, and leaves what is there", async () => {
    const src = dir("mkdir", "src")
    writeFileSync(`${src}/inside`, "")
    const point = `${base}/mkdir/made/here`
    mkdirSync(`${base}/mkdir/made`)
    await run(Mount.bind(src, point, { create: true }))
    expect(existsSync(`${point}/inside`)).toBe(true)
    await run(Mount.umount(point))
    // The mount point stays, an empty directory.
    expect(existsSync(point)).toBe(true)
    expect(existsSync(`${point}/inside`)).toBe(false)
    // Already there: used as it is.
    await run(Mount.bind(src, point, { create: true }))
    expect(await at(point)).toHaveLength(1)
    await run(Mount.umount(point))
  })

  it("paths as bytes reach the kernel exactly: a mount point whose name is not UTF-8", async () => {
    const src = dir("bytes", "src")
    writeFileSync(`${src}/marker`, "")
    const name = Buffer.concat([Buffer.from(`${base}/bytes/`), Buffer.from([0x6e, 0xff, 0xfe])])
    mkdirSync(name)
    await run(Mount.bind(src, name))
    // mountinfo escapes only space, tab, newline and backslash: the bytes are there as given.
    const raw = readFileSync("/proc/self/mountinfo")
    expect(raw.includes(Buffer.concat([Buffer.from(" "), name, Buffer.from(" ")]))).toBe(true)
    expect(existsSync(Buffer.concat([name, Buffer.from("/marker")]))).toBe(true)
    await run(Mount.umount(new Uint8Array(name)))
    expect(readFileSync("/proc/self/mountinfo").includes(name)).toBe(false)
  })

  it("umount of a busy mount: EBUSY, then detach succeeds", async () => {
    const busy = dir("busy")
    execFileSync("mount", ["-t", "tmpfs", "busy", busy])
    const holder = spawn("sleep", ["600"], { cwd: busy, stdio: "ignore" })
    try {
      await new Promise((resolve) => setTimeout(resolve, 50))
      const error = await failure(Mount.umount(busy))
      expect(error).toMatchObject({ operation: "umount", code: "EBUSY", path: busy })
      await run(Mount.umount(busy, { flags: ["detach"] }))
      expect(await at(busy)).toHaveLength(0)
    } finally {
      holder.kill("SIGKILL")
    }
  })

  describe("errors", () => {
    it("a dead pid fails at open_ns with ENOENT and the namespace file as path", async () => {
      const error = await failure(Mount.mount("proc", "/proc", "proc", { in: { pid: 4_000_000 } }))
      expect(error).toMatchObject({
        _tag: "MountError",
        operation: "open_ns",
        path: "/proc/4000000/ns/mnt",
        code: "ENOENT",
        errno: 2,
      })
      expect(error.message).toContain("/proc/4000000/ns/mnt")
    })

    it('pivotRoot("/nope", "/nope/old") fails looking up /nope with ENOENT', async () => {
      const error = await failure(Mount.pivotRoot("/nope", "/nope/old"))
      expect(error).toMatchObject({
        operation: "resolve",
        verb: "pivotRoot",
        path: "/nope",
        subject: "target",
        code: "ENOENT",
        errno: 2,
      })
    })

    it("pivotRoot with a file as new root is ENOTDIR at the lookup, a file as put_old too", async () => {
      const file = `${dir("pivotfile")}/file`
      writeFileSync(file, "")
      expect(await failure(Mount.pivotRoot(file, `${base}/pivotfile`))).toMatchObject({
        operation: "resolve",
        path: file,
        subject: "target",
        code: "ENOTDIR",
      })
      expect(await failure(Mount.pivotRoot(`${base}/pivotfile`, file))).toMatchObject({
        operation: "resolve",
        path: file,
        subject: "source",
        code: "ENOTDIR",
      })
    })

    it("a missing bind source is the error's path (subject source), the message says so", async () => {
      const point = dir("nosource")
      const missing = `${base}/no-such-source`
      const error = await failure(Mount.bind(missing, point, { flags: ["ro"] }))
      expect(error).toMatchObject({
        _tag: "MountError",
        operation: "resolve",
        verb: "bind",
        path: missing,
        subject: "source",
        source: missing,
        flags: "MS_BIND|MS_RDONLY",
        code: "ENOENT",
      })
      expect(error.message).toContain(JSON.stringify(missing))
      expect(error.message).toContain("ENOENT")
      expect(error.message).toContain("MS_BIND|MS_RDONLY")
      // No stage name in front: the message reads as a sentence.
      expect(error.message.startsWith("resolve")).toBe(false)
      expect(await at(point)).toHaveLength(0)
    })

    it('the hint to pass sourceIn: "self" comes only where it helps: a bind into another namespace', async () => {
      const t = await target(() => mountNamespaceTarget())
      const missing = `${base}/hint-missing`
      const there = await failure(Mount.bind(missing, "/mnt", { in: { pid: t.pid } }))
      expect(there).toMatchObject({ operation: "resolve", subject: "source", code: "ENOENT" })
      expect(there.message).toContain("sourceIn")
      // In our own namespace the source was looked up where the caller meant: the hint
      // would send them nowhere.
      const here = await failure(Mount.bind(missing, dir("hint")))
      expect(here).toMatchObject({ operation: "resolve", subject: "source", code: "ENOENT" })
      expect(here.message).not.toContain("sourceIn")
    })

    it("an unknown filesystem type is ENODEV from fsopen", async () => {
      const point = dir("enodev")
      const error = await failure(Mount.mount("x", point, "no-such-fs"))
      expect(error).toMatchObject({ operation: "fsopen", path: point, code: "ENODEV", errno: 19 })
    })

    it("a filesystem option the kernel refuses carries the kernel's own words", async () => {
      const point = dir("badoption")
      const error = await failure(Mount.mount("x", point, "tmpfs", { data: "size=lots" }))
      expect(error).toMatchObject({
        operation: "fsconfig",
        path: point,
        source: "x",
        code: "EINVAL",
        detail: "tmpfs: Bad value for 'size'",
      })
      expect(error.message).toContain("tmpfs: Bad value for 'size'")
      expect(await at(point)).toHaveLength(0)
    })

    it("remount of a directory that is no mount's root: fspick (or mount_setattr with bind) EINVAL", async () => {
      const plain = dir("remount-plain")
      expect(await failure(Mount.remount(plain, { flags: ["ro"] }))).toMatchObject({
        operation: "fspick",
        verb: "remount",
        path: plain,
        code: "EINVAL",
      })
      expect(await failure(Mount.remount(plain, { flags: ["bind", "ro"] }))).toMatchObject({
        operation: "mount_setattr",
        path: plain,
        code: "EINVAL",
      })
      expect(await at(plain)).toHaveLength(0)
    })

    it("binding an unbindable mount is refused by open_tree, naming the source", async () => {
      const unbindable = dir("unbindable")
      execFileSync("mount", ["-t", "tmpfs", "unbindable", unbindable])
      execFileSync("mount", ["--make-unbindable", unbindable])
      const point = dir("unbindable-dst")
      try {
        expect(await failure(Mount.bind(unbindable, point))).toMatchObject({
          operation: "open_tree",
          path: unbindable,
          subject: "source",
          code: "EINVAL",
        })
        expect(await at(point)).toHaveLength(0)
      } finally {
        execFileSync("umount", [unbindable])
      }
    })

    it("a namespace file that is not a mount namespace is refused at open_ns", async () => {
      const net = await failure(
        Mount.mount("x", "/mnt", "tmpfs", { in: { path: "/proc/self/ns/net" } }),
      )
      expect(net).toMatchObject({ operation: "open_ns", code: "EINVAL", path: "/proc/self/ns/net" })
      const plain = `${dir("notns")}/file`
      writeFileSync(plain, "")
      const file = await failure(Mount.mount("x", "/mnt", "tmpfs", { in: { path: plain } }))
      expect(file).toMatchObject({ operation: "open_ns", code: "EINVAL", path: plain })
    })

    it("a bind whose attributes the kernel refuses is never attached (mount_setattr, on the copy)", async () => {
      // In a user namespace the copied mounts have their atime flags locked, so asking for
      // strictatime on the bind of a relatime mount is refused. The attributes are set on
      // the detached copy, before move_mount: nothing ever appears at the target.
      const t = await target(() =>
        mountNamespaceTarget(["sleep", "600"], ["--user", "--map-root-user"]),
      )
      const src = dir("locked", "src")
      const dst = dir("locked", "dst")
      const before = await table(t.pid)
      const error = await failure(
        Mount.bind(src, dst, { flags: ["ro", "strictatime"], in: { pid: t.pid } }),
      )
      expect(error).toMatchObject({
        _tag: "MountError",
        operation: "mount_setattr",
        verb: "bind",
        code: "EPERM",
        path: src,
        subject: "source",
        flags: "MS_BIND|MS_RDONLY|MS_STRICTATIME",
      })
      expect(await table(t.pid)).toEqual(before)
      // What the namespace may set, it gets, at once: the same bind read-only only.
      await run(Mount.bind(src, dst, { flags: ["ro"], in: { pid: t.pid } }))
      expect((await at(dst, t.pid))[0]?.mountOptions.split(",")).toContain("ro")
      await run(Mount.umount(dst, { in: { pid: t.pid } }))
      expect(await table(t.pid)).toEqual(before)
    })

    const invalid: ReadonlyArray<
      readonly [string, () => Effect.Effect<void, unknown, Mounter>, string]
    > = [
      ["unknown flag", () => Mount.bind("/tmp", "/mnt", { flags: ["bogus" as never] }), "flags"],
      [
        "umount flag on bind",
        () => Mount.bind("/tmp", "/mnt", { flags: ["detach" as never] }),
        "flags",
      ],
      [
        "propagation flag on remount",
        () => Mount.remount("/mnt", { flags: ["private" as never] }),
        "flags",
      ],
      ["malformed in", () => Mount.bind("/tmp", "/mnt", { in: { pid: -1 } }), "in"],
      [
        "in with two keys",
        () => Mount.bind("/tmp", "/mnt", { in: { pid: 1, path: "/x" } as never }),
        "in",
      ],
      ["NUL byte in target", () => Mount.bind("/tmp", "/mn\0t"), "target"],
      ["NUL byte in data", () => Mount.mount("x", "/mnt", "tmpfs", { data: "size=1m\0" }), "data"],
      ["empty target", () => Mount.umount(""), "target"],
      ["relative path with a foreign in", () => Mount.umount("mnt", { in: { pid: 1 } }), "target"],
      ["non-string path", () => Mount.bind(42 as never, "/mnt"), "source"],
      [
        "data over a page",
        () => Mount.mount("x", "/mnt", "tmpfs", { data: "x".repeat(5000) }),
        "data",
      ],
      ["unknown option", () => Mount.umount("/mnt", { lazy: true } as never), "lazy"],
      [
        "sourceIn other than self",
        () => Mount.bind("/tmp", "/mnt", { sourceIn: "host" as never }),
        "sourceIn",
      ],
      ["data on a bind", () => Mount.bind("/tmp", "/mnt", { data: "x" } as never), "data"],
      [
        "data on mount with bind",
        () => Mount.mount("/tmp", "/mnt", "", { flags: ["bind"], data: "mode=755" }),
        "data",
      ],
      [
        "two propagation types",
        () => Mount.mount("", "/mnt", "", { flags: ["shared", "private"] }),
        "flags",
      ],
      ["empty fstype for a new filesystem", () => Mount.mount("x", "/mnt", ""), "fstype"],
      [
        "proc into a namespace file without pidIn",
        () => Mount.mount("proc", "/proc", "proc", { in: { path: "/proc/self/ns/mnt" } }),
        "pidIn",
      ],
      [
        "an options getter that throws",
        () =>
          Mount.umount("/mnt", {
            get flags(): never {
              throw new Error("getter")
            },
          }),
        "flags",
      ],
    ]
    it.each(invalid)("%s → InvalidArgument, nothing mounted", async (_, call, argument) => {
      const before = await table()
      const error = await failure(call())
      expect(error).toMatchObject({ _tag: "InvalidArgument", argument })
      expect(await table()).toEqual(before)
    })

    it("options are read once: a getter runs once, and what it gave is what ran", async () => {
      const src = dir("once", "src")
      const dst = dir("once", "dst")
      let reads = 0
      const options = {
        get flags(): Array<"ro"> {
          reads++
          // A second read would ask for a writable bind.
          return reads === 1 ? ["ro"] : []
        },
      }
      await run(Mount.bind(src, dst, options))
      expect(reads).toBe(1)
      expect((await at(dst))[0]?.mountOptions.split(",")).toContain("ro")
      await run(Mount.umount(dst))
    })

    it("an option given as undefined is an option not given, as JavaScript callers write it", async () => {
      // `{ in: maybe }` type-checks against the published types (optional properties accept
      // undefined unless exactOptionalPropertyTypes is on), so it must mean "not given".
      const src = dir("undefined", "src")
      const dst = dir("undefined", "dst")
      const options = { flags: undefined, create: undefined, in: undefined }
      await run(Mount.bind(src, dst, options as never))
      expect(await at(dst)).toHaveLength(1)
      await run(Mount.umount(dst, { flags: undefined } as never))
      expect(await at(dst)).toHaveLength(0)
    })
  })
})
