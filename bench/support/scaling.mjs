/**
 * The scaling matrix: callers in flight (1, 2, 4, 8) × pool sizes (1 … the default
 * maxThreads), through the Effect API, next to the raw C with as many threads as callers.
 */
import { availableParallelism } from "node:os"
import { c, config, quick, rate } from "./harness.mjs"
import { effectLoops, effectPair, runtime } from "./linx.mjs"

/** Mounter's default maxThreads (see src/Mounter.ts): twice the CPUs, from 2 to 8. */
export const defaultPool = Math.min(8, Math.max(2, availableParallelism() * 2))

export async function scaling({ scope, dir, src, targets, options, cMode, cArgs = {} }) {
  const records = []
  const callersList = quick ? [1, 8] : [1, 2, 4, 8]
  const pools = quick
    ? [...new Set([1, defaultPool])]
    : Array.from({ length: defaultPool }, (_, i) => i + 1)
  const runs = { runs: quick ? 2 : 3, runMs: quick ? 60 : 250, warmupMs: quick ? 30 : 100 }
  for (const pool of pools) {
    const rt = runtime({ maxThreads: pool })
    for (const callers of callersList) {
      records.push(
        await rate(
          {
            case: scope,
            key: `pool-${pool}-callers-${callers}`,
            role: "linx",
            label: `linx-mount Effect API, pool ${pool}, ${callers} caller${callers > 1 ? "s" : ""}`,
            unit: "pairs/s",
            pool,
            callers,
            defaultPool: pool === defaultPool,
          },
          (ms) => effectLoops(rt, callers, ms, (k) => effectPair(src, targets[k], options)),
          runs,
        ),
      )
    }
    await rt.dispose()
  }
  for (const threads of callersList) {
    records.push(
      await rate(
        {
          case: scope,
          key: `c-${threads}`,
          role: "baseline",
          label: `C, ${threads} thread${threads > 1 ? "s" : ""}`,
          unit: "pairs/s",
          callers: threads,
        },
        (ms) => c(cMode, { dir, ms, threads, ...cArgs }),
        { ...runs, runs: config.runs },
      ),
    )
  }
  return records
}
