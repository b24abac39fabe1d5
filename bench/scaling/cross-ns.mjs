/**
 * scaling/cross-ns — cross-namespace bind + umount pairs/s (into an `unshare -m` target)
 * for 1, 2, 4, 8 callers in flight × pool sizes 1 … twice the default, next to C with as many
 * persistent setns threads as callers.
 */
import { emit, layout, mountNamespaceTarget, requireRunner } from "../support/all.mjs"
import { scaling } from "../support/scaling.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, 8)
const target = await mountNamespaceTarget()
const records = await scaling({
  scope: "scaling/cross-ns",
  dir,
  src,
  targets,
  options: { in: { pid: target.pid } },
  cMode: "cross-persistent",
  cArgs: { pid: target.pid },
})
target.kill()
emit(records)
