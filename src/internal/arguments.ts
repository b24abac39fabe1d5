/**
 * The public edge: every verb's arguments are validated with Schema and normalised on the
 * main thread, before anything is dispatched — a call that fails here has touched nothing.
 *
 * The options object is read once, own enumerable properties only (an inherited `in` or
 * `flags` is not an option), into a null-prototype snapshot; a getter or proxy that throws
 * while it is read is an `InvalidArgument`, and so is anything the schema refuses. Each verb
 * decodes `[…positional arguments, options snapshot]` with one tuple schema, so that the
 * argument at fault is named by its position or key.
 */

import { isAbsolute, resolve } from "node:path"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import {
  type Attribute,
  atimeAttributes,
  attributeConstants,
  type MountFlag,
  mountFlagConstants,
  perMountFlags,
  type UmountFlag,
  umountFlagConstants,
} from "../../protocol/Flags.js"
import type * as Request from "../../protocol/Request.js"
import { InvalidArgument } from "../InvalidArgument.js"
import { native } from "./native.js"

/** Which mount namespace: this process's, a process's, or a namespace file. */
export type In = "self" | { readonly pid: number } | { readonly path: PathLike }

/** A path: text, or its exact bytes (a name that is not UTF-8). */
export type PathLike = string | Uint8Array

const MAX_PID = 4_194_304 // PID_MAX_LIMIT on 64-bit kernels
// mount(2) copies at most one page of options; fsconfig takes each in turn, but a page is
// what mount(8) and every filesystem expect.
const MAX_DATA_BYTES = 4095

const noNul = Schema.makeFilter<string>((s) => !s.includes("\0") || "must not contain a NUL byte")
const noNulByte = Schema.makeFilter<Uint8Array>(
  (b) => !b.includes(0) || "must not contain a NUL byte",
)

/** A path argument: a non-empty string or byte array without NUL bytes. */
export const PathInput = Schema.Union([
  Schema.String.check(Schema.isNonEmpty({ expected: "a non-empty path" }), noNul),
  Schema.Uint8Array.check(Schema.isNonEmpty({ expected: "a non-empty path" }), noNulByte),
])

const Text = Schema.String.check(noNul)
/** Bytes without a NUL (possibly empty). */
const Bytes = Schema.Uint8Array.check(noNulByte)
const Pid = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: MAX_PID }))

/** `in`: `"self"`, `{ pid }` or `{ path }`. */
export const InOption = Schema.Union([
  Schema.Literal("self"),
  Schema.Struct({ pid: Pid }),
  Schema.Struct({ path: PathInput }),
])

/** A namespace of another kind, by process or by file (`idmap`). */
const NamespaceFile = Schema.Union([
  Schema.Struct({ pid: Pid }),
  Schema.Struct({ path: PathInput }),
])

/** A decoded `idmap`. */
export type NamespaceFile = typeof NamespaceFile.Type

const Data = Schema.String.check(
  noNul,
  Schema.makeFilter<string>(
    (s) =>
      Buffer.byteLength(s) <= MAX_DATA_BYTES ||
      `must be at most ${MAX_DATA_BYTES} bytes (mount(2) takes one page)`,
  ),
)

const flagList = <const Names extends ReadonlyArray<string>>(names: Names) =>
  Schema.Array(Schema.Literals(names))

const mountFlagNames = Object.keys(mountFlagConstants) as ReadonlyArray<MountFlag>
const attributeNames = Object.keys(attributeConstants) as ReadonlyArray<Attribute>
const umountFlagNames = Object.keys(umountFlagConstants) as ReadonlyArray<UmountFlag>

/** The flags a bind takes: the bind itself, its recursion, and per-mount attributes. */
export const bindFlagNames = [
  "bind",
  "rec",
  "silent",
  ...perMountFlags,
] as const satisfies ReadonlyArray<MountFlag>

/** The flags a remount takes (MS_REMOUNT's own, mount(2)'s meaning). */
export const remountFlagNames = [
  "remount",
  "bind",
  "silent",
  "sync",
  "mandlock",
  "dirsync",
  "lazytime",
  ...perMountFlags,
] as const satisfies ReadonlyArray<MountFlag>

