/**
 * eventloop/cross-ns-burst — event-loop delay while all 5,000 bind + umount pairs into a
 * running `unshare -m` target are issued at once (one fiber each), default pool.
 */
import { effectBurst, emit } from "../support/all.mjs"
import { delayRecords, pairs, prepare } from "../support/eventloop.mjs"

const { src, targets, options, rt, done } = await prepare({ cross: true })
const records = await delayRecords(
  "cross-ns-burst",
  "linx",
  `${pairs.toLocaleString("en-US")} cross-ns pairs at once`,
  () => effectBurst(rt, pairs, src, targets, options),
  pairs,
)
await done()
emit(records)
