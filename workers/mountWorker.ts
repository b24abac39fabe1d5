/**
 * The piscina worker: decodes a batch of requests, runs them through the addon in one call
 * (one hand-off to the private native thread when any request needs it), and encodes one
 * reply per request. It never throws a kernel failure: those are replies.
 */

import type { Reply } from "../protocol/Reply.js"
import { decodeBatch, type Request } from "../protocol/Request.js"
import { type NativeOp, native } from "../src/internal/native.js"

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

const toNative = (request: Request): NativeOp => {
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
      }
    case "Umount":
      return { kind: 1, ...nsFields(request.in), target: request.target, flags: request.flags }
    case "PivotRoot":
      return { kind: 2, ...nsFields(request.in), target: request.newRoot, putOld: request.putOld }
  }
}

const done: Reply = { _tag: "Done" }

export default function runBatch(message: unknown): ReadonlyArray<Reply> {
  const requests = decodeBatch(message)
  const outcomes = native().run(requests.map(toNative))
  return outcomes.map((failure) =>
    failure === null
      ? done
      : ({ _tag: "Failed", stage: failure.stage, errno: failure.errno } as Reply),
  )
}
