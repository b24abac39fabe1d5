/**
 * scaling/same-ns — same-namespace bind + umount pairs/s for 1, 2, 4, 8 callers in flight
 * × pool sizes 1 … twice the default (`Mounter.layer({ maxThreads })`), next to the C loop with as
 * many threads as callers.
 */
import { emit, layout, requireRunner } from "../support/all.mjs"
import { scaling } from "../support/scaling.mjs"

const dir = requireRunner()
const { src, targets } = layout(dir, 8)
emit(
  await scaling({ scope: "scaling/same-ns", dir, src, targets, options: undefined, cMode: "same" }),
)
