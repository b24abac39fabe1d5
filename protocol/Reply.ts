/**
 * What the addon's threads report for each request of a batch: `null` when it was done, or
 * the stage that failed and its errno. No `Error` object ever crosses from native code; the
 * main thread decodes each outcome with this schema and builds the `MountError` itself, so a
 * value that does not fit (a lost or garbled reply) is caught here, typed.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Stage } from "../src/MountError.js"

/**
 * A request that failed: at which stage, with which errno.
 *
 * @since 0.1.0
 * @category models
 */
export const Failed = Schema.Struct({
  stage: Stage,
  errno: Schema.Int,
})

/**
 * @since 0.1.0
 * @category models
 */
export type Failed = typeof Failed.Type

/**
 * One request's outcome: `null` (done) or `Failed`.
 *
 * @since 0.1.0
 * @category models
 */
export const Outcome = Schema.NullOr(Failed)

/**
 * @since 0.1.0
 * @category models
 */
export type Outcome = typeof Outcome.Type

/**
 * Decodes one outcome; `Option.none()` for anything that is not one.
 *
 * @since 0.1.0
 * @category codecs
 */
export const decodeOutcome = Schema.decodeUnknownOption(Outcome)
