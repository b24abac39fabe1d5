/**
 * eventloop/same-ns-burst — event-loop delay while all 5,000 bind + umount pairs in this
 * namespace are issued at once (one fiber each), default pool.
 */

import { effectBurst, emit, layout, requireRunner, runtime } from "../support/all.mjs"
import { delayRecords, pairs, warmUp } from "../support/eventloop.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, pairs)
const rt = runtime()
await warmUp(rt, src, targets, undefined)
const records = await delayRecords(
  "same-ns-burst",
  "linx",
  `${pairs.toLocaleString("en-US")} same-ns pairs at once`,
  () => effectBurst(rt, pairs, src, targets, undefined),
  pairs,
)
await rt.dispose()
emit(records)
