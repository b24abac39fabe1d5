/**
 * pairs/cross-ns — bind + umount pairs per second inside another process's mount namespace
 * (a running `unshare -m` target, `in: { pid }`).
 *
 * linx-mount (Effect and Promise API, 1 and 8 callers in flight, default pool) next to the
 * raw C of the two designs — the seed's thread per op (pthread_create, unshare(CLONE_FS),
 * open ns, setns, syscall, exit) and one persistent thread that setns's there and back per op
 * — and next to `nsenter -t PID -m mount …` processes (one at a time and 8 in flight). The
 * runs of all of them are interleaved, round by round (harness `interleaved`).
 *
 * Then the CPU per pair of every linx-mount and C row: the user + system time of all the
 * process's threads over each timed run, divided by its pairs (issue 11: ≤ 50 µs at 8
 * callers). nsenter's CPU is spent in its children and not counted.
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
  mountNamespaceTarget,
  requireRunner,
} from "../support/all.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, 8)
const scope = "pairs/cross-ns"
const unit = "pairs/s"
const target = await mountNamespaceTarget()
const pid = target.pid
const linx = linxPairSpecs(scope, src, targets, { in: { pid } })

const baseline = (key, label, run, options) => ({
  fields: { case: scope, key, role: "baseline", label, unit },
  run,
  options,
})
// Spawned processes are ~100× slower: no warm-up run.
const spawnRuns = { runs: config.runs, runMs: config.runMs, warmupMs: 0 }
const nsenter = (callers) =>
  baseline(
    `nsenter-${callers}`,
    `nsenter -t PID -m mount/umount, ${callers} in flight`,
    (ms) =>
      loops(callers, ms, async (k) => {
        await exec("nsenter", ["-t", String(pid), "-m", "mount", "--bind", src, targets[k]])
        await exec("nsenter", ["-t", String(pid), "-m", "umount", targets[k]])
      }),
    spawnRuns,
  )

await linx.start()
const records = await interleaved([
  ...linx.specs,
  baseline("c-thread-per-op", "C, a thread per op (the seed's design)", (ms) =>
    c("cross-thread", { dir, ms, pid }),
  ),
  baseline("c-persistent", "C, one persistent thread, setns per op", (ms) =>
    c("cross-persistent", { dir, ms, pid }),
  ),
  nsenter(1),
  nsenter(8),
])
await linx.close()
records.push(...cpuRecords(records))
target.kill()
emit(records)
