/**
 * The command starts fast because `list`, `--help` and `--version` load neither Effect nor
 * the worker pool (piscina): checked here on the module graph itself, with a resolve hook
 * that logs every module the command imports. The timing is bench/cli/startup.mjs's.
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { cliPath } from "./support/cli.js"

const hook = fileURLToPath(new URL("./fixtures/cli/record-imports.mjs", import.meta.url))

const imports = (...args: Array<string>) => {
  const r = spawnSync(process.execPath, ["--import", hook, cliPath, ...args], { encoding: "utf8" })
  const urls = r.stderr
    .split("\n")
    .filter((l) => l.startsWith("import "))
    .map((l) => l.slice(7))
  return { status: r.status, urls }
}

const heavy = (urls: ReadonlyArray<string>) =>
  urls.filter(
    (u) =>
      /\/node_modules\/(effect|piscina)\//.test(u) ||
      /\/dist\/src\/(Mount|Mounter|promises)\.js$/.test(u),
  )

describe("what each command loads", () => {
  it.each([
    [["list"]],
    [["list", "-J", "-o", "TARGET,UNIQ-ID"]],
    [["list", "-T", "/proc"]],
    [["--help"]],
    [["--version"]],
    [["list", "--help"]],
    [["mount", "--help"]],
    [["umount", "-h"]],
    [["mount", "--bind", "-o", "noexce", "/a", "/b"]],
    [["frobnicate"]],
  ])("%j loads neither Effect nor the pool", (args) => {
    const { urls } = imports(...args)
    expect(urls.some((u) => u.endsWith("/dist/src/cli.js"))).toBe(true)
    expect(heavy(urls)).toEqual([])
  })

  it("a verb that runs loads them (the hook sees what it should)", () => {
    const { status, urls } = imports("umount", "/nonexistent/linx-startup-probe")
    expect(status).toBe(32)
    expect(heavy(urls).some((u) => u.includes("/node_modules/effect/"))).toBe(true)
    expect(heavy(urls).some((u) => u.includes("/node_modules/piscina/"))).toBe(true)
  })
})
