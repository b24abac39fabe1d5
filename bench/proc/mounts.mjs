/**
 * proc/mounts — proc mounts per second into an `unshare -m -p -f` target's PID namespace,
 * each mount followed by its umount (`Mount.mount("proc", t, "proc", { in: { pid } })`).
 *
 * linx-mount (Effect API, 1 and 8 callers, default pool) next to the raw C of the two ways a
 * mount can enter a PID namespace — fork() per mount, and clone(CLONE_VM | CLONE_VFORK) —
 * each with a small caller and with a caller holding 1 GiB of touched memory (for
 * linx-mount: this Node process fills 1 GiB of Buffers, then mounts again). Within each heap
 * size the runs of all four are interleaved, round by round.
 */
import {
  c,
  config,
  effectLoops,
  effectProc,
  emit,
  holdHeap,
  interleaved,
  layout,
  pidNamespaceTarget,
  quick,
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

// The figures of one heap size, their runs interleaved round by round: linx-mount with 1
// and 8 callers, C's vfork-style and fork() paths.
const group = async (heap) => {
  const heapLabel = heap === "small" ? "small heap" : "1 GiB heap"
  const rt = runtime()
  // Before the first figure of each heap size: let the JIT, the workers and the kernel settle.
  await effectLoops(rt, 8, config.processWarmupMs, (k) => effectProc(targets[k], pid))
  const linx = [1, 8].map((callers) => ({
    fields: {
      case: scope,
      key: `linx-${heap}-${callers}`,
      role: "linx",
      label: `linx-mount Effect API, ${callers} caller${callers > 1 ? "s" : ""}, ${heapLabel}`,
      unit,
    },
    run: (ms) => effectLoops(rt, callers, ms, (k) => effectProc(targets[k], pid)),
  }))
  const cPaths = ["proc-vfork", "proc-fork"].map((mode) => ({
    fields: {
      case: scope,
      key: `c-${mode.slice(5)}-${heap}`,
      role: "baseline",
      label: `C ${mode === "proc-fork" ? "fork() per mount" : "clone(CLONE_VM|CLONE_VFORK)"}, ${heapLabel}`,
      unit,
    },
    run: (ms) => c(mode, { dir, ms, pid, "heap-mib": heap === "small" ? 0 : heapMib }),
    // fork() with 1 GiB mapped manages a few dozen mounts a second: give it time to count.
    options:
      mode === "proc-fork" && heap !== "small"
        ? { runMs: quick ? 300 : 1000, warmupMs: 0 }
        : undefined,
  }))
  records.push(...(await interleaved([...linx, ...cPaths])))
  await rt.dispose()
}

await group("small")
const held = holdHeap(heapMib)
console.error(`  (holding ${held.length} Buffers, ${heapMib} MiB touched)`)
await group("1gib")

target.kill()
emit(records)
