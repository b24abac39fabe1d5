/**
 * The piscina worker: each task is one encoded batch (protocol/Codec.ts), run through the
 * addon synchronously on this worker thread — the namespace switches, the syscalls and the
 * way home all happen here, and no JavaScript runs while the thread is away. The encoded
 * outcomes go back as they came from the addon. A worker whose thread could not get home
 * says so with its `threadId`, and the pool replaces it; until then the addon refuses any
 * batch on it.
 */
import { threadId, workerData } from "node:worker_threads"
import { native } from "../src/internal/native.js"

const addon = native()
// The pool's cancellation flags: a task whose worker could not be started was answered
// (nothing ran); if it is picked up later, its sequence number is in its slot.
const cancelled = new Int32Array((workerData as { cancelled: SharedArrayBuffer }).cancelled)

/** A worker's answer when its thread is retired; otherwise the outcome bytes alone. */
export interface Retired {
  readonly outcome: Uint8Array
  readonly retiredThread: number
}

// The outcome header's `retired` byte (protocol/Codec.ts: magic, count, retired).
const retiredByte = 8

export default function runBatch([batch, seq]: readonly [Uint8Array, number]):
  | Uint8Array
  | Retired
  | null {
  if (Atomics.load(cancelled, seq % cancelled.length) === seq) return null
  const outcome = addon.runBatch(batch)
  return outcome[retiredByte] === 1 ? { outcome, retiredThread: threadId } : outcome
}
