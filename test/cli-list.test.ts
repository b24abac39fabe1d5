import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { PassThrough, Writable } from "node:stream"
import { describe, expect, it } from "vitest"
import { listCommand } from "../src/internal/cli/list.js"
import { parseMountInfo } from "../src/internal/mountinfo.js"

const fixture = new URL("./fixtures/mountinfo/kernel-special.txt", import.meta.url).pathname
const entries = parseMountInfo(readFileSync(fixture))
// The scratch tmpfs the capture mounted everything on.
const scratch = entries.find((e) => e.source === "linx-fixture" && e.root === "/")!.mountPoint

const collect = () => {
  const stream = new PassThrough()
  let text = ""
  stream.setEncoding("utf8")
  stream.on("data", (chunk: string) => {
    text += chunk
  })
  return { stream, text: () => text }
}

const cli = async (...argv: Array<string>) => {
  const out = collect()
  const err = collect()
  const code = await listCommand(argv, out.stream, err.stream)
  return { code, out: out.text(), err: err.text() }
}

const json = async (...argv: Array<string>) => {
  const { code, out, err } = await cli(...argv, "--json")
  expect({ code, err }).toEqual({ code: 0, err: "" })
  return JSON.parse(out) as { filesystems: Array<Record<string, unknown>> }
}

const targets = async (...argv: Array<string>) =>
  (await json("--file", fixture, ...argv)).filesystems.map((f) => f.mountPoint)

