/**
 * A protocol request → the addon's op object (native/ops.h), the one place that knows both.
 */
import type { Request } from "../../protocol/Request.js"
import type { NativeOp } from "./native.js"

const nsFields = (ns: Request["in"]): Pick<NativeOp, "ns" | "pid" | "nsPath"> => {
  switch (ns._tag) {
    case "Self":
      return { ns: 0 }
    case "Pid":
      return { ns: 1, pid: ns.pid }
    case "Path":
      return { ns: 2, nsPath: ns.path }
  }
}

export const toNativeOp = (request: Request): NativeOp => {
  switch (request._tag) {
    case "Mount":
      return {
        kind: 0,
        ...nsFields(request.in),
        pidns: request.pidns,
        create: request.create,
        source: request.source,
        target: request.target,
        fstype: request.fstype,
        data: request.data,
        flags: request.flags,
        remountFlags: request.remountFlags,
        sourceFromHome: request.sourceFromCaller === true,
      }
    case "Umount":
      return { kind: 1, ...nsFields(request.in), target: request.target, flags: request.flags }
    case "PivotRoot":
      return { kind: 2, ...nsFields(request.in), target: request.newRoot, putOld: request.putOld }
  }
}
