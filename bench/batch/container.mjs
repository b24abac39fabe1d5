/**
 * batch/container — `Mount.batch` of 1,000 ops (500 bind + umount pairs, in order) into a
 * running `unshare -m` target, batches back to back, in pairs per second: one message, one
 * worker, the namespace entered once, rollback armed (issue 14: ≥ 0.5× `persist-batch`).
 *
 * linx-mount (Effect API and Promise facade, one batch in flight, default pool) next to the
 * raw C of the same work on one persistent thread: `persist-batch` (setns once per 500
 * pairs, bare mount(2) + umount2(2)), `persist-batch-fd` (the same with the syscalls the
 * addon makes per op: openat2, open_tree, move_mount, statx, umount2 through /proc/self/fd —
 * the kernel's share of a linx-mount batch), and the persistent thread that setns's there
 * and back per op (what independent calls cost in C), their runs interleaved round by round.
 * Then the CPU per pair of each, all threads together.
 */
import {
  c,
  config,
  cpuRecords,
  effectLoops,
  emit,
  interleaved,
  layout,
  loops,
  Mount,
  mountNamespaceTarget,
  Promises,
  requireRunner,
  runtime,
  withCpu,
} from "../support/all.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, 1)
const scope = "batch/container"
const unit = "pairs/s"
const pairs = 500
const target = await mountNamespaceTarget()
const pid = target.pid
const options = { in: { pid } }

// 500 bind + umount pairs on one target, as one C thread makes them.
const ops = []
for (let i = 0; i < pairs; i++)
  ops.push(
    { verb: "bind", source: src, target: targets[0] },
    { verb: "umount", target: targets[0] },
  )

// Batches back to back for about `ms`; a batch counts as its pairs.
const asPairs = (run) => async (ms) => {
  const { ops: batches, seconds } = await run(ms)
  return { ops: batches * pairs, seconds }
}

const rt = runtime()
// Before the first figure: let the JIT (validating 1,000 ops is JavaScript), the pools'
// workers and the kernel settle.
await effectLoops(rt, 1, config.processWarmupMs, () => Mount.batch(ops, options))
await loops(1, config.processWarmupMs / 2, () => Promises.batch(ops, options))

const records = await interleaved([
  {
    fields: {
      case: scope,
      key: "linx-effect-1",
      role: "linx",
      label: "linx-mount Mount.batch of 1,000 ops, Effect API",
      unit,
    },
    run: withCpu(asPairs((ms) => effectLoops(rt, 1, ms, () => Mount.batch(ops, options)))),
  },
  {
    fields: {
      case: scope,
      key: "linx-promise-1",
      role: "linx",
      label: "linx-mount batch() of 1,000 ops, Promise API",
      unit,
    },
    run: withCpu(asPairs((ms) => loops(1, ms, () => Promises.batch(ops, options)))),
  },
  ...[
    ["c-persist-batch", "persist-batch", "C persist-batch: one thread, setns once per 500 pairs"],
    [
      "c-persist-batch-fd",
      "persist-batch-fd",
      "C persist-batch with the addon's syscalls (open_tree, move_mount…)",
    ],
    ["c-persistent", "cross-persistent", "C, one persistent thread, setns per op"],
  ].map(([key, mode, label]) => ({
    fields: { case: scope, key, role: "baseline", label, unit },
    run: (ms) => c(mode, { dir, ms, pid, batch: pairs }),
  })),
])
await rt.dispose()
await Promises.close()

records.push(...cpuRecords(records))
target.kill()
emit(records)
