/**
 * The error of a `Mount.batch` that stopped at a failure: which operation failed (`index`)
 * and why (`cause`), and what became of the ones completed before it, undone in reverse
 * order: `undone` lists those undone, `notUndone` those that could not be, with the reason
 * (an unmount, a filesystem's reconfiguration or a pivot_root cannot be undone; an undo the
 * kernel refused names its error).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { MountError } from "./MountError.js"

/**
 * @since 0.1.0
 * @category errors
 */
export class BatchError extends Schema.TaggedError<BatchError>()("BatchError", {
  /** The position in the batch of the operation that failed. */
  index: Schema.Int,
  /** Its error. */
  cause: MountError,
  /** The completed operations undone, by position, in the order they were undone. */
  undone: Schema.Array(Schema.Int),
  /** The completed operations left as they were, by position, and why. */
  notUndone: Schema.Array(Schema.Struct({ index: Schema.Int, reason: Schema.String })),
}) {
  override get message(): string {
    const left =
      this.notUndone.length === 0
        ? ""
        : `; not undone: ${this.notUndone.map((n) => `#${n.index} (${n.reason})`).join(", ")}`
    return `batch operation #${this.index} failed: ${this.cause.message}; undone: ${this.undone.length === 0 ? "nothing" : this.undone.map((i) => `#${i}`).join(", ")}${left}`
  }
}