describe("linx-mount list: output", () => {
  it("prints an aligned table, one line per mount, control characters escaped", async () => {
    const { code, out, err } = await cli("--file", fixture)
    expect(code).toBe(0)
    expect(err).toBe("")
    const lines = out.trimEnd().split("\n")
    expect(lines).toHaveLength(entries.length + 1)
    expect(lines[0]).toMatch(/^TARGET +SOURCE +FSTYPE +OPTIONS +PROPAGATION$/)
    // Every row starts its SOURCE column where the header does.
    const column = lines[0]!.indexOf("SOURCE")
    for (const line of lines.slice(1)) expect(line[column - 1]).toBe(" ")
    expect(out).toContain(`${scratch}/new\\x0aline `)
    expect(out).toContain(`${scratch}/tab\\x09here `)
    expect(out).toContain(`${scratch}/with space `)
    expect(out).toMatch(/\/both +shared +tmpfs +rw,relatime +shared:2,master:1\n/)
    expect(out).toMatch(/\/unbindable +unbindable +tmpfs +rw,relatime +unbindable\n/)
    // A bind of a subdirectory shows its root, as findmnt does.
    expect(out).toContain("linx-fixture[/sub/in side]")
  })

  it("omits the header with -n", async () => {
    const { out } = await cli("--file", fixture, "-n", "-M", "/")
    expect(out).toMatch(/^\/ +\/dev\/vda +ext4 +rw,relatime,discard/)
    expect(out.split("\n")).toHaveLength(2)
  })

  it("prints every field as JSON", async () => {
    const doc = await json("--file", fixture)
    expect(doc.filesystems).toEqual(entries.map((e) => e.toJSON()))
  })

  it("nests children with --tree --json", async () => {
    const doc = await json("--file", fixture, "--tree")
    type Node = Record<string, unknown> & { children?: Array<Node> }
    const flat: Array<Node> = []
    const walk = (nodes: Array<Node>, parent: number | undefined) => {
      for (const node of nodes) {
        if (parent !== undefined) expect(node.parentId).toBe(parent)
        flat.push(node)
        if (node.children) walk(node.children, node.mountId as number)
      }
    }
    walk(doc.filesystems as Array<Node>, undefined)
    expect(flat).toHaveLength(entries.length)
    expect(doc.filesystems.map((f) => f.mountPoint)).toEqual(["/"])
  })

  it("draws the tree like findmnt with --tree", async () => {
    const { out } = await cli("--file", fixture, "--tree", "-n")
    const lines = out.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^\/ /)
    expect(lines.slice(1).every((l) => /^[│ ]*[├└]─\//.test(l))).toBe(true)
    expect(out).toContain(`\n└─${scratch} `)
    expect(out).toContain(`\n  └─${scratch}/bindsub `)
  })

  it("keeps a filtered tree's parents to the mounts shown", async () => {
    const doc = await json("--file", fixture, "--tree", "-t", "tmpfs")
    const top = doc.filesystems.map((f) => f.mountPoint)
    expect(top).toContain(scratch)
    const scratchNode = doc.filesystems.find((f) => f.mountPoint === scratch)!
    expect((scratchNode.children as Array<unknown>).length).toBeGreaterThan(10)
  })
})

describe("linx-mount list: filters", () => {
  it("filters by type, with a leading no negating the whole list", async () => {
    const tmpfs = entries.filter((e) => e.fstype === "tmpfs").map((e) => e.mountPoint)
    expect(await targets("-t", "tmpfs")).toEqual(tmpfs)
    expect(await targets("--types", "cgroup,ext4")).toEqual(
      entries.filter((e) => e.fstype === "cgroup" || e.fstype === "ext4").map((e) => e.mountPoint),
    )
    expect(await targets("-t", "notmpfs,cgroup")).toEqual(
      entries.filter((e) => e.fstype !== "tmpfs" && e.fstype !== "cgroup").map((e) => e.mountPoint),
    )
  })

  it("filters by exact mount point, -M or positional", async () => {
    expect(await targets("-M", `${scratch}/with space`)).toEqual([`${scratch}/with space`])
    expect(await targets(`${scratch}/with space/`)).toEqual([`${scratch}/with space`])
    expect(await targets("-M", `${scratch}/nothing`)).toEqual([])
  })

  it("filters by source, -S, MAJ:MIN or positional", async () => {
    expect(await targets("-S", "src#hash")).toEqual([`${scratch}/hash#dir`])
    expect(await targets("src\ttab")).toEqual([`${scratch}/tab\there`])
    const root = entries.find((e) => e.mountPoint === "/")!
    expect(await targets("-S", `${root.major}:${root.minor}`)).toEqual(["/"])
    expect(await targets("src1", `${scratch}/with space`)).toEqual([`${scratch}/with space`])
    expect(await targets("src1", "/")).toEqual([])
  })

  it("finds the mount containing a path with -T", async () => {
    expect(await targets("-T", `${scratch}/café-ü/deep/er`)).toEqual([`${scratch}/café-ü`])
    expect(await targets("-T", `${scratch}/not-a-mount`)).toEqual([scratch])
    expect(await targets("-T", "/etc/passwd")).toEqual(["/"])
    // Stacked mounts: the one on top.
    const stacked = entries.filter((e) => e.mountPoint === "/dev/pts")
    expect((await json("--file", fixture, "-T", "/dev/pts/0")).filesystems).toEqual([
      stacked.at(-1)!.toJSON(),
    ])
  })

  it("filters by options, libmount style (noX: X absent)", async () => {
    expect(await targets("-O", "size=1024k")).toEqual([`${scratch}/café-ü`])
    expect(await targets("-O", "mode=750,rw")).toEqual([`${scratch}/café-ü`])
    const ro = entries.filter((e) => e.mountOptions.split(",").includes("ro"))
    expect(await targets("-O", "ro")).toEqual(ro.map((e) => e.mountPoint))
    expect((await targets("-O", "noro")).length).toBe(entries.length - ro.length)
  })
})

describe("linx-mount list: sources and failures", () => {
  it("reads this process's table by default and with --pid", async () => {
    const own = await json()
    expect(own.filesystems.some((f) => f.mountPoint === "/")).toBe(true)
    const byPid = await json("--pid", String(process.pid))
    expect(byPid.filesystems.map((f) => f.mountId)).toEqual(own.filesystems.map((f) => f.mountId))
  })

  it("says so in one line and exits 1 for a dead pid", async () => {
    const child = spawn("true")
    await new Promise((resolve) => child.once("exit", resolve))
    const { code, out, err } = await cli("--pid", String(child.pid))
    expect(code).toBe(1)
    expect(out).toBe("")
    expect(err).toBe(
      `linx-mount list: cannot read /proc/${child.pid}/mountinfo: no process ${child.pid} (ENOENT)\n`,
    )
  })

  it("says so in one line and exits 1 for a missing or unreadable file", async () => {
    const missing = await cli("--file", "/nonexistent/mountinfo")
    expect(missing.code).toBe(1)
    expect(missing.err).toMatch(
      /^linx-mount list: cannot read \/nonexistent\/mountinfo: ENOENT.*\n$/,
    )
    expect(missing.err.split("\n")).toHaveLength(2)
    const directory = await cli("-F", "/")
    expect(directory.code).toBe(1)
    expect(directory.err).toMatch(/^linx-mount list: cannot read \/: EISDIR\n$/)
  })

  it.each([
    [["--pid", "abc"], /--pid expects a positive integer/],
    [["--pid", "0"], /--pid expects a positive integer/],
    [["--pid", "1", "--file", "/x"], /cannot be used together/],
    [["--bogus"], /Unknown option '--bogus'/],
    [["--pid"], /argument missing/],
    [["a", "b", "c"], /too many arguments/],
    [["--file", ""], /--file expects a path/],
  ])("exits 2 with a usage message for %j", async (argv, message) => {
    const { code, out, err } = await cli(...argv)
    expect(code).toBe(2)
    expect(out).toBe("")
    expect(err).toMatch(message)
    expect(err).toContain("linx-mount list --help")
  })

  it("stays quiet when the reader closes the pipe early (EPIPE)", async () => {
    const out = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error("write EPIPE"), { code: "EPIPE", errno: -32 }))
      },
    })
    const err = collect()
    expect(await listCommand(["--file", fixture], out, err.stream)).toBe(0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(err.text()).toBe("")
  })

  it("prints its help with --help", async () => {
    const { code, out } = await cli("--help")
    expect(code).toBe(0)
    expect(out).toContain("Usage: linx-mount list")
  })
})
