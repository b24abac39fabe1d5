/**
 * Validation and normalisation of the public verbs' arguments, on the main thread, before
 * anything is dispatched: a call that fails here has touched nothing.
 */

import { isAbsolute, resolve } from "node:path"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import {
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
export type In = "self" | { readonly pid: number } | { readonly path: string }

const MAX_PID = 4_194_304 // PID_MAX_LIMIT on 64-bit kernels
// mount(2) copies at most one page of `data` and silently drops the rest.
const MAX_DATA_BYTES = 4095

const invalid = (argument: string, value: unknown, reason: string) =>
  Effect.fail(new InvalidArgument({ argument, value, reason }))

/** A string free of NUL bytes (the kernel would cut it short there). */
export const string = (
  argument: string,
  value: unknown,
): Effect.Effect<string, InvalidArgument> => {
  if (!Predicate.isString(value))
    return invalid(argument, value, `must be a string, got ${describe(value)}`)
  if (value.includes("\0")) return invalid(argument, value, "must not contain a NUL byte")
  return Effect.succeed(value)
}

const describe = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value

/**
 * A path inside the namespace `ns`: non-empty, NUL-free; relative paths are resolved
 * against `process.cwd()` for this namespace and refused for another one, where our cwd
 * means nothing.
 */
export const path = (argument: string, value: unknown, ns: Request.Namespace) =>
  Effect.flatMap(string(argument, value), (p) => {
    if (p.length === 0) return invalid(argument, value, "must not be empty")
    if (isAbsolute(p)) return Effect.succeed(p)
    if (ns._tag !== "Self") {
      return invalid(argument, value, "must be absolute when `in` names another namespace")
    }
    return Effect.succeed(resolve(process.cwd(), p))
  })

/** The `in` option → a namespace descriptor. */
export const namespace = (value: unknown): Effect.Effect<Request.Namespace, InvalidArgument> => {
  if (value === undefined || value === "self") return Effect.succeed({ _tag: "Self" })
  if (!Predicate.isObject(value) || Array.isArray(value)) {
    return invalid("in", value, `must be "self", { pid } or { path }, got ${describe(value)}`)
  }
  const keys = Object.keys(value)
  if (keys.length === 1 && Predicate.hasProperty(value, "pid")) {
    const pid = value.pid
    if (!Number.isSafeInteger(pid) || (pid as number) <= 0 || (pid as number) > MAX_PID) {
      return invalid("in", value, `pid must be an integer from 1 to ${MAX_PID}`)
    }
    return Effect.succeed({ _tag: "Pid", pid: pid as number })
  }
  if (keys.length === 1 && Predicate.hasProperty(value, "path")) {
    return Effect.flatMap(string("in", value.path), (p) =>
      p.length === 0
        ? invalid("in", value, "path must not be empty")
        : Effect.succeed({ _tag: "Path" as const, path: resolve(process.cwd(), p) }),
    )
  }
  return invalid("in", value, 'must be "self", { pid } or { path } with exactly one key')
}

/** The options object itself: absent, or a plain object. */
export const options = (
  value: unknown,
): Effect.Effect<Record<string, unknown>, InvalidArgument> => {
  if (value === undefined) return Effect.succeed({})
  if (!Predicate.isObject(value) || Array.isArray(value)) {
    return invalid("options", value, `must be an object, got ${describe(value)}`)
  }
  return Effect.succeed(value as Record<string, unknown>)
}

/** A list of flag names from `table`, each allowed for this verb → OR of the constants. */
const flagList = <Name extends string>(
  value: unknown,
  table: Readonly<Record<Name, string>>,
  allowed: ReadonlyArray<Name>,
  verb: string,
): Effect.Effect<ReadonlyArray<Name>, InvalidArgument> => {
  if (value === undefined) return Effect.succeed([])
  if (!Array.isArray(value))
    return invalid("flags", value, `must be an array of flag names, got ${describe(value)}`)
  for (const flag of value) {
    if (!Predicate.isString(flag) || !Object.hasOwn(table, flag)) {
      return invalid(
        "flags",
        value,
        // Not JSON.stringify for every value: it throws on a bigint, which made this a
        // defect instead of an InvalidArgument (found by test/hostile.test.ts).
        `unknown flag ${Predicate.isString(flag) ? JSON.stringify(flag) : describe(flag)}; known: ${Object.keys(table).join(" ")}`,
      )
    }
    if (!allowed.includes(flag as Name)) {
      return invalid("flags", value, `flag "${flag}" does not apply to ${verb}`)
    }
  }
  return Effect.succeed(value as ReadonlyArray<Name>)
}

const orFlags = (names: ReadonlyArray<string>, table: Readonly<Record<string, string>>): number => {
  const constants = native().constants
  let bits = 0
  for (const name of names) bits |= constants[table[name]!]!
  return bits >>> 0
}

/** The OR of the named mount flags' constants. */
export const mountBits = (names: ReadonlyArray<MountFlag>): number =>
  orFlags(names, mountFlagConstants)

export const allMountFlags = Object.keys(mountFlagConstants) as ReadonlyArray<MountFlag>
export const allUmountFlags = Object.keys(umountFlagConstants) as ReadonlyArray<UmountFlag>

export const mountFlags = (value: unknown, allowed: ReadonlyArray<MountFlag>, verb: string) =>
  Effect.map(flagList(value, mountFlagConstants, allowed, verb), (names) => ({
    names,
    bits: orFlags(names, mountFlagConstants),
  }))

export const umountFlags = (value: unknown) =>
  Effect.map(flagList(value, umountFlagConstants, allUmountFlags, "umount"), (names) =>
    orFlags(names, umountFlagConstants),
  )

/** `data`: a NUL-free string of at most one page. */
export const data = (value: unknown) => {
  if (value === undefined) return Effect.succeed("")
  return Effect.flatMap(string("data", value), (d) =>
    Buffer.byteLength(d) > MAX_DATA_BYTES
      ? invalid("data", value, `must be at most ${MAX_DATA_BYTES} bytes (mount(2) reads one page)`)
      : Effect.succeed(d),
  )
}

export const boolean = (argument: string, value: unknown) => {
  if (value === undefined) return Effect.succeed(false)
  if (!Predicate.isBoolean(value))
    return invalid(argument, value, `must be a boolean, got ${describe(value)}`)
  return Effect.succeed(value)
}

/** The per-mount subset of `names`, as constants, for a bind's follow-up remount. */
export const perMountBits = (names: ReadonlyArray<MountFlag>): number =>
  orFlags(
    names.filter((name) => perMountFlags.includes(name)),
    mountFlagConstants,
  )

/** Refuses option keys the verb does not know, so a typo is never silently ignored. */
export const knownKeys = (value: Record<string, unknown>, known: ReadonlyArray<string>) => {
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      return invalid(key, value[key], `is not an option here; known: ${known.join(", ")}`)
  }
  return Effect.void
}

/** `sourceIn`: absent (the source is looked up in `in`), or `"self"`. */
export const sourceIn = (value: unknown): Effect.Effect<boolean, InvalidArgument> => {
  if (value === undefined) return Effect.succeed(false)
  if (value === "self") return Effect.succeed(true)
  return invalid(
    "sourceIn",
    value,
    'must be "self" (look the source up in this process\'s namespace)',
  )
}
