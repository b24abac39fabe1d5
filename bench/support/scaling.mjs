/**
 * The scaling matrix: callers in flight (1, 2, 4, 8) × piscina pool sizes (1 … twice the
 * default maxThreads, at most 8: whether workers beyond one per CPU help), through the
 * Effect API, next to the raw C with as many threads as callers.
 */
import { availableParallelism } from "node:os"
import { c, config, quick, rate } from "./harness.mjs"
import { effectLoops, effectPair, runtime } from "./linx.mjs"

/** Mounter's default maxThreads (see src/Mounter.ts): one worker per CPU, from 2 to 8. */
export const defaultPool = Math.min(8, Math.max(2, availableParallelism()))

export async function scaling({ scope, dir, src, targets, options, cMode, cArgs = {} }) {
  const records = []
  const callersList = quick ? [1, 8] : [1, 2, 4, 8]
  const pools = quick
    ? [...new Set([1, defaultPool])]
    : Array.from({ length: Math.min(8, defaultPool * 2) }, (_, i) => i + 1)
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
