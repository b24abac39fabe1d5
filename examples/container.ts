/**
 * The container walk-through: assemble a root filesystem, put a process into it and show what
 * it sees — every mount made from outside, with linx-mount, in the process's own mount
 * namespace (`in: { pid }`). Our own mount table is the same after as before.
 *
 *   npm start                       the walk-through, for a person
 *   npm start -- --json             the same, as one JSON record
 *   node dist/examples/container.js [--json] [--volume DIR] [--hot DIR] [--hold SECONDS]
 *
 * `--hold` keeps the running container at its hot-mount checkpoint that long: look around
 * with `nsenter -t PID -m -p -u -i /bin/sh` (the watch prints what you mount there), or
 * press Ctrl-C to see the teardown.
 *
 * Needs root (CAP_SYS_ADMIN) and util-linux's unshare(1).
 *
 * The steps, in order:
 *  1. a rootfs in a temporary directory, from this host's own programs and their libraries,
 *     and a volume: a directory whose files belong to uid 1000 (or yours, `--volume`);
 *  2. a process in a new user namespace whose maps we write: the volume's idmap;
 *  3. a child in new mount, PID, UTS and IPC namespaces (unshare(1)), parked on its stdin;
 *  4. a watch on its mount table (`Mount.subscribe`), printing every change from then on;
 *  5. its filesystem, from outside, as one `Mount.batch`: `/` rprivate, the rootfs bound on
 *     itself, a /proc of its PID namespace, a tmpfs /dev with four device nodes bound onto
 *     `create` placeholders, a tmpfs /tmp, the volume bound recursively read-only and
 *     idmapped, and pivot_root last — if any op fails, the ones before it are undone;
 *  6. the old root detached; the child released into its workload, which reports what it
 *     sees (the volume's owners, as mapped; writes refused, in its submount too);
 *  7. a host directory hot-mounted into the running container, straight from our own
 *     namespace (`sourceIn: "self"`), as a scoped mount: closing its scope takes it away;
 *  8. everything torn down by the scope's finalizers — on success, failure or Ctrl-C: the
 *     container's mounts go with its namespace (the watch sees them go), the processes are
 *     reaped, the temporary directories removed, and our mount table checked.
 */

import { existsSync, rmdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Mount, type MountEntry, Mounter } from "linx-mount"
import { named, Watcher } from "./internal/events.js"
import {
  type Container,
  ProcessError,
  startContainer,
  startUserNamespace,
} from "./internal/processes.js"
import { describe, parseView, Reporter, renderHot, renderView } from "./internal/report.js"
import * as Rootfs from "./internal/rootfs.js"

export interface Options {
  /** Print one JSON record at the end instead of the running account. */
  readonly json: boolean
  /**
   * A host directory to bind at /volume (recursively, read-only, idmapped), submounts and
   * all; default: a temporary one made here, with a submount of its own.
   */
  readonly volume?: string
  /** A host directory to hot-mount at /mnt/hot; default: a temporary one made here. */
  readonly hot?: string
  /** Seconds to keep the running container at its hot-mount checkpoint, to look around. */
  readonly hold: number
}

export const parseOptions = (argv: ReadonlyArray<string>): Options => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      json: { type: "boolean", default: false },
      volume: { type: "string" },
      hot: { type: "string" },
      hold: { type: "string", default: "0" },
    },
  })
  const hold = Number(values.hold)
  if (!Number.isFinite(hold) || hold < 0)
    throw new Error(`--hold takes a number of seconds, not ${values.hold}`)
  return {
    json: values.json ?? false,
    hold,
    ...(values.volume === undefined ? {} : { volume: resolve(values.volume) }),
    ...(values.hot === undefined ? {} : { hot: resolve(values.hot) }),
  }
}

const code = (text: string) => `\`${text}\``

/**
 * The volume's idmap: the user namespace maps its ids 0–65535 to 100000–165535, the usual
 * /etc/subuid range. Through an idmapped bind a file owned by uid k shows as 100000 + k.
 */
const idmapRange = "0 100000 65536"
const mapped = (id: number) => 100000 + id

/** Removes a temporary directory of ours when the scope closes. */
const temporary = <A>(make: () => A, paths: (a: A) => ReadonlyArray<string>) =>
  Effect.acquireRelease(Effect.sync(make), (a) =>
    Effect.sync(() => {
      for (const path of paths(a)) Rootfs.remove(path)
    }),
  )

