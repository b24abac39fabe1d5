/**
 * The package as a user receives it: the tarball's files (LICENSE among them), types that
 * TypeScript finds with `moduleResolution: "node"` for both entry points, `require()` from
 * CommonJS on the Node versions `engines` admits, and the `linx-mount` bin.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { cleanup, leftBehind, tempDir } from "./support/cli.js"

const repo = fileURLToPath(new URL("..", import.meta.url))
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as {
  name: string
  version: string
  license: string
  main: string
  types: string
  typesVersions: Record<string, Record<string, Array<string>>>
  exports: Record<string, { types: string; default: string }>
  engines: { node: string }
  files: Array<string>
  bin: Record<string, string>
}

/** A scratch project whose node_modules/linx-mount is this repository. */
const project = () => {
  const dir = tempDir("linx-cli-package-")
  mkdirSync(join(dir, "node_modules"))
  symlinkSync(repo, join(dir, "node_modules", "linx-mount"))
  return dir
}

afterAll(() => {
  cleanup()
  expect(leftBehind()).toEqual([])
})

describe("the package", () => {
  it("ships its LICENSE (MIT, as package.json says) in the tarball", () => {
    expect(pkg.license).toBe("MIT")
    const license = readFileSync(join(repo, "LICENSE"), "utf8")
    expect(license).toMatch(/^MIT License\n/)
    expect(license).toContain("Permission is hereby granted, free of charge")
    const packed = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: repo,
      encoding: "utf8",
    })
    expect(packed.status).toBe(0)
    const files = (
      JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>
    )[0]!.files.map((f) => f.path)
    expect(files).toContain("LICENSE")
    expect(files).toContain("dist/src/cli.js")
    expect(files).toContain(pkg.types.replace(/^\.\//, ""))
    expect(files).toContain(pkg.typesVersions["*"]!.promises![0]!.replace(/^\.\//, ""))
    expect(files.some((f) => f.startsWith("test/"))).toBe(false)
  })

  it("points main, types and typesVersions at what the exports map names", () => {
    expect(pkg.main).toBe(pkg.exports["."]!.default)
    expect(pkg.types).toBe(pkg.exports["."]!.types)
    expect(pkg.typesVersions["*"]!.promises).toEqual([pkg.exports["./promises"]!.types])
    for (const file of [
      pkg.main,
      pkg.types,
      pkg.exports["./promises"]!.default,
      pkg.bin["linx-mount"]!,
    ]) {
      expect(existsSync(join(repo, file)), file).toBe(true)
    }
  })

  it('type-checks imports of linx-mount and linx-mount/promises with moduleResolution "node"', () => {
    const dir = project()
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "commonjs",
          moduleResolution: "node",
          target: "es2022",
          strict: true,
          noEmit: true,
          // effect 4 has no types for moduleResolution "node" (exports only): its own
          // declarations are not ours to check.
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(repo, "node_modules", "@types")],
        },
        files: ["use.ts"],
      }),
    )
    writeFileSync(
      join(dir, "use.ts"),
      [
        'import { MountEntry, MountError, InvalidArgument } from "linx-mount"',
        'import { bind, list, umount, close } from "linx-mount/promises"',
        "",
        "export async function main(): Promise<string> {",
        '  await bind("/srv", "/mnt", { flags: ["ro"] })',
        "  const entries: ReadonlyArray<MountEntry> = await list()",
        '  await umount(Buffer.from("/mnt"))',
        "  await close()",
        "  const first: string = entries[0]?.mountPoint ?? MountError.name + InvalidArgument.name",
        "  // The types are really there: each of these is an error only if they are.",
        "  // @ts-expect-error: flags are checked",
        '  await bind("/srv", "/mnt", { flags: ["readonly"] })',
        "  // @ts-expect-error: a mount point is a string",
        "  const n: number = entries[0]!.mountPoint",
        "  return first + n",
        "}",
        "",
      ].join("\n"),
    )
    const tsc = spawnSync(
      process.execPath,
      [join(repo, "node_modules/typescript/bin/tsc"), "-p", dir],
      {
        encoding: "utf8",
      },
    )
    expect(tsc.stdout + tsc.stderr).toBe("")
    expect(tsc.status).toBe(0)
  })

  it("can be require()d from CommonJS on the Node versions engines admits", () => {
    // require() of an ES module works without a flag from Node 20.19 (and 22.12).
    expect(pkg.engines.node).toBe(">=20.19.0")
    const dir = project()
    const r = spawnSync(
      process.execPath,
      [
        "-e",
        'const m = require("linx-mount"); const p = require("linx-mount/promises"); ' +
          "console.log(typeof m.Mount.bind, typeof m.MountEntry, typeof p.list)",
      ],
      { cwd: dir, encoding: "utf8" },
    )
    expect(r.status).toBe(0)
    expect(r.stdout).toBe("function function function\n")
  })

  it("installs the linx-mount command", () => {
    expect(pkg.bin).toEqual({ "linx-mount": "./dist/src/cli.js" })
    expect(
      readFileSync(join(repo, pkg.bin["linx-mount"]!), "utf8").startsWith("#!/usr/bin/env node\n"),
    ).toBe(true)
  })
})
