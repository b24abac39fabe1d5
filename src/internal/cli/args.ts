/**
 * The command line as the kernel passed it, and a getopt_long(3) of our own over it.
 *
 * Node decodes `process.argv` as UTF-8, replacing every byte sequence that is not UTF-8
 * with U+FFFD, so two different names can arrive as the same string and neither can be
 * named again. The exact bytes are in `/proc/self/cmdline`: each argument here carries both,
 * its text (what Node made of it) and its bytes (what the kernel holds), and paths are
 * handed to the API as those bytes whenever the text lost some.
 *
 * The parser behaves as GNU getopt_long does for util-linux's tools, so that the habits
 * carry over: short options bundle (`-rn`, `-oTARGET`), long options take `=value` or the
 * next argument and may be abbreviated to any unique prefix, options and operands mix
 * (`umount /mnt -l`), and `--` ends the options. Its messages are getopt's words.
 *
 * This module imports nothing but Node's own: `list`, `--help` and `--version` must start
 * fast.
 */
import { Buffer, isUtf8 } from "node:buffer"
import { readFileSync } from "node:fs"

/** One argument: Node's text for it and its exact bytes. */
export interface Arg {
  readonly text: string
  readonly bytes: Buffer
}

/** An argument from text or bytes (a Buffer keeps its bytes; text is its UTF-8). */
export const arg = (value: string | Uint8Array): Arg =>
  typeof value === "string"
    ? { text: value, bytes: Buffer.from(value, "utf8") }
    : { text: Buffer.from(value).toString("utf8"), bytes: Buffer.from(value) }

/**
 * The arguments after the script, with their exact bytes from `/proc/self/cmdline`. Each
 * one is taken from the kernel's copy only if it decodes to Node's string for it (the
 * cmdline's last entries are the script's arguments; a process that rewrote its title, or
 * a cmdline that cannot be read, leaves Node's strings).
 */
export const commandArgs = (argv: ReadonlyArray<string> = process.argv.slice(2)): Array<Arg> => {
  let raw: Array<Buffer> = []
  try {
    const cmdline = readFileSync("/proc/self/cmdline")
    let start = 0
    for (let i = 0; i < cmdline.length; i++) {
      if (cmdline[i] === 0) {
        raw.push(cmdline.subarray(start, i))
        start = i + 1
      }
    }
    if (start < cmdline.length) raw.push(cmdline.subarray(start))
  } catch {
    raw = []
  }
  const offset = raw.length - argv.length
  return argv.map((text, i) => {
    const bytes = offset >= 0 ? raw[offset + i] : undefined
    return bytes !== undefined && bytes.toString("utf8") === text
      ? { text, bytes: Buffer.from(bytes) }
      : arg(text)
  })
}

/**
 * A path argument for the API: its text when its bytes are UTF-8 (readable in messages),
 * else the bytes themselves.
 */
export const pathOf = (a: Arg | Buffer): string | Buffer => {
  const bytes = Buffer.isBuffer(a) ? a : a.bytes
  return isUtf8(bytes) ? bytes.toString("utf8") : bytes
}

/** A usage error: printed as util-linux prints one, then exit status 1. */
export class UsageError extends Error {}

/** One option a command takes. `id` names it in the result. */
export interface OptionSpec {
  readonly id: string
  readonly short?: string
  readonly long?: ReadonlyArray<string>
  /** `none`: a switch; `required`: takes a value; `optional`: `--poll[=list]` (long `=` only). */
  readonly value?: "none" | "required" | "optional"
}

/** An option as given: which one, its value, and how it was spelled (for messages). */
export interface Given {
  readonly id: string
  readonly value: Arg | undefined
  readonly spelling: string
}

export interface Parsed {
  /** The options in the order given. */
  readonly options: ReadonlyArray<Given>
  readonly operands: ReadonlyArray<Arg>
}

const sub = (a: Arg, from: number): Arg => {
  // `from` counts characters of the text; the bytes follow the text's UTF-8 (short
  // options and their names are ASCII, so a prefix of characters is a prefix of bytes).
  const head = Buffer.byteLength(a.text.slice(0, from), "utf8")
  return { text: a.text.slice(from), bytes: a.bytes.subarray(head) }
}

/**
 * getopt_long over `args`. Throws a {@link UsageError} with getopt's message for an unknown
 * or ambiguous option, a missing value, or a value given to a switch.
 */
export const getopt = (args: ReadonlyArray<Arg>, specs: ReadonlyArray<OptionSpec>): Parsed => {
  const options: Array<Given> = []
  const operands: Array<Arg> = []
  const byShort = new Map<string, OptionSpec>()
  const longs: Array<[string, OptionSpec]> = []
  for (const spec of specs) {
    if (spec.short !== undefined) byShort.set(spec.short, spec)
    for (const name of spec.long ?? []) longs.push([name, spec])
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const text = a.text
    if (text === "--") {
      operands.push(...args.slice(i + 1))
      break
    }
    if (text.startsWith("--")) {
      const eq = text.indexOf("=")
      const name = eq < 0 ? text.slice(2) : text.slice(2, eq)
      const exact = longs.find(([n]) => n === name)
      const prefixed = exact === undefined ? longs.filter(([n]) => n.startsWith(name)) : []
      const distinct = [...new Set(prefixed.map(([, spec]) => spec))]
      if (exact === undefined && distinct.length > 1) {
        throw new UsageError(
          `option '${eq < 0 ? text : text.slice(0, eq)}' is ambiguous; possibilities:${prefixed.map(([n]) => ` '--${n}'`).join("")}`,
        )
      }
      const match = exact ?? prefixed[0]
      if (match === undefined) throw new UsageError(`unrecognized option '${text}'`)
      const [long, spec] = match
      const kind = spec.value ?? "none"
      if (kind === "none") {
        if (eq >= 0) throw new UsageError(`option '--${long}' doesn't allow an argument`)
        options.push({ id: spec.id, value: undefined, spelling: `--${long}` })
      } else if (eq >= 0) {
        options.push({ id: spec.id, value: sub(a, eq + 1), spelling: `--${long}` })
      } else if (kind === "optional") {
        options.push({ id: spec.id, value: undefined, spelling: `--${long}` })
      } else {
        const next = args[i + 1]
        if (next === undefined) throw new UsageError(`option '--${long}' requires an argument`)
        options.push({ id: spec.id, value: next, spelling: `--${long}` })
        i++
      }
      continue
    }
    if (text.startsWith("-") && text.length > 1) {
      // A bundle of short options: `-rn`, `-oTARGET`, `-o TARGET`.
      for (let j = 1; j < text.length; j++) {
        const letter = text[j]!
        const spec = byShort.get(letter)
        if (spec === undefined) throw new UsageError(`invalid option -- '${letter}'`)
        const kind = spec.value ?? "none"
        if (kind === "none") {
          options.push({ id: spec.id, value: undefined, spelling: `-${letter}` })
          continue
        }
        if (j + 1 < text.length) {
          options.push({ id: spec.id, value: sub(a, j + 1), spelling: `-${letter}` })
        } else if (kind === "optional") {
          options.push({ id: spec.id, value: undefined, spelling: `-${letter}` })
        } else {
          const next = args[i + 1]
          if (next === undefined) throw new UsageError(`option requires an argument -- '${letter}'`)
          options.push({ id: spec.id, value: next, spelling: `-${letter}` })
          i++
        }
        break
      }
      continue
    }
    operands.push(a)
  }
  return { options, operands }
}

/** Whether `--help`/`-h` is among the options (a command prints its help before anything). */
export const wantsHelp = (parsed: Parsed): boolean => parsed.options.some((o) => o.id === "help")
