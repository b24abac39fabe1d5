/**
 * pairs/same-ns — bind + umount pairs per second in this mount namespace.
 *
 * linx-mount (Effect API and Promise API; 1 and 8 callers in flight, default pool) next to
 * the raw syscalls in a C loop (1 thread and 8 threads) and next to what a user does without
 * it: `mount --bind` and `umount` processes spawned from Node (one at a time, 8 in flight).
 * The runs of all of them are interleaved, round by round (harness `interleaved`). Then the
 * CPU per pair of every linx-mount and C row, all threads together (see pairs/cross-ns).
 */
import {
  c,
  config,
  cpuRecords,
  emit,
  exec,
  interleaved,
  layout,
  linxPairSpecs,
  loops,
  requireRunner,
} from "../support/all.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, 8)
const scope = "pairs/same-ns"
const unit = "pairs/s"
const linx = linxPairSpecs(scope, src, targets, undefined)

const baseline = (key, label, run, options) => ({
  fields: { case: scope, key, role: "baseline", label, unit },
  run,
  options,
})
// Spawned processes are ~100× slower: no warm-up run.
const spawnRuns = { runs: config.runs, runMs: config.runMs, warmupMs: 0 }
const spawned = (callers) =>
  baseline(
    `spawn-${callers}`,
    `mount --bind + umount spawned, ${callers} in flight`,
    (ms) =>
      loops(callers, ms, async (k) => {
        await exec("mount", ["--bind", src, targets[k]])
        await exec("umount", [targets[k]])
      }),
    spawnRuns,
  )
const cLoop = (threads) =>
  baseline(`c-${threads}`, `C loop, ${threads} thread${threads > 1 ? "s" : ""}`, (ms) =>
    c("same", { dir, ms, threads }),
  )

await linx.start()
const records = await interleaved([...linx.specs, cLoop(1), cLoop(8), spawned(1), spawned(8)])
await linx.close()
records.push(...cpuRecords(records))
emit(records)
