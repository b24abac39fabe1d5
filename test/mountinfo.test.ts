import { readFileSync } from "node:fs"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  escapeMountInfoPath,
  MountInfoParser,
  malformedTextBytes,
  maxMalformedKept,
  parseMountInfo,
} from "../src/internal/mountinfo.js"
import { MountEntry } from "../src/MountEntry.js"
import { asFindmnt, type FindmntRow, pick } from "./support/findmnt.js"

const fixture = (name: string) => new URL(`./fixtures/mountinfo/${name}`, import.meta.url)

const line = (fields: {
  id?: number
  parent?: number
  dev?: string
  root?: string
  mountPoint?: string
  options?: string
  tags?: string
  fstype?: string
  source?: string
  superOptions?: string
}) =>
  [
    fields.id ?? 1,
    fields.parent ?? 0,
    fields.dev ?? "0:1",
    fields.root ?? "/",
    fields.mountPoint ?? "/",
    fields.options ?? "rw",
    ...(fields.tags ? [fields.tags] : []),
    "-",
    fields.fstype ?? "tmpfs",
    fields.source ?? "none",
    fields.superOptions ?? "rw",
  ].join(" ")

describe("parseMountInfo: fields", () => {
  it("reads all ten proc(5) fields of the man page's example", () => {
    const [entry, ...rest] = parseMountInfo(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n",
    )
    expect(rest).toEqual([])
    expect(entry).toBeInstanceOf(MountEntry)
    expect(entry?.toJSON()).toEqual({
      mountId: 36,
      parentId: 35,
      major: 98,
      minor: 0,
      root: "/mnt1",
      mountPoint: "/mnt2",
      mountOptions: "rw,noatime",
      propagation: [{ kind: "master", group: 1 }],
      fstype: "ext3",
      source: "/dev/root",
      superOptions: "rw,errors=continue",
    })
  })

  it("keeps large device numbers and ids exact", () => {
    const [entry] = parseMountInfo(line({ id: 4294967295, parent: 2147483647, dev: "259:1048575" }))
    expect(entry).toMatchObject({
      mountId: 4294967295,
      parentId: 2147483647,
      major: 259,
      minor: 1048575,
    })
  })

  it("keeps the option strings raw, escapes included", () => {
    const [entry] = parseMountInfo(
      line({ options: "ro,nosuid", superOptions: "rw,lowerdir=/a\\040b:/c,upperdir=/u" }),
    )
    expect(entry?.mountOptions).toBe("ro,nosuid")
    expect(entry?.superOptions).toBe("rw,lowerdir=/a\\040b:/c,upperdir=/u")
  })

  it("takes the rest of the line as super options", () => {
    const [entry] = parseMountInfo(line({ superOptions: "rw,a b  c" }))
    expect(entry?.superOptions).toBe("rw,a b  c")
  })

  it("parses an empty source (two spaces) without shifting the super options", () => {
    const [entry] = parseMountInfo("99 86 0:150 / /mnt/e rw,relatime - tmpfs  rw,size=4k\n")
    expect(entry?.source).toBe("")
    expect(entry?.fstype).toBe("tmpfs")
    expect(entry?.superOptions).toBe("rw,size=4k")
  })

  it("accepts an empty super options field after the source", () => {
    const [entry] = parseMountInfo("1 0 0:1 / / rw - tmpfs src \n")
    expect(entry?.source).toBe("src")
    expect(entry?.superOptions).toBe("")
  })
})

