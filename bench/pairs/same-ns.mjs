/**
 * pairs/same-ns — bind + umount pairs per second in this mount namespace.
 *
 * linx-mount (Effect API and Promise API; 1 and 8 callers in flight, default pool) next to
 * the raw syscalls in a C loop (1 thread and 8 threads) and next to what a user does without
 * it: `mount --bind` and `umount` processes spawned from Node (one at a time, 8 in flight).
 * Then the CPU per pair of every linx-mount and C row, all threads together (see
 * pairs/cross-ns).
 */
import {
  c,
  config,
  cpuRecords,
  emit,
  exec,
  layout,
  linxPairRates,
  loops,
  rate,
  requireRunner,
} from "../support/all.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, 8)
const scope = "pairs/same-ns"
const unit = "pairs/s"
const records = []

records.push(...(await linxPairRates(scope, src, targets, undefined)))

for (const threads of [1, 8]) {
  records.push(
    await rate(
      {
        case: scope,
        key: `c-${threads}`,
        role: "baseline",
        label: `C loop, ${threads} thread${threads > 1 ? "s" : ""}`,
        unit,
      },
      (ms) => c("same", { dir, ms, threads }),
    ),
  )
}

// Spawned processes are ~1000× slower: a few runs of a few hundred ms are plenty.
const spawnRuns = { runs: config.runs, runMs: config.runMs, warmupMs: 0 }
for (const callers of [1, 8]) {
  records.push(
    await rate(
      {
        case: scope,
        key: `spawn-${callers}`,
        role: "baseline",
        label: `mount --bind + umount spawned, ${callers} in flight`,
        unit,
      },
      (ms) =>
        loops(callers, ms, async (k) => {
          await exec("mount", ["--bind", src, targets[k]])
          await exec("umount", [targets[k]])
        }),
      spawnRuns,
    ),
  )
}

records.push(...cpuRecords(records))
emit(records)
