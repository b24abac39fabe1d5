/**
 * linx-mount: Linux's mount API for TypeScript — read any process's mount table; mount,
 * bind, remount, move, unmount, set attributes and pivot_root in this or any other mount
 * namespace; scoped mounts, batches that roll back; from Effect (this module) or Promises
 * (`linx-mount/promises`).
 *
 * @since 0.1.0
 */
export { BatchError } from "./BatchError.js"
export { InvalidArgument } from "./InvalidArgument.js"
export * as Mount from "./Mount.js"
export { MountEntry, type MountEntryFields, type Propagation } from "./MountEntry.js"
export { MountError, type Stage } from "./MountError.js"
export type { MountEvent, MountEventKind } from "./MountEvent.js"
export { Mounter, type MounterOptions } from "./Mounter.js"
