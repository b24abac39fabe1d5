/**
 * The Promise facade: the same verbs, results and error classes as the Effect API, over one
 * lazily started pool whose threads never keep the process alive.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { InvalidArgument, MountError } from "linx-mount"
import * as P from "linx-mount/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { mountNamespaceTarget, type Target } from "./support/targets.js"

describe("linx-mount/promises without privilege", () => {
  it("rejects bad input with the same InvalidArgument class, before any syscall", async () => {
    const error = await P.bind("/tmp", "/mnt", { flags: ["nope" as never] }).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(InvalidArgument)
    expect(error).toMatchObject({ _tag: "InvalidArgument", argument: "flags" })
  })

  it("list() resolves to this process's table", async () => {
    const table = await P.list()
    expect(table.some((entry) => entry.mountPoint === "/")).toBe(true)
  })

  it("an idle pool does not keep the process alive, with or without close()", () => {
    const script = `
      import * as P from "linx-mount/promises"
      await P.bind("/tmp", "/mnt", { flags: ["nope"] }).catch(() => {})
      await P.makePrivate("/definitely/not/here").catch((e) => console.log(e._tag, e.code))
      console.log("done")
    `
    const started = Date.now()
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 20_000,
    })
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("MountError ENOENT")
    expect(result.stdout).toContain("done")
    // The pool keeps its workers (minThreads = maxThreads: they never idle out), so a worker
    // that held the loop open would hold the process until the 20 s timeout above.
    expect(Date.now() - started).toBeLessThan(10_000)
  })
})

describe.skipIf(!privileged)("linx-mount/promises against the real kernel", () => {
  let base: string
  let target: Target
  beforeAll(async () => {
    base = scratchTmpfs("linx-promises-")
    target = await mountNamespaceTarget()
  })
  afterAll(async () => {
    target.kill()
    await P.close()
    removeScratch(base)
  })

  it("bind, remount ro, move and umount resolve to undefined and do what they say", async () => {
    mkdirSync(`${base}/src`)
    mkdirSync(`${base}/dst`)
    mkdirSync(`${base}/moved`)
    writeFileSync(`${base}/src/marker`, "")
    await expect(P.bind(`${base}/src`, `${base}/dst`)).resolves.toBeUndefined()
    await P.remount(`${base}/dst`, { flags: ["bind", "ro"] })
    expect(() => writeFileSync(`${base}/dst/x`, "")).toThrow(
      expect.objectContaining({ code: "EROFS" }),
    )
    await P.move(`${base}/dst`, `${base}/moved`)
    expect(existsSync(`${base}/moved/marker`)).toBe(true)
    await P.umount(`${base}/moved`)
    expect((await P.list()).some((m) => m.mountPoint === `${base}/moved`)).toBe(false)
  })

  it("rejects a kernel refusal with the same MountError class", async () => {
    const error = await P.umount(`${base}/src`).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MountError)
    expect(error).toMatchObject({
      operation: "umount",
      verb: "umount",
      code: "EINVAL",
      errno: 22,
      path: `${base}/src`,
    })
    const lookup = await P.bind(`${base}/no-such-source`, `${base}/dst`).catch((e: unknown) => e)
    expect(lookup).toBeInstanceOf(MountError)
    expect(lookup).toMatchObject({
      operation: "resolve",
      path: `${base}/no-such-source`,
      subject: "source",
      code: "ENOENT",
    })
  })

  it("takes paths as bytes, the same as the Effect API", async () => {
    mkdirSync(`${base}/bytes-src`)
    mkdirSync(`${base}/bytes-dst`)
    await P.bind(Buffer.from(`${base}/bytes-src`), new TextEncoder().encode(`${base}/bytes-dst`))
    expect((await P.list()).find((m) => m.mountPoint === `${base}/bytes-dst`)?.root).toBe(
      "/bytes-src",
    )
    await P.umount(Buffer.from(`${base}/bytes-dst`))
    expect((await P.list()).some((m) => m.mountPoint === `${base}/bytes-dst`)).toBe(false)
  })

  it("mounts into another process's namespace and pivots there", async () => {
    const inT = { in: { pid: target.pid } }
    await P.mount("tmpfs", "/mnt", "tmpfs", inT)
    expect((await P.list({ pid: target.pid })).some((m) => m.mountPoint === "/mnt")).toBe(true)
    expect((await P.list()).some((m) => m.mountPoint === "/mnt")).toBe(false)
    await P.umount("/mnt", inT)
  })

  it("close() ends the pool and a later call starts a new one", async () => {
    await P.close()
    await P.makePrivate(base)
    await P.close()
    await P.makeShared(base)
    expect((await P.list()).find((m) => m.mountPoint === base)?.propagation[0]?.kind).toBe("shared")
    await P.makePrivate(base)
  })

  it("close() with 200 calls in flight lets every one of them settle, none interrupted", async () => {
    const calls = Array.from({ length: 200 }, () =>
      P.makePrivate(base).then(
        () => "done",
        (error: unknown) =>
          error instanceof MountError ? `typed ${error.code}` : `untyped ${String(error)}`,
      ),
    )
    await P.close()
    expect((await Promise.all(calls)).filter((outcome) => outcome !== "done")).toEqual([])
  })

  it("resolves relative paths against the current directory for this namespace", async () => {
    mkdirSync(`${base}/rel-src`)
    mkdirSync(`${base}/rel-dst`)
    const cwd = process.cwd()
    process.chdir(base)
    try {
      await P.bind("rel-src", "rel-dst")
    } finally {
      process.chdir(cwd)
    }
    expect((await P.list()).find((m) => m.mountPoint === `${base}/rel-dst`)?.root).toBe("/rel-src")
    execFileSync("umount", [`${base}/rel-dst`])
  })
})
