/**
 * The mountinfo parser: `/proc/<pid>/mountinfo` text → `MountEntry` objects.
 *
 * One line per mount, fields separated by single spaces (proc(5)):
 *
 * ```
 * 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * (1)(2) (3)   (4)   (5)      (6)       (7)  (8) (9)    (10)        (11)
 * ```
 *
 * (1) mount id, (2) parent id, (3) major:minor, (4) root, (5) mount point, (6) mount
 * options, (7) zero or more optional fields, (8) a lone `-`, (9) fstype, (10) source,
 * (11) super options (the rest of the line).
 *
 * Decisions, each taken from what the kernel (fs/proc_namespace.c) really prints:
 *
 * - Fields are split on single spaces, never on runs of whitespace: the kernel prints an
 *   empty source as an empty field (`- tmpfs  rw`), and a split on runs would shift the super
 *   options into the source.
 * - The kernel escapes space, tab, newline and backslash as `\ooo` in root, mount point,
 *   fstype and source, and `#` in the source too. Any `\ooo` (value ≤ 0377) in those four
 *   fields is decoded; the option strings are kept raw, as printed.
 * - Everything else, including CR, control bytes and invalid UTF-8, is passed through raw
 *   by the kernel. The parser works on the bytes: each name's bytes (escapes decoded) are
 *   decoded as UTF-8 once, the encoding Node's `fs` uses for path strings, so a decoded
 *   `mountPoint` can be handed straight back to `fs` or `umount`. A byte sequence that is
 *   not UTF-8 becomes U+FFFD, as in `fs.readdir`'s string results, and the entry keeps that
 *   field's exact bytes (`mountPointBytes`…). Octal escapes of bytes ≥ 0x80 (which the
 *   kernel never writes) are decoded as bytes too, then as UTF-8 with their neighbours.
 * - A line without the mountinfo shape (non-numeric ids, bad `major:minor`, an empty path,
 *   no `-` separator, too few fields) is skipped, and reported: `parser.malformed` is an
 *   `Array<{ line: number; text: string }>` of the skipped lines' 1-based numbers and first
 *   bytes (at most 1,000 of them; `malformedCount` counts them all), so a tool can say
 *   `file:line`. An optional field whose tag is unknown — or whose group is not a number —
 *   is ignored and its line kept: a future kernel adding optional fields cannot break a
 *   read. A trailing CR (CRLF files) is dropped, and blank lines are skipped silently; a
 *   missing final newline is fine.
 *
 * Cost, against a hostile table (an unprivileged container can make thousands of mounts
 * whose paths are PATH_MAX long and made of escapes): every field string is built once.
 * Each slice of whole lines becomes one Latin-1 string (one character per byte, so string
 * positions are byte positions), scanned with `indexOf`/`charCodeAt`: no regular expression
 * on the hot path and no per-line `split`. A field without escapes or non-ASCII bytes is a
 * slice of that string; any other is decoded byte by byte into a scratch Buffer, then made
 * into a string in one call — never by repeated concatenation, whose cons-string trees
 * once took seconds and ~35× the text's size on such a table.
 *
 * This module imports no Effect: the command-line tool loads it and must start fast.
 */
import { Buffer, isAscii, isUtf8 } from "node:buffer"
import { MountEntry, type MountEntryBytes, type Propagation } from "../MountEntry.js"

/**
 * A line the parser skipped: its 1-based number in the input and its text (the first
 * {@link malformedTextBytes} bytes, decoded as UTF-8).
 *
 * @since 0.1.0
 */
export interface MalformedLine {
  readonly line: number
  readonly text: string
}

/** How many bytes of a malformed line `MalformedLine.text` keeps. */
export const malformedTextBytes = 256
/**
 * How many malformed lines a parser keeps (`malformedCount` counts them all): a file of
 * garbage must not cost more memory than it holds.
 */
export const maxMalformedKept = 1000

const CR = 13
const DASH = 45
const BACKSLASH = 92

const empty = Buffer.alloc(0)
const noPropagation: ReadonlyArray<Propagation> = Object.freeze([])
const unbindable: Propagation = Object.freeze({ kind: "unbindable" })

// Node's own Buffer slicers: the string straight from the bytes, without `toString`'s
// argument handling (half the cost of a short field). Present in every Node release.
interface Slicers {
  latin1Slice(start: number, end: number): string
  utf8Slice(start: number, end: number): string
}
const fast = (b: Buffer): Slicers => b as unknown as Slicers

/**
 * Parses mountinfo text (or its raw bytes; a string is taken as its UTF-8 encoding) into
 * entries, skipping malformed lines. Never throws on any input.
 */
