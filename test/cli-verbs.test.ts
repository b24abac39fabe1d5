/**
 * The mutating subcommands of the `linx-mount` CLI, run as a user would, checked against
 * what the kernel shows in /proc/…/mountinfo.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { privileged, removeScratch, scratchTmpfs } from "./support/privileged.js"
import { mountNamespaceTarget, type Target } from "./support/targets.js"

const cli = fileURLToPath(new URL("../dist/src/cli.js", import.meta.url))
const run = (...args: Array<string>) => {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 20_000 })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}
const mountinfo = (pid: number | "self" = "self") => readFileSync(`/proc/${pid}/mountinfo`, "utf8")
const lineFor = (mountPoint: string, pid: number | "self" = "self") =>
  mountinfo(pid)
    .split("\n")
    .find((line) => line.split(" ")[4] === mountPoint)

describe("linx-mount CLI usage errors", () => {
  it("an unknown command exits 1 with usage", () => {
    const result = run("frobnicate")
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("unknown command")
  })

  it("a missing operand exits 1 and names what is expected", () => {
    const result = run("bind", "/tmp")
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("SOURCE TARGET")
  })

  it("an invalid --pid exits 1 before anything runs", () => {
    const result = run("umount", "--pid", "abc", "/mnt")
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("--pid")
  })
})

describe.skipIf(!privileged)("linx-mount CLI against the real kernel", () => {
  let base: string
  let target: Target
  beforeAll(async () => {
    base = scratchTmpfs("linx-cli-")
    target = await mountNamespaceTarget()
  })
  afterAll(() => {
    target.kill()
    removeScratch(base)
  })

  it("bind -o ro makes a read-only bind; umount removes it", () => {
    mkdirSync(`${base}/src`)
    mkdirSync(`${base}/dst`)
    expect(run("bind", "-o", "ro", `${base}/src`, `${base}/dst`)).toMatchObject({
      code: 0,
      stderr: "",
    })
    expect(lineFor(`${base}/dst`)?.split(" ")[5]?.split(",")).toContain("ro")
    expect(() => writeFileSync(`${base}/dst/x`, "")).toThrow(
      expect.objectContaining({ code: "EROFS" }),
    )
    expect(run("umount", `${base}/dst`).code).toBe(0)
    expect(lineFor(`${base}/dst`)).toBeUndefined()
  })

  it("mount -t tmpfs -o size=1m,nosuid passes flags and data apart", () => {
    mkdirSync(`${base}/tmp`)
    expect(run("mount", "-t", "tmpfs", "-o", "size=1m,nosuid", "clitmp", `${base}/tmp`).code).toBe(
      0,
    )
    const line = lineFor(`${base}/tmp`)
    expect(line).toContain("nosuid")
    expect(line).toContain("clitmp")
    expect(line).toContain("size=1024k")
    expect(run("umount", "--lazy", `${base}/tmp`).code).toBe(0)
  })

  it("--pid works in another process's namespace and leaves ours alone", () => {
    expect(run("mount", "-t", "tmpfs", "--pid", String(target.pid), "clins", "/mnt").code).toBe(0)
    expect(lineFor("/mnt", target.pid)).toContain("clins")
    expect(lineFor("/mnt")).toBeUndefined()
    expect(run("make-private", "--pid", String(target.pid), "/mnt").code).toBe(0)
    expect(run("umount", "--pid", String(target.pid), "/mnt").code).toBe(0)
    expect(lineFor("/mnt", target.pid)).toBeUndefined()
  })

  it("bind --source-in self brings a directory of ours into the target's namespace", () => {
    mkdirSync(`${base}/ours`)
    writeFileSync(`${base}/ours/marker`, "")
    const pid = String(target.pid)
    expect(run("bind", "--source-in", "self", "--pid", pid, `${base}/ours`, "/mnt")).toMatchObject({
      code: 0,
    })
    expect(lineFor("/mnt", target.pid)).toContain("/ours")
    expect(run("umount", "--pid", pid, "/mnt").code).toBe(0)
    expect(run("bind", "--source-in", "host", "--pid", pid, `${base}/ours`, "/mnt").code).toBe(1)
  })

  it("a kernel refusal exits 32, like mount(8), with the stage, path and errno", () => {
    const result = run("umount", `${base}/not-a-mount-point`)
    expect(result.code).toBe(32)
    expect(result.stderr).toContain("umount")
    expect(result.stderr).toContain(`${base}/not-a-mount-point`)
    expect(result.stderr).toContain("ENOENT")
  })

  it("a dead pid is reported at open_ns with the namespace file", () => {
    const result = run("umount", "--pid", "4000000", "/mnt")
    expect(result.code).toBe(32)
    expect(result.stderr).toContain("open_ns")
    expect(result.stderr).toContain("/proc/4000000/ns/mnt")
  })
})
