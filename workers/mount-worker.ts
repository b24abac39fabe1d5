/**
 * The piscina worker: each task is one encoded batch (protocol/Codec.ts), run through the
 * addon synchronously on this worker thread — the namespace switches, the syscalls and the
 * way home all happen here, and no JavaScript runs while the thread is away. The encoded
 * outcomes go back as they came from the addon. A worker whose thread could not get home
 * says so with its `threadId`, and the pool replaces it; until then the addon refuses any
 * batch on it.
 */
import { threadId } from "node:worker_threads"
import { native } from "../src/internal/native.js"

const addon = native()

/** A worker's answer when its thread is retired; otherwise the outcome bytes alone. */
export interface Retired {
  readonly outcome: Uint8Array
  readonly retiredThread: number
}

// The outcome header's `retired` byte (protocol/Codec.ts: magic, count, retired).
const retiredByte = 8

export default function runBatch(batch: Uint8Array): Uint8Array | Retired {
  const outcome = addon.runBatch(batch)
  return outcome[retiredByte] === 1 ? { outcome, retiredThread: threadId } : outcome
}
