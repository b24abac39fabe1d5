/**
 * The worker's answer to each request of a batch: done, or failed at a stage with an errno.
 * Errors never cross the thread as `Error` objects (a `MessagePort` strips their class and
 * fields); the main thread decodes this schema and builds the `MountError` itself.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Stage } from "../src/MountError.js"

/**
 * @since 0.1.0
 * @category models
 */
export const Done = Schema.TaggedStruct("Done", {})

/**
 * @since 0.1.0
 * @category models
 */
export const Failed = Schema.TaggedStruct("Failed", {
  stage: Stage,
  errno: Schema.Int,
})

/**
 * @since 0.1.0
 * @category models
 */
export const Reply = Schema.Union([Done, Failed])

/**
 * @since 0.1.0
 * @category models
 */
export type Reply = typeof Reply.Type

/**
 * The replies to one batch, in the order of its requests.
 *
 * @since 0.1.0
 * @category models
 */
export const Replies = Schema.Array(Reply)

/**
 * @since 0.1.0
 * @category codecs
 */
export const decodeReplies = Schema.decodeUnknownSync(Replies)
