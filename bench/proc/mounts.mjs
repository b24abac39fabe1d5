/**
 * proc/mounts — proc mounts per second into an `unshare -m -p -f` target's PID namespace,
 * each mount followed by its umount (`Mount.mount("proc", t, "proc", { in: { pid } })`).
 *
 * linx-mount (Effect API, 1 and 8 callers, default pool) next to the raw C of the two ways a
 * mount can enter a PID namespace — fork() per mount, and clone(CLONE_VM | CLONE_VFORK) —
 * each with a small caller and with a caller holding 1 GiB of touched memory (for
 * linx-mount: this Node process fills 1 GiB of Buffers, then mounts again).
 */
import {
  c,
  config,
  effectLoops,
  effectProc,
  emit,
  holdHeap,
  layout,
  pidNamespaceTarget,
  quick,
  rate,
  requireRunner,
  runtime,
} from "../support/all.mjs"

const dir = requireRunner()
const { targets } = layout(dir, 8)
const scope = "proc/mounts"
const unit = "mounts/s"
const records = []
const target = await pidNamespaceTarget()
const pid = target.pid
const heapMib = 1024

const linx = async (heap) => {
  const rt = runtime()
  // Before the first figure of each heap size: let the JIT, the workers and the kernel settle.
  await effectLoops(rt, 8, config.processWarmupMs, (k) => effectProc(targets[k], pid))
  for (const callers of [1, 8]) {
    records.push(
      await rate(
        {
          case: scope,
          key: `linx-${heap}-${callers}`,
          role: "linx",
          label: `linx-mount Effect API, ${callers} caller${callers > 1 ? "s" : ""}, ${heap === "small" ? "small heap" : "1 GiB heap"}`,
          unit,
        },
        (ms) => effectLoops(rt, callers, ms, (k) => effectProc(targets[k], pid)),
      ),
    )
  }
  await rt.dispose()
}

const cPath = async (mode, heap) => {
  const label = `C ${mode === "proc-fork" ? "fork() per mount" : "clone(CLONE_VM|CLONE_VFORK)"}, ${heap === "small" ? "small heap" : "1 GiB heap"}`
  const slow = mode === "proc-fork" && heap !== "small"
  records.push(
    await rate(
      { case: scope, key: `c-${mode.slice(5)}-${heap}`, role: "baseline", label, unit },
      (ms) => c(mode, { dir, ms, pid, "heap-mib": heap === "small" ? 0 : heapMib }),
      // fork() with 1 GiB mapped manages a few dozen mounts a second: give it time to count.
      slow ? { runMs: quick ? 300 : 1000, warmupMs: 0 } : {},
    ),
  )
}

await linx("small")
await cPath("proc-vfork", "small")
await cPath("proc-fork", "small")
const held = holdHeap(heapMib)
console.error(`  (holding ${held.length} Buffers, ${heapMib} MiB touched)`)
await linx("1gib")
await cPath("proc-vfork", "1gib")
await cPath("proc-fork", "1gib")

target.kill()
emit(records)
