/**
 * eventloop/* — how much the event loop stalls while linx-mount works:
 * `perf_hooks.monitorEventLoopDelay` (1 ms resolution) p50 / p99 / max while a batch of
 * 10,000 hot-mount ops (5,000 bind + umount pairs) runs through the Effect API, default pool.
 *
 *   eventloop/cross-ns-burst    all 5,000 cross-namespace pairs issued at once (the target)
 *   eventloop/cross-ns-8-callers the same pairs, 8 callers in flight
 *   eventloop/same-ns-burst     5,000 same-namespace pairs issued at once
 *   eventloop/stub-burst        baseline: the same burst with a Mounter stub that completes
 *                               each request on the next turn (no pool, no syscalls) — what
 *                               starting 5,000 fibers at once costs the caller by itself
 *   eventloop/idle              baseline: the same monitor on an idle loop, as long
 *
 * The histogram records the time between its 1 ms timer's callbacks, so an idle loop reads
 * about 1 ms: the figures are the delay beyond that interval (raw − 1 ms, never below 0);
 * the raw percentiles are kept in results.json.
 */
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import {
  config,
  effectBurst,
  effectPair,
  emit,
  figure,
  layout,
  Mounter,
  mountNamespaceTarget,
  quick,
  requireRunner,
  runtime,
} from "../support/all.mjs"

const dir = requireRunner()
const pairs = quick ? 1000 : 5000
const { src, targets } = layout(dir, pairs)
const target = await mountNamespaceTarget()
const cross = { in: { pid: target.pid } }
const resolution = 1
const records = []

const monitored = async (work) => {
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

const report = (name, role, label, samples, opsPerRun) => {
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
  if (opsPerRun)
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
        samples.map((s) => opsPerRun / s.seconds),
      ),
    )
}

const rt = runtime()
// Start the pool's workers and the addon's private threads before measuring.
await rt.runPromise(
  Effect.forEach(targets.slice(0, 64), (t) => effectPair(src, t, cross), {
    concurrency: "unbounded",
    discard: true,
  }),
)

const runs = config.runs
const variants = [
  [
    "cross-ns-burst",
    `${pairs.toLocaleString("en-US")} cross-ns pairs at once`,
    () => effectBurst(rt, pairs, src, targets, cross),
  ],
  [
    "cross-ns-8-callers",
    `${pairs.toLocaleString("en-US")} cross-ns pairs, 8 callers`,
    () =>
      rt.runPromise(
        Effect.forEach(
          Array.from({ length: 8 }, (_, k) => k),
          (k) =>
            Effect.gen(function* () {
              for (let i = k; i < pairs; i += 8) yield* effectPair(src, targets[i], cross)
            }),
          { concurrency: "unbounded", discard: true },
        ),
      ),
  ],
  [
    "same-ns-burst",
    `${pairs.toLocaleString("en-US")} same-ns pairs at once`,
    () => effectBurst(rt, pairs, src, targets, undefined),
  ],
]
let busySeconds = 0
for (const [name, label, work] of variants) {
  const samples = []
  for (let i = 0; i < runs; i++) samples.push(await monitored(work))
  busySeconds = Math.max(busySeconds, ...samples.map((s) => s.seconds))
  report(name, "linx", label, samples, pairs)
}
await rt.dispose()

const stub = ManagedRuntime.make(
  Layer.succeed(
    Mounter,
    Mounter.of({
      submit: () => Effect.callback((resume) => void setImmediate(() => resume(Effect.void))),
    }),
  ),
)
const stubSamples = []
for (let i = 0; i < runs; i++)
  stubSamples.push(await monitored(() => effectBurst(stub, pairs, src, targets, cross)))
report(
  "stub-burst",
  "baseline",
  `${pairs.toLocaleString("en-US")} pairs at once, Mounter stub`,
  stubSamples,
  pairs,
)
await stub.dispose()

const idle = []
for (let i = 0; i < runs; i++) {
  idle.push(
    await monitored(
      () => new Promise((resolve) => setTimeout(resolve, Math.max(200, busySeconds * 1000))),
    ),
  )
}
report("idle", "baseline", "idle event loop, same monitor", idle)

target.kill()
emit(records)
