/**
 * Turns a native thread's `Failed` outcome into a `MountError` whose `path` names what failed: the
 * namespace file for the namespace stages, `newRoot` for chdir, else the target.
 */
import type { Request } from "../../protocol/Request.js"
import { MountError, type Stage } from "../MountError.js"

const namespaceFile = (request: Request, kind: "mnt" | "pid"): string => {
  switch (request.in._tag) {
    case "Pid":
      return `/proc/${request.in.pid}/ns/${kind}`
    case "Path":
      return request.in.path
    case "Self":
      return `/proc/self/ns/${kind}`
  }
}

const subject = (request: Request): string =>
  request._tag === "PivotRoot" ? request.newRoot : request.target

export const pathOf = (request: Request, stage: Stage): string => {
  switch (stage) {
    case "open_ns":
    case "setns":
      return namespaceFile(request, "mnt")
    case "open_pidns":
    case "setns_pid":
      return namespaceFile(request, "pid")
    default:
      return subject(request)
  }
}

// The source is worth naming when mount(2) itself failed and was given one.
const sourceOf = (request: Request, stage: Stage): string | undefined =>
  request._tag === "Mount" &&
  request.source !== "" &&
  (stage === "mount" || stage === "remount" || stage === "undo")
    ? request.source
    : undefined

export const failure = (request: Request, stage: Stage, errno: number): MountError =>
  MountError.fromErrno(stage, pathOf(request, stage), errno, sourceOf(request, stage))
