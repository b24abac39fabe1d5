/**
 * `linx-mount list` against findmnt(8), the oracle: the same bytes on stdout, the same
 * messages on stderr, the same exit status — on generated tables of 200 mounts with
 * awkward names (space, tab, newline, backslash, a literal `\040`, CR, 0xFF, CJK, …) read
 * with `-F`, on this process's own table, and on another process's. Differences that are
 * linx-mount's on purpose (JSON of names that are not UTF-8, `-F`'s file:line reports) are
 * checked for what they are instead.
 */
import { spawn } from "node:child_process"
import { mkdirSync, readFileSync, symlinkSync } from "node:fs"
import { PassThrough, Writable } from "node:stream"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { listCommand } from "../src/internal/cli/list.js"
import { decodeHexEscapes } from "../src/internal/cli/text.js"
import { parseMountInfo } from "../src/internal/mountinfo.js"
import { native } from "../src/internal/native.js"
import {
  asOurs,
  awkwardTable,
  cleanup,
  cliPath,
  findmnt,
  leftBehind,
  linx,
  nonUtf8Names,
  scratch,
  tableFile,
  tempDir,
} from "./support/cli.js"
import { privileged } from "./support/privileged.js"
import { mountNamespaceTarget, type Target } from "./support/targets.js"

const columns =
  "TARGET,SOURCE,FSTYPE,OPTIONS,VFS-OPTIONS,FS-OPTIONS,PROPAGATION,OPT-FIELDS,ID,PARENT,MAJ:MIN,FSROOT"

/** `linx-mount list …` and `findmnt …` agree byte for byte: stdout, stderr, status. */
const sameAsFindmnt = (...args: Array<string | Buffer>) => {
  const ours = linx("list", ...args)
  const theirs = findmnt(...args)
  expect({ status: ours.status, stderr: ours.stderr }).toEqual({
    status: theirs.status,
    stderr: asOurs(theirs.stderr),
  })
  expect(ours.stdout.equals(theirs.stdout), `stdout of list ${args.join(" ")}`).toBe(true)
  return ours
}

// 200 mounts with names UTF-8 or not, and 200 with UTF-8 names only (findmnt's JSON of
// those is valid JSON). Made here, not in a hook: the test tables below name the files.
const table = tableFile(awkwardTable(1, 200))
const utf8Table = tableFile(awkwardTable(2, 200, true))
const entries = parseMountInfo(readFileSync(table))

afterAll(() => {
  cleanup()
  expect(leftBehind()).toEqual([])
})

