/**
 * The mutating subcommands of the `linx-mount` CLI, with mount(8)'s habits: `-t TYPE`,
 * `-o` options where flag names become flags and everything else (`size=64M`) the data
 * string, `--pid N` / `--ns PATH` for another mount namespace.
 */

import { parseArgs } from "node:util"
import * as Effect from "effect/Effect"
import { type MountFlag, mountFlagConstants } from "../../../protocol/Flags.js"
import * as Mount from "../../Mount.js"
import { Mounter } from "../../Mounter.js"

export const verbUsage = `Mutating commands (root):
  linx-mount mount [-t TYPE] [-o OPTS] [--create] SOURCE TARGET    mount(2)
  linx-mount bind [-o OPTS] [-R|--rec] [--create] [--source-in self] SOURCE TARGET
                                                                   mount --bind (-o ro really read-only;
                                                                   --source-in self: SOURCE from our namespace)
  linx-mount remount [-o OPTS] TARGET                              mount -o remount (add -o bind for a bind mount)
  linx-mount move SOURCE TARGET                                    mount --move
  linx-mount umount [-l|--lazy] [-f|--force] [--expire] [--no-follow] TARGET
  linx-mount pivot-root NEW_ROOT PUT_OLD
  linx-mount make-private|make-shared|make-slave|make-unbindable [-R|--recursive] TARGET
Each takes --pid N (that process's mount namespace) or --ns PATH (a namespace file).`

class UsageError extends Error {}

const namespaceOf = (values: { pid?: string | undefined; ns?: string | undefined }): Mount.In => {
  if (values.pid !== undefined && values.ns !== undefined)
    throw new UsageError("--pid and --ns exclude each other")
  if (values.pid !== undefined) {
    if (!/^[0-9]+$/.test(values.pid))
      throw new UsageError(`--pid wants a process id, got ${JSON.stringify(values.pid)}`)
    return { pid: Number(values.pid) }
  }
  if (values.ns !== undefined) return { path: values.ns }
  return "self"
}

// -o as mount(8) reads it: known flag names are flags, "rw"/"defaults" are the defaults,
// anything else goes to the filesystem as data.
const splitOptions = (
  options: ReadonlyArray<string>,
): { flags: Array<MountFlag>; data: string | undefined } => {
  const flags: Array<MountFlag> = []
  const data: Array<string> = []
  for (const option of options.flatMap((o) => o.split(",")).filter((o) => o !== "")) {
    if (option === "rw" || option === "defaults") continue
    if (Object.hasOwn(mountFlagConstants, option)) flags.push(option as MountFlag)
    else data.push(option)
  }
  return { flags, data: data.length > 0 ? data.join(",") : undefined }
}

const nsOptions = {
  pid: { type: "string" },
  ns: { type: "string" },
} as const

const positionals = (
  values: ReadonlyArray<string>,
  names: ReadonlyArray<string>,
): Array<string> => {
  if (values.length !== names.length) {
    throw new UsageError(`expected ${names.join(" ")}, got ${values.length} argument(s)`)
  }
  return [...values]
}

