/**
 * eventloop/cross-ns-burst — event-loop delay while all 5,000 bind + umount pairs into a
 * running `unshare -m` target are issued at once (one fiber each), default pool.
 */

import {
  effectBurst,
  emit,
  layout,
  mountNamespaceTarget,
  requireRunner,
  runtime,
} from "../support/all.mjs"
import { delayRecords, pairs, warmUp } from "../support/eventloop.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, pairs)
const target = await mountNamespaceTarget()
const cross = { in: { pid: target.pid } }
const rt = runtime()
await warmUp(rt, src, targets, cross)
const records = await delayRecords(
  "cross-ns-burst",
  "linx",
  `${pairs.toLocaleString("en-US")} cross-ns pairs at once`,
  () => effectBurst(rt, pairs, src, targets, cross),
  pairs,
)
await rt.dispose()
target.kill()
emit(records)