describe("list prints what findmnt prints (200 awkward mounts, -F)", () => {
  it.each([
    [[]],
    [["-l"]],
    [["-r"]],
    [["-P"]],
    [["-n"]],
    [["-a"]],
    [["-v", "-l"]],
    [["-o", columns]],
    [["-o", columns, "-l"]],
    [["-o", columns, "-r"]],
    [["-o", columns, "-P", "-y"]],
    [["-o", "+ID,PARENT", "-n", "-l"]],
    [["-o", "id,target,maj:min", "-r", "-y"]],
  ])("output %j", (args) => {
    sameAsFindmnt("-F", table, ...args)
  })

  it.each([
    [["-t", "tmpfs"]],
    [["-t", "notmpfs,proc"]],
    [["-t", "TMPFS,fuse.sshfs", "-l"]],
    [["-O", "ro"]],
    [["-O", "rw", "-l"]],
    [["-O", "noro", "-r"]],
    [["-O", "size=4k"]],
    [["-O", "mode=750,uid=0", "-l"]],
    [["-O", "+noexec"]],
    [["-O", "nosuid,ro", "-l"]],
    [["-i", "-t", "tmpfs"]],
    [["--real", "-l"]],
    [["--pseudo"]],
    [["--shadowed", "-l"]],
    [["-U"]],
    [["-f", "-t", "overlay"]],
    [["-d", "backward", "-t", "cgroup2", "-l"]],
    [["-S", "0:5"]],
    [["0:17"]],
    [["-R", "-t", "ext4"]],
    [["--tree", "-l", "-t", "proc"]],
  ])("filter %j", (args) => {
    sameAsFindmnt("-F", table, ...args)
  })

  it("finds sources and mount points by their exact bytes, as findmnt does", () => {
    const withSource = entries.filter((e) => e.source !== "")
    for (const e of [withSource[3]!, withSource[40]!, withSource[77]!]) {
      sameAsFindmnt("-F", table, "-S", e.sourceBytes)
      sameAsFindmnt("-F", table, e.sourceBytes)
    }
    // A stacked mount point lists every mount on it.
    const stacked = entries.find((e, i) =>
      entries.some((o, j) => j !== i && o.mountPointBytes.equals(e.mountPointBytes)),
    )!
    const out = sameAsFindmnt("-F", table, "-M", stacked.mountPointBytes, "-o", "ID,TARGET")
    expect(out.out.trim().split("\n").length).toBeGreaterThan(2)
    sameAsFindmnt("-F", table, stacked.mountPointBytes)
    sameAsFindmnt("-F", table, entries[10]!.sourceBytes, entries[10]!.mountPointBytes)
    for (const name of nonUtf8Names) {
      const e = entries.find((x) => x.mountPointBytes.includes(name))
      if (e !== undefined) sameAsFindmnt("-F", table, "-M", e.mountPointBytes, "-l")
    }
  })

  it.each([
    [["-J"]],
    [["-J", "-l"]],
    [["-J", "-o", columns]],
    [["-J", "-o", columns, "-l"]],
    [["-J", "-t", "tmpfs"]],
    [["-J", "-y", "-o", "MAJ:MIN,TARGET"]],
    [["-J", "-t", "nosuchfs"]],
    [["-J", "-R", "-t", "overlay"]],
  ])("JSON %j (UTF-8 names)", (args) => {
    const out = sameAsFindmnt("-F", utf8Table, ...args)
    expect(() => JSON.parse(out.out)).not.toThrow()
  })

  it("keeps JSON valid where findmnt's is not: bytes that are not UTF-8 as \\xHH", () => {
    const ours = linx("list", "-F", table, "-J", "-l", "-o", "TARGET,SOURCE,FSROOT")
    expect(ours.status).toBe(0)
    const doc = JSON.parse(ours.out) as { filesystems: Array<Record<string, string | null>> }
    expect(doc.filesystems).toHaveLength(entries.length)
    let escaped = 0
    doc.filesystems.forEach((f, i) => {
      const e = entries[i]!
      const target = Buffer.from(f.target!, "utf8")
      if (e.mountPointBytes.equals(Buffer.from(e.mountPoint))) {
        // UTF-8: the name itself, as findmnt writes it.
        expect(f.target).toBe(e.mountPoint)
      } else {
        // Not UTF-8: the table's \xHH form, which reads back to the exact bytes.
        expect(decodeHexEscapes(target), String(f.target)).toEqual(e.mountPointBytes)
        escaped++
      }
    })
    expect(escaped).toBeGreaterThan(5)
    // findmnt's own JSON of the same table carries the raw bytes (0xff), not UTF-8.
    expect(findmnt("-F", table, "-J").stdout.includes(0xff)).toBe(true)
  })

  it("aligns CJK and combining characters by display width, as findmnt", () => {
    const file = tableFile(
      [
        "1 0 8:1 / / rw - ext4 /dev/sda1 rw",
        "2 1 0:2 / /mnt/中文 rw - tmpfs 中 rw",
        "3 1 0:3 / /mnt/ｆｕｌｌｗｉｄｔｈ rw - tmpfs ｆ rw",
        "4 1 0:4 / /mnt/e\u0301e\u0301 rw - tmpfs e\u0301 rw",
        "",
      ].join("\n"),
    )
    const out = sameAsFindmnt("-F", file, "-l", "-o", "TARGET,SOURCE,FSTYPE")
    // FSTYPE starts in the same display column on every line.
    expect(out.out).toContain("\n/mnt/中文               中        tmpfs\n")
    expect(out.out).toContain("\n/mnt/ｆｕｌｌｗｉｄｔｈ ｆ        tmpfs\n")
  })
})

