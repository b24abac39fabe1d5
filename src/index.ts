/**
 * linx-mount: Linux's mount API for TypeScript.
 *
 * @since 0.1.0
 */
export { InvalidArgument } from "./InvalidArgument.js"
export { MountError } from "./MountError.js"
