/**
 * resources/100k-ops — RSS, open descriptors (/proc/self/fd), threads (/proc/self/task) and
 * zombie children of this process before and after 100,000 ops through the Effect API
 * (default pool, 8 callers in flight): 40% same-ns bind/umount, 50% cross-ns bind/umount
 * into an `unshare -m` target, 10% proc mount/umount into an `unshare -m -p -f` target.
 *
 * "Before" is taken after a warm-up of 10,000 ops that starts the pool's fixed set of
 * piscina workers (started once, then reused: the threads figure counts them, and must not
 * move), every snapshot after a full GC. The 100,000 ops are run several times in
 * a row: `*-growth` is the median growth over one batch (the steady state), `rss-growth-first`
 * the growth over the first batch after the warm-up — the figure the target is judged on.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import * as Effect from "effect/Effect"
import {
  effectPair,
  effectProc,
  emit,
  figure,
  layout,
  mountNamespaceTarget,
  pidNamespaceTarget,
  quick,
  requireRunner,
  resources,
  runtime,
} from "../support/all.mjs"
import { defaultPool } from "../support/scaling.mjs"

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc")
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const dir = requireRunner()
const { src, targets } = layout(dir, 8)
const mntTarget = await mountNamespaceTarget()
const pidTarget = await pidNamespaceTarget()
const cross = { in: { pid: mntTarget.pid } }
const opsPerBatch = quick ? 10_000 : 100_000
const batches = quick ? 1 : 3
const callers = 8

// One batch: `ops` operations split 40/50/10 over same-ns pairs, cross-ns pairs, proc pairs,
// interleaved so every kind runs all along.
const batch = (ops) => {
  const plan = []
  for (let i = 0; plan.length * 2 < ops; i++)
    plan.push(i % 10 < 4 ? "same" : i % 10 < 9 ? "cross" : "proc")
  return Effect.forEach(
    Array.from({ length: callers }, (_, k) => k),
    (k) =>
      Effect.gen(function* () {
        for (let i = k; i < plan.length; i += callers) {
          const kind = plan[i]
          if (kind === "same") yield* effectPair(src, targets[k])
          else if (kind === "cross") yield* effectPair(src, targets[k], cross)
          else yield* effectProc(targets[k], pidTarget.pid)
        }
      }),
    { concurrency: "unbounded", discard: true },
  )
}

const rt = runtime()
await rt.runPromise(batch(quick ? 2_000 : 10_000))
await settle()
const before = resources()
const snapshots = [before]
const seconds = []
for (let b = 0; b < batches; b++) {
  const start = performance.now()
  await rt.runPromise(batch(opsPerBatch))
  seconds.push((performance.now() - start) / 1000)
  await settle()
  snapshots.push(resources())
  console.error(`  batch ${b + 1}: ${JSON.stringify(snapshots.at(-1))}`)
}
await rt.dispose()
await settle()
const closed = resources()

const scope = "resources/100k-ops"
const n = opsPerBatch.toLocaleString("en-US")
const growth = (field) => snapshots.slice(1).map((s, i) => s[field] - snapshots[i][field])
const records = [
  figure(
    {
      case: scope,
      key: "rss-growth",
      role: "linx",
      label: `RSS growth per ${n} ops`,
      unit: "MB",
      better: "lower",
    },
    growth("rssMB"),
  ),
  figure(
    {
      case: scope,
      key: "fds-growth",
      role: "linx",
      label: `open fds growth per ${n} ops`,
      unit: "fds",
      better: "lower",
    },
    growth("fds"),
  ),
  figure(
    {
      case: scope,
      key: "threads-growth",
      role: "linx",
      label: `threads growth per ${n} ops`,
      unit: "threads",
      better: "lower",
    },
    growth("threads"),
  ),
  figure(
    {
      case: scope,
      key: "zombies-after",
      role: "linx",
      label: `zombie children after ${n} ops`,
      unit: "zombies",
      better: "lower",
    },
    snapshots.slice(1).map((s) => s.zombies),
  ),
  figure(
    {
      case: scope,
      key: "rss-growth-first",
      role: "linx",
      label: `RSS growth over the first ${n} ops`,
      unit: "MB",
      better: "lower",
    },
    [snapshots[1].rssMB - before.rssMB],
  ),
  figure(
    {
      case: scope,
      key: "threads-before",
      role: "info",
      label: `threads before (incl. ${defaultPool} piscina workers, started once)`,
      unit: "threads",
      better: "lower",
    },
    [before.threads],
  ),
  figure(
    {
      case: scope,
      key: "rate",
      role: "linx",
      label: "ops/s meanwhile (mixed, 8 callers)",
      unit: "ops/s",
      better: "higher",
    },
    seconds.map((s) => opsPerBatch / s),
  ),
]
for (const r of records) r.snapshots = { before, after: snapshots.slice(1), afterClose: closed }
console.error(`  before ${JSON.stringify(before)}\n  after close ${JSON.stringify(closed)}`)

mntTarget.kill()
pidTarget.kill()
emit(records)
