/**
 * The error of a call refused before any syscall: an unknown flag, a malformed `in`, a path
 * with a NUL byte, an empty or (with a foreign namespace) relative path, a value of the
 * wrong type from plain JavaScript. Nothing has been touched when this is raised.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  /** The argument or option at fault: `"flags"`, `"in"`, `"source"`, `"target"`, … */
  argument: Schema.String,
  /** The value given, as received. */
  value: Schema.Unknown,
  /** Why it was refused, in words. */
  reason: Schema.String,
}) {
  override get message(): string {
    return `invalid ${this.argument}: ${this.reason}`
  }
}