describe("parseMountInfo: octal escapes", () => {
  it.each([
    ["space", "\\040", " "],
    ["tab", "\\011", "\t"],
    ["newline", "\\012", "\n"],
    ["backslash", "\\134", "\\"],
    ["hash", "\\043", "#"],
    ["NUL-free control byte", "\\001", "\u0001"],
    ["any ASCII \\ooo", "\\101\\172", "Az"],
  ])("decodes %s in root, mount point, fstype and source", (_, escaped, decoded) => {
    const [entry] = parseMountInfo(
      line({
        root: `/r${escaped}r`,
        mountPoint: `/m${escaped}m`,
        fstype: `fuse.x${escaped}`,
        source: `s${escaped}s`,
      }),
    )
    expect(entry?.root).toBe(`/r${decoded}r`)
    expect(entry?.mountPoint).toBe(`/m${decoded}m`)
    expect(entry?.fstype).toBe(`fuse.x${decoded}`)
    expect(entry?.source).toBe(`s${decoded}s`)
  })

  it("decodes several escapes in one field, at its start and end", () => {
    const [entry] = parseMountInfo(line({ mountPoint: "\\040/a\\040\\011b\\134\\012" }))
    expect(entry?.mountPoint).toBe(" /a \tb\\\n")
  })

  it("decodes escaped bytes >= 0x80 as UTF-8 together with their neighbours", () => {
    const [entry] = parseMountInfo(line({ mountPoint: "/caf\\303\\251\\040x", source: "\\377" }))
    expect(entry?.mountPoint).toBe("/café x")
    expect(entry?.source).toBe("\uFFFD")
  })

  it("leaves a backslash that does not start \\ooo (0-0377) as it is", () => {
    const [entry] = parseMountInfo(
      line({ mountPoint: "/a\\b\\12\\999\\400\\", root: "/\\0", source: "x\\04" }),
    )
    expect(entry?.mountPoint).toBe("/a\\b\\12\\999\\400\\")
    expect(entry?.root).toBe("/\\0")
    expect(entry?.source).toBe("x\\04")
  })

  it("does not mistake an escape in one field for one in the next", () => {
    const entries = parseMountInfo(
      [
        line({ mountPoint: "/a" }),
        line({ mountPoint: "/b\\040c" }),
        line({ source: "d\\134" }),
      ].join("\n"),
    )
    expect(entries.map((e) => [e.mountPoint, e.source])).toEqual([
      ["/a", "none"],
      ["/b c", "none"],
      ["/", "d\\"],
    ])
  })

  it("keeps raw non-ASCII and invalid UTF-8 bytes (decoded as UTF-8, U+FFFD for invalid)", () => {
    const bytes = Buffer.concat([
      Buffer.from("1 0 0:1 / /caf\u00e9-"),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(" rw - tmpfs \u00fc\r rw\n"),
    ])
    const [entry] = parseMountInfo(bytes)
    expect(entry?.mountPoint).toBe("/café-\uFFFD\uFFFD")
    expect(entry?.source).toBe("ü\r")
  })

  it("keeps the exact bytes of a name that is not UTF-8, escaped or not", () => {
    const bytes = Buffer.concat([
      Buffer.from("1 0 0:1 /r\\377 /bad"),
      Buffer.from([0xff]),
      Buffer.from("\\040x rw - tmpfs s\\376\\040"),
      Buffer.from([0xc3]),
      Buffer.from(" rw\n"),
      // Two names the strings cannot tell apart (ff vs fe): the bytes can.
      Buffer.from("2 0 0:1 / /bad"),
      Buffer.from([0xfe]),
      Buffer.from("\\040x rw - tmpfs caf\\303\\251 rw\n"),
    ])
    const [a, b] = parseMountInfo(bytes)
    expect(a?.mountPoint).toBe("/bad\uFFFD x")
    expect(b?.mountPoint).toBe("/bad\uFFFD x")
    expect(a?.mountPointBytes).toEqual(Buffer.from([...Buffer.from("/bad"), 0xff, 0x20, 0x78]))
    expect(b?.mountPointBytes).toEqual(Buffer.from([...Buffer.from("/bad"), 0xfe, 0x20, 0x78]))
    expect(a?.rootBytes).toEqual(Buffer.from([0x2f, 0x72, 0xff]))
    expect(a?.sourceBytes).toEqual(Buffer.from([0x73, 0xfe, 0x20, 0xc3]))
    expect(b?.rootBytes).toEqual(Buffer.from("/"))
    expect(b?.source).toBe("café")
    expect(b?.sourceBytes).toEqual(Buffer.from("café"))
  })

  it("keeps U+FFFD that the bytes really spell as a string only", () => {
    const [entry] = parseMountInfo(Buffer.from("1 0 0:1 / /\uFFFD rw - tmpfs s rw\n"))
    expect(entry?.mountPoint).toBe("/\uFFFD")
    expect(entry?.mountPointBytes).toEqual(Buffer.from([0x2f, 0xef, 0xbf, 0xbd]))
  })

  it("decodes non-ASCII option strings as UTF-8, kept raw otherwise", () => {
    const [entry] = parseMountInfo(
      Buffer.from("1 0 0:1 / /é rw,é - overlay o rw,lowerdir=/ü\\040x\n"),
    )
    expect(entry?.mountOptions).toBe("rw,é")
    expect(entry?.superOptions).toBe("rw,lowerdir=/ü\\040x")
  })

  it("decodes escape-heavy names as long as PATH_MAX, all of it", () => {
    const name = `/${" \t\n\\".repeat(1023)}`
    const lines = Array.from({ length: 50 }, (_, i) =>
      line({ id: i + 1, mountPoint: escapeMountInfoPath(`${name}${i}`), source: "\\134#" }),
    )
    const entries = parseMountInfo(`${lines.join("\n")}\n`)
    expect(entries).toHaveLength(50)
    expect(entries.every((e, i) => e.mountPoint === `${name}${i}` && e.source === "\\#")).toBe(true)
  })

  it("decodes a Uint8Array view at an offset", () => {
    const backing = new Uint8Array(64)
    const text = Buffer.from("1 0 0:1 / /x rw - tmpfs t rw\n")
    backing.set(text, 10)
    expect(parseMountInfo(backing.subarray(10, 10 + text.length))[0]?.mountPoint).toBe("/x")
  })
})

