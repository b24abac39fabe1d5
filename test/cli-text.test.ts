/**
 * The CLI's text layer on its own: the width table against glibc (the C library findmnt
 * measures with), the encodings and their inverse, getopt's habits, mount(8)'s words.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { arg, getopt, type OptionSpec, UsageError } from "../src/internal/cli/args.js"
import { mergeOptions } from "../src/internal/cli/columns.js"
import { matchFstype, matchOptions, samePath } from "../src/internal/cli/match.js"
import { meaningOf, sortWords, splitWords, typoOf } from "../src/internal/cli/options.js"
import {
  decodeHexEscapes,
  humanCell,
  jsonString,
  quotedCell,
  rawCell,
  unmangle,
} from "../src/internal/cli/text.js"
import { codePointWidth } from "../src/internal/cli/wcwidth.js"
import { cleanup, leftBehind, tempDir } from "./support/cli.js"

const cc = spawnSync("cc", ["--version"]).status === 0

afterAll(() => {
  cleanup()
  expect(leftBehind()).toEqual([])
})

describe("display widths", () => {
  it.skipIf(!cc && !process.env.CI)(
    "agree with glibc's wcwidth and iswprint for every code point",
    () => {
      const dir = tempDir("linx-cli-wcwidth-")
      const exe = join(dir, "wcwidth")
      execFileSync("cc", [
        "-O2",
        "-o",
        exe,
        fileURLToPath(new URL("./fixtures/cli/wcwidth.c", import.meta.url)),
      ])
      const ranges = execFileSync(exe, { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 })
      let checked = 0
      for (const line of ranges.trim().split("\n")) {
        const [start, end, kind] = line.split(" ")
        const want = kind === "n" || kind === "s" ? -1 : Number(kind)
        const lo = Number.parseInt(start!, 16)
        const hi = Number.parseInt(end!, 16)
        // Both ends and the middle of every range.
        for (const cp of new Set([lo, (lo + hi) >> 1, hi])) {
          expect(codePointWidth(cp), `U+${cp.toString(16)}`).toBe(want)
          checked++
        }
      }
      expect(checked).toBeGreaterThan(3000)
    },
  )

  it("measure CJK as 2 columns, combining marks as 0", () => {
    expect(humanCell(Buffer.from("中文")).width).toBe(4)
    expect(humanCell(Buffer.from("ｆｕｌｌ")).width).toBe(8)
    expect(humanCell(Buffer.from("e\u0301")).width).toBe(1)
    expect(humanCell(Buffer.from("a\u200bb")).width).toBe(2)
  })
})

describe("findmnt's encodings", () => {
  it.each([
    ["plain", "plain", 5],
    ["with space", "with space", 10],
    ["tab\there", "tab\\x09here", 11],
    ["new\nline", "new\\x0aline", 11],
    ["cr\r", "cr\\x0d", 6],
    ["back\\slash", "back\\slash", 10],
    ["lit\\x41", "lit\\x5cx41", 10],
    ["del\x7f", "del\\x7f", 7],
    ["c1\u0085", "c1\\xc2\\x85", 10],
    ["sep\u2028", "sep\\xe2\\x80\\xa8", 15],
    ["中", "中", 2],
  ])("the table shows %j as %j (%i columns)", (name, text, width) => {
    expect(humanCell(Buffer.from(name))).toEqual({ text, width })
  })

  it("escapes bytes that are not UTF-8 one by one", () => {
    expect(humanCell(Buffer.from([0x61, 0xff, 0x62])).text).toBe("a\\xffb")
    expect(humanCell(Buffer.from([0xe4, 0xb8])).text).toBe("\\xe4\\xb8")
    expect(humanCell(Buffer.from([0xc0, 0xaf])).text).toBe("\\xc0\\xaf")
    expect(humanCell(Buffer.from([0xed, 0xa0, 0x80])).text).toBe("\\xed\\xa0\\x80")
  })

  it("raw (-r) escapes blanks, backslash and everything outside printable ASCII", () => {
    expect(rawCell(Buffer.from("a b\tc\\d中"))).toBe("a\\x20b\\x09c\\x5cd\\xe4\\xb8\\xad")
  })

  it("pairs (-P) quote and escape shell metacharacters", () => {
    expect(quotedCell(Buffer.from('a"b$c`d\\e é'))).toBe('"a\\x22b\\x24c\\x60d\\x5ce \\xc3\\xa9"')
  })

  it("JSON escapes as findmnt does, and keeps a name that is not UTF-8 valid JSON", () => {
    expect(jsonString(Buffer.from('q"b\\n\nt\tc\x01\x7f中'))).toBe(
      '"q\\"b\\\\n\\nt\\tc\\u0001\x7f中"',
    )
    const bad = jsonString(Buffer.from([0x2f, 0xff, 0x0a]))
    expect(JSON.parse(bad)).toBe("/\\xff\\x0a")
  })

  it("reads every escaped name back to its bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const b = Buffer.from(bytes)
        for (const text of [humanCell(b).text, rawCell(b)]) {
          const t = Buffer.from(text, "utf8")
          expect(decodeHexEscapes(t) ?? t).toEqual(b)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it("decodes the kernel's octal escapes in options (libmount's unmangle)", () => {
    expect(unmangle("a\\040b\\134c\\12").toString()).toBe("a b\\c\\12")
  })
})

describe("libmount's rules, ported", () => {
  it("merges mount and superblock options as merge_optstr does", () => {
    const m = (vfs: string, fs: string) =>
      mergeOptions(Buffer.from(vfs), Buffer.from(fs)).toString()
    expect(m("rw,relatime", "rw,size=1k")).toBe("rw,relatime,size=1k")
    expect(m("ro,relatime", "rw,size=1k")).toBe("ro,relatime,size=1k")
    expect(m("rw,nosuid", "ro,mode=755")).toBe("ro,nosuid,mode=755")
    expect(m("rw", "rw")).toBe("rw")
  })

  it("matches types and options with findmnt's no-prefixes", () => {
    expect(matchFstype("tmpfs", "notmpfs,proc")).toBe(false)
    expect(matchFstype("ext4", "notmpfs,proc")).toBe(true)
    expect(matchFstype("proc", "tmpfs,noproc")).toBe(false)
    expect(matchFstype("TMPFS", "tmpfs")).toBe(true)
    const o = Buffer.from("ro,nosuid,size=4k")
    expect(matchOptions(o, "ro")).toBe(true)
    expect(matchOptions(o, "rw")).toBe(false)
    expect(matchOptions(o, "noexec")).toBe(true) // "no option exec"
    expect(matchOptions(o, "+nosuid")).toBe(true)
    expect(matchOptions(o, "nosuid")).toBe(true) // "no option suid"
    expect(matchOptions(o, "size=4k,ro")).toBe(true)
    expect(matchOptions(o, "size=8k")).toBe(false)
  })

  it("compares paths as streq_paths does", () => {
    const s = (a: string, b: string) => samePath(Buffer.from(a), Buffer.from(b))
    expect(s("/a/b", "/a/b/")).toBe(true)
    expect(s("//a//b", "/a/b")).toBe(true)
    expect(s("/a/./b", "/a/b")).toBe(false)
    expect(s("a", "/a")).toBe(false)
    expect(s("/", "/")).toBe(true)
  })
})

describe("getopt, as util-linux's tools parse", () => {
  const specs: ReadonlyArray<OptionSpec> = [
    { id: "raw", short: "r", long: ["raw"] },
    { id: "noheadings", short: "n", long: ["noheadings"] },
    { id: "output", short: "o", long: ["output"], value: "required" },
    { id: "output-all", long: ["output-all"] },
    { id: "poll", short: "p", long: ["poll"], value: "optional" },
  ]
  const parse = (...args: Array<string>) => {
    const p = getopt(args.map(arg), specs)
    return {
      options: p.options.map((o) => [o.id, o.value?.text]),
      operands: p.operands.map((a) => a.text),
    }
  }

  it("bundles short options, takes attached values, permutes, stops at --", () => {
    expect(parse("-rn", "-oTARGET", "x", "-o", "SOURCE", "--", "-r")).toEqual({
      options: [
        ["raw", undefined],
        ["noheadings", undefined],
        ["output", "TARGET"],
        ["output", "SOURCE"],
      ],
      operands: ["x", "-r"],
    })
    expect(parse("--output=ID", "--poll", "--poll=mount", "-pumount").options).toEqual([
      ["output", "ID"],
      ["poll", undefined],
      ["poll", "mount"],
      ["poll", "umount"],
    ])
  })

  it("takes unique prefixes of long options, and says getopt's words otherwise", () => {
    expect(parse("--noh", "--ra").options).toEqual([
      ["noheadings", undefined],
      ["raw", undefined],
    ])
    const error = (...args: Array<string>) => {
      try {
        parse(...args)
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError)
        return (e as Error).message
      }
      return undefined
    }
    expect(error("--bogus")).toBe("unrecognized option '--bogus'")
    expect(error("-x")).toBe("invalid option -- 'x'")
    expect(error("-o")).toBe("option requires an argument -- 'o'")
    expect(error("--output")).toBe("option '--output' requires an argument")
    expect(error("--raw=1")).toBe("option '--raw' doesn't allow an argument")
    expect(error("--out")).toBe(
      "option '--out' is ambiguous; possibilities: '--output' '--output-all'",
    )
  })
})

describe("mount(8)'s option words", () => {
  it("maps the generic words as util-linux does", () => {
    expect(meaningOf("exec")).toEqual({ kind: "flag", flag: "noexec", set: false })
    expect(meaningOf("norelatime")).toEqual({ kind: "flag", flag: "relatime", set: false })
    expect(meaningOf("X-mount.mkdir")).toEqual({ kind: "create" })
    expect(meaningOf("rprivate")).toEqual({ kind: "propagation", type: "private", recursive: true })
    expect(meaningOf("x-systemd.automount")).toEqual({ kind: "none" })
    expect(meaningOf("size=64m")).toBeUndefined()
    expect(meaningOf("loop")).toMatchObject({ kind: "unsupported" })
  })

  it("sorts the words of several -o, quoted commas kept", () => {
    const s = sortWords(splitWords(['ro,context="a,b",size=1m', "rbind,X-mount.mkdir,shared"]))
    expect(s).toMatchObject({
      bind: true,
      rbind: true,
      create: true,
      data: ['context="a,b"', "size=1m"],
    })
    expect(s.propagation).toEqual([{ type: "shared", recursive: false }])
    expect(() => sortWords(["user"])).toThrow(/never on behalf of another user/)
  })

  it("suggests the generic word a typo stands for, not for real options", () => {
    expect(typoOf("noexce")).toBe("noexec")
    expect(typoOf("nosiud")).toBe("nosuid")
    expect(typoOf("size=1m")).toBeUndefined()
    expect(typoOf("inode64")).toBeUndefined()
  })
})