export const parseMountInfo = (input: string | Uint8Array): Array<MountEntry> => {
  const parser = new MountInfoParser()
  parser.feed(typeof input === "string" ? Buffer.from(input, "utf8") : input)
  return parser.entries
}

/**
 * A parser fed bytes piece by piece, each piece made of whole lines (the last may lack its
 * newline), appending to `entries` and, for each line it skips, to `malformed`. The table
 * readers feed it a file in slices of whole lines and yield to the event loop between them,
 * so a large table never holds the loop.
 */
export class MountInfoParser {
  readonly entries: Array<MountEntry> = []
  /** The first {@link maxMalformedKept} skipped lines, in order. */
  readonly malformed: Array<MalformedLine> = []
  /** How many lines were skipped in all. */
  malformedCount = 0
  private lineNumber = 0
  // The piece being parsed: its bytes, where it starts in them, and its Latin-1 text
  // (character i is byte base + i).
  private bytes: Buffer = empty
  private base = 0
  private text = ""
  private ascii = true
  // Position of the next backslash at or after the field being read, text.length if none.
  // Kept across fields so that finding escapes costs one pass over the text in all, instead
  // of one `indexOf` to the end of the text per field.
  private nextEscape = -1
  // Where escapes are decoded: grown to the longest line, dropped with the parser. The name
  // fields of one line whose bytes are not UTF-8 stay in it, one after another, until the
  // line's MountEntry has copied them: `scratchUsed` is where the next field goes.
  private scratch: Buffer = Buffer.allocUnsafe(1024)
  private scratchUsed = 0
  // Set by `field` when the bytes of the field it decoded are not UTF-8 (valid while the
  // line is parsed).
  private fieldRaw: Uint8Array | undefined = undefined
  // The previous line's values: consecutive mounts mostly share their fstype, source,
  // options and propagation, and reusing the string already made spares an allocation
  // (10,000 live entries make the young-generation collections a large part of the cost).
  private lastRoot = ""
  private lastMountOptions = ""
  private lastFstype = ""
  private lastSource = ""
  private lastSuperOptions = ""
  private lastTags = ""
  private lastPropagation = noPropagation

  /** Parses every line of `input[start, end)`. */
  feed(input: Uint8Array, start = 0, end: number = input.byteLength): void {
    const bytes = Buffer.isBuffer(input)
      ? input
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
    const text = fast(bytes).latin1Slice(start, end)
    this.bytes = bytes
    this.base = start
    this.text = text
    this.ascii = isAsciiRange(bytes, start, end)
    this.nextEscape = -1
    const length = text.length
    let pos = 0
    while (pos < length) {
      let eol = text.indexOf("\n", pos)
      if (eol === -1) eol = length
      let stop = eol
      if (stop > pos && text.charCodeAt(stop - 1) === CR) stop--
      this.lineNumber++
      if (stop > pos) {
        const entry = this.line(pos, stop)
        if (entry !== undefined) this.entries.push(entry)
        else this.skipped(pos, stop)
      }
      pos = eol + 1
    }
    this.text = ""
    this.bytes = empty
  }

  private skipped(start: number, end: number): void {
    this.malformedCount++
    if (this.malformed.length >= maxMalformedKept) return
    const from = this.base + start
    const to = this.base + Math.min(end, start + malformedTextBytes)
    this.malformed.push({ line: this.lineNumber, text: fast(this.bytes).utf8Slice(from, to) })
  }

