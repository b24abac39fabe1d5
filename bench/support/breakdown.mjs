/**
 * Where one bind + umount pair's time goes, layer by layer, one caller, µs per pair:
 *
 *   addon        the addon's thread pool driven directly, op by op: one hand-off to a native
 *                thread and one wake-up back — the native floor of the stack
 *   piscina echo a round trip through a piscina pool of one thread to a worker that returns
 *                its message (two per pair): what a worker-thread design pays per op before
 *                any syscall (the design linx-mount replaced; kept as a baseline)
 *   Effect stub  Mount.bind/umount with a Mounter whose submit succeeds at once: the main
 *                thread's cost (Effect, argument validation) without any worker
 *   Effect API   the whole stack: Mount.bind/umount, Mounter.layer({ maxThreads: 1 })
 *
 * These reach into dist/ internals (the addon loader): if it moves, the rows that need it
 * are skipped with a note, the others still run.
 */

import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Piscina } from "piscina"
import { config, figure, quick } from "./harness.mjs"
import { Mount, Mounter, runtime } from "./linx.mjs"

const distUrl = new URL("../../dist/", import.meta.url)
const tryImport = async (path) => {
  try {
    return await import(new URL(path, distUrl).href)
  } catch (error) {
    console.error(`  (skipping rows that need dist/${path}: ${error.message})`)
    return undefined
  }
}

/** Sequential pairs for `ms`; `pair()` returns a promise or nothing. µs per pair. */
const timePairs = async (ms, pair) => {
  const start = performance.now()
  const deadline = start + ms
  let n = 0
  while (performance.now() < deadline) {
    await pair()
    n++
  }
  return ((performance.now() - start) * 1000) / n
}

export async function breakdown({ scope, src, target, ns }) {
  const records = []
  const runs = quick ? 3 : config.runs
  const runMs = quick ? 60 : 300
  const row = async (key, label, pair) => {
    await timePairs(runMs / 2, pair)
    const values = []
    for (let i = 0; i < runs; i++) values.push(await timePairs(runMs, pair))
    records.push(
      figure(
        {
          case: scope,
          key,
          role: key === "effect" ? "linx" : "layer",
          label,
          unit: "µs/pair",
          better: "lower",
        },
        values,
      ),
    )
  }

  const nsFields = ns === undefined ? { ns: 0 } : { ns: 1, pid: ns.pid }
  const inField = ns === undefined ? { _tag: "Self" } : { _tag: "Pid", pid: ns.pid }
  const bindOp = {
    kind: 0,
    ...nsFields,
    source: src,
    target,
    flags: 4096 /* MS_BIND */,
    remountFlags: 0,
  }
  const umountOp = { kind: 1, ...nsFields, target, flags: 0 }
  const bindRequest = {
    _tag: "Mount",
    source: src,
    target,
    fstype: "",
    flags: 4096,
    data: "",
    create: false,
    remountFlags: 0,
    pidns: false,
    in: inField,
  }
  const umountRequest = { _tag: "Umount", target, flags: 0, in: inField }

  const nativeModule = await tryImport("src/internal/native.js")
  if (nativeModule) {
    const addon = nativeModule.native()
    if (addon.constants?.MS_BIND !== undefined)
      bindOp.flags = bindRequest.flags = addon.constants.MS_BIND
    // The addon's thread pool driven directly: one hand-off there and one wake-up back per
    // op, no Effect, no validation — the floor of the stack.
    let resolve
    let failed
    const pool = new addon.Pool(1, (_id, _index, outcome) => {
      if (outcome !== null) failed = new Error(`addon: ${JSON.stringify(outcome)}`)
      resolve()
    })
    let id = 0
    const submit = (op) =>
      new Promise((r) => {
        resolve = r
        pool.submit(++id, [op])
      })
    await row("addon", "the addon's pool driven directly (no Effect), op by op", async () => {
      await submit(bindOp)
      await submit(umountOp)
      if (failed) throw failed
    })
    await new Promise((r) => pool.close(r))
  }

  // What the design replaced: a piscina round trip to a worker that does nothing.
  const echo = new Piscina({
    filename: new URL("./echo-worker.mjs", import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
  })
  await row("piscina-echo", "piscina round trips to an echo worker (no syscalls)", async () => {
    await echo.run([bindRequest])
    await echo.run([umountRequest])
  })
  await echo.destroy()

  const options = ns === undefined ? undefined : { in: ns }
  const stub = ManagedRuntime.make(
    Layer.succeed(Mounter, Mounter.of({ submit: () => Effect.void })),
  )
  await row("effect-stub", "Effect API, Mounter stub (main-thread cost, no worker)", () =>
    stub.runPromise(
      Effect.andThen(Mount.bind(src, target, options), Mount.umount(target, options)),
    ),
  )
  await stub.dispose()

  const rt = runtime({ maxThreads: 1 })
  await row("effect", "Effect API, whole stack, pool of 1", () =>
    rt.runPromise(Effect.andThen(Mount.bind(src, target, options), Mount.umount(target, options))),
  )
  await rt.dispose()
  return records
}
