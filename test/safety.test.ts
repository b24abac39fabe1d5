/**
 * Safe against a hostile container, tried as an attacker controlling one would: a real
 * container (its own mount and PID namespaces, pivoted into a rootfs on our scratch tmpfs,
 * its own /proc) whose files we change from outside through the rootfs's host path, the way
 * a process inside could. Every result is checked with what the kernel shows: the
 * container's /proc/<pid>/mountinfo and ours.
 */
import { execFileSync, spawn } from "node:child_process"
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { InvalidArgument, Mount, type MountEntry, MountError, Mounter } from "linx-mount"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { mountNamespaceTarget, pidNamespaceTarget, type Target } from "./support/targets.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Stops `pid` and waits until it is stopped (kill(2) only asks; a busy machine is late). */
const stop = async (child: ReturnType<typeof spawn>) => {
  child.kill("SIGSTOP")
  for (let i = 0; i < 1000; i++) {
    const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8")
    // The state follows the command's closing parenthesis.
    if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "T") return
    await sleep(1)
  }
  throw new Error(`process ${child.pid} did not stop`)
}

describe.skipIf(!privileged)("safe against a hostile container (real kernel)", () => {
  let runtime: ManagedRuntime.ManagedRuntime<Mounter, unknown>
  let base: string
  let container: Target
  let rootfs: string // the container's root, as we see it
  const others: Array<Target> = []
  const run = <A, E>(effect: Effect.Effect<A, E, Mounter>) => runtime.runPromise(effect)
  const failure = <A, E>(effect: Effect.Effect<A, E, Mounter>) =>
    runtime.runPromise(Effect.flip(effect))
  const theirs = (): Promise<ReadonlyArray<MountEntry>> =>
    Effect.runPromise(Mount.list({ pid: container.pid }))
  const ours = (): Promise<ReadonlyArray<MountEntry>> => Effect.runPromise(Mount.list())
  const dir = (...parts: Array<string>) => {
    const path = [base, ...parts].join("/")
    mkdirSync(path, { recursive: true })
    return path
  }
  let inC: { readonly in: { readonly pid: number } }

  beforeAll(async () => {
    runtime = ManagedRuntime.make(Mounter.layer({ maxThreads: 2 }))
    base = scratchTmpfs("linx-safety-")
    rootfs = dir("rootfs")
    for (const d of ["old", "proc", "c", "mnt/vol", "volume-point"]) dir("rootfs", d)
    writeFileSync(`${dir("outside")}/secret`, "host only\n")
    writeFileSync(`${dir("volume")}/data`, "the volume\n")
    container = await pidNamespaceTarget()
    inC = { in: { pid: container.pid } }
    // The container, assembled from outside: its own root and its own /proc.
    await run(Mount.makePrivate("/", { recursive: true, ...inC }))
    await run(Mount.bind(rootfs, rootfs, inC))
    await run(Mount.mount("proc", `${rootfs}/proc`, "proc", inC))
    await run(Mount.pivotRoot(rootfs, `${rootfs}/old`, inC))
    await run(Mount.umount("/old", { flags: ["detach"], ...inC }))
  })
  afterAll(async () => {
    for (const t of others) t.kill()
    container.kill()
    await runtime.dispose()
    removeScratch(base)
  })

  it("the container is what it seems: its root is the rootfs, our paths are not there", async () => {
    const table = await theirs()
    expect(table.find((e) => e.mountPoint === "/")?.root).toBe(rootfs.slice(base.length) || "/")
    expect(table.some((e) => e.mountPoint.startsWith(base))).toBe(false)
  })

  it("a directory raced against a symlink (RENAME_EXCHANGE): 2,000 read-only binds, none writable", async () => {
    // /c/a is a directory and /c/b a symlink to /mnt; a racer swaps them without pause.
    const racer = `${dir("bin")}/exchange`
    execFileSync("cc", [
      "-O2",
      "-o",
      racer,
      new URL("./fixtures/exchange.c", import.meta.url).pathname,
    ])
    mkdirSync(`${rootfs}/c/a`)
    for (let k = 0; k < 20; k++) mkdirSync(`${rootfs}/c/a/vol${k}`)
    for (let k = 0; k < 20; k++) mkdirSync(`${rootfs}/mnt/vol${k}`, { recursive: true })
    symlinkSync("/mnt", `${rootfs}/c/b`)
    const race = spawn(racer, [`${rootfs}/c/a`, `${rootfs}/c/b`], { stdio: "ignore" })
    const volume = `${base}/volume`
    let made = 0
    let refused = 0
    const landed = new Set<string>()
    try {
      for (const sourceIn of [undefined, "self" as const]) {
        for (let round = 0; round < 50; round++) {
          const calls = Array.from({ length: 20 }, (_, k) =>
            Mount.bind(volume, `/c/a/vol${k}`, {
              flags: ["ro"],
              ...inC,
              ...(sourceIn ? { sourceIn } : {}),
            }).pipe(Effect.result),
          )
          race.kill("SIGCONT")
          const results = await run(Effect.all(calls, { concurrency: "unbounded" }))
          // Stopped while we look: the mounts then stay where their names are.
          await stop(race)
          for (const r of results) {
            if (r._tag === "Success") made++
            else {
              refused++
              expect(r.failure).toBeInstanceOf(MountError)
            }
          }
          const binds = (await theirs()).filter((e) => e.root === "/volume")
          for (const entry of binds) {
            // The kernel's word: read-only, from the first instant it was visible.
            expect(entry.mountOptions.split(",")[0]).toBe("ro")
            landed.add(entry.mountPoint.replace(/vol[0-9]+$/, ""))
            await run(Mount.umount(entry.mountPoint, { flags: ["detach"], ...inC }))
          }
        }
      }
    } finally {
      race.kill("SIGKILL")
    }
    expect(made + refused).toBe(2000)
    expect(made).toBeGreaterThan(0)
    // Both sides of the race were seen, and nothing landed anywhere else.
    for (const place of landed) expect(["/c/a/", "/c/b/", "/mnt/"]).toContain(place)
    expect((await ours()).some((e) => e.root === "/volume")).toBe(false)
    console.log(
      `race: ${made} read-only binds made, ${refused} refused, landed under ${[...landed].join(" ")}`,
    )
  })

  describe("symlinks and magic links planted inside never lead outside its root", () => {
    let peer: ReturnType<typeof spawn> | undefined
    beforeAll(async () => {
      // A process in the container's PID namespace whose root is ours (as `docker exec`
      // leaves one): its /proc/<pid>/root in the container's /proc leads to our root.
      peer = spawn("nsenter", ["-t", String(container.pid), "-p", "sleep", "600"], {
        stdio: "ignore",
      })
      await sleep(200)
      // The container's /proc, through its init's root: a path of ours that leads there.
      const pids = readdirSync(`/proc/${container.pid}/root/proc`).filter(
        (n) => /^[0-9]+$/.test(n) && n !== "1",
      )
      expect(pids.length).toBeGreaterThan(0)
      // Relative and absolute climbs, and a magic link through the peer's root.
      symlinkSync("../../../../../../../..", `${rootfs}/c/up`)
      symlinkSync(`/proc/${pids[0]}/root${base}/outside`, `${rootfs}/c/magic`)
      symlinkSync(`/proc/${pids[0]}/root${base}`, `${rootfs}/c/magicbase`)
    })
    afterAll(() => {
      peer?.kill()
    })

    it("a bind target through a magic link is refused (resolve, ELOOP); nothing mounted outside", async () => {
      const error = await failure(
        Mount.bind(`${base}/volume`, "/c/magic", { ...inC, sourceIn: "self" }),
      )
      expect(error).toMatchObject({ _tag: "MountError", operation: "resolve", code: "ELOOP" })
      expect((await ours()).some((e) => e.mountPoint === `${base}/outside`)).toBe(false)
      expect((await theirs()).some((e) => e.root === "/volume")).toBe(false)
    })

    it("create through a magic link is refused; through a climbing symlink it stays inside", async () => {
      const viaMagic = await failure(
        Mount.bind(`${base}/volume`, "/c/magic/planted", {
          create: true,
          ...inC,
          sourceIn: "self",
        }),
      )
      expect(viaMagic).toMatchObject({ operation: "create", code: "ELOOP" })
      expect(existsSync(`${base}/outside/planted`)).toBe(false)
      await run(
        Mount.bind(`${base}/volume`, "/c/up/planted", { create: true, ...inC, sourceIn: "self" }),
      )
      // "/c/up" climbs to the container's root and no further.
      expect(existsSync(`${rootfs}/planted`)).toBe(true)
      expect(existsSync(`${base}/planted`)).toBe(false)
      expect(
        (await theirs()).some((e) => e.mountPoint === "/planted" && e.root === "/volume"),
      ).toBe(true)
      await run(Mount.umount("/planted", inC))
    })

    it("an umount or a pivot through a magic link is refused", async () => {
      const umount = await failure(Mount.umount("/c/magicbase", inC))
      expect(umount).toMatchObject({ operation: "resolve", code: "ELOOP" })
      expect((await ours()).some((e) => e.mountPoint === base)).toBe(true)
      const pivot = await failure(Mount.pivotRoot("/c/magicbase", "/c/magicbase/rootfs/old", inC))
      expect(pivot).toMatchObject({ operation: "resolve", code: "ELOOP" })
    })

    it("a bind source through a magic link is refused when looked up inside", async () => {
      const error = await failure(Mount.bind("/c/magic", "/mnt/vol0", inC))
      expect(error).toMatchObject({ operation: "resolve", code: "ELOOP", subject: "source" })
    })
  })

  describe("attributes really applied", () => {
    it('flags ["rec", "ro"] make every submount read-only too', async () => {
      const src = dir("rec-ro", "src")
      const sub = dir("rec-ro", "src", "sub")
      const dst = dir("rec-ro", "dst")
      execFileSync("mount", ["-t", "tmpfs", "inner", sub])
      await run(Mount.bind(src, dst, { flags: ["rec", "ro"] }))
      const under = (await ours()).filter(
        (e) => e.mountPoint === dst || e.mountPoint.startsWith(`${dst}/`),
      )
      expect(under.map((e) => e.mountPoint)).toEqual([dst, `${dst}/sub`])
      for (const e of under) expect(e.mountOptions.split(",")[0]).toBe("ro")
      expect(() => writeFileSync(`${dst}/sub/x`, "")).toThrow(
        expect.objectContaining({ code: "EROFS" }),
      )
      writeFileSync(`${sub}/x`, "") // the source stays writable
      await run(Mount.umount(dst, { flags: ["detach"] }))
      execFileSync("umount", [sub])
    })

    it('a read-only source bound with flags ["nosuid"] stays read-only', async () => {
      const src = dir("ro-src", "src")
      const ro = dir("ro-src", "ro")
      const dst = dir("ro-src", "dst")
      execFileSync("mount", ["--bind", "-o", "ro", src, ro])
      await run(Mount.bind(ro, dst, { flags: ["nosuid"] }))
      const [entry] = (await ours()).filter((e) => e.mountPoint === dst)
      expect(entry?.mountOptions.split(",")).toEqual(expect.arrayContaining(["ro", "nosuid"]))
      await run(Mount.umount(dst))
      execFileSync("umount", [ro])
    })

    it("nosymfollow on the source is kept", async () => {
      const src = dir("nsf", "src")
      const nsf = dir("nsf", "nsf")
      const dst = dir("nsf", "dst")
      execFileSync("mount", ["--bind", src, nsf])
      execFileSync("mount", ["-o", "remount,bind,nosymfollow", nsf])
      await run(Mount.bind(nsf, dst, { flags: ["ro"] }))
      const [entry] = (await ours()).filter((e) => e.mountPoint === dst)
      expect(entry?.mountOptions.split(",")).toEqual(expect.arrayContaining(["ro", "nosymfollow"]))
      await run(Mount.umount(dst))
      execFileSync("umount", [nsf])
    })

    it('mount(…, { flags: ["bind", "ro"] }) is the same read-only bind', async () => {
      const src = dir("mount-bind", "src")
      const dst = dir("mount-bind", "dst")
      await run(Mount.mount(src, dst, "", { flags: ["bind", "ro"] }))
      const [entry] = (await ours()).filter((e) => e.mountPoint === dst)
      expect(entry?.mountOptions.split(",")[0]).toBe("ro")
      expect(() => writeFileSync(`${dst}/x`, "")).toThrow(
        expect.objectContaining({ code: "EROFS" }),
      )
      await run(Mount.umount(dst))
    })
  })

  describe("options are read once, own properties only", () => {
    it("an inherited `in` is not an option: the bind lands here, not in the container", async () => {
      const src = dir("proto", "src")
      const dst = dir("proto", "dst")
      const prototype = Object.prototype as { in?: unknown; flags?: unknown }
      prototype.in = { pid: container.pid }
      prototype.flags = ["remount"]
      try {
        await run(Mount.bind(src, dst))
        await run(Mount.bind(src, dst, {}))
      } finally {
        delete prototype.in
        delete prototype.flags
      }
      expect((await ours()).filter((e) => e.mountPoint === dst)).toHaveLength(2)
      expect((await theirs()).some((e) => e.mountPoint === dst)).toBe(false)
      await run(Mount.umount(dst))
      await run(Mount.umount(dst))
    })

    it("flags that change between reads are copied once: what is validated is what runs", async () => {
      const src = dir("flip", "src")
      const dst = dir("flip", "dst")
      let reads = 0
      const flags = new Proxy(["ro"], {
        get: (target, key, receiver) =>
          key === "0" ? (reads++ === 0 ? "ro" : "remount") : Reflect.get(target, key, receiver),
      })
      await run(Mount.bind(src, dst, { flags: flags as unknown as Array<"ro"> }))
      expect(reads).toBe(1)
      const [entry] = (await ours()).filter((e) => e.mountPoint === dst)
      expect(entry?.mountOptions.split(",")[0]).toBe("ro")
      await run(Mount.umount(dst))
    })

    it("a getter that throws is an InvalidArgument naming the option, and nothing is touched", async () => {
      const options = Object.defineProperty({}, "flags", {
        enumerable: true,
        get: () => {
          throw new Error("boom")
        },
      })
      const error = await failure(Mount.bind(dir("getter", "src"), dir("getter", "dst"), options))
      expect(error).toBeInstanceOf(InvalidArgument)
      expect(error).toMatchObject({ argument: "flags" })
    })
  })

  describe("proc names its PID namespace", () => {
    it("in: { path } without pidIn is refused; with pidIn it shows that namespace only", async () => {
      const t = await mountNamespaceTarget()
      others.push(t)
      const nsFile = { in: { path: `/proc/${t.pid}/ns/mnt` } }
      const refused = await failure(Mount.mount("proc", "/mnt", "proc", nsFile))
      expect(refused).toBeInstanceOf(InvalidArgument)
      expect(refused).toMatchObject({ argument: "pidIn" })
      await run(
        Mount.mount("proc", "/mnt", "proc", {
          ...nsFile,
          pidIn: { path: `/proc/${container.pid}/ns/pid` },
        }),
      )
      const pids = execFileSync("nsenter", ["-t", String(t.pid), "-m", "ls", "/mnt"], {
        encoding: "utf8",
      })
        .split("\n")
        .filter((n) => /^[0-9]+$/.test(n))
      expect(pids).toContain("1")
      expect(pids.length).toBeLessThan(5) // the container's processes, not ours
      await run(Mount.umount("/mnt", nsFile))
    })
  })

  it("a chrooted process stays chrooted after calls into another namespace", async () => {
    const croot = dir("croot")
    execFileSync("mount", ["--rbind", "/", croot])
    try {
      const t = await mountNamespaceTarget()
      others.push(t)
      const src = dir("chroot-src")
      const dst = dir("chroot-dst")
      const fixture = new URL("./fixtures/chrooted.mjs", import.meta.url).pathname
      const out = execFileSync(
        "chroot",
        [croot, process.execPath, fixture, src, dst, String(t.pid)],
        {
          encoding: "utf8",
          cwd: "/",
        },
      )
      const report = JSON.parse(out) as { root: string; threads: number; elsewhere: number }
      expect(report.threads).toBeGreaterThan(2)
      expect(report.elsewhere).toBe(0)
    } finally {
      execFileSync("umount", ["--recursive", "--lazy", croot])
      rmSync(croot, { recursive: true, force: true })
    }
  })
})