describe("parseMountInfo: propagation", () => {
  const tags = (t: string) => parseMountInfo(line({ tags: t }))[0]?.propagation

  it("reads no optional field as private (an empty array)", () => {
    expect(parseMountInfo(line({}))[0]?.propagation).toEqual([])
  })

  it.each([
    ["shared:1", [{ kind: "shared", group: 1 }]],
    ["master:42", [{ kind: "master", group: 42 }]],
    ["propagate_from:7", [{ kind: "propagate_from", group: 7 }]],
    ["unbindable", [{ kind: "unbindable" }]],
  ])("reads %s", (text, expected) => {
    expect(tags(text)).toEqual(expected)
  })

  it("reads several on one line, in order", () => {
    expect(tags("shared:42 master:7 propagate_from:3")).toEqual([
      { kind: "shared", group: 42 },
      { kind: "master", group: 7 },
      { kind: "propagate_from", group: 3 },
    ])
  })

  it("ignores unknown or malformed optional fields and keeps the line", () => {
    expect(tags("future:9 shared:2 x unbindable: shared: master:x sharedd:1 unbindable")).toEqual([
      { kind: "shared", group: 2 },
      { kind: "unbindable" },
    ])
    expect(tags("novel")).toEqual([])
  })

  it("does not share propagation between lines with different tags", () => {
    const entries = parseMountInfo(
      [
        line({ tags: "shared:1" }),
        line({ tags: "shared:1" }),
        line({ tags: "shared:2" }),
        line({}),
      ].join("\n"),
    )
    expect(entries.map((e) => e.propagation)).toEqual([
      [{ kind: "shared", group: 1 }],
      [{ kind: "shared", group: 1 }],
      [{ kind: "shared", group: 2 }],
      [],
    ])
  })
})

