/**
 * Helpers for the command-line tests: run `linx-mount` (the built `dist/src/cli.js`) with
 * arguments that are exact bytes, run util-linux's findmnt, mount and umount as oracles,
 * make mount tables with awkward names, and temporary directories that are all removed
 * again (a test leaves no /tmp/linx-* behind).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const cliPath = fileURLToPath(new URL("../../dist/src/cli.js", import.meta.url))

export interface Ran {
  readonly status: number | null
  readonly stdout: Buffer
  readonly stderr: string
  /** stdout as UTF-8 (what a terminal would show). */
  readonly out: string
}

/** bash's $'…' quoting: every byte as \xHH, so any bytes reach the program exactly. */
const quote = (arg: string | Uint8Array): string => {
  const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : Buffer.from(arg)
  return `$'${[...bytes].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("")}'`
}

/** The oracles and our command see the same locale: C.UTF-8, as findmnt's encoding needs. */
const env = { ...process.env, LC_ALL: "C.UTF-8", LANG: "C.UTF-8" }

/** Runs `program args…` through bash, each argument's bytes exactly as given. */
export const runBytes = (
  program: string,
  args: ReadonlyArray<string | Uint8Array>,
  options: { readonly timeout?: number } = {},
): Ran => {
  const result = spawnSync("bash", ["-c", `exec ${[program, ...args].map(quote).join(" ")}`], {
    env,
    timeout: options.timeout ?? 30_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr.toString("utf8"),
    out: result.stdout.toString("utf8"),
  }
}

/** `linx-mount args…`. */
export const linx = (...args: ReadonlyArray<string | Uint8Array>): Ran =>
  runBytes(process.execPath, [cliPath, ...args])

/** util-linux's findmnt, the oracle for `list`. */
export const findmnt = (...args: ReadonlyArray<string | Uint8Array>): Ran =>
  runBytes("findmnt", args)

/** findmnt's stderr as ours would read: its program name replaced by `linx-mount list`. */
export const asOurs = (stderr: string): string =>
  stderr
    .replaceAll(/^findmnt:/gm, "linx-mount list:")
    .replaceAll("Try 'findmnt --help'", "Try 'linx-mount list --help'")

// ---- temporary directories ---------------------------------------------------------------

const made: Array<{ readonly dir: string; readonly mounted: boolean }> = []

/** A fresh directory /tmp/<prefix>XXXXXX, removed by {@link cleanup}. */
export const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join("/tmp", prefix))
  made.push({ dir, mounted: false })
  return dir
}

/** A fresh private tmpfs on /tmp/<prefix>XXXXXX (root, in the test namespace). */
export const scratch = (prefix: string): string => {
  const dir = mkdtempSync(join("/tmp", prefix))
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "linx-cli-test", dir])
  execFileSync("mount", ["--make-private", dir])
  made.push({ dir, mounted: true })
  return dir
}