describe("list's exit status and messages are findmnt's", () => {
  it.each([
    [["--bogus"]],
    [["-Q"]],
    [["-o"]],
    [["--output"]],
    [["-o", "FOO"]],
    [["-o", "TARGET,NOPE"]],
    [["-J", "-r"]],
    [["-M", "/a", "-T", "/b"]],
    [["-l", "-P"]],
    [["-d", "sideways"]],
    [["-N", "abc"]],
    [["--noheading=x"]],
    [["-S", "x", "y"]],
    [["-F", "/nonexistent/mountinfo"]],
    [["-F", "/"]],
    [["-F", table, "-M", "/nonexistent"]],
    [["-F", table, "-t", "nosuchfs"]],
    [["-F", table, "-t", "xyz"]],
    [["-F", table, "-t", "xyz", "-J"]],
    [["-F", table, "-t", "xyz", "-l"]],
    [["-F", table, "-O", "nosuchoption=1", "-r"]],
    [["-F", table, "-S", "nosuchsource"]],
    [["-F", table, "-o", "ACTION"]],
    [["-T", "/nonexistent/path"]],
    [["-M", "/nonexistent"]],
    [["-S", "/dev/nonexistent"]],
    [["/nonexistent"]],
  ])("%j", (args) => {
    sameAsFindmnt(...args)
  })

  it("reports each malformed line of a file as file:line, as findmnt does by number", () => {
    const file = tableFile(
      [
        "1 0 8:1 / / rw - ext4 /dev/sda1 rw",
        "not a mountinfo line",
        "",
        "2 1 0:3 / /proc rw - proc proc rw",
        "3 1 x:y / /bad rw - tmpfs t rw",
        "4 1 0:4 / /nodash rw tmpfs t rw",
        "# a comment",
        "5 1 0:5 / /ok rw - tmpfs t rw",
        "",
      ].join("\n"),
    )
    const ours = linx("list", "-F", file)
    const theirs = findmnt("-F", file)
    expect(ours.stdout.equals(theirs.stdout)).toBe(true)
    expect(ours.status).toBe(theirs.status)
    const lineNumbers = (text: string, pattern: RegExp) =>
      [...text.matchAll(pattern)].map((m) => Number(m[1]))
    const theirLines = lineNumbers(theirs.stderr, /parse error at line (\d+)/g)
    expect(theirLines).toEqual([2, 5, 6])
    expect(lineNumbers(ours.stderr, /:(\d+): parse error -- ignored/g)).toEqual(theirLines)
    expect(ours.stderr.split("\n")[0]).toBe(`linx-mount list: ${file}:2: parse error -- ignored`)
  })

  it("says so in findmnt's words when a process is gone", async () => {
    const child = spawn("true")
    await new Promise((resolve) => child.once("exit", resolve))
    sameAsFindmnt("-N", String(child.pid))
    const ours = linx("list", "--pid", String(child.pid))
    expect(ours).toMatchObject({
      status: 1,
      stderr: `linx-mount list: can't read /proc/${child.pid}/mountinfo: No such file or directory\n`,
    })
  })

  it("prints its help (exit 0) and the package's version", () => {
    const help = linx("list", "--help")
    expect(help.status).toBe(0)
    expect(help.out).toContain("linx-mount list [options]")
    expect(help.out).toContain("UNIQ-ID")
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
    expect(linx("list", "-V").out).toBe(`linx-mount ${pkg.version}\n`)
  })

  it("stays quiet when the reader closes the pipe early (EPIPE)", async () => {
    const out = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error("write EPIPE"), { code: "EPIPE", errno: -32 }))
      },
    })
    const err = new PassThrough()
    let text = ""
    err.on("data", (chunk: Buffer) => {
      text += chunk.toString()
    })
    expect(await listCommand(["-F", table], out, err)).toBe(0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(text).toBe("")
  })
})

