/**
 * pairs/cross-ns — bind + umount pairs per second inside another process's mount namespace
 * (a running `unshare -m` target, `in: { pid }`).
 *
 * linx-mount (Effect and Promise API, 1 and 8 callers in flight, default pool) next to the
 * raw C of the two designs — the seed's thread per op (pthread_create, unshare(CLONE_FS),
 * open ns, setns, syscall, exit) and one persistent thread that setns's there and back per op
 * — and next to `nsenter -t PID -m mount …` processes (one at a time and 8 in flight).
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
  layout,
  linxPairRates,
  loops,
  mountNamespaceTarget,
  rate,
  requireRunner,
} from "../support/all.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, 8)
const scope = "pairs/cross-ns"
const unit = "pairs/s"
const records = []
const target = await mountNamespaceTarget()
const pid = target.pid
const options = { in: { pid } }

records.push(...(await linxPairRates(scope, src, targets, options)))

records.push(
  await rate(
    {
      case: scope,
      key: "c-thread-per-op",
      role: "baseline",
      label: "C, a thread per op (the seed's design)",
      unit,
    },
    (ms) => c("cross-thread", { dir, ms, pid }),
  ),
)
records.push(
  await rate(
    {
      case: scope,
      key: "c-persistent",
      role: "baseline",
      label: "C, one persistent thread, setns per op",
      unit,
    },
    (ms) => c("cross-persistent", { dir, ms, pid }),
  ),
)

const spawnRuns = { runs: config.runs, runMs: config.runMs, warmupMs: 0 }
for (const callers of [1, 8]) {
  records.push(
    await rate(
      {
        case: scope,
        key: `nsenter-${callers}`,
        role: "baseline",
        label: `nsenter -t PID -m mount/umount, ${callers} in flight`,
        unit,
      },
      (ms) =>
        loops(callers, ms, async (k) => {
          await exec("nsenter", ["-t", String(pid), "-m", "mount", "--bind", src, targets[k]])
          await exec("nsenter", ["-t", String(pid), "-m", "umount", targets[k]])
        }),
      spawnRuns,
    ),
  )
}

records.push(...cpuRecords(records))
target.kill()
emit(records)
