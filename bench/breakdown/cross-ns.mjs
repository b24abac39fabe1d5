/**
 * breakdown/cross-ns — where a cross-namespace bind + umount pair's time goes (into an
 * `unshare -m` target), layer by layer, next to C's persistent setns thread.
 */
import {
  c,
  config,
  emit,
  figure,
  layout,
  mountNamespaceTarget,
  requireRunner,
} from "../support/all.mjs"
import { breakdown } from "../support/breakdown.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, 1)
const target = await mountNamespaceTarget()
const records = await breakdown({
  scope: "breakdown/cross-ns",
  src,
  target: targets[0],
  ns: { pid: target.pid },
})
const runs = []
for (let i = 0; i < config.runs; i++) {
  const r = await c("cross-persistent", { dir, ms: config.runMs, pid: target.pid })
  runs.push((r.seconds * 1e6) / r.ops)
}
records.push(
  figure(
    {
      case: "breakdown/cross-ns",
      key: "c",
      role: "baseline",
      label: "C, one persistent setns thread",
      unit: "µs/pair",
      better: "lower",
    },
    runs,
  ),
)
target.kill()
emit(records)
