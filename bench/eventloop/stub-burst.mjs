/**
 * eventloop/stub-burst — baseline: the same burst as eventloop/cross-ns-burst (5,000 pairs
 * at once through the Effect API, arguments validated) with a Mounter stub that completes
 * each request on the next turn: no pool, no syscalls. What starting 10,000 fibers at once
 * costs the caller by itself.
 */
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Effect, effectBurst, emit, layout, Mounter, requireRunner } from "../support/all.mjs"
import { delayRecords, pairs } from "../support/eventloop.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, pairs)
const stub = ManagedRuntime.make(
  Layer.succeed(
    Mounter,
    Mounter.of({
      run: (_ns, ops) =>
        Effect.callback(
          (resume) =>
            void setImmediate(() =>
              resume(
                Effect.succeed({
                  outcomes: ops.map(() => ({ _tag: "Done", uniqueId: 0n, handle: -1 })),
                  undo: [],
                }),
              ),
            ),
        ),
      shutdown: Effect.void,
    }),
  ),
)
// Any pid passes validation; the stub never uses it.
const cross = { in: { pid: 1 } }
await effectBurst(stub, 64, src, targets, cross)
const records = await delayRecords(
  "stub-burst",
  "baseline",
  `${pairs.toLocaleString("en-US")} pairs at once, Mounter stub`,
  () => effectBurst(stub, pairs, src, targets, cross),
  pairs,
)
await stub.dispose()
emit(records)