/** Unmounts every scratch tmpfs (everything below it too) and removes every directory made. */
export const cleanup = (): void => {
  for (const { dir, mounted } of made.splice(0).reverse()) {
    if (mounted) spawnSync("umount", ["--recursive", "--lazy", dir])
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The directories made and not yet removed (each test file checks it leaves none). */
export const leftBehind = (): Array<string> => made.map((m) => m.dir).filter((d) => existsSync(d))

// ---- awkward mount tables ---------------------------------------------------------------------

/** Names with every byte findmnt and the kernel treat specially. */
export const awkwardNames: ReadonlyArray<Buffer> = [
  "with space",
  "tab\there",
  "new\nline",
  "back\\slash",
  "lit\\040eral",
  "cr\rhere",
  "中文目录",
  "ｆｕｌｌ",
  "café-ü",
  "comb\u0301ined",
  "emoji\u{1f600}",
  "zero\u200bwidth",
  "c1\u0085ctl",
  "line\u2028sep",
  "hex\\x41",
  "del\x7f",
  "hash#name",
  "quote\"d'",
  "dollar$`tick`",
  "comma,eq=",
].map((s) => Buffer.from(s, "utf8"))

/** Names that are not UTF-8 (their JSON differs from findmnt's, which writes raw bytes). */
export const nonUtf8Names: ReadonlyArray<Buffer> = [
  Buffer.from([0x62, 0x61, 0x64, 0xff]),
  Buffer.from([0x62, 0x61, 0x64, 0xfe, 0x20, 0x73]),
  Buffer.from([0x6f, 0x76, 0xc0, 0xaf]),
  Buffer.from([0x74, 0x72, 0xe4, 0xb8]),
]

/** The kernel's mountinfo escaping: space, tab, newline, backslash (and # in a source). */
const mangle = (b: Buffer, source = false): Buffer => {
  const out: Array<number> = []
  for (const c of b) {
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x5c || (source && c === 0x23)) {
      out.push(0x5c, ...Buffer.from(c.toString(8).padStart(3, "0")))
    } else {
      out.push(c)
    }
  }
  return Buffer.from(out)
}

/** A small deterministic random number generator (mulberry32). */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * A mountinfo table of `count` mounts in a tree below `/`, with awkward names (and, unless
 * `utf8Only`, names that are not UTF-8), every propagation combination, binds (a root
 * other than `/`), empty sources, stacked mounts and escaped options — the kernel's format
 * exactly, as findmnt reads it with `-F`.
 */
export const awkwardTable = (seed: number, count: number, utf8Only = false): Buffer => {
  const next = random(seed)
  const pick = <T>(xs: ReadonlyArray<T>): T => xs[Math.floor(next() * xs.length)]!
  const names = utf8Only ? awkwardNames : [...awkwardNames, ...nonUtf8Names]
  const lines: Array<Buffer> = [
    Buffer.from("21 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard"),
  ]
  const mounts: Array<{ id: number; path: Buffer }> = [{ id: 21, path: Buffer.from("/") }]
  const propagation = [
    "",
    "shared:7",
    "master:3",
    "shared:9 master:3",
    "unbindable",
    "shared:11 unbindable",
  ]
  const vfs = [
    "rw,relatime",
    "ro,nosuid,nodev,relatime",
    "rw,noexec,noatime",
    "ro,relatime,nosymfollow",
    "rw",
  ]
  const fs = [
    "rw",
    "ro",
    "rw,size=1024k,mode=755",
    "ro,size=4k",
    "rw,opt\\040with\\134slash",
    "rw,mode=750,uid=0",
  ]
  const types = ["tmpfs", "proc", "ext4", "fuse.sshfs", "cgroup2", "overlay"]
  for (let i = 0; i < count; i++) {
    const id = 100 + i
    const parent = i % 7 === 6 ? mounts[mounts.length - 1]! : pick(mounts)
    const stacked = i % 13 === 12 && parent.id !== 21
    const path = stacked
      ? parent.path
      : Buffer.concat([
          parent.path,
          parent.path.length > 1 ? Buffer.from("/") : Buffer.alloc(0),
          pick(names),
          Buffer.from(`-${i}`),
        ])
    const root = i % 5 === 4 ? Buffer.concat([Buffer.from("/sub "), pick(names)]) : Buffer.from("/")
    const source = i % 9 === 8 ? Buffer.alloc(0) : Buffer.concat([Buffer.from("src "), pick(names)])
    const opt = pick(propagation)
    lines.push(
      Buffer.concat([
        Buffer.from(`${id} ${parent.id} 0:${id % 64} `),
        mangle(root),
        Buffer.from(" "),
        mangle(path),
        Buffer.from(` ${pick(vfs)}${opt === "" ? "" : ` ${opt}`} - ${pick(types)} `),
        mangle(source, true),
        Buffer.from(` ${pick(fs)}`),
      ]),
    )
    if (!stacked) mounts.push({ id, path })
  }
  return Buffer.concat([Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")]))])
}

/** Writes `content` to a new file in a temporary directory; its path. */
export const tableFile = (content: Buffer | string, name = "mountinfo"): string => {
  const file = join(tempDir("linx-cli-table-"), name)
  writeFileSync(file, content)
  return file
}