const program = (
  command: string,
  argv: ReadonlyArray<string>,
): Effect.Effect<void, Mount.MountErrorOrInvalid, Mounter> | undefined => {
  const parse = <
    O extends Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>,
  >(
    options: O,
  ) =>
    parseArgs({
      args: [...argv],
      options: { ...options, ...nsOptions },
      allowPositionals: true,
      strict: true,
    })
  switch (command) {
    case "mount": {
      const { values, positionals: rest } = parse({
        types: { type: "string", short: "t" },
        options: { type: "string", short: "o", multiple: true },
        create: { type: "boolean" },
      })
      const [source, target] = positionals(rest, ["SOURCE", "TARGET"])
      const { flags, data } = splitOptions(values.options ?? [])
      return Mount.mount(source!, target!, values.types ?? "", {
        flags,
        ...(data !== undefined ? { data } : {}),
        create: values.create ?? false,
        in: namespaceOf(values),
      })
    }
    case "bind": {
      const { values, positionals: rest } = parse({
        options: { type: "string", short: "o", multiple: true },
        rec: { type: "boolean", short: "R" },
        create: { type: "boolean" },
        "source-in": { type: "string" },
      })
      const [source, target] = positionals(rest, ["SOURCE", "TARGET"])
      const { flags, data } = splitOptions(values.options ?? [])
      if (values.rec) flags.push("rec")
      return Mount.bind(source!, target!, {
        flags: flags as Array<Mount.BindFlag>,
        ...(data !== undefined ? ({ data } as object) : {}),
        ...(values["source-in"] !== undefined ? { sourceIn: values["source-in"] as "self" } : {}),
        create: values.create ?? false,
        in: namespaceOf(values),
      })
    }
    case "remount": {
      const { values, positionals: rest } = parse({
        options: { type: "string", short: "o", multiple: true },
      })
      const [target] = positionals(rest, ["TARGET"])
      const { flags, data } = splitOptions(values.options ?? [])
      return Mount.remount(target!, {
        flags: flags.filter((f) => f !== "remount") as Array<Mount.RemountFlag>,
        ...(data !== undefined ? { data } : {}),
        in: namespaceOf(values),
      })
    }
    case "move": {
      const { values, positionals: rest } = parse({})
      const [source, target] = positionals(rest, ["SOURCE", "TARGET"])
      return Mount.move(source!, target!, { in: namespaceOf(values) })
    }
    case "umount": {
      const { values, positionals: rest } = parse({
        lazy: { type: "boolean", short: "l" },
        force: { type: "boolean", short: "f" },
        expire: { type: "boolean" },
        "no-follow": { type: "boolean" },
      })
      const [target] = positionals(rest, ["TARGET"])
      const flags: Array<Mount.UmountFlag> = []
      if (values.lazy) flags.push("detach")
      if (values.force) flags.push("force")
      if (values.expire) flags.push("expire")
      if (values["no-follow"]) flags.push("no_follow")
      return Mount.umount(target!, { flags, in: namespaceOf(values) })
    }
    case "pivot-root": {
      const { values, positionals: rest } = parse({})
      const [newRoot, putOld] = positionals(rest, ["NEW_ROOT", "PUT_OLD"])
      return Mount.pivotRoot(newRoot!, putOld!, { in: namespaceOf(values) })
    }
    case "make-private":
    case "make-shared":
    case "make-slave":
    case "make-unbindable": {
      const { values, positionals: rest } = parse({ recursive: { type: "boolean", short: "R" } })
      const [target] = positionals(rest, ["TARGET"])
      const verb = {
        "make-private": Mount.makePrivate,
        "make-shared": Mount.makeShared,
        "make-slave": Mount.makeSlave,
        "make-unbindable": Mount.makeUnbindable,
      }[command]
      return verb(target!, { recursive: values.recursive ?? false, in: namespaceOf(values) })
    }
    default:
      return undefined
  }
}

export const isVerb = (command: string): boolean =>
  [
    "mount",
    "bind",
    "remount",
    "move",
    "umount",
    "pivot-root",
    "make-private",
    "make-shared",
    "make-slave",
    "make-unbindable",
  ].includes(command)

/**
 * Runs one mutating subcommand. Exit codes follow mount(8): 0 done, 1 bad usage or an
 * invalid argument (nothing was touched), 32 the kernel refused.
 */
export async function verbCommand(
  command: string,
  argv: ReadonlyArray<string>,
  err: NodeJS.WritableStream,
): Promise<number> {
  let effect: ReturnType<typeof program>
  try {
    effect = program(command, argv)
  } catch (error) {
    err.write(`linx-mount ${command}: ${(error as Error).message}\n${verbUsage}\n`)
    return 1
  }
  if (effect === undefined) {
    err.write(`linx-mount: unknown command ${JSON.stringify(command)}\n`)
    return 1
  }
  const exit = await Effect.runPromise(
    effect.pipe(
      Effect.provide(Mounter.layer()),
      Effect.match({
        onSuccess: () => 0,
        onFailure: (error) => {
          err.write(`linx-mount ${command}: ${error.message}\n`)
          return error._tag === "MountError" ? 32 : 1
        },
      }),
    ),
  )
  return exit
}
