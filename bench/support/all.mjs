/** One import for case files: the harness, the linx-mount drivers, the targets. */

export * as Effect from "effect/Effect"
export * from "./harness.mjs"
export * from "./linx.mjs"
export * from "./targets.mjs"