/** A batch op in the account: the call, with our temporary paths named. */
const showOp = (op: Mount.BatchOp, names: ReadonlyArray<readonly [string, string]>): string => {
  const value = (v: unknown): string => {
    if (typeof v === "string") {
      const short = named(v, names)
      return short === v ? JSON.stringify(v) : short
    }
    if (Array.isArray(v)) return `[${v.map(value).join(", ")}]`
    if (typeof v === "object" && v !== null)
      return `{ ${Object.entries(v)
        .map(([k, x]) => `${k}: ${value(x)}`)
        .join(", ")} }`
    return String(v)
  }
  const positional: ReadonlyArray<string> =
    op.verb === "mount"
      ? ["source", "target", "fstype"]
      : op.verb === "bind" || op.verb === "move"
        ? ["source", "target"]
        : op.verb === "pivotRoot"
          ? ["newRoot", "putOld"]
          : ["target"]
  const fields = op as unknown as { readonly [key: string]: unknown }
  const args = positional.map((key) => value(fields[key]))
  const rest = Object.fromEntries(
    Object.entries(fields).filter(([key]) => key !== "verb" && !positional.includes(key)),
  )
  if (Object.keys(rest).length > 0) args.push(value(rest))
  return `${op.verb}(${args.join(", ")})`
}

/** Same mounts, same places, same propagation: what a rollback must give back. */
const sameTable = (a: ReadonlyArray<MountEntry>, b: ReadonlyArray<MountEntry>) => {
  const key = (m: MountEntry) =>
    `${m.uniqueId} ${m.mountPoint} ${m.mountOptions} ${JSON.stringify(m.propagation)}`
  const left = a.map(key).sort()
  const right = b.map(key).sort()
  return left.length === right.length && left.every((k, i) => k === right[i])
}

