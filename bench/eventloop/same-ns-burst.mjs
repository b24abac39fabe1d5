/**
 * eventloop/same-ns-burst — event-loop delay while all 5,000 bind + umount pairs in this
 * namespace are issued at once (one fiber each), default pool.
 */
import { effectBurst, emit } from "../support/all.mjs"
import { delayRecords, pairs, prepare } from "../support/eventloop.mjs"

const { src, targets, options, rt, done } = await prepare({ cross: false })
const records = await delayRecords(
  "same-ns-burst",
  "linx",
  `${pairs.toLocaleString("en-US")} same-ns pairs at once`,
  () => effectBurst(rt, pairs, src, targets, options),
  pairs,
)
await done()
emit(records)
