/**
 * The one test hook, and it lives here, not in the library: importing this module wraps the
 * addon, when this process loads it, so that a batch whose first op targets a magic path
 * misbehaves the way a broken native thread or addon could, and everything else goes to the
 * real pool untouched. Test files run in processes of their own, so nothing else sees it.
 *
 *   /linx-test-hook/reply   the batch "completes" with JSON.parse(op.data) as its outcomes,
 *                           element i for op i (not an array: nothing usable for any op):
 *                           any value at all, for fuzzing the reply path
 *   /linx-test-hook/refuse  submit refuses the batch with JSON.parse(op.data), as when no
 *                           thread could be started
 *   /linx-test-hook/lost    the batch never completes (a thread that died holding it); the
 *                           test settles it with `releaseLost()`, answering garbage for each op
 */
import type {
  NativeBinding,
  NativeFailure,
  NativeOp,
  NativePool,
} from "../../src/internal/native.js"

type OnComplete = (id: number, index: number, outcome: NativeFailure | null) => void

const lost: Array<() => void> = []

/** Completes every "lost" batch, each op with an outcome that is none (`undefined`). */
export const releaseLost = (): number => {
  const n = lost.length
  for (const release of lost.splice(0)) release()
  return n
}

const dlopen = process.dlopen
process.dlopen = function (
  this: unknown,
  module: { exports: unknown },
  filename: string,
  ...rest: Array<unknown>
) {
  ;(dlopen as (...a: Array<unknown>) => void).call(this, module, filename, ...rest)
  // build/Release/linx_mount.node, or prebuilds/<platform>/linx-mount.node
  if (!/linx[-_]mount\.node$/.test(String(filename))) return
  const binding = module.exports as NativeBinding
  const RealPool = binding.Pool
  class HookedPool implements NativePool {
    readonly real: NativePool
    constructor(
      maxThreads: number,
      readonly onComplete: OnComplete,
    ) {
      this.real = new RealPool(maxThreads, onComplete)
    }
    submit(id: number, ops: ReadonlyArray<NativeOp>) {
      const first = ops[0]
      switch (first?.target) {
        case "/linx-test-hook/reply": {
          const outcomes: unknown = JSON.parse(first.data ?? "null")
          setImmediate(() => {
            for (let i = 0; i < ops.length; i++) {
              const outcome = Array.isArray(outcomes) ? outcomes[i] : undefined
              this.onComplete(id, i, outcome as NativeFailure)
            }
          })
          return undefined
        }
        case "/linx-test-hook/refuse":
          return JSON.parse(first.data ?? "null") as NativeFailure
        case "/linx-test-hook/lost":
          lost.push(() => {
            for (let i = 0; i < ops.length; i++) this.onComplete(id, i, undefined as never)
          })
          return undefined
        default:
          return this.real.submit(id, ops)
      }
    }
    close(onClosed: () => void) {
      this.real.close(onClosed)
    }
    stats() {
      return this.real.stats()
    }
  }
  module.exports = { ...binding, Pool: HookedPool }
} as typeof process.dlopen
