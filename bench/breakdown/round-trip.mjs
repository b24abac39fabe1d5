/**
 * breakdown/round-trip — where a cross-namespace batch's time goes in the piscina design
 * (into an `unshare -m` target), one at a time: a piscina echo, an empty batch, batches of 1
 * and 8 pairs, the main thread's share, the addon's share, next to C persist-batch with 8
 * pairs per batch. See bench/support/breakdown.mjs.
 */
import { emit, layout, mountNamespaceTarget, requireRunner } from "../support/all.mjs"
import { breakdown } from "../support/breakdown.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, 1)
const target = await mountNamespaceTarget()
const records = await breakdown({
  scope: "breakdown/round-trip",
  dir,
  src,
  target: targets[0],
  pid: target.pid,
})
target.kill()
emit(records)