const walkthrough = (options: Options, report: Reporter) =>
  Effect.gen(function* () {
    const record = report.record
    const outer = yield* Effect.scope

    // 1. The rootfs, and the host directories the container will get.
    const rootfs = yield* Effect.acquireRelease(
      report.step(
        "built a rootfs from this host's programs",
        (r) =>
          `${r.programs} programs (sh ls cat ps touch …) and the ${r.libraries} libraries ldd names, in ${r.path}`,
        Effect.try({ try: Rootfs.build, catch: (e) => new ProcessError({ message: String(e) }) }),
      ),
      (r) =>
        report.step(
          "removed the temporary directories",
          "the rootfs and the example's own host directories (plain directories: nothing was mounted on the host)",
          Effect.sync(() => Rootfs.remove(r.path)),
        ),
    )
    record.rootfs = rootfs
    const volume: Rootfs.Volume | { readonly path: string; readonly nested?: undefined } =
      options.volume === undefined
        ? yield* temporary(Rootfs.volume, (v) => [v.path, v.nested])
        : { path: options.volume }
    const hot =
      options.hot ??
      (yield* temporary(
        () =>
          Rootfs.hostDirectory("linx-hot-", "plugged.txt", "hot-plugged while the container ran\n"),
        (path) => [path],
      ))
    record.volume = volume.path
    if (volume.nested !== undefined) record.nested = volume.nested
    record.hotDirectory = hot

    // The watch's scope, opened now so that it closes after the container has stopped: the
    // watch sees the container's namespace go, every mount in it.
    const watcher = new Watcher(report)
    const watchScope = yield* Effect.acquireRelease(Scope.make(), (scope, exit) =>
      report.step(
        "stopped watching",
        `${record.events.length} events in all; the watch's scope closed: its fiber interrupted, its fanotify group closed`,
        Scope.close(scope, exit),
      ),
    )

    // 2. The user namespace the idmap comes from.
    const userns = yield* Effect.acquireRelease(
      report.step(
        "started the idmap's user namespace",
        (u) =>
          `unshare --user sleep infinity: pid ${u.pid}; we wrote "${u.uidMap}" to its uid_map and gid_map: ` +
          `a file owned by ${Rootfs.volumeOwner} shows as ${mapped(Rootfs.volumeOwner)} through an idmapped mount`,
        startUserNamespace(idmapRange, idmapRange),
      ),
      (u) =>
        report.step(
          "stopped the user namespace's process",
          `pid ${u.pid} killed and reaped`,
          u.stop,
        ),
    )
    record.idmap = { pid: userns.pid, uidMap: userns.uidMap, gidMap: userns.gidMap }

    // 3. The child, parked at its first checkpoint.
    const container: Container = yield* Effect.acquireRelease(
      report.step(
        "started the container, parked",
        (c) =>
          `unshare --mount --pid --fork --uts --ipc --propagation private --kill-child: its pid 1 is pid ${c.pid} to us`,
        startContainer,
      ),
      (c) =>
        Effect.andThen(
          report.step(
            "stopped the container",
            `pid ${c.pid} and unshare (pid ${c.unsharePid}) reaped; their namespaces, and every mount in them, are gone`,
            c.stop,
          ),
          // What the watch saw of the namespace's end: every mount it still had, detached.
          Effect.suspend(() => watcher.settle(watcher.mounts)),
        ),
    )
    record.container = { pid: container.pid, unsharePid: container.unsharePid }
    const pid = container.pid
    const inside = { in: { pid } } as const
    const at = (path: string) => join(rootfs.path, path)

    // 4. The watch, in place before the first change.
    const before = yield* report.step(
      "watching its mount table",
      (table: ReadonlyArray<MountEntry>) =>
        `${code(`Mount.subscribe({ in: { pid: ${pid} } })`)}, run by a fiber of ours: fanotify's mount events, ` +
        `in place before the first change; its table now: ${table.length} mounts (a copy of ours)`,
      Effect.gen(function* () {
        const events = yield* Mount.subscribe(inside).pipe(Scope.provide(watchScope))
        yield* Effect.forkIn(
          Stream.runForEach(events, watcher.push).pipe(
            Effect.catchCause((cause) => watcher.failed(describe(Cause.squash(cause)))),
          ),
          watchScope,
        )
        const table = yield* Mount.list({ pid })
        watcher.learn(table)
        return table
      }),
    )

    // 5. Its filesystem, as one batch, in its namespace.
    const devices = ["null", "zero", "random", "urandom"]
    const ops: ReadonlyArray<readonly [Mount.BatchOp, string]> = [
      [{ verb: "makePrivate", target: "/", recursive: true }, ""],
      [
        { verb: "bind", source: rootfs.path, target: rootfs.path },
        "pivot_root needs the new root to be a mount",
      ],
      [
        {
          verb: "mount",
          source: "proc",
          target: at("proc"),
          fstype: "proc",
          flags: ["nosuid", "nodev", "noexec"],
        },
        "of its PID namespace",
      ],
      [
        {
          verb: "mount",
          source: "tmpfs",
          target: at("dev"),
          fstype: "tmpfs",
          data: "mode=755,size=64k",
          flags: ["nosuid", "noexec"],
        },
        "",
      ],
      ...devices.map(
        (name) =>
          [
            { verb: "bind", source: `/dev/${name}`, target: at(`dev/${name}`), create: true },
            name === "null" ? "a file made to mount on" : "",
          ] as const,
      ),
      [
        {
          verb: "mount",
          source: "tmpfs",
          target: at("tmp"),
          fstype: "tmpfs",
          data: "mode=1777,size=16m",
          flags: ["nosuid", "nodev"],
        },
        "",
      ],
      ...(volume.nested === undefined
        ? []
        : [
            [
              { verb: "bind", source: volume.nested, target: join(volume.path, "nested") },
              "the volume's submount, in this namespace only",
            ] as const,
          ]),
      [
        {
          verb: "bind",
          source: volume.path,
          target: at("volume"),
          flags: ["rec", "ro", "nosuid", "nodev"],
          idmap: { pid: userns.pid },
        },
        "recursively read-only and idmapped: its submounts too",
      ],
      [
        { verb: "pivotRoot", newRoot: rootfs.path, putOld: at("old_root") },
        "last: nothing can undo it, so nothing after it can fail",
      ],
    ]
    const names = [
      [rootfs.path, "rootfs"],
      [volume.path, "volume"],
      ...(volume.nested === undefined ? [] : [[volume.nested, "nested"] as const]),
    ] as const
    watcher.names = names
    const shown = ops.map(
      ([op, note], i) => `#${i}`.padEnd(4) + showOp(op, names) + (note === "" ? "" : `  — ${note}`),
    )
    record.batch = { ops: shown }
    const mounts = ops.filter(([op]) => op.verb === "mount" || op.verb === "bind").length
    yield* report
      .step(
        `assembled its filesystem: one batch of ${ops.length} ops`,
        `${code(`Mount.batch(ops, { in: { pid: ${pid} } })`)}: one message, one worker, its namespace entered once; ` +
          `on a failure the ops done are undone, in reverse\n` +
          `  ${shown.join("\n  ")}\n` +
          `with rootfs = ${rootfs.path}, volume = ${volume.path}` +
          (volume.nested === undefined ? "" : `, nested = ${volume.nested}`),
        Mount.batch(
          ops.map(([op]) => op),
          inside,
        ),
      )
      .pipe(
        Effect.tapError((error) =>
          error._tag !== "BatchError"
            ? Effect.void
            : Effect.gen(function* () {
                record.batch = {
                  ops: shown,
                  failed: { index: error.index, undone: error.undone, notUndone: error.notUndone },
                }
                // The mounts made and detached again: an attach and a detach each.
                const undone = error.undone.filter((i) => {
                  const verb = ops[i]?.[0].verb
                  return verb === "mount" || verb === "bind"
                })
                yield* watcher.settle(2 * undone.length)
                yield* report.step(
                  "checked the rollback",
                  (r: { after: number; same: boolean }) =>
                    `${code(`Mount.list({ pid: ${pid} })`)}: ${r.after} mounts, ` +
                    (r.same
                      ? `the ${before.length} it had before the batch, in the same places, with the same options and propagation` +
                        (error.notUndone.length === 0
                          ? ""
                          : ` (so ${error.notUndone.map((n) => `#${n.index}`).join(", ")}, reported not undone, left nothing to undo)`)
                      : `NOT the ${before.length} it had before the batch`),
                  Effect.map(Mount.list({ pid }), (after) => {
                    const same = sameTable(before, after)
                    record.rollback = {
                      mountsBefore: before.length,
                      mountsAfter: after.length,
                      same,
                    }
                    return { after: after.length, same }
                  }),
                )
              }),
        ),
      )
    // Its mounts and the two moves of pivot_root; then its table read again, to name the
    // old root's mounts when they go.
    yield* watcher.settle(mounts + 2)
    report.print(
      "       (an attach or move names where the mount is when the watch reads it: before the pivot, or after)",
    )
    watcher.learn(yield* Mount.list({ pid }))

    // 6. The old root detached, and the workload released.
    yield* report.step(
      "detached the old root",
      `${code('Mount.umount("/old_root", { flags: ["detach"], in })')}, then the empty /old_root removed`,
      Effect.andThen(
        Mount.umount("/old_root", { flags: ["detach"], ...inside }),
        Effect.sync(() => rmdirSync(at("old_root"))),
      ),
    )
    yield* watcher.settle(watcher.under("/old_root"))
    yield* report.step(
      "released the workload",
      "the parked sh execs /bin/sh /init inside the new root; it reports what it sees",
      Effect.andThen(container.release, container.reached("hot-mount")),
    )
    record.view = parseView(container.sections())
    for (const line of renderView(record.view)) report.print(line)
    if (options.hold > 0) {
      report.print(
        `       holding for ${options.hold} s: nsenter -t ${pid} -m -p -u -i /bin/sh — or Ctrl-C; the watch prints what you mount`,
      )
      watcher.live = true
      yield* Effect.sleep(options.hold * 1000).pipe(
        Effect.ensuring(Effect.sync(() => (watcher.live = false))),
      )
    }

    // 7. A host directory, hot-mounted straight from our namespace, in a scope of its own.
    const hotScope = yield* Scope.fork(outer)
    const listed = (table: ReadonlyArray<MountEntry>) =>
      table.some((m) => m.mountPoint === "/mnt/hot")
    yield* report.step(
      "hot-mounted a host directory on /mnt/hot",
      (table: ReadonlyArray<MountEntry>) =>
        `${code(`Mount.bindScoped(hot, "/mnt/hot", { in: { pid: ${pid} }, sourceIn: "self" })`)} from ${hot}: ` +
        `the source looked up in our namespace, the target in the container's, already pivoted; ` +
        `${listed(table) ? "in" : "NOT in"} ${code(`Mount.list({ pid: ${pid} })`)}`,
      Effect.andThen(
        Mount.bindScoped(hot, "/mnt/hot", { ...inside, sourceIn: "self" }).pipe(
          Scope.provide(hotScope),
        ),
        Mount.list({ pid }),
      ),
    )
    yield* watcher.settle(1)
    yield* report.step(
      "let the workload look",
      "released past its hot-mount checkpoint",
      Effect.andThen(container.release, container.reached("hot-unmount")),
    )
    record.view = parseView(container.sections())
    for (const line of renderHot(record.view)) report.print(line)
    yield* report.step(
      "took the hot mount away",
      (table: ReadonlyArray<MountEntry>) =>
        `${code("Scope.close(hotScope, Exit.void)")}: bindScoped's finalizer detached it, the mount it made; ` +
        `${listed(table) ? "still" : "no longer"} in the container's table`,
      Effect.andThen(Scope.close(hotScope, Exit.void), Mount.list({ pid })),
    )
    yield* watcher.settle(1)
    const exitCode = yield* report.step(
      "let the workload finish",
      (status) =>
        `it saw /mnt/hot empty again and exited with status ${status}; its namespace went with it`,
      Effect.gen(function* () {
        yield* container.release
        yield* container.reached("done")
        return yield* Effect.promise(() => container.exited)
      }),
    )
    yield* watcher.settle(watcher.mounts)
    record.view = parseView(container.sections())
    record.container = { ...record.container, exitCode }
    if (exitCode !== 0) {
      return yield* new ProcessError({ message: `the workload exited with status ${exitCode}` })
    }
  })

/** Compares our mount table and the processes we started with how they were before. */
const hostCheck = (
  before: ReadonlyArray<{ mountId: number; mountPoint: string }>,
  report: Reporter,
) =>
  report.step(
    "checked the host",
    (r: { after: number; leftover: ReadonlyArray<string>; alive: ReadonlyArray<number> }) =>
      `${before.length} mounts before, ${r.after} after${r.leftover.length > 0 ? ` (left over: ${r.leftover.join(" ")})` : ""}; ` +
      `${r.alive.length === 0 ? "no process of ours left" : `still alive: ${r.alive.join(" ")}`}`,
    Effect.gen(function* () {
      const after = yield* Mount.list()
      const known = new Set(before.map((m) => m.mountId))
      const leftover = after.filter((m) => !known.has(m.mountId)).map((m) => m.mountPoint)
      const c = report.record.container
      const pids = [
        ...(c === undefined ? [] : [c.pid, c.unsharePid]),
        ...(report.record.idmap === undefined ? [] : [report.record.idmap.pid]),
      ]
      const alive = pids.filter((pid) => existsSync(`/proc/${pid}`))
      report.record.host = {
        mountsBefore: before.length,
        mountsAfter: after.length,
        leftoverMounts: leftover,
        leftoverProcesses: alive,
      }
      return { after: after.length, leftover, alive }
    }),
  )

/** The whole walk-through: the record it returns is also printed (as text, or as JSON). */
export const program = (options: Options) =>
  Effect.gen(function* () {
    const report = new Reporter(!options.json)
    report.print("linx-mount: a container, assembled from outside with linx-mount alone")
    report.print("")
    const before = yield* Mount.list()
    yield* Effect.scoped(walkthrough(options, report)).pipe(
      Effect.onExit((exit) =>
        Effect.gen(function* () {
          const host = yield* Effect.exit(hostCheck(before, report))
          const record = report.record
          const clean =
            Exit.isSuccess(host) &&
            record.host?.leftoverMounts.length === 0 &&
            record.host.leftoverProcesses.length === 0
          record.ok = Exit.isSuccess(exit) && clean
          if (Exit.isFailure(exit)) {
            record.error = Cause.hasInterruptsOnly(exit.cause)
              ? "interrupted"
              : describe(Cause.squash(exit.cause))
          } else if (!clean) record.error = "something was left behind"
          if (options.json) process.stdout.write(`${JSON.stringify(record, null, 2)}\n`)
          else {
            report.print("")
            report.print(record.ok ? "done: the host is as it was." : `failed: ${record.error}`)
          }
          if (Exit.isSuccess(exit) && !clean) return yield* Effect.die(new Error(record.error))
        }),
      ),
    )
    return report.record
  }).pipe(Effect.provide(Mounter.layer({ maxThreads: 4 })))

/**
 * Runs `effect` as the process's main fiber: SIGINT or SIGTERM interrupt it, so its scopes
 * close and their finalizers run before we exit (130 when interrupted, 1 when failed).
 */
const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  const interrupt = () => {
    Effect.runFork(Fiber.interrupt(fiber))
  }
  process.once("SIGINT", interrupt)
  process.once("SIGTERM", interrupt)
  fiber.addObserver((exit) => {
    process.off("SIGINT", interrupt)
    process.off("SIGTERM", interrupt)
    teardown(exit, (status) => process.exit(status))
  })
})

if (import.meta.url === `file://${process.argv[1]}`) {
  runMain(program(parseOptions(process.argv.slice(2))), { disableErrorReporting: true })
}
