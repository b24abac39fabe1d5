/**
 * eventloop/cross-ns-8-callers — event-loop delay while a batch of 10,000 hot-mount ops
 * (5,000 bind + umount pairs into a running `unshare -m` target) runs through the Effect
 * API, 8 callers in flight, default pool.
 */
import { Effect, effectPair, emit } from "../support/all.mjs"
import { delayRecords, pairs, prepare } from "../support/eventloop.mjs"

const { src, targets, options, rt, done } = await prepare({ cross: true })
const records = await delayRecords(
  "cross-ns-8-callers",
  "linx",
  `${pairs.toLocaleString("en-US")} cross-ns pairs, 8 callers`,
  () =>
    rt.runPromise(
      Effect.forEach(
        Array.from({ length: 8 }, (_, k) => k),
        (k) =>
          Effect.gen(function* () {
            for (let i = k; i < pairs; i += 8) yield* effectPair(src, targets[i], options)
          }),
        { concurrency: "unbounded", discard: true },
      ),
    ),
  pairs,
)
await done()
emit(records)
