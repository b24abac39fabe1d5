/**
 * The mutating commands against mount(8) and umount(8), the oracles: the same mount made or
 * changed both ways must read the same in /proc/self/mountinfo (what the kernel did, not what
 * the code believes). Unknown words are refused with nothing mounted; remount merges as
 * mount(8) merges; umount -R, several targets, names that are not UTF-8, --help, --version.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { recursiveUmount } from "../src/internal/cli/verbs.js"
import { parseMountInfo } from "../src/internal/mountinfo.js"
import { cleanup, cliPath, leftBehind, linx, scratch } from "./support/cli.js"
import { privileged } from "./support/privileged.js"
import { mountNamespaceTarget, type Target } from "./support/targets.js"

const verbs = [
  "mount",
  "umount",
  "remount",
  "bind",
  "move",
  "setattr",
  "set-attributes",
  "pivot-root",
  "make-private",
  "make-shared",
  "make-slave",
  "make-unbindable",
  "make-rprivate",
]

afterAll(() => {
  cleanup()
  expect(leftBehind()).toEqual([])
})

describe("usage", () => {
  it.each(verbs)("%s --help and -h print its help and exit 0", (verb) => {
    for (const flag of ["--help", "-h"]) {
      const r = linx(verb, flag)
      expect(r.status).toBe(0)
      expect(r.stderr).toBe("")
      expect(r.out).toContain(`linx-mount ${verb}`)
    }
  })

  it("--version prints the package's version, from the top and from each verb", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
    for (const args of [["--version"], ["-V"], ["mount", "-V"], ["umount", "--version"]]) {
      expect(linx(...args)).toMatchObject({ status: 0, out: `linx-mount ${pkg.version}\n` })
    }
    expect(linx("--help")).toMatchObject({ status: 0 })
    expect(linx("--help").out).toContain("Commands:")
  })

  it.each([
    [["frobnicate"], "linx-mount: unknown command 'frobnicate'"],
    [[], "linx-mount: no command given"],
    [["mount", "--bogus"], "linx-mount mount: unrecognized option '--bogus'"],
    [["mount", "-o"], "linx-mount mount: option requires an argument -- 'o'"],
    [["mount"], "linx-mount mount: bad usage: SOURCE and TARGET needed"],
    [["mount", "/mnt"], "linx-mount mount: bad usage: SOURCE and TARGET needed"],
    [["mount", "x", "/mnt"], "linx-mount mount: -t TYPE is needed"],
    [["mount", "-t", "tmpfs", "a", "b", "c"], "linx-mount mount: bad usage: too many arguments"],
    [
      ["mount", "-o", "loop", "-t", "ext4", "img", "/mnt"],
      "linx-mount mount: loop: linx-mount sets up no loop device",
    ],
    [
      ["mount", "--bind", "-o", "noexce", "/a", "/b"],
      "linx-mount mount: unknown option word 'noexce' (did you mean 'noexec'?)",
    ],
    [
      ["mount", "--bind", "-o", "sync", "/a", "/b"],
      "linx-mount mount: 'sync' is a filesystem flag",
    ],
    [["mount", "--move", "-o", "ro", "/a", "/b"], "linx-mount mount: a move takes no option words"],
    [["umount"], "linx-mount umount: bad usage"],
    [["umount", "-a"], "linx-mount umount: --all is not supported"],
    [["umount", "--pid", "abc", "/mnt"], "linx-mount umount: invalid PID argument: 'abc'"],
    [
      ["umount", "--pid", "1", "--ns", "/x", "/mnt"],
      "linx-mount umount: --pid, --ns and --namespace exclude each other",
    ],
    [["bind", "/tmp"], "linx-mount bind: bad usage: SOURCE and TARGET expected"],
    [["bind", "--source-in", "host", "/a", "/b"], "linx-mount bind: --source-in takes 'self'"],
    [["remount", "-o", "ro"], "linx-mount remount: bad usage: one TARGET expected"],
    [["setattr", "/mnt"], "linx-mount setattr: nothing to change"],
    [
      ["setattr", "-o", "rprivate", "/mnt"],
      "linx-mount setattr: 'rprivate': setattr applies to the whole tree with -R",
    ],
  ])("%j exits 1: %s", (args, message) => {
    const r = linx(...args)
    expect(r.status).toBe(1)
    expect(r.out).toBe("")
    expect(r.stderr.startsWith(message)).toBe(true)
    // util-linux's form: the message, then where to look.
    expect(r.stderr).toMatch(/\nTry 'linx-mount( \S+)? --help' for more information\.\n$/)
  })

  it("orders umount -R as umount(8) does: overmount, then children by id, deepest first", () => {
    const table = parseMountInfo(
      [
        "10 1 0:1 / /a rw - tmpfs t rw",
        "12 10 0:2 / /a/y rw - tmpfs t rw",
        "11 10 0:3 / /a/x rw - tmpfs t rw",
        "13 11 0:4 / /a/x/z rw - tmpfs t rw",
        "14 10 0:5 / /a rw - tmpfs t rw",
        "15 14 0:6 / /a/over rw - tmpfs t rw",
        "",
      ].join("\n"),
    )
    const order = recursiveUmount(table, table[0]!, ["detach"]).map((s) =>
      s.verb === "umount" ? `${s.target}` : "?",
    )
    expect(order).toEqual(["/a/over", "/a", "/a/x/z", "/a/x", "/a/y", "/a"])
  })
})

describe.skipIf(!privileged)("the verbs against mount(8) and umount(8)", () => {
  let base: string
  let n = 0
  const dir = () => {
    const d = `${base}/d${n++}`
    mkdirSync(d)
    return d
  }
  /** The mount on top at `path`: its per-mount options and super options. */
  const at = (path: string) => {
    const e = parseMountInfo(readFileSync("/proc/self/mountinfo"))
      .filter((x) => x.mountPoint === path)
      .at(-1)
    return e === undefined
      ? undefined
      : { vfs: e.mountOptions, fs: e.superOptions, source: e.source }
  }
  const mount8 = (...args: Array<string>) => execFileSync("mount", args, { stdio: "pipe" })
  const table = () => readFileSync("/proc/self/mountinfo", "utf8")

  beforeAll(() => {
    base = scratch("linx-cli-verbs-")
  })

  it.each([
    ["ro,nodev,size=2m,mode=700"],
    ["noexec,nosuid,strictatime"],
    ["noatime,nodiratime,nosymfollow"],
    ["sync,lazytime,dirsync"],
    ["defaults,rw,exec,suid,dev"],
    ["ro,rw,noexec,exec"],
    ["relatime,noatime"],
    ["nostrictatime,norelatime,atime"],
    ["mode=1777,nr_inodes=100"],
  ])("mount -t tmpfs -o %s gives what mount(8) gives", (options) => {
    const ours = dir()
    const theirs = dir()
    expect(linx("mount", "-t", "tmpfs", "-o", options, "linx-src", ours)).toMatchObject({
      status: 0,
      stderr: "",
    })
    mount8("-t", "tmpfs", "-o", options, "linx-src", theirs)
    expect(at(ours)).toEqual(at(theirs))
  })

  it("makes the mount point with -o X-mount.mkdir (or --create)", () => {
    const d = `${base}/made-${n++}/deeper`
    // The mount point only, not its parents (X-mount.mkdir makes them all: mount(8)'s mkdir -p).
    const missing = linx("mount", "-t", "tmpfs", "-o", "X-mount.mkdir", "made", d)
    expect(missing.status).toBe(32)
    expect(missing.stderr).toMatch(/^linx-mount mount: creating the mount point .* ENOENT/)
    const e = `${base}/made-${n++}`
    expect(linx("mount", "-t", "tmpfs", "-o", "X-mount.mkdir", "made", e).status).toBe(0)
    expect(at(e)?.source).toBe("made")
  })

  // [the mount's options, the remount's words]: mount(8)'s merge is the oracle.
  it.each([
    ["ro,nodev", "nosuid"],
    ["rw,nosuid,nodev", "ro"],
    ["ro", "rw"],
    ["noexec", "exec"],
    ["noatime", "relatime"],
    ["relatime", "norelatime"],
    ["strictatime", "nosuid"],
    ["nodiratime,noatime", "diratime"],
    ["nosymfollow", "symfollow,nodev"],
    ["size=1m", "size=2m"],
    ["ro,size=1m", "rw,size=3m,mode=711"],
    ["sync", "async"],
    ["lazytime", "nosuid"],
    ["defaults", "remount,ro,noexec"],
  ])("on a tmpfs mounted -o %s, remount -o %s merges as mount(8) does", (start, words) => {
    const ours = dir()
    const theirs = dir()
    mount8("-t", "tmpfs", "-o", start, "merge", ours)
    mount8("-t", "tmpfs", "-o", start, "merge", theirs)
    expect(linx("mount", "-o", `remount,${words}`, ours)).toMatchObject({ status: 0, stderr: "" })
    mount8("-o", `remount,${words}`, theirs)
    expect(at(ours)).toEqual(at(theirs))
    // The remount verb is the same command.
    const again = dir()
    mount8("-t", "tmpfs", "-o", start, "merge", again)
    expect(linx("remount", "-o", words, again).status).toBe(0)
    expect(at(again)).toEqual(at(theirs))
  })

  it("the issue's case: -o remount,nosuid on a ro,nodev mount leaves ro,nosuid,nodev", () => {
    const d = dir()
    mount8("-t", "tmpfs", "-o", "ro,nodev", "issue", d)
    expect(linx("mount", "-o", "remount,nosuid", d).status).toBe(0)
    expect(at(d)?.vfs).toBe("ro,nosuid,nodev,relatime")
  })

  it.each([
    ["ro", "nosuid"],
    ["ro,nodev", "exec,noatime"],
    ["nosuid", "rw"],
    ["noexec", "ro"],
  ])("on a bind mounted -o %s, remount,bind -o %s merges as mount(8) does", (start, words) => {
    const src = dir()
    mount8("-t", "tmpfs", "bindsrc", src)
    const ours = dir()
    const theirs = dir()
    for (const d of [ours, theirs]) mount8("--bind", "-o", start, src, d)
    expect(at(ours)).toEqual(at(theirs))
    expect(linx("mount", "-o", `remount,bind,${words}`, ours)).toMatchObject({ status: 0 })
    mount8("-o", `remount,bind,${words}`, theirs)
    expect(at(ours)).toEqual(at(theirs))
    // The filesystem itself was not touched.
    expect(at(src)?.fs).toBe("rw")
  })

  it("changes only the mount, never the filesystem, for per-mount words on a read-only bind", () => {
    const src = dir()
    mount8("-t", "tmpfs", "fsrw", src)
    const ro = dir()
    expect(linx("bind", "-o", "ro", src, ro).status).toBe(0)
    expect(linx("remount", "-o", "nosuid", ro).status).toBe(0)
    expect(at(ro)?.vfs).toBe("ro,nosuid,relatime")
    // mount(8) would have made the whole filesystem read-only here (MS_RDONLY from the
    // merged options); linx-mount leaves it writable.
    expect(at(src)).toMatchObject({ vfs: "rw,relatime", fs: "rw" })
    writeFileSync(`${src}/still-writable`, "")
  })

  it("refuses unknown words before anything is done", () => {
    const src = dir()
    const d = dir()
    mount8("-t", "tmpfs", "-o", "ro", "known", src)
    const before = table()
    for (const args of [
      ["mount", "--bind", "-o", "ro,noexce", src, d],
      ["bind", "-o", "nosiud", src, d],
      ["mount", "-o", "remount,bind,noexce", src],
      ["remount", "--bind", "-o", "size=2m", src],
      ["mount", "-t", "tmpfs", "-o", "ro,loop", "x", d],
      ["mount", "-t", "tmpfs", "-o", "user", "x", d],
      ["setattr", "-o", "noexce", src],
    ]) {
      const r = linx(...args)
      expect(r.status, args.join(" ")).toBe(1)
      expect(r.stderr).toMatch(/^linx-mount \S+: /)
    }
    expect(table()).toBe(before)
    // A new filesystem's own words go to it: the kernel refuses, in its own words (32).
    const refused = linx("mount", "-t", "tmpfs", "-o", "ro,noexce", "x", d)
    expect(refused.status).toBe(32)
    expect(refused.stderr).toMatch(
      /^linx-mount mount: .*the kernel says: tmpfs: Unknown parameter 'noexce'\n$/,
    )
    // So does a filesystem's remount, and the mount is left as it was.
    const remount = linx("remount", "-o", "rw,noexce", src)
    expect(remount.status).toBe(32)
    expect(remount.stderr).toContain("tmpfs: Unknown parameter 'noexce'")
    expect(table()).toBe(before)
    // One line each, never repeated words.
    for (const r of [refused, remount]) {
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1)
      const message = r.stderr.replace(/^linx-mount \S+: /, "")
      expect(message).not.toMatch(/\b(\w+):? \1\b/)
    }
  })

  it("bind -o ro and mount --bind -o ro both make a read-only bind", () => {
    const src = dir()
    mount8("-t", "tmpfs", "rwsrc", src)
    for (const args of [
      ["bind", "-o", "ro"],
      ["mount", "--bind", "-o", "ro"],
      ["mount", "-o", "bind,ro"],
      ["mount", "-B", "-r"],
    ]) {
      const d = dir()
      expect(linx(...args, src, d)).toMatchObject({ status: 0, stderr: "" })
      expect(at(d)?.vfs.split(",")).toContain("ro")
      expect(() => writeFileSync(`${d}/x`, "")).toThrow(expect.objectContaining({ code: "EROFS" }))
    }
  })

  it("rbind brings the submounts along; --move moves a mount", () => {
    const src = dir()
    mount8("-t", "tmpfs", "top", src)
    mkdirSync(`${src}/sub`)
    mount8("-t", "tmpfs", "sub", `${src}/sub`)
    const r = dir()
    expect(linx("mount", "--rbind", src, r).status).toBe(0)
    expect(at(`${r}/sub`)?.source).toBe("sub")
    const moved = dir()
    expect(linx("mount", "--move", r, moved).status).toBe(0)
    expect(at(r)).toBeUndefined()
    expect(at(`${moved}/sub`)?.source).toBe("sub")
    expect(linx("umount", "-R", moved).status).toBe(0)
    expect(at(moved)).toBeUndefined()
  })

  it("umount -R unmounts a tree in umount(8)'s order; -l lazily", () => {
    const build = () => {
      const top = dir()
      mount8("-t", "tmpfs", "t", top)
      for (const p of ["a", "b", "a/c"]) {
        mkdirSync(`${top}/${p}`)
        mount8("-t", "tmpfs", p, `${top}/${p}`)
      }
      mount8("-t", "tmpfs", "over", `${top}/a`)
      return top
    }
    const observe = (command: Array<string>) => {
      const top = build()
      const before = parseMountInfo(readFileSync("/proc/self/mountinfo")).filter((e) =>
        e.mountPoint.startsWith(top),
      )
      const watch = spawnSync(
        "bash",
        [
          "-c",
          `"$0" "$1" watch --json --count ${before.length} --timeout 5000 & w=$!; sleep 0.8; "\${@:2}" >/dev/null; wait $w`,
          process.execPath,
          cliPath,
          ...command.map((c) => (c === "TOP" ? top : c)),
        ],
        { encoding: "utf8" },
      )
      const ids = new Map(
        before.map((e) => [String(e.uniqueId), `${e.source}:${e.mountPoint.slice(top.length)}`]),
      )
      expect(
        parseMountInfo(readFileSync("/proc/self/mountinfo")).some((e) =>
          e.mountPoint.startsWith(top),
        ),
      ).toBe(false)
      return watch.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { kind: string; uniqueId: string })
        .filter((e) => e.kind === "detach")
        .map((e) => ids.get(e.uniqueId))
    }
    const theirs = observe(["umount", "-R", "TOP"])
    const ours = observe([process.execPath, cliPath, "umount", "-R", "TOP"])
    expect(theirs).toHaveLength(5)
    expect(ours).toEqual(theirs)
    const lazy = build()
    expect(linx("umount", "-R", "-l", lazy).status).toBe(0)
    expect(at(lazy)).toBeUndefined()
    // Not mounted: umount(8)'s words and status (1), for -R.
    expect(linx("umount", "-R", lazy)).toMatchObject({
      status: 1,
      stderr: `linx-mount umount: ${lazy}: not mounted\n`,
    })
    expect(linx("umount", "-R", `${lazy}/missing`)).toMatchObject({
      status: 1,
      stderr: `linx-mount umount: ${lazy}/missing: not found\n`,
    })
  })

  it("unmounts several targets, going on after a failure, exit 32", () => {
    const a = dir()
    const b = dir()
    const notMounted = dir()
    mount8("-t", "tmpfs", "a", a)
    mount8("-t", "tmpfs", "b", b)
    const r = linx("umount", a, notMounted, b)
    expect(r.status).toBe(32)
    expect(r.stderr).toBe(
      `linx-mount umount: unmounting "${notMounted}" failed: EINVAL (invalid argument; not mounted, or not a mount point)\n`,
    )
    expect(at(a)).toBeUndefined()
    expect(at(b)).toBeUndefined()
  })

  it("round-trips names that are not UTF-8: list prints \\xHH, umount takes it back", () => {
    const ff = Buffer.from(`${base}/bad\xff`, "latin1")
    const fe = Buffer.from(`${base}/bad\xfe`, "latin1")
    for (const [i, d] of [ff, fe].entries()) {
      mkdirSync(d)
      expect(linx("mount", "-t", "tmpfs", `raw${i}`, d).status).toBe(0)
    }
    const printed = linx("list", "-rn", "-o", "TARGET,SOURCE", "-R", "-M", base).out
    expect(printed).toContain(`${base}/bad\\xff raw0\n`)
    expect(printed).toContain(`${base}/bad\\xfe raw1\n`)
    // The printed form reaches the mount (and only that one) ...
    expect(linx("umount", `${base}/bad\\xff`)).toMatchObject({ status: 0, stderr: "" })
    const left = linx("list", "-rn", "-o", "TARGET", "-R", "-M", base).out
    expect(left).not.toContain("bad\\xff")
    expect(left).toContain("bad\\xfe")
    // ... and so do the exact bytes, read from /proc/self/cmdline.
    expect(linx("umount", fe)).toMatchObject({ status: 0, stderr: "" })
    expect(linx("list", "-rn", "-o", "TARGET", "-R", "-M", base).out).not.toContain("bad\\x")
    // And a raw-printed blank: list -r's \x20.
    const spaced = `${base}/with space`
    mkdirSync(spaced)
    expect(linx("mount", "-t", "tmpfs", "spaced", spaced).status).toBe(0)
    const name = linx("list", "-rn", "-o", "TARGET", "-S", "spaced").out.trim()
    expect(name).toBe(`${base}/with\\x20space`)
    expect(linx("umount", name).status).toBe(0)
    expect(at(spaced)).toBeUndefined()
  })

  it("changes propagation: --make-*, make-r* and -o private, alone or after a mount", () => {
    const d = dir()
    mount8("-t", "tmpfs", "prop", d)
    const propagation = () => linx("list", "-n", "-o", "PROPAGATION", "-M", d).out.trim()
    expect(linx("mount", "--make-shared", d).status).toBe(0)
    expect(propagation()).toBe("shared")
    // A slave needs a master: a peer of the group it leaves.
    const peer = dir()
    mount8("--bind", d, peer)
    expect(linx("make-slave", d).status).toBe(0)
    expect(propagation()).toBe("private,slave")
    expect(linx("mount", "-o", "private", d).status).toBe(0)
    expect(propagation()).toBe("private")
    expect(linx("make-runbindable", d).status).toBe(0)
    expect(propagation()).toBe("private,unbindable")
    const fresh = dir()
    expect(linx("mount", "-t", "tmpfs", "-o", "shared", "fresh", fresh).status).toBe(0)
    expect(linx("list", "-n", "-o", "PROPAGATION", "-M", fresh).out.trim()).toBe("shared")
  })

  it("setattr sets and clears attributes, recursively with -R", () => {
    const d = dir()
    mount8("-t", "tmpfs", "attr", d)
    mkdirSync(`${d}/in`)
    mount8("-t", "tmpfs", "inner", `${d}/in`)
    expect(linx("setattr", "-R", "-o", "ro,noexec,noatime", d)).toMatchObject({
      status: 0,
      stderr: "",
    })
    expect(at(d)?.vfs).toBe("ro,noexec,noatime")
    expect(at(`${d}/in`)?.vfs).toBe("ro,noexec,noatime")
    expect(linx("set-attributes", "-o", "rw,exec,atime", "--propagation", "shared", d).status).toBe(
      0,
    )
    expect(at(d)?.vfs).toBe("rw,relatime")
    expect(at(`${d}/in`)?.vfs).toBe("ro,noexec,noatime")
    expect(linx("list", "-n", "-o", "PROPAGATION", "-M", d).out.trim()).toBe("shared")
  })

  it("a kernel refusal exits 32 with one line naming what failed", () => {
    const r = linx("umount", `${base}/not-there`)
    expect(r).toMatchObject({
      status: 32,
      stderr: `linx-mount umount: looking up "${base}/not-there" failed: ENOENT (no such file or directory)\n`,
    })
    const dead = linx("umount", "--pid", "4000000", "/mnt")
    expect(dead.status).toBe(32)
    expect(dead.stderr).toMatch(
      /^linx-mount umount: opening the mount namespace file "\/proc\/4000000\/ns\/mnt" failed: ENOENT/,
    )
  })

  describe("in another process's namespace", () => {
    let target: Target
    beforeAll(async () => {
      target = await mountNamespaceTarget()
    })
    afterAll(() => target.kill())

    it("mounts, remounts, lists and unmounts there with --pid, -N and --ns, leaving ours alone", () => {
      const pid = String(target.pid)
      const theirs = () => readFileSync(`/proc/${pid}/mountinfo`, "utf8")
      expect(
        linx("mount", "--pid", pid, "-t", "tmpfs", "-o", "ro,nodev", "inns", "/mnt").status,
      ).toBe(0)
      expect(theirs()).toMatch(/ \/mnt ro,nodev,relatime .* inns /)
      expect(table()).not.toContain(" inns ")
      // The merge reads their table, not ours.
      expect(linx("mount", "-N", pid, "-o", "remount,nosuid", "/mnt").status).toBe(0)
      expect(theirs()).toMatch(/ \/mnt ro,nosuid,nodev,relatime .* inns /)
      expect(linx("remount", "--ns", `/proc/${pid}/ns/mnt`, "-o", "rw", "/mnt").status).toBe(0)
      expect(theirs()).toMatch(/ \/mnt rw,nosuid,nodev,relatime .* inns /)
      expect(linx("list", "--pid", pid, "-n", "-o", "SOURCE", "-M", "/mnt").out).toBe("inns\n")
      expect(linx("umount", "--pid", pid, "/mnt").status).toBe(0)
      expect(theirs()).not.toContain(" inns ")
    })

    it("binds a directory of ours into their namespace with --source-in self", () => {
      const pid = String(target.pid)
      const ours = dir()
      writeFileSync(`${ours}/marker`, "")
      expect(
        linx("bind", "--source-in", "self", "--pid", pid, "-o", "ro", ours, "/mnt"),
      ).toMatchObject({
        status: 0,
      })
      expect(readFileSync(`/proc/${pid}/mountinfo`, "utf8")).toMatch(/ \/mnt ro,/)
      expect(linx("umount", "--pid", pid, "/mnt").status).toBe(0)
    })
  })
})
