/**
 * breakdown/same-ns — where a same-namespace bind + umount pair's time goes, layer by layer
 * (see bench/support/breakdown.mjs), next to the C loop's µs per pair.
 */
import { c, config, emit, figure, layout, requireRunner } from "../support/all.mjs"
import { breakdown } from "../support/breakdown.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, 1)
const records = await breakdown({
  scope: "breakdown/same-ns",
  src,
  target: targets[0],
  ns: undefined,
})
const runs = []
for (let i = 0; i < config.runs; i++) {
  const r = await c("same", { dir, ms: config.runMs })
  runs.push((r.seconds * 1e6) / r.ops)
}
records.push(
  figure(
    {
      case: "breakdown/same-ns",
      key: "c",
      role: "baseline",
      label: "C loop, 1 thread",
      unit: "µs/pair",
      better: "lower",
    },
    runs,
  ),
)
emit(records)
