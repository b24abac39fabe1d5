/**
 * Runs a command's plan (see `verbs.ts`) through the Effect API, on the worker pool: each
 * group in turn, its steps in order until one fails — as one `Mount.batch` when a group is
 * a call and its follow-ups (a mount, then its propagation change: undone if the follow-up
 * fails). Failures are printed as `linx-mount <verb>: <the error's message>`, one line each.
 *
 * Exit status: 0 when every group succeeded; 1 when the API refused an argument before any
 * syscall (InvalidArgument) or a target was refused up front; 32 when the kernel refused.
 */
import * as Effect from "effect/Effect"
import type { BatchError } from "../../BatchError.js"
import type { InvalidArgument } from "../../InvalidArgument.js"
import * as Mount from "../../Mount.js"
import type { MountError } from "../../MountError.js"
import { Mounter } from "../../Mounter.js"
import type { Plan, Step } from "./verbs.js"

type Failure = MountError | InvalidArgument | BatchError

const call = (
  step: Step,
  ns: Mount.In,
): Effect.Effect<void, MountError | InvalidArgument, Mounter> => {
  const withIn = <T extends object>(options: T) => ({ ...options, in: ns })
  switch (step.verb) {
    case "mount": {
      const { verb: _, source, target, fstype, ...options } = step
      return Mount.mount(source, target, fstype, withIn(options))
    }
    case "bind": {
      const { verb: _, source, target, ...options } = step
      return Mount.bind(source, target, withIn(options))
    }
    case "remount": {
      const { verb: _, target, ...options } = step
      return Mount.remount(target, withIn(options))
    }
    case "move":
      return Mount.move(step.source, step.target, { in: ns })
    case "umount": {
      const { verb: _, target, ...options } = step
      return Mount.umount(target, withIn(options))
    }
    case "pivotRoot":
      return Mount.pivotRoot(step.newRoot, step.putOld, { in: ns })
    case "setAttributes": {
      const { verb: _, target, ...options } = step
      return Mount.setAttributes(target, withIn(options))
    }
    case "makePrivate":
      return Mount.makePrivate(step.target, withIn({ recursive: step.recursive ?? false }))
    case "makeShared":
      return Mount.makeShared(step.target, withIn({ recursive: step.recursive ?? false }))
    case "makeSlave":
      return Mount.makeSlave(step.target, withIn({ recursive: step.recursive ?? false }))
    case "makeUnbindable":
      return Mount.makeUnbindable(step.target, withIn({ recursive: step.recursive ?? false }))
  }
}

const describe = (step: Step): string =>
  step.verb === "mount" ? "the new mount" : step.verb === "bind" ? "the bind" : `the ${step.verb}`

const messageOf = (error: Failure, steps: ReadonlyArray<Step>): string => {
  if (error._tag !== "BatchError") return error.message
  const undone = error.undone.map((i) => describe(steps[i]!))
  const left = error.notUndone.map((n) => `${describe(steps[n.index]!)} (${n.reason})`)
  return [
    error.cause.message,
    ...(undone.length > 0 ? [`undone: ${undone.join(", ")}`] : []),
    ...(left.length > 0 ? [`NOT undone: ${left.join(", ")}`] : []),
  ].join("; ")
}

/** Runs `plan`; resolves to the exit status. */
export const runPlan = async (
  plan: Plan,
  name: string,
  err: NodeJS.WritableStream,
): Promise<number> => {
  const program = Effect.gen(function* () {
    let status = 0
    for (const group of plan.groups) {
      if (group.refused !== undefined) {
        err.write(`${name}: ${group.refused.message}\n`)
        status = Math.max(status, group.refused.status)
        continue
      }
      const steps = group.steps
      if (steps.length === 0) continue
      const run: Effect.Effect<void, Failure, Mounter> =
        group.atomic && steps.length > 1
          ? Mount.batch(steps, { in: plan.in })
          : Effect.forEach(steps, (step) => call(step, plan.in), { discard: true })
      const failure = yield* Effect.match(run, {
        onFailure: (e): Failure | undefined => e,
        onSuccess: () => undefined,
      })
      if (failure === undefined) continue
      err.write(`${name}: ${messageOf(failure, steps)}\n`)
      status = Math.max(status, failure._tag === "InvalidArgument" ? 1 : 32)
    }
    return status
  })
  return Effect.runPromise(program.pipe(Effect.provide(Mounter.layer())))
}
