/**
 * `Mount.list`: the Effect face of the table readers in `tables.ts`, which do the work
 * (statmount where the kernel has it, mountinfo otherwise; off the main thread, decoded a
 * slice per event-loop turn) and say why.
 */

import * as Effect from "effect/Effect"
import { InvalidArgument } from "../InvalidArgument.js"
import type { MountEntry } from "../MountEntry.js"
import { MountError } from "../MountError.js"
import { type ReadOptions, readTable, type TableTarget, tableTarget } from "./tables.js"

/**
 * Which mount table to read:
 *
 * - omitted: this process's mount namespace, mount points relative to this process's root;
 * - `{ pid }`: that process's mount namespace (pinned by opening `/proc/<pid>/ns/mnt`);
 * - `{ namespace }`: a mount-namespace file, such as `/proc/<pid>/ns/mnt` or a bind mount of
 *   one, read without entering it (Linux 6.8+; no fallback on older kernels: ENOSYS);
 * - `{ path }`: any file in mountinfo format.
 *
 * Mount points of another namespace are relative to that namespace's root, as `nsenter -m`
 * sees them. `/proc/<pid>/mountinfo` differs for a process chrooted inside its namespace:
 * it shows the mounts under that process's root, relative to it.
 *
 * @since 0.1.0
 * @category models
 */
export type ListTarget =
  | { readonly pid: number }
  | { readonly namespace: string }
  | { readonly path: string }

const read = (target: TableTarget, options: ReadOptions) =>
  Effect.callback<Array<MountEntry>, MountError>((resume) => {
    const cancel = readTable(
      target,
      (result) => {
        if ("defect" in result) {
          // A decoding bug must reach the caller as a defect, not crash the process.
          resume(Effect.die(result.defect))
        } else if ("failure" in result) {
          const { stage, path, errno } = result.failure
          resume(Effect.fail(MountError.fromErrno(stage, path, errno)))
        } else {
          resume(Effect.succeed(result.entries))
        }
      },
      options,
    )
    return Effect.sync(cancel)
  })

/**
 * Reads a mount table (see {@link ListTarget}): built from `listmount(2)` + `statmount(2)`
 * where the kernel has them (then every entry has its `uniqueId`), from the mountinfo file
 * otherwise, and for `{ path }`. The kernel's work runs off the main thread and the result
 * is decoded a slice per event-loop turn, so even a 10,000-mount table never stalls a timer
 * by more than a fraction of a millisecond. Tables past 64 MiB fail with EFBIG.
 *
 * Entries read with statmount carry no `propagate_from` tag (asking for it costs O(peers)
 * per mount): those appear only in tables read from mountinfo.
 *
 * A table that cannot be read fails with a `MountError`: `operation` `"read"` and the file
 * as `path` (`ENOENT` for a process that has exited, `EACCES` for one whose `/proc` entry
 * this process may not read, `EFBIG` past the cap), or `"open_ns"` for a `{ namespace }`
 * file that cannot be opened or is not a mount namespace (`EINVAL`). A malformed `target`
 * fails with an `InvalidArgument` before anything is opened.
 *
 * @since 0.1.0
 * @category reading
 */
export const list: (
  target?: ListTarget,
) => Effect.Effect<ReadonlyArray<MountEntry>, MountError | InvalidArgument> = Effect.fn(
  "Mount.list",
)(function* (target?: ListTarget) {
  const checked = tableTarget(target)
  if ("invalid" in checked) {
    return yield* new InvalidArgument({
      argument: "target",
      value: target,
      reason: checked.invalid,
    })
  }
  return yield* read(checked, {})
})

/**
 * `list` with the readers' test and bench hooks (`via`), for this package's own tests and
 * benchmarks.
 *
 * @internal
 */
export const listWith = (
  target: ListTarget | undefined,
  options: ReadOptions,
): Effect.Effect<ReadonlyArray<MountEntry>, MountError | InvalidArgument> => {
  const checked = tableTarget(target)
  if ("invalid" in checked) {
    return Effect.fail(
      new InvalidArgument({ argument: "target", value: target, reason: checked.invalid }),
    )
  }
  return read(checked, options)
}