  private line(start: number, end: number): MountEntry | undefined {
    const t = this.text
    this.scratchUsed = 0

    // (1) mount id, (2) parent id
    const s1 = spaceBefore(t, start, end)
    if (s1 < 0) return undefined
    const mountId = parseDecimal(t, start, s1)
    if (mountId < 0) return undefined
    const s2 = spaceBefore(t, s1 + 1, end)
    if (s2 < 0) return undefined
    const parentId = parseDecimal(t, s1 + 1, s2)
    if (parentId < 0) return undefined

    // (3) major:minor
    const s3 = spaceBefore(t, s2 + 1, end)
    if (s3 < 0) return undefined
    const colon = t.indexOf(":", s2 + 1)
    if (colon < 0 || colon >= s3) return undefined
    const major = parseDecimal(t, s2 + 1, colon)
    const minor = parseDecimal(t, colon + 1, s3)
    if (major < 0 || minor < 0) return undefined

    // (4) root, (5) mount point, (6) mount options
    const s4 = spaceBefore(t, s3 + 1, end)
    if (s4 < 0 || s4 === s3 + 1) return undefined
    const s5 = spaceBefore(t, s4 + 1, end)
    if (s5 < 0 || s5 === s4 + 1) return undefined
    const s6 = spaceBefore(t, s5 + 1, end)
    if (s6 < 0 || s6 === s5 + 1) return undefined

    // (7) optional fields, up to (8) the lone "-"
    let p = s6 + 1
    let dash = -1
    for (;;) {
      const s = spaceBefore(t, p, end)
      if (s < 0) return undefined
      if (s === p + 1 && t.charCodeAt(p) === DASH) {
        dash = p
        p = s + 1
        break
      }
      p = s + 1
    }
    let propagation = noPropagation
    if (dash > s6 + 1) {
      const tags = this.lastTags
      if (tags.length === dash - s6 - 1 && t.startsWith(tags, s6 + 1)) {
        propagation = this.lastPropagation
      } else {
        propagation = optionalFields(t, s6 + 1, dash)
        this.lastTags = t.slice(s6 + 1, dash)
        this.lastPropagation = propagation
      }
    }

    // (9) fstype, (10) source (may be empty), (11) super options: the rest of the line
    const s9 = spaceBefore(t, p, end)
    if (s9 < 0 || s9 === p) return undefined
    const s10 = spaceBefore(t, s9 + 1, end)
    if (s10 < 0) return undefined

    // Fields are read in the order of the text: `field` and `plain` rely on it.
    const root = this.field(s3 + 1, s4, this.lastRoot)
    const rootRaw = this.fieldRaw
    const mountPoint = this.field(s4 + 1, s5, "")
    const mountPointRaw = this.fieldRaw
    const mountOptions = this.plain(s5 + 1, s6, this.lastMountOptions)
    const fstype = this.field(p, s9, this.lastFstype)
    const source = this.field(s9 + 1, s10, this.lastSource)
    const sourceRaw = this.fieldRaw
    const superOptions = this.plain(s10 + 1, end, this.lastSuperOptions)
    this.lastRoot = root
    this.lastMountOptions = mountOptions
    this.lastFstype = fstype
    this.lastSource = source
    this.lastSuperOptions = superOptions
    const fields = {
      mountId,
      parentId,
      major,
      minor,
      root,
      mountPoint,
      mountOptions,
      propagation,
      fstype,
      source,
      superOptions,
    }
    if (rootRaw === undefined && mountPointRaw === undefined && sourceRaw === undefined) {
      return new MountEntry(fields)
    }
    const raw: { -readonly [K in keyof MountEntryBytes]: MountEntryBytes[K] } = {}
    if (rootRaw !== undefined) raw.root = rootRaw
    if (mountPointRaw !== undefined) raw.mountPoint = mountPointRaw
    if (sourceRaw !== undefined) raw.source = sourceRaw
    return new MountEntry(fields, raw)
  }

  /** Whether [start, end) of the text has a byte >= 0x80. */
  private high(start: number, end: number): boolean {
    if (this.ascii) return false
    // Fields that reach here have no escapes and are mostly short: a scan of the field
    // alone beats a search that may run on to the next line's non-ASCII byte.
    const t = this.text
    for (let i = start; i < end; i++) if (t.charCodeAt(i) > 0x7f) return true
    return false
  }

  /** An option string, kept as printed: UTF-8 decoded; `previous` if that is equal. */
  private plain(start: number, end: number, previous: string): string {
    return this.high(start, end)
      ? fast(this.bytes).utf8Slice(this.base + start, this.base + end)
      : same(this.text, start, end, previous)
  }

  /**
   * A name field: the text of [start, end) with its octal escapes decoded, as UTF-8;
   * `previous` if that is equal. Sets `fieldRaw` to the field's bytes when they are not
   * UTF-8. Must be called for fields in increasing position within one `feed`.
   */
  private field(start: number, end: number, previous: string): string {
    this.fieldRaw = undefined
    let bs = this.nextEscape
    if (bs < start) {
      bs = this.text.indexOf("\\", start)
      if (bs < 0) bs = this.text.length
      this.nextEscape = bs
    }
    if (bs >= end) {
      // Only a field whose text is its value may be compared with a decoded previous one.
      if (!this.high(start, end)) return same(this.text, start, end, previous)
      return this.utf8(this.bytes, this.base + start, this.base + end)
    }
    return this.unescape(this.base + start, this.base + end)
  }

  /** bytes[from, to) as UTF-8; sets `fieldRaw` (a view) when they are not UTF-8. */
  private utf8(bytes: Buffer, from: number, to: number): string {
    const value = fast(bytes).utf8Slice(from, to)
    // U+FFFD in the result: either the bytes spell it or they are not UTF-8; ask which.
    if (value.includes("\uFFFD")) {
      const view = bytes.subarray(from, to)
      if (!isUtf8(view)) this.fieldRaw = view
    }
    return value
  }

