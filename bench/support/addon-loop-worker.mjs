/**
 * A plain worker thread (no piscina, no Effect) that calls the addon's `runBatch` on one
 * encoded batch back to back for `ms` milliseconds, synchronously, and reports how many it
 * ran, in how long, with the outcome of the last one: the native floor under a piscina task.
 */
import { parentPort, workerData } from "node:worker_threads"

const { distUrl, bytes, ms } = workerData
const { native } = await import(new URL("src/internal/native.js", distUrl).href)
const addon = native()
const start = performance.now()
const deadline = start + ms
let n = 0
let outcome
while (performance.now() < deadline) {
  outcome = addon.runBatch(bytes)
  n++
}
parentPort.postMessage({ n, seconds: (performance.now() - start) / 1000, outcome })
