/**
 * eventloop/idle — baseline: the same monitor on an idle event loop, for as long as a
 * batch takes (what the VM's timers give with nothing running).
 */

import { emit, quick } from "../support/all.mjs"
import { delayRecords } from "../support/eventloop.mjs"

const ms = quick ? 200 : 500
emit(
  await delayRecords(
    "idle",
    "baseline",
    "idle event loop, same monitor",
    () => new Promise((resolve) => setTimeout(resolve, ms)),
  ),
)
