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
 *   by the kernel. Bytes are decoded as UTF-8, the encoding Node's `fs` uses for path
 *   strings, so a decoded `mountPoint` can be handed straight back to `fs` or `umount`.
 *   A byte sequence that is not UTF-8 becomes U+FFFD, as in `fs.readdir`'s string results.
 *   Octal escapes of bytes ≥ 0x80 (which the kernel never writes) are decoded as bytes
 *   too, then as UTF-8 together with their neighbours.
 * - A line without the mountinfo shape (non-numeric ids, bad `major:minor`, an empty path,
 *   no `-` separator, too few fields) is skipped. An optional field whose tag is unknown —
 *   or whose group is not a number — is ignored and its line kept: a future kernel adding
 *   optional fields cannot break a read. A trailing CR (CRLF files) is dropped, as are blank
 *   lines; a missing final newline is fine.
 *
 * The scan uses `indexOf`/`charCodeAt` over the whole text, slicing each field once: no
 * regular expression and no per-line `split`, since tables of 10,000 mounts are routine on
 * container hosts and `Mount.list` parses on the main thread.
 */
import { MountEntry, type Propagation } from "../MountEntry.js"

const CR = 13
const DASH = 45

const noPropagation: ReadonlyArray<Propagation> = Object.freeze([])
const unbindable: Propagation = Object.freeze({ kind: "unbindable" })

/**
 * Parses mountinfo text (or its raw bytes, decoded as UTF-8) into entries, skipping
 * malformed lines. Never throws on any input.
 */
export const parseMountInfo = (input: string | Uint8Array): Array<MountEntry> => {
  const parser = new MountInfoParser()
  parser.feed(typeof input === "string" ? input : decodeMountInfo(input))
  return parser.entries
}

/** Decodes mountinfo bytes as UTF-8 (see the module note on why UTF-8). */
export const decodeMountInfo = (bytes: Uint8Array, start = 0, end = bytes.byteLength): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8", start, end)

/**
 * A parser fed text piece by piece, each piece made of whole lines (the last may lack its
 * newline), appending to `entries`. `Mount.list` feeds it the file in slices of whole
 * lines and yields to the event loop between them, so a large table never holds the loop.
 */
export class MountInfoParser {
  readonly entries: Array<MountEntry> = []
  private text = ""
  // Position of the next backslash at or after the field being read (text.length if
  // none). Kept across fields so that finding escapes costs one pass over the text in all,
  // instead of one `indexOf` to the end of the text per field.
  private nextEscape = -1
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

  /** Parses every line of `text`. */
  feed(text: string): void {
    this.text = text
    this.nextEscape = -1
    const length = text.length
    let pos = 0
    while (pos < length) {
      let eol = text.indexOf("\n", pos)
      if (eol === -1) eol = length
      let end = eol
      if (end > pos && text.charCodeAt(end - 1) === CR) end--
      if (end > pos) {
        const entry = this.line(pos, end)
        if (entry !== undefined) this.entries.push(entry)
      }
      pos = eol + 1
    }
    this.text = ""
  }

  private line(start: number, end: number): MountEntry | undefined {
    const t = this.text

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

    // Fields with escapes are read in the order of the text: `field` relies on it.
    const root = this.field(s3 + 1, s4, this.lastRoot)
    const mountPoint = this.field(s4 + 1, s5, "")
    const mountOptions = same(t, s5 + 1, s6, this.lastMountOptions)
    const fstype = this.field(p, s9, this.lastFstype)
    const source = this.field(s9 + 1, s10, this.lastSource)
    const superOptions = same(t, s10 + 1, end, this.lastSuperOptions)
    this.lastRoot = root
    this.lastMountOptions = mountOptions
    this.lastFstype = fstype
    this.lastSource = source
    this.lastSuperOptions = superOptions
    return new MountEntry({
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
    })
  }

  /**
   * The text of [start, end), its octal escapes decoded; `previous` if that is equal.
   * Must be called for fields in increasing position within one `feed`.
   */
  private field(start: number, end: number, previous: string): string {
    let bs = this.nextEscape
    if (bs < start) {
      bs = this.text.indexOf("\\", start)
      if (bs < 0) bs = this.text.length
      this.nextEscape = bs
    }
    // Only an escape-free field may be compared with a decoded previous value.
    return bs >= end ? same(this.text, start, end, previous) : unescapeOctal(this.text, start, end)
  }
}

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

const isOctal = (c: number): boolean => c >= 48 && c <= 55

/** Decodes every `\ooo` (value ≤ 0377) in [start, end); other backslashes stay as they are. */
const unescapeOctal = (t: string, start: number, end: number): string => {
  let out = ""
  let chunk = start
  let high = false
  for (let i = t.indexOf("\\", start); i >= 0 && i + 3 < end; i = t.indexOf("\\", i + 1)) {
    const a = t.charCodeAt(i + 1)
    const b = t.charCodeAt(i + 2)
    const c = t.charCodeAt(i + 3)
    if (a > 51 || !isOctal(a) || !isOctal(b) || !isOctal(c)) continue
    const value = (a - 48) * 64 + (b - 48) * 8 + (c - 48)
    if (value >= 0x80) high = true
    out += t.slice(chunk, i) + String.fromCharCode(value)
    chunk = i + 4
    i += 3
  }
  out += t.slice(chunk, end)
  return high ? reencodeBytes(t, start, end) : out
}

/**
 * The slow path for escapes of bytes ≥ 0x80: rebuild the field's bytes (text as UTF-8,
 * escapes as the byte they name) and decode them as UTF-8 as a whole, so `\303\251` is "é".
 */
const reencodeBytes = (t: string, start: number, end: number): string => {
  const bytes: Array<number> = []
  let chunk = start
  const flush = (to: number) => {
    if (to > chunk) for (const byte of Buffer.from(t.slice(chunk, to), "utf8")) bytes.push(byte)
  }
  for (let i = t.indexOf("\\", start); i >= 0 && i + 3 < end; i = t.indexOf("\\", i + 1)) {
    const a = t.charCodeAt(i + 1)
    const b = t.charCodeAt(i + 2)
    const c = t.charCodeAt(i + 3)
    if (a > 51 || !isOctal(a) || !isOctal(b) || !isOctal(c)) continue
    flush(i)
    bytes.push((a - 48) * 64 + (b - 48) * 8 + (c - 48))
    chunk = i + 4
    i += 3
  }
  flush(end)
  return Buffer.from(bytes).toString("utf8")
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
