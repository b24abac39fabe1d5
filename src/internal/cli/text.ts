/**
 * Bytes as findmnt(8) prints them. Every cell reaches the printer as bytes (a name is bytes
 * to the kernel) and leaves it as text in one of findmnt's encodings, each taken from
 * util-linux 2.38's code and checked against findmnt in a UTF-8 locale:
 *
 * - the table (`human`, libsmartcols' `mbs_safe_encode`): control bytes, bytes that are not
 *   UTF-8, the bytes of an unprintable character, and the backslash of a literal `\x` are
 *   written `\xHH`; everything else as it is, measured in display columns (CJK takes 2);
 * - `-r` (`fputs_nonblank`): every byte that is not printable ASCII, space, tab and
 *   backslash as `\xHH` — so a raw line always splits on spaces;
 * - `-P` (`fputs_quoted`): inside double quotes, `"`, `\`, `` ` ``, `$` and every byte that
 *   is not printable ASCII as `\xHH`;
 * - `-J` (`fputs_quoted_json`): JSON escapes for `"`, `\` and control characters. findmnt
 *   copies other bytes raw, so a name that is not UTF-8 makes its JSON unreadable; here
 *   such a value is written as the table writes it (`\xff`), the only way to keep JSON
 *   valid and the name recoverable.
 *
 * `\xHH` is read back by {@link decodeHexEscapes}: the CLI's verbs take a printed name.
 */
import { Buffer } from "node:buffer"
import { codePointWidth } from "./wcwidth.js"

const hex = (byte: number): string => `\\x${byte.toString(16).padStart(2, "0")}`

/**
 * The length of the UTF-8 sequence at `i` and its code point, or undefined when the bytes
 * there are not one (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
 */
const utf8At = (
  b: Uint8Array,
  i: number,
): { readonly n: number; readonly cp: number } | undefined => {
  const lead = b[i]!
  let n: number
  let cp: number
  let min: number
  if (lead < 0x80) return { n: 1, cp: lead }
  if (lead >= 0xc2 && lead < 0xe0) {
    n = 2
    cp = lead & 0x1f
    min = 0x80
  } else if (lead >= 0xe0 && lead < 0xf0) {
    n = 3
    cp = lead & 0x0f
    min = 0x800
  } else if (lead >= 0xf0 && lead < 0xf5) {
    n = 4
    cp = lead & 0x07
    min = 0x10000
  } else {
    return undefined
  }
  if (i + n > b.length) return undefined
  for (let k = 1; k < n; k++) {
    const c = b[i + k]!
    if ((c & 0xc0) !== 0x80) return undefined
    cp = (cp << 6) | (c & 0x3f)
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined
  return { n, cp }
}

/** A cell for the table: its text and the columns it takes. */
export interface Cell {
  readonly text: string
  readonly width: number
}

/** findmnt's table encoding (see the module note), with the display width of the result. */
export const humanCell = (b: Uint8Array): Cell => {
  let text = ""
  let width = 0
  let run = 0 // start of a run of bytes copied as they are
  const flush = (end: number) => {
    if (end > run) text += Buffer.from(b.buffer, b.byteOffset + run, end - run).toString("utf8")
  }
  let i = 0
  while (i < b.length) {
    const c = b[i]!
    if (c >= 0x20 && c < 0x7f && !(c === 0x5c && b[i + 1] === 0x78)) {
      width++
      i++
      continue
    }
    if (c < 0x80) {
      // A control byte, DEL, or the backslash of a literal "\x".
      flush(i)
      text += hex(c)
      width += 4
      i++
      run = i
      continue
    }
    const seq = utf8At(b, i)
    const w = seq === undefined ? -1 : codePointWidth(seq.cp)
    const n = seq?.n ?? 1
    if (w < 0) {
      flush(i)
      for (let k = 0; k < n; k++) text += hex(b[i + k]!)
      width += 4 * n
      i += n
      run = i
      continue
    }
    width += w
    i += n
  }
  flush(b.length)
  return { text, width }
}

/** The display width of text made of printable characters (headers, tree art). */
export const textWidth = (s: string): number => {
  let w = 0
  for (const ch of s) w += Math.max(0, codePointWidth(ch.codePointAt(0)!))
  return w
}

/** findmnt `-r`: every byte but printable ASCII other than space and backslash as `\xHH`. */
export const rawCell = (b: Uint8Array): string => {
  let out = ""
  for (const c of b) {
    out += c > 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : hex(c)
  }
  return out
}

/** findmnt `-P`: a double-quoted value, shell metacharacters and non-ASCII as `\xHH`. */
export const quotedCell = (b: Uint8Array): string => {
  let out = '"'
  for (const c of b) {
    const special = c === 0x22 || c === 0x5c || c === 0x60 || c === 0x24
    out += !special && c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : hex(c)
  }
  return `${out}"`
}

const jsonEscapes: Readonly<Record<number, string>> = {
  8: "\\b",
  9: "\\t",
  10: "\\n",
  12: "\\f",
  13: "\\r",
}

/** A JSON string as findmnt writes one (see the module note for bytes that are not UTF-8). */
export const jsonString = (b: Uint8Array): string => {
  const text = isUtf8Bytes(b) ? Buffer.from(b).toString("utf8") : humanCell(b).text
  let out = '"'
  for (const ch of text) {
    const c = ch.charCodeAt(0)
    if (ch === '"' || ch === "\\") out += `\\${ch}`
    else if (c < 0x20) out += jsonEscapes[c] ?? `\\u00${c.toString(16).padStart(2, "0")}`
    else out += ch
  }
  return `${out}"`
}

const isUtf8Bytes = (b: Uint8Array): boolean => {
  for (let i = 0; i < b.length; ) {
    const seq = utf8At(b, i)
    if (seq === undefined) return false
    i += seq.n
  }
  return true
}

/**
 * libmount's `unmangle`: the kernel's octal escapes (`\040`) decoded, as findmnt shows the
 * option strings. A backslash not followed by three octal digits stays.
 */
export const unmangle = (s: string): Buffer => {
  const b = Buffer.from(s, "utf8")
  if (!b.includes(0x5c)) return b
  const out = Buffer.allocUnsafe(b.length)
  let n = 0
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!
    if (c === 0x5c && i + 3 < b.length && octal(b[i + 1]) && octal(b[i + 2]) && octal(b[i + 3])) {
      out[n++] = ((b[i + 1]! - 0x30) * 64 + (b[i + 2]! - 0x30) * 8 + (b[i + 3]! - 0x30)) & 0xff
      i += 3
    } else {
      out[n++] = c
    }
  }
  return out.subarray(0, n)
}

const octal = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x37

/**
 * The bytes a printed name stands for: each `\xHH` (two hex digits) as that byte; undefined
 * when there is no such escape. The inverse of every encoding above for a name they
 * escaped.
 */
export const decodeHexEscapes = (b: Uint8Array): Buffer | undefined => {
  const out = Buffer.allocUnsafe(b.length)
  let n = 0
  let found = false
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x5c && b[i + 1] === 0x78 && hexDigit(b[i + 2]) >= 0 && hexDigit(b[i + 3]) >= 0) {
      out[n++] = hexDigit(b[i + 2]) * 16 + hexDigit(b[i + 3])
      i += 3
      found = true
    } else {
      out[n++] = b[i]!
    }
  }
  return found ? Buffer.from(out.subarray(0, n)) : undefined
}

const hexDigit = (c: number | undefined): number => {
  if (c === undefined) return -1
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  return -1
}
