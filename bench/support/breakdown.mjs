/**
 * Where a batch's time goes in the piscina design, layer by layer, one at a time (nothing
 * else in flight), µs per batch, into one namespace:
 *
 *   piscina echo   a piscina round trip (a pool of one, the Mounter's settings) to a worker
 *                  that returns its message, the encoded batch: the thread hop alone
 *   run, empty     Mounter.run of no operation: the pool's scheduling, the encoding, the hop,
 *                  and the addon's runBatch of nothing (it pins the target, never enters)
 *   batch of 1     Mount.batch of one bind + umount pair, the whole stack
 *   batch of 8     Mount.batch of 8 pairs (16 ops), the whole stack
 *   stub           Mount.batch of 8 pairs with a Mounter that answers at once: validation
 *                  and Effect on the main thread, no worker; and the same for one pair of
 *                  independent calls (Mount.bind, Mount.umount), in µs per pair
 *   addon          the addon's runBatch of those 16 ops called back to back on a plain
 *                  worker thread: the native floor (the syscalls, the way in and home)
 *   C              persist-batch with 8 pairs per batch, bare and with the addon's syscalls
 *
 * The ops the addon is given are the very ones Mount.batch hands its Mounter (a stub
 * records them), encoded with protocol/Codec.ts from dist/.
 */
import { access } from "node:fs/promises"
import { Worker } from "node:worker_threads"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Piscina } from "piscina"
import { c, config, figure, quick } from "./harness.mjs"
import { Mount, Mounter, runtime } from "./linx.mjs"

const distUrl = new URL("../../dist/", import.meta.url)

/** Sequential iterations of `step()` for `ms`: µs per iteration. */
const timeEach = async (ms, step) => {
  const start = performance.now()
  const deadline = start + ms
  let n = 0
  while (performance.now() < deadline) {
    await step()
    n++
  }
  return ((performance.now() - start) * 1000) / n
}

/** One run of the addon's runBatch in a loop on a fresh plain worker thread: µs per batch. */
const addonRun = (bytes, ms) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./addon-loop-worker.mjs", import.meta.url), {
      workerData: { distUrl: distUrl.href, bytes, ms },
    })
    worker.once("message", (m) => resolve(m))
    worker.once("error", reject)
  })

export async function breakdown({ scope, dir, src, target, pid }) {
  const records = []
  const runs = quick ? 3 : config.runs
  const runMs = quick ? 60 : 300
  const unit = "µs/batch"
  const push = (key, role, label, values, perWhat = unit) =>
    records.push(figure({ case: scope, key, role, label, unit: perWhat, better: "lower" }, values))
  const row = async (key, role, label, step, perWhat) => {
    await timeEach(runMs / 2, step)
    const values = []
    for (let i = 0; i < runs; i++) values.push(await timeEach(runMs, step))
    push(key, role, label, values, perWhat)
  }

  const options = { in: { pid } }
  const pairs = (n) =>
    Array.from({ length: n }, () => [
      { verb: "bind", source: src, target },
      { verb: "umount", target },
    ]).flat()
  const eight = pairs(8)

  // What Mount.batch hands the Mounter, recorded by a stub that answers every op "done".
  let captured
  const stub = ManagedRuntime.make(
    Layer.succeed(
      Mounter,
      Mounter.of({
        run: (ns, ops, rollback) => {
          captured = { in: ns, ops, rollback }
          return Effect.succeed({
            outcomes: ops.map(() => ({ _tag: "Done", uniqueId: 0n, handle: -1 })),
            undo: [],
          })
        },
        shutdown: Effect.void,
      }),
    ),
  )
  await stub.runPromise(Mount.batch(eight, options))
  // Kept apart: the stub rows below record their own calls.
  const recorded = captured
  let codec
  try {
    codec = await import(new URL("protocol/Codec.js", distUrl).href)
  } catch (error) {
    console.error(`  (skipping the rows that need dist/protocol/Codec.js: ${error.message})`)
  }
  const bytes = codec?.encodeBatch(recorded)

  // The thread hop alone: the Mounter's piscina settings, a pool of one.
  const echo = new Piscina({
    filename: new URL("./echo-worker.mjs", import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    atomics: "sync",
    recordTiming: false,
  })
  const message = [bytes ?? new Uint8Array(1024), 1]
  await row("piscina-echo", "layer", "piscina round trip to an echo worker (no addon)", () =>
    echo.run(message),
  )
  await echo.destroy()

  const rt = runtime()
  const ns = { _tag: "Pid", pid }
  await row("run-empty", "layer", "Mounter.run of an empty batch (pool, hop, runBatch)", () =>
    rt.runPromise(
      Effect.gen(function* () {
        const mounter = yield* Mounter
        return yield* mounter.run(ns, [], false)
      }),
    ),
  )
  const one = pairs(1)
  await row("batch-1", "linx", "Mount.batch of 1 pair (2 ops), whole stack", () =>
    rt.runPromise(Mount.batch(one, options)),
  )
  await row("batch-8", "linx", "Mount.batch of 8 pairs (16 ops), whole stack", () =>
    rt.runPromise(Mount.batch(eight, options)),
  )
  await rt.dispose()

  await row("stub-8", "layer", "Mount.batch of 8 pairs, Mounter stub (main thread only)", () =>
    stub.runPromise(Mount.batch(eight, options)),
  )
  // The same for independent calls: what the main thread pays per pair before any pool.
  const pair = Effect.andThen(Mount.bind(src, target, options), Mount.umount(target, options))
  await row(
    "stub-pair",
    "layer",
    "Mount.bind + Mount.umount, Mounter stub (main thread only)",
    () => stub.runPromise(pair),
    "µs/pair",
  )
  await stub.dispose()

  if (bytes) {
    // The libuv threadpool starts on the main thread before any worker unshares (WORKERS.md).
    await access("/")
    await addonRun(bytes, runMs / 2)
    const values = []
    let last
    for (let i = 0; i < runs; i++) {
      const r = await addonRun(bytes, runMs)
      values.push((r.seconds * 1e6) / r.n)
      last = r.outcome
    }
    const decoded = codec.decodeOutcomes(last, recorded.ops.length)
    const failed = decoded?.outcomes.find((o) => o._tag !== "Done")
    if (!decoded || failed) throw new Error(`runBatch: ${JSON.stringify(failed ?? "no outcome")}`)
    push("addon-8", "layer", "the addon's runBatch of those 16 ops, plain worker thread", values)
  }

  for (const [key, mode, label] of [
    ["c-8", "persist-batch", "C persist-batch, 8 pairs per batch"],
    ["c-fd-8", "persist-batch-fd", "C persist-batch, 8 pairs, the addon's syscalls"],
  ]) {
    const values = []
    for (let i = 0; i < runs; i++) {
      const r = await c(mode, { dir, ms: runMs, pid, batch: 8 })
      values.push((r.seconds * 1e6 * 8) / r.ops)
    }
    push(key, "baseline", label, values)
  }

  // What one more pair costs once the round trip is paid, from the medians.
  const median = (key) => records.find((r) => r.key === key)?.median
  const marginal = (median("batch-8") - median("run-empty")) / 8
  if (Number.isFinite(marginal))
    records.push(
      figure(
        {
          case: scope,
          key: "per-pair-beyond-trip",
          role: "layer",
          label: "batch of 8 minus the empty round trip, per pair",
          unit: "µs/pair",
          better: "lower",
        },
        [marginal],
      ),
    )
  return records
}