const optional = Schema.optionalKey

/** Each verb's options. */
export const Options = {
  mount: Schema.Struct({
    flags: optional(flagList(mountFlagNames)),
    data: optional(Data),
    create: optional(Schema.Boolean),
    in: optional(InOption),
    pidIn: optional(Schema.Union([Schema.Literal("self"), Schema.Struct({ path: PathInput })])),
  }),
  bind: Schema.Struct({
    flags: optional(flagList(bindFlagNames)),
    create: optional(Schema.Boolean),
    in: optional(InOption),
    sourceIn: optional(Schema.Literal("self")),
    idmap: optional(NamespaceFile),
  }),
  remount: Schema.Struct({
    flags: optional(flagList(remountFlagNames)),
    data: optional(Data),
    in: optional(InOption),
  }),
  namespace: Schema.Struct({ in: optional(InOption) }),
  umount: Schema.Struct({ flags: optional(flagList(umountFlagNames)), in: optional(InOption) }),
  propagation: Schema.Struct({ recursive: optional(Schema.Boolean), in: optional(InOption) }),
  setAttributes: Schema.Struct({
    set: optional(Schema.Array(Schema.Literals(attributeNames))),
    clear: optional(Schema.Array(Schema.Literals(attributeNames))),
    propagation: optional(Schema.Literals(["private", "shared", "slave", "unbindable"])),
    recursive: optional(Schema.Boolean),
    in: optional(InOption),
  }),
} as const

const invalid = (argument: string, value: unknown, reason: string): never => {
  throw new InvalidArgument({ argument, value, reason })
}

/**
 * Runs the checks in `build`: its result, or the first `InvalidArgument` one of them threw,
 * as a typed failure. Anything else thrown is a defect, as in any Effect.
 */
export const validated = <A>(build: () => A): Effect.Effect<A, InvalidArgument> => {
  try {
    return Effect.succeed(build())
  } catch (error) {
    if (error instanceof InvalidArgument) return Effect.fail(error)
    return Effect.die(error)
  }
}

const describe = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value

/**
 * The options object, read once: its own enumerable properties into a null-prototype
 * object, and so for the objects inside it (`in: { pid }`), arrays copied index by index,
 * once — so that nothing read later can differ from what was validated, and nothing is
 * read through a prototype. An option given as `undefined` is an option left out.
 */
export const snapshot = (value: unknown): Record<string, unknown> => {
  if (value === undefined) return Object.create(null)
  if (!Predicate.isObject(value) || Array.isArray(value)) {
    return invalid("options", value, `must be an object, got ${describe(value)}`)
  }
  return ownCopy(value, "", 0) as Record<string, unknown>
}

const ownCopy = (value: unknown, path: string, depth: number): unknown => {
  if (Array.isArray(value)) return copyArray(value)
  if (!Predicate.isObject(value) || value instanceof Uint8Array || depth > 3) return value
  const copy: Record<string, unknown> = Object.create(null)
  let key = ""
  try {
    for (key of Object.keys(value)) {
      const field = (value as Record<string, unknown>)[key]
      if (field !== undefined) copy[key] = ownCopy(field, path || key, depth + 1)
    }
  } catch (error) {
    return invalid(path || key || "options", undefined, `reading it threw: ${messageOf(error)}`)
  }
  return copy
}

/** A decoded object, its nested objects too, without a prototype to read through. */
const ownOnly = (value: unknown): unknown => {
  if (!Predicate.isObject(value) || Array.isArray(value) || value instanceof Uint8Array)
    return value
  const copy: Record<string, unknown> = Object.create(null)
  for (const key of Object.keys(value)) copy[key] = ownOnly((value as Record<string, unknown>)[key])
  return copy
}

const copyArray = (array: ReadonlyArray<unknown>): Array<unknown> => {
  const length = array.length
  const copy: Array<unknown> = []
  for (let i = 0; i < length; i++) copy.push(array[i])
  return copy
}

/** A path given as bytes or text: not empty, no NUL byte (the schema's check, for a source
 * that only a route decided was a path). */