describe("parseMountInfo: malformed and partial input", () => {
  const good = line({ mountPoint: "/good" })

  it.each([
    ["a blank line", ""],
    ["spaces only", "   "],
    ["a non-numeric mount id", "x 0 0:1 / /m rw - tmpfs s rw"],
    ["a negative parent id", "1 -1 0:1 / /m rw - tmpfs s rw"],
    ["a device without a colon", "1 0 01 / /m rw - tmpfs s rw"],
    ["a non-numeric minor", "1 0 0:x / /m rw - tmpfs s rw"],
    ["an empty major", "1 0 :1 / /m rw - tmpfs s rw"],
    ["no separator", "1 0 0:1 / /m rw shared:1 tmpfs s rw"],
    ["a separator glued to a field", "1 0 0:1 / /m rw -tmpfs s rw"],
    ["nothing after the separator", "1 0 0:1 / /m rw -"],
    ["no source", "1 0 0:1 / /m rw - tmpfs"],
    ["no super options", "1 0 0:1 / /m rw - tmpfs s"],
    ["an empty fstype", "1 0 0:1 / /m rw -  s rw"],
    ["an empty root", "1 0 0:1  /m rw - tmpfs s rw"],
    ["too few fields", "1 0 0:1 /"],
    ["a truncated line", "36 35 98:0 /mnt1 /mn"],
    ["a huge id", "12345678901234567890 0 0:1 / /m rw - tmpfs s rw"],
  ])("skips %s and keeps the lines around it", (_, bad) => {
    const entries = parseMountInfo(`${good}\n${bad}\n${good}\n`)
    expect(entries.map((e) => e.mountPoint)).toEqual(["/good", "/good"])
  })

  it("reports each skipped line by its 1-based number and text, blank lines aside", () => {
    const parser = new MountInfoParser()
    parser.feed(Buffer.from(`${good}\nnot a mount line\n\n${good}\r\n1 0 0:1 / /m rw\n${good}`))
    expect(parser.entries.map((e) => e.mountPoint)).toEqual(["/good", "/good", "/good"])
    expect(parser.malformed).toEqual([
      { line: 2, text: "not a mount line" },
      { line: 5, text: "1 0 0:1 / /m rw" },
    ])
    expect(parser.malformedCount).toBe(2)
  })

  it("numbers lines across pieces fed one after another", () => {
    const parser = new MountInfoParser()
    parser.feed(Buffer.from(`${good}\nbad one\n`))
    parser.feed(Buffer.from(`${good}\n${good}\nbad two\n`))
    expect(parser.malformed.map((m) => m.line)).toEqual([2, 5])
  })

  it("parses only the range it is given of a larger buffer", () => {
    const text = Buffer.from(`garbage\n${good}\nmore garbage`)
    const parser = new MountInfoParser()
    parser.feed(text, 8, 8 + good.length + 1)
    expect(parser.entries.map((e) => e.mountPoint)).toEqual(["/good"])
    expect(parser.malformed).toEqual([])
  })

  it("caps what it keeps of malformed lines, and counts them all", () => {
    const long = `x${"y".repeat(5000)}`
    const parser = new MountInfoParser()
    parser.feed(Buffer.from(`${long}\n`.repeat(maxMalformedKept + 5)))
    expect(parser.malformed).toHaveLength(maxMalformedKept)
    expect(parser.malformedCount).toBe(maxMalformedKept + 5)
    expect(parser.malformed[0]?.text).toBe(long.slice(0, malformedTextBytes))
    expect(parser.malformed.at(-1)?.line).toBe(maxMalformedKept)
  })

  it("returns [] for empty input", () => {
    expect(parseMountInfo("")).toEqual([])
    expect(parseMountInfo(new Uint8Array())).toEqual([])
    expect(parseMountInfo("\n\n")).toEqual([])
  })

  it("tolerates CRLF line ends and a missing final newline", () => {
    const text = `${line({ mountPoint: "/a" })}\r\n${line({ mountPoint: "/b", superOptions: "rw,x" })}`
    expect(parseMountInfo(text).map((e) => [e.mountPoint, e.superOptions])).toEqual([
      ["/a", "rw"],
      ["/b", "rw,x"],
    ])
  })

  it("parses a 50,000-line table", () => {
    const lines: Array<string> = []
    for (let i = 0; i < 50_000; i++) {
      lines.push(
        line({
          id: 100 + i,
          parent: i === 0 ? 1 : 100 + (i >> 1),
          dev: `0:${i}`,
          mountPoint: `/tmp/table/m${i}${i % 7 === 0 ? "\\040x" : ""}`,
          tags: i % 3 === 0 ? `shared:${i}` : i % 3 === 1 ? "master:1" : "",
          options: "rw,relatime",
          superOptions: "rw,size=4k,inode64",
        }),
      )
    }
    const entries = parseMountInfo(`${lines.join("\n")}\n`)
    expect(entries).toHaveLength(50_000)
    expect(entries[49_999]?.mountId).toBe(50_099)
    expect(entries[7]?.mountPoint).toBe("/tmp/table/m7 x")
    expect(entries[3]?.propagation).toEqual([{ kind: "shared", group: 3 }])
    expect(entries[4]?.propagation).toEqual([{ kind: "master", group: 1 }])
    expect(entries[5]?.propagation).toEqual([])
  })
})

