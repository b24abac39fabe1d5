/**
 * What a worker reports for a batch: one outcome per operation, what a rolled-back batch
 * undid, and whether the worker could get home. No `Error` object ever crosses from a
 * worker; the main thread builds the `MountError`s from these values.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Stage } from "./Stage.js"

/**
 * Done; `uniqueId` is the never-reused id of the mount made (0 when none was made; a
 * watch's: its namespace's id), `handle` a descriptor handed over (a watch's group; -1 for
 * none).
 *
 * @since 0.1.0
 * @category models
 */
export const Done = Schema.TaggedStruct("Done", { uniqueId: Schema.BigInt, handle: Schema.Int })

/**
 * Which of an operation's paths a failure is about: its target (or new root), its source
 * (or put-old), or the namespace files it opened.
 *
 * @since 0.1.0
 * @category models
 */
export const subjects = ["target", "source", "namespace", "pidNamespace", "userNamespace"] as const

/**
 * Failed at `stage` with `errno`, about `subject`; `message` is the kernel's own text
 * (fsconfig's log) or "".
 *
 * @since 0.1.0
 * @category models
 */
export const Failed = Schema.TaggedStruct("Failed", {
  stage: Stage,
  errno: Schema.Int,
  subject: Schema.Literals(subjects),
  message: Schema.String,
})

/**
 * @since 0.1.0
 * @category models
 */
export type Failed = typeof Failed.Type

/**
 * Not run: an earlier operation of its rollback batch failed.
 *
 * @since 0.1.0
 * @category models
 */
export const Skipped = Schema.TaggedStruct("Skipped", {})

/**
 * @since 0.1.0
 * @category models
 */
export const Outcome = Schema.Union([Done, Failed, Skipped])

/**
 * @since 0.1.0
 * @category models
 */
export type Outcome = typeof Outcome.Type

/**
 * What undoing one completed operation of a failed batch came to: `Undone`, `Failed` (the
 * undo was tried and refused), or `Impossible` (nothing can undo it: an unmount, a
 * filesystem's reconfiguration, a pivot_root, a peer group left).
 *
 * @since 0.1.0
 * @category models
 */
export const Undo = Schema.Struct({
  index: Schema.Int,
  result: Schema.Union([
    Schema.TaggedStruct("Undone", {}),
    Failed,
    Schema.TaggedStruct("Impossible", { reason: Schema.String }),
  ]),
})

/**
 * @since 0.1.0
 * @category models
 */
export type Undo = typeof Undo.Type

/**
 * A batch's report. `retired`: the worker could not return home and must be replaced (its
 * outcomes are still true); `refused`: the worker was already retired and ran nothing.
 *
 * @since 0.1.0
 * @category models
 */
export const BatchOutcome = Schema.Struct({
  outcomes: Schema.Array(Outcome),
  undo: Schema.Array(Undo),
  retired: Schema.Boolean,
  refused: Schema.Boolean,
})

/**
 * @since 0.1.0
 * @category models
 */
export type BatchOutcome = typeof BatchOutcome.Type
