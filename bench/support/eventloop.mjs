/**
 * What the eventloop/* cases share: `perf_hooks.monitorEventLoopDelay` (1 ms resolution)
 * around a piece of work, and its p50 / p99 / max as records. Each variant is a case file of
 * its own, so each runs in a fresh process: run one after another in one process, a burst of
 * 10,000 fibers left V8's young generation grown, and every later variant paid ~5 ms
 * scavenges (measured: 0.5 ms before any burst).
 *
 * The histogram records the time between its 1 ms timer's callbacks, so an idle loop reads
 * about 1 ms: the figures are the delay beyond that interval (raw − 1 ms, never below 0);
 * the raw percentiles are kept in results.json.
 */
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import { config, figure, layout, quick, requireRunner } from "./harness.mjs"
import { effectPair, runtime } from "./linx.mjs"
import { mountNamespaceTarget } from "./targets.mjs"

const resolution = 1

/** Pairs (a bind and its umount) in one batch: 10,000 ops. */
export const pairs = quick ? 1000 : 5000

/** Runs `work()` under the monitor; resolves to the delays and how long it took. */
export const monitored = async (work) => {
  const h = monitorEventLoopDelay({ resolution })
  h.enable()
  const start = performance.now()
  await work()
  const seconds = (performance.now() - start) / 1000
  // Let the monitor's timer fire once more, so a stall at the very end is recorded too.
  await new Promise((resolve) => setTimeout(resolve, 5))
  h.disable()
  const raw = { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 }
  const excess = Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [k, Math.max(0, v - resolution)]),
  )
  return { raw, excess, seconds }
}

/**
 * `config.runs` monitored runs of `work`, as records of case `eventloop/<name>`: p50, p99
 * and max delay, and the pairs/s meanwhile when `pairsPerRun` is given.
 */
export const delayRecords = async (name, role, label, work, pairsPerRun) => {
  const samples = []
  for (let i = 0; i < config.runs; i++) samples.push(await monitored(work))
  const records = []
  for (const stat of ["p50", "p99", "max"]) {
    const rec = figure(
      {
        case: `eventloop/${name}`,
        key: stat,
        role,
        label: `${label}: ${stat} delay`,
        unit: "ms",
        better: "lower",
      },
      samples.map((s) => s.excess[stat]),
    )
    rec.rawRuns = samples.map((s) => s.raw[stat])
    records.push(rec)
  }
  if (pairsPerRun)
    records.push(
      figure(
        {
          case: `eventloop/${name}`,
          key: "rate",
          role,
          label: `${label}: pairs/s meanwhile`,
          unit: "pairs/s",
          better: "higher",
        },
        samples.map((s) => pairsPerRun / s.seconds),
      ),
    )
  return records
}

/**
 * What a linx-mount variant runs on: `pairs` targets on the case's scratch directory, the
 * `options` every call takes (into a running `unshare -m` target when `cross`), and a
 * default-pool runtime whose threads are started (and the verbs seen by the JIT) before
 * anything is measured. `done()` disposes of the runtime and kills the target.
 */
export const prepare = async ({ cross }) => {
  const { src, targets } = layout(requireRunner(), pairs)
  const target = cross ? await mountNamespaceTarget() : undefined
  const options = target ? { in: { pid: target.pid } } : undefined
  const rt = runtime()
  await rt.runPromise(
    Effect.forEach(targets.slice(0, 64), (t) => effectPair(src, t, options), {
      concurrency: "unbounded",
      discard: true,
    }),
  )
  const done = async () => {
    await rt.dispose()
    target?.kill()
  }
  return { src, targets, options, rt, done }
}