describe("parseMountInfo: a table captured from the kernel", () => {
  // Captured by test/fixtures/mountinfo/capture.sh; findmnt's JSON of the same table is the
  // independent oracle (libmount's own parser).
  const entries = parseMountInfo(readFileSync(fixture("kernel-special.txt")))
  const oracle = JSON.parse(readFileSync(fixture("kernel-special.findmnt.txt"), "utf8")) as {
    filesystems: Array<FindmntRow>
  }

  it("parses every line", () => {
    const lines = readFileSync(fixture("kernel-special.txt"), "latin1").split("\n").filter(Boolean)
    expect(entries).toHaveLength(lines.length)
    expect(entries).toHaveLength(oracle.filesystems.length)
  })

  it("agrees with findmnt on every field both report the same way", () => {
    oracle.filesystems.forEach((row, i) => {
      expect(asFindmnt(entries[i]!, row)).toEqual(pick(row))
    })
  })

  it("decodes the awkward paths the kernel escaped", () => {
    const names = entries.map((e) => e.mountPoint.replace(/^\/tmp\/linx-fixture-[^/]+/, ""))
    for (const name of [
      "/with space",
      "/tab\there",
      "/new\nline",
      "/back\\slash",
      "/hash#dir",
      "/café-ü",
      "/raw-\uFFFD\uFFFD",
    ]) {
      expect(names).toContain(name)
    }
    const bySuffix = (s: string) => entries.find((e) => e.mountPoint.endsWith(s))!
    expect(bySuffix("/hash#dir").source).toBe("src#hash")
    expect(bySuffix("/empty-source").source).toBe("")
    expect(bySuffix("/both").propagation).toEqual([
      { kind: "shared", group: 2 },
      { kind: "master", group: 1 },
    ])
    expect(bySuffix("/unbindable").propagation).toEqual([{ kind: "unbindable" }])
    expect(bySuffix("/bindsub").root).toBe("/sub/in side")
  })
})

describe("escapeMountInfoPath", () => {
  it("escapes exactly what the kernel escapes", () => {
    expect(escapeMountInfoPath("/a b\tc\nd\\e#f\rg")).toBe("/a\\040b\\011c\\012d\\134e#f\rg")
    expect(escapeMountInfoPath("a b#c", "source")).toBe("a\\040b\\043c")
  })
})

describe("parseMountInfo: properties", () => {
  // Any string but the empty one (the kernel never prints an empty path).
  const path = fc.string({ unit: "binary", minLength: 1 })

  it("escaping then parsing any path returns it", () => {
    fc.assert(
      fc.property(path, path, fc.string({ unit: "binary" }), (root, mountPoint, source) => {
        const text = line({
          root: escapeMountInfoPath(root),
          mountPoint: escapeMountInfoPath(mountPoint),
          source: escapeMountInfoPath(source, "source"),
        })
        const [entry] = parseMountInfo(text)
        expect(entry?.root).toBe(root)
        expect(entry?.mountPoint).toBe(mountPoint)
        expect(entry?.source).toBe(source)
      }),
      { numRuns: 2000 },
    )
  })

  it("keeps the exact bytes of any name, UTF-8 or not", () => {
    const name = fc.uint8Array({ minLength: 1, maxLength: 64 })
    // What the kernel escapes in a path: space, tab, newline, backslash.
    const escapeBytes = (bytes: Uint8Array): string =>
      Array.from(bytes, (b) =>
        b === 0x20 || b === 0x09 || b === 0x0a || b === 0x5c
          ? `\\${b.toString(8).padStart(3, "0")}`
          : String.fromCharCode(b),
      ).join("")
    fc.assert(
      fc.property(name, (bytes) => {
        const text = Buffer.from(`1 0 0:1 / ${escapeBytes(bytes)} rw - tmpfs s rw\n`, "latin1")
        const [entry] = parseMountInfo(text)
        expect(entry?.mountPointBytes).toEqual(Buffer.from(bytes))
        expect(entry?.mountPoint).toBe(Buffer.from(bytes).toString("utf8"))
      }),
      { numRuns: 2000 },
    )
  })

  it("round-trips through UTF-8 bytes for well-formed paths", () => {
    const wellFormed = fc.string({ unit: "grapheme", minLength: 1 })
    fc.assert(
      fc.property(wellFormed, (mountPoint) => {
        const bytes = Buffer.from(`${line({ mountPoint: escapeMountInfoPath(mountPoint) })}\n`)
        expect(parseMountInfo(bytes)[0]?.mountPoint).toBe(mountPoint)
      }),
    )
  })

  it("never throws on arbitrary strings or bytes, and returns only well-typed entries", () => {
    const pieces = fc.constantFrom(
      " ",
      "-",
      "\n",
      "\r",
      ":",
      "\\",
      "\\040",
      "1",
      "22",
      "shared:3",
      "/a",
    )
    const mountinfoish = fc
      .array(fc.oneof(pieces, fc.string()), { maxLength: 40 })
      .map((p) => p.join(""))
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), mountinfoish), (text) => {
        for (const e of parseMountInfo(text)) {
          expect(Number.isSafeInteger(e.mountId) && e.mountId >= 0).toBe(true)
          expect(typeof e.superOptions).toBe("string")
        }
      }),
      { numRuns: 3000 },
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        expect(Array.isArray(parseMountInfo(bytes))).toBe(true)
      }),
      { numRuns: 3000 },
    )
  })
})