describe("list on this process's own table, as findmnt reads it", () => {
  it.each([
    [[]],
    [["-l"]],
    [["-r", "-o", columns]],
    [["-J"]],
    [["-P", "-o", columns]],
    [["-t", "proc"]],
    [["-O", "rw", "-l"]],
    [["-T", "/proc/self"]],
    [["-T", "/etc/hostname"]],
    [["-M", "/proc/"]],
    [["-M", "//proc"]],
    [["/proc"]],
    [["proc"]],
    [["--shadowed"]],
  ])("%j", (args) => {
    sameAsFindmnt(...args)
  })

  it("resolves -T, -M and the positional mount point through the filesystem", () => {
    const dir = tempDir("linx-cli-links-")
    symlinkSync("/proc", `${dir}/to-proc`)
    symlinkSync("/nonexistent/x", `${dir}/dangling`)
    mkdirSync(`${dir}/sub`)
    // Through a symlink to a mount point, and to a path inside one.
    for (const path of [`${dir}/to-proc`, `${dir}/to-proc/self`, `${dir}/to-proc/../proc/1`]) {
      const out = sameAsFindmnt("-T", path, "-o", "TARGET")
      expect(out.out).toBe("TARGET\n/proc\n")
    }
    expect(sameAsFindmnt("-M", `${dir}/to-proc`, "-o", "TARGET").out).toBe("TARGET\n/proc\n")
    sameAsFindmnt(`${dir}/to-proc`)
    // Not a mount point: -M finds nothing; -T the mount that holds it.
    expect(sameAsFindmnt("-M", `${dir}/sub`).status).toBe(1)
    expect(sameAsFindmnt("-T", `${dir}/sub`).status).toBe(0)
    // A path that does not exist is nothing, as for findmnt: exit 1, no output.
    expect(sameAsFindmnt("-T", `${dir}/dangling`)).toMatchObject({ status: 1, out: "" })
    expect(sameAsFindmnt("-T", `${dir}/missing/deeper`)).toMatchObject({ status: 1, out: "" })
    expect(sameAsFindmnt("-C", "-T", `${dir}/to-proc`).status).toBe(0)
  })

  it("shows each mount's 64-bit UNIQ-ID, as statx(STATX_MNT_ID_UNIQUE) gives it", () => {
    const out = linx("list", "-n", "-r", "-o", "TARGET,UNIQ-ID", "-M", "/proc")
    expect(out.status).toBe(0)
    const [target, id] = out.out.trim().split(" ")
    expect(target).toBe("/proc")
    expect(BigInt(id!)).toBe(native().watch.uniqueMountId("/proc"))
    // JSON: a number; a mountinfo file has none.
    const json = JSON.parse(linx("list", "-J", "-o", "TARGET,UNIQ-ID", "-M", "/proc").out)
    expect(typeof json.filesystems[0]["uniq-id"]).toBe("number")
    const file = JSON.parse(linx("list", "-J", "-F", table, "-o", "UNIQ-ID", "-M", "/").out)
    expect(file.filesystems[0]["uniq-id"]).toBeNull()
  })
})