  /**
   * Decodes every `\\ooo` (value <= 0377) in bytes[from, to) into the scratch buffer, byte by
   * byte, then makes the string in one call; other backslashes stay as they are.
   */
  private unescape(from: number, to: number): string {
    const bytes = this.bytes
    const start = this.scratchUsed
    if (this.scratch.length < start + to - from) {
      // The views of this line's earlier fields keep the old buffer alive as long as needed.
      this.scratch = Buffer.allocUnsafe(Math.max(start + to - from, this.scratch.length * 2))
    }
    const out = this.scratch
    let o = start
    let high = 0
    for (let i = from; i < to; i++) {
      let c = bytes[i]!
      if (c === BACKSLASH && i + 3 < to) {
        const a = bytes[i + 1]! - 48
        const b = bytes[i + 2]! - 48
        const d = bytes[i + 3]! - 48
        // Unsigned compares: a byte below "0" wraps to a large number.
        if (a >>> 0 <= 3 && b >>> 0 <= 7 && d >>> 0 <= 7) {
          c = a * 64 + b * 8 + d
          i += 3
        }
      }
      out[o++] = c
      high |= c
    }
    if (high < 0x80) return fast(out).latin1Slice(start, o)
    const value = this.utf8(out, start, o)
    if (this.fieldRaw !== undefined) this.scratchUsed = o
    return value
  }
}

/** Whether bytes[start, end) are all ASCII. */
const isAsciiRange = (bytes: Buffer, start: number, end: number): boolean =>
  isAscii(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end))

/** `previous` if [start, end) spells it, else a fresh slice. */
const same = (t: string, start: number, end: number, previous: string): string =>
  previous.length === end - start && t.startsWith(previous, start) ? previous : t.slice(start, end)

/**
 * The propagation tags among the optional fields in [start, end) (a space-separated list),
 * in their order; unknown or malformed fields are left out.
 */
const optionalFields = (t: string, start: number, end: number): ReadonlyArray<Propagation> => {
  const tags: Array<Propagation> = []
  let p = start
  while (p < end) {
    let s = t.indexOf(" ", p)
    if (s < 0 || s > end) s = end
    if (s > p) {
      const tag = optionalField(t, p, s)
      if (tag !== undefined) tags.push(tag)
    }
    p = s + 1
  }
  // Frozen: one array may be shared by consecutive entries (see `lastPropagation`).
  return tags.length === 0 ? noPropagation : Object.freeze(tags)
}

/** The first space in [from, end), or -1. */
const spaceBefore = (t: string, from: number, end: number): number => {
  // indexOf (a builtin scanning many characters per step) measured 3x faster here than a
  // charCodeAt loop, even on fields this short.
  const i = t.indexOf(" ", from)
  return i >= end ? -1 : i
}

/**
 * A non-negative decimal integer spelled by [start, end), or -1 if it is empty, has a
 * non-digit, or is too long to be exact (mount ids and device numbers are 32-bit).
 */
const parseDecimal = (t: string, start: number, end: number): number => {
  if (end <= start || end - start > 15) return -1
  let n = 0
  for (let i = start; i < end; i++) {
    const d = t.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/** One optional field (`shared:N`, `master:N`, `propagate_from:N`, `unbindable`). */
const optionalField = (t: string, start: number, end: number): Propagation | undefined => {
  if (end - start === 10 && t.startsWith("unbindable", start)) return unbindable
  const colon = t.indexOf(":", start)
  if (colon < 0 || colon >= end) return undefined
  const group = parseDecimal(t, colon + 1, end)
  if (group < 0) return undefined
  switch (colon - start) {
    case 6:
      if (t.startsWith("shared", start)) return Object.freeze({ kind: "shared", group })
      if (t.startsWith("master", start)) return Object.freeze({ kind: "master", group })
      return undefined
    case 14:
      return t.startsWith("propagate_from", start)
        ? Object.freeze({ kind: "propagate_from", group })
        : undefined
    default:
      return undefined
  }
}

const pathSpecials = /[ \t\n\\]/g
const sourceSpecials = /[ \t\n\\#]/g
const octal = (c: string): string => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`

/**
 * Escapes a path as the kernel does when it prints mountinfo: space, tab, newline and
 * backslash become `\040`, `\011`, `\012`, `\134`; for the `source` field, `#` also becomes
 * `\043`. Everything else is left as is. `parseMountInfo` inverts it.
 */
export const escapeMountInfoPath = (path: string, field: "path" | "source" = "path"): string =>
  path.replace(field === "source" ? sourceSpecials : pathSpecials, octal)
