/**
 * Drives linx-mount the way a user would, through the package's public entry points
 * (`linx-mount` and `linx-mount/promises`, which resolve to dist/): callers in flight, each
 * looping over its own target.
 */
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Mount, Mounter } from "linx-mount"
import * as Promises from "linx-mount/promises"
import { config, loops, withCpu } from "./harness.mjs"

export { Mount, Mounter, Promises }

/** A runtime holding one `Mounter.layer(options)` pool until `dispose()`. */
export const runtime = (options = {}) => ManagedRuntime.make(Mounter.layer(options))

/**
 * Effect API: `callers` fibers at once, each repeating `step(k)` (an Effect) until `ms`
 * have passed. Resolves to `{ ops, seconds }`.
 */
export const effectLoops = (rt, callers, ms, step) =>
  rt.runPromise(
    Effect.gen(function* () {
      const start = performance.now()
      const deadline = start + ms
      const counts = yield* Effect.forEach(
        Array.from({ length: callers }, (_, k) => k),
        (k) =>
          Effect.gen(function* () {
            let n = 0
            while (performance.now() < deadline) {
              yield* step(k)
              n++
            }
            return n
          }),
        { concurrency: "unbounded" },
      )
      return { ops: counts.reduce((a, b) => a + b, 0), seconds: (performance.now() - start) / 1000 }
    }),
  )

/** One bind + umount pair on `target` with the Effect API. */
export const effectPair = (src, target, options) =>
  Effect.andThen(Mount.bind(src, target, options), Mount.umount(target, options))

/** One bind + umount pair on `target` with the Promise API. */
export const promisePair = async (src, target, options) => {
  await Promises.bind(src, target, options)
  await Promises.umount(target, options)
}

/** One proc mount and its umount inside `pid`'s namespaces, with the Effect API. */
export const effectProc = (target, pid) =>
  Effect.andThen(
    Mount.mount("proc", target, "proc", { in: { pid } }),
    Mount.umount(target, { in: { pid } }),
  )

/** `n` pairs issued at once (one fiber each), as a burst. */
export const effectBurst = (rt, n, src, targets, options) =>
  rt.runPromise(
    Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (i) => effectPair(src, targets[i % targets.length], options),
      { concurrency: "unbounded", discard: true },
    ),
  )

/**
 * The linx-mount rows of a bind + umount pairs case: the Effect API and the Promise API,
 * each with 1 and 8 callers in flight, on the default pool, as specs for harness
 * `interleaved` (beside the case's baselines). `options` is what every call takes
 * (`{ in: { pid } }` for another namespace). Every run also measures the CPU of all this
 * process's threads (`cpuRuns`, see harness `cpuRecords`). `start()` makes the Effect
 * runtime and warms both APIs up (the JIT, the pools' workers, the kernel); `close()` ends
 * both pools.
 */
export const linxPairSpecs = (scope, src, targets, options) => {
  const unit = "pairs/s"
  const callersLabel = (n) => `${n} caller${n > 1 ? "s" : ""}`
  let rt
  const specs = []
  for (const callers of [1, 8]) {
    specs.push({
      fields: {
        case: scope,
        key: `linx-effect-${callers}`,
        role: "linx",
        label: `linx-mount Effect API, ${callersLabel(callers)}`,
        unit,
      },
      run: withCpu((ms) =>
        effectLoops(rt, callers, ms, (k) => effectPair(src, targets[k], options)),
      ),
    })
  }
  for (const callers of [1, 8]) {
    specs.push({
      fields: {
        case: scope,
        key: `linx-promise-${callers}`,
        role: "linx",
        label: `linx-mount Promise API, ${callersLabel(callers)}`,
        unit,
      },
      run: withCpu((ms) => loops(callers, ms, (k) => promisePair(src, targets[k], options))),
    })
  }
  const start = async () => {
    rt = runtime()
    await effectLoops(rt, 8, config.processWarmupMs, (k) => effectPair(src, targets[k], options))
    await loops(8, config.processWarmupMs / 2, (k) => promisePair(src, targets[k], options))
  }
  const close = async () => {
    await rt?.dispose()
    await Promises.close()
  }
  return { specs, start, close }
}