describe.skipIf(!privileged)("list on real mounts with awkward names", () => {
  let base: string
  let target: Target
  beforeAll(async () => {
    base = scratch("linx-cli-list-")
    target = await mountNamespaceTarget()
  })
  afterAll(() => target.kill())

  it("agrees with findmnt on a live table holding every awkward name", () => {
    const names = [
      "with space",
      "tab\there",
      "new\nline",
      "back\\slash",
      "lit\\040eral",
      "cr\rhere",
      "中文",
      "hex\\x41",
    ].map((n) => Buffer.from(n))
    names.push(Buffer.from([0x62, 0x61, 0x64, 0xff]), Buffer.from([0x62, 0x61, 0x64, 0xfe]))
    for (const [i, name] of names.entries()) {
      const dir = Buffer.concat([Buffer.from(`${base}/`), name])
      mkdirSync(dir)
      // A new filesystem's source is text for the API: UTF-8 names only.
      const source = name.toString("utf8").includes("\ufffd") ? `src ${i}` : `src ${name}`
      expect(linx("mount", "-t", "tmpfs", "-o", `size=${i + 1}m`, source, dir).status).toBe(0)
    }
    for (const args of [[], ["-l"], ["-r"], ["-P"], ["-o", columns, "-l"], ["-R", "-M", base]]) {
      sameAsFindmnt(...args)
    }
    // Two names that differ only in bytes that are not UTF-8 stay apart.
    const out = linx("list", "-rn", "-o", "TARGET", "-R", "-M", base).out
    expect(out).toContain(`${base}/bad\\xff\n`)
    expect(out).toContain(`${base}/bad\\xfe\n`)
  })

  it("reads another process's namespace with --pid, -N and --ns, and resolves -T there", () => {
    const pid = String(target.pid)
    expect(linx("mount", "--pid", pid, "-t", "tmpfs", "linx-in-ns", "/mnt").status).toBe(0)
    expect(
      linx("mount", "--pid", pid, "-t", "tmpfs", "-o", "X-mount.mkdir", "deeper", "/mnt/a").status,
    ).toBe(0)
    const byPid = sameAsFindmnt("-N", pid)
    expect(byPid.out).toContain("linx-in-ns")
    expect(linx("list", "--pid", pid).stdout.equals(byPid.stdout)).toBe(true)
    expect(linx("list", "--ns", `/proc/${pid}/ns/mnt`).stdout.equals(byPid.stdout)).toBe(true)
    expect(linx("list").out).not.toContain("linx-in-ns")
    // -T resolves inside the process's root: /mnt/a/x does not exist here.
    expect(linx("list", "--pid", pid, "-n", "-o", "SOURCE", "-T", "/mnt/a").out).toBe("deeper\n")
    expect(linx("list", "--pid", pid, "-n", "-o", "SOURCE", "-T", "/mnt/a/..")).toMatchObject({
      out: "linx-in-ns\n",
    })
    expect(linx("list", "--pid", pid, "-T", "/mnt/missing").status).toBe(1)
    expect(
      linx("list", "--ns", `/proc/${pid}/ns/mnt`, "-n", "-o", "SOURCE", "-M", "/mnt/a/").out,
    ).toBe("deeper\n")
    expect(linx("umount", "--pid", pid, "-R", "/mnt").status).toBe(0)
  })

  it("--poll prints what findmnt --poll prints for mount, move and umount", async () => {
    mkdirSync(`${base}/p1`)
    mkdirSync(`${base}/p2`)
    const collect = (command: string, args: Array<string>) => {
      const child = spawn(command, args, { env: { ...process.env, LC_ALL: "C.UTF-8" } })
      let text = ""
      child.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString()
      })
      return { child, text: () => text }
    }
    // Only this test's mounts: other test files mount in the same namespace meanwhile.
    const args = [
      "--poll",
      "-o",
      "ACTION,TARGET,SOURCE,FSTYPE,OPTIONS,OLD-TARGET",
      "-O",
      "size=1028k",
    ]
    const ours = collect(process.execPath, [cliPath, "list", ...args])
    const theirs = collect("findmnt", args)
    const tmpfs = (source: string, dir: string) =>
      expect(linx("mount", "-t", "tmpfs", "-o", "nosuid,size=1028k", source, dir).status).toBe(0)
    try {
      // Both are watching once a probe mount shows up in both outputs.
      for (
        let i = 0;
        i < 100 && !(ours.text().includes("probe") && theirs.text().includes("probe"));
        i++
      ) {
        tmpfs("probe", `${base}/p1`)
        linx("umount", `${base}/p1`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const before = [ours.text().length, theirs.text().length]
      const settle = () => new Promise((resolve) => setTimeout(resolve, 300))
      tmpfs("polled", `${base}/p1`)
      await settle()
      expect(linx("move", `${base}/p1`, `${base}/p2`).status).toBe(0)
      await settle()
      tmpfs("second", `${base}/p1`)
      await settle()
      expect(linx("umount", `${base}/p1`, `${base}/p2`).status).toBe(0)
      await settle()
      const tail = (text: string, from: number) => text.slice(from).replace(/^.*probe.*\n/gm, "")
      const mine = tail(ours.text(), before[0]!)
      expect(mine).toBe(tail(theirs.text(), before[1]!))
      expect(mine).toMatch(/^mount +\S+\/p1 +polled +tmpfs +rw,nosuid/m)
      expect(mine).toMatch(/^move +\S+\/p2 +polled .* \S+\/p1$/m)
      expect(mine.split("\n").filter((l) => l.startsWith("umount"))).toHaveLength(2)
    } finally {
      ours.child.kill()
      theirs.child.kill()
    }
  })

  it("watch prints each MountEvent, as text or JSON", async () => {
    mkdirSync(`${base}/w`)
    const run = (json: boolean) => {
      const child = spawn(process.execPath, [
        cliPath,
        "watch",
        ...(json ? ["--json"] : []),
        "--count",
        "40",
        "--timeout",
        "3000",
      ])
      let text = ""
      child.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString()
      })
      const done = new Promise((resolve) => child.once("exit", resolve))
      return { text: () => text, done, child }
    }
    const text = run(false)
    const json = run(true)
    try {
      for (
        let i = 0;
        i < 100 && !(text.text().includes("attach") && json.text().includes("attach"));
        i++
      ) {
        linx("mount", "-t", "tmpfs", "wprobe", `${base}/w`)
        linx("umount", `${base}/w`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(linx("mount", "-t", "tmpfs", "watched", `${base}/w`).status).toBe(0)
      const id = linx("list", "-rn", "-o", "UNIQ-ID", "-M", `${base}/w`).out.trim()
      expect(linx("umount", `${base}/w`).status).toBe(0)
      await Promise.all([text.done, json.done])
      expect(text.text()).toContain(`attach ${id} ${base}/w\n`)
      expect(text.text()).toContain(`detach ${id}\n`)
      const events = json
        .text()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
      expect(events).toContainEqual({ kind: "attach", uniqueId: id, mountPoint: `${base}/w` })
      expect(events).toContainEqual({ kind: "detach", uniqueId: id })
    } finally {
      text.child.kill()
      json.child.kill()
    }
  })
})