export const nonEmptyPath = (argument: string, value: string | Uint8Array): PathLike => {
  if (value.length === 0) return invalid(argument, value, "must not be empty")
  if (typeof value === "string" ? value.includes("\0") : value.includes(0)) {
    return invalid(argument, value, "must not contain a NUL byte")
  }
  return value
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Decodes `values` (positional arguments, then the options snapshot) with one tuple schema;
 * the first issue becomes an `InvalidArgument` naming the argument (`names[i]`) or option.
 */
export const decode = <S extends Schema.Top>(
  schema: S,
  names: ReadonlyArray<string>,
  values: ReadonlyArray<unknown>,
  known: ReadonlyArray<string>,
): S["Type"] => {
  const exit = Schema.decodeUnknownExit(schema as never, { onExcessProperty: "error" })(values)
  if (exit._tag === "Success") {
    // The decoded options are a fresh plain object: an option left out would be read from
    // Object.prototype (polluted, it may hold an `in`). Own properties only, from here on.
    const decoded = [...(exit.value as ReadonlyArray<unknown>)]
    const last = decoded.length - 1
    decoded[last] = ownOnly(decoded[last])
    return decoded as S["Type"]
  }
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  const issue =
    error?._tag === "Fail" && Schema.isSchemaError(error.error)
      ? formatter(error.error.issue).issues[0]
      : undefined
  const [position, ...rest] = issue?.path ?? []
  const index = typeof position === "number" ? position : 0
  const isOptions = index === names.length
  const argument = isOptions ? String(rest[0] ?? "options") : (names[index] ?? "arguments")
  const given = isOptions
    ? rest[0] === undefined
      ? values[index]
      : (values[index] as Record<string, unknown> | undefined)?.[String(rest[0])]
    : values[index]
  let reason = issue?.message ?? "is invalid"
  if (reason === "Unexpected key") reason = `is not an option here; known: ${known.join(", ")}`
  else if (isOptions && rest.length > 1) reason = `${rest.slice(1).join(".")}: ${reason}`
  return invalid(argument, given, reason)
}

/** A decoded `in` → the protocol's namespace. */
export const namespace = (
  value: Schema.Schema.Type<typeof InOption> | undefined,
): Request.Namespace => {
  if (value === undefined || value === "self") return { _tag: "Self" }
  if (Object.hasOwn(value, "pid")) return { _tag: "Pid", pid: (value as { pid: number }).pid }
  return { _tag: "Path", path: absolute((value as { path: PathLike }).path) }
}

const absolute = (path: PathLike): PathLike => {
  if (typeof path === "string") return isAbsolute(path) ? path : resolve(process.cwd(), path)
  if (path[0] === 0x2f) return path
  return Buffer.concat([Buffer.from(`${process.cwd().replace(/\/$/, "")}/`), path])
}

/**
 * A decoded path inside the namespace `ns`: relative paths are resolved against
 * `process.cwd()` for this namespace and refused for another one, where our working
 * directory means nothing.
 */
export const path = (argument: string, value: PathLike, ns: Request.Namespace): PathLike => {
  const relative = typeof value === "string" ? !isAbsolute(value) : value[0] !== 0x2f
  if (!relative) return value
  if (ns._tag !== "Self") {
    return invalid(argument, value, "must be absolute when `in` names another namespace")
  }
  return absolute(value)
}

/** A path as text for messages: UTF-8, or with the bytes that are not as `\xHH`. */
export const display = (value: PathLike): string => {
  if (typeof value === "string") return value
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const text = bytes.toString("utf8")
  if (!text.includes("\uFFFD")) return text
  let out = ""
  for (const byte of bytes)
    out += byte < 0x80 ? String.fromCharCode(byte) : `\\x${byte.toString(16)}`
  return out
}

const constant = (name: string): number => native().constants[name]!

/** The OR of the named flags' constants in `table`. */
export const bits = (
  names: ReadonlyArray<string>,
  table: Readonly<Record<string, string>>,
): number => {
  let out = 0
  for (const name of names) out |= constant(table[name]!)
  return out >>> 0
}

/** The named flags symbolically, `MS_BIND|MS_RDONLY`, for errors. */
export const symbolic = (
  names: ReadonlyArray<string>,
  table: Readonly<Record<string, string>>,
): string | undefined => {
  const constants = [...new Set(names.map((name) => table[name]!))]
  return constants.length === 0 ? undefined : constants.join("|")
}

/**
 * Attribute names → `[attrSet, attrClear]` for mount_setattr(2); naming an atime mode
 * clears the others (the kernel keeps one). At most one atime mode may be named.
 */
export const attributes = (
  argument: string,
  names: ReadonlyArray<Attribute>,
): readonly [number, number] => {
  const atimes = names.filter((name) => atimeAttributes.includes(name))
  if (atimes.length > 1) {
    return invalid(
      argument,
      names,
      `at most one of relatime, noatime, strictatime (got ${atimes.join(", ")})`,
    )
  }
  const set = bits(names, attributeConstants)
  return [set, atimes.length > 0 ? constant("MOUNT_ATTR__ATIME") : 0]
}

const perMount = ["ro", "nosuid", "nodev", "noexec", "nodiratime", "nosymfollow"] as const

/**
 * The per-mount attributes MS_REMOUNT (with or without MS_BIND) gives a mount, as
 * mount(2)'s path_mount() computes them: every per-mount flag not named is cleared; the
 * atime mode is relatime unless noatime or strictatime is named, and is kept as it was when
 * no atime flag (nodiratime included) is named.
 */
export const remountAttributes = (flags: ReadonlyArray<MountFlag>): readonly [number, number] => {
  const named = perMount.filter((flag) => flags.includes(flag))
  let set = bits(named, attributeConstants)
  let clear = bits(perMount, attributeConstants)
  const atimeNamed = ["noatime", "nodiratime", "relatime", "strictatime"].some((f) =>
    flags.includes(f as MountFlag),
  )
  if (atimeNamed) {
    clear |= constant("MOUNT_ATTR__ATIME")
    if (flags.includes("strictatime")) set |= constant("MOUNT_ATTR_STRICTATIME")
    else if (flags.includes("noatime")) set |= constant("MOUNT_ATTR_NOATIME")
  }
  return [set >>> 0, clear >>> 0]
}

/**
 * The filesystem flags MS_REMOUNT resets, as fsconfig(2) flags: each of ro, sync, lazytime
 * and mand is set when named and cleared when not (the kernel's MS_RMT_MASK).
 */
export const remountSuperFlags = (flags: ReadonlyArray<MountFlag>): Array<string> => [
  flags.includes("ro") ? "ro" : "rw",
  flags.includes("sync") ? "sync" : "async",
  flags.includes("lazytime") ? "lazytime" : "nolazytime",
  flags.includes("mandlock") ? "mand" : "nomand",
]

/**
 * A data string → its options, as mount(2)'s parser splits it: at commas, except inside
 * double quotes (an SELinux context) and after a backslash (overlayfs escapes them).
 */
export const splitData = (data: string): Array<string> => {
  const options: Array<string> = []
  let current = ""
  let quoted = false
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!
    if (c === "\\" && i + 1 < data.length) {
      current += c + data[i + 1]!
      i++
    } else if (c === '"') {
      quoted = !quoted
      current += c
    } else if (c === "," && !quoted) {
      if (current !== "") options.push(current)
      current = ""
    } else {
      current += c
    }
  }
  if (current !== "") options.push(current)
  return options
}

/** A propagation type's `MS_*` value. */
export const propagationBits = (kind: "private" | "shared" | "slave" | "unbindable"): number =>
  constant(mountFlagConstants[kind])

/** The names of a flags option that are not in `allowed`, refused. */
export const only = <Name extends string>(
  flags: ReadonlyArray<Name>,
  allowed: ReadonlyArray<Name>,
  why: string,
): void => {
  const stray = flags.filter((flag) => !allowed.includes(flag))
  if (stray.length > 0) invalid("flags", flags, `${stray.map((f) => `"${f}"`).join(", ")} ${why}`)
}

export { Bytes, invalid, Text }
