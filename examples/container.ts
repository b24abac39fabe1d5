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
 * with `nsenter -t PID -m -p -u -i /bin/sh`, or press Ctrl-C to see the teardown.
 *
 * Needs root (CAP_SYS_ADMIN) and util-linux's unshare(1) and nsenter(1).
 *
 * The steps, in order:
 *  1. a rootfs in a temporary directory, from this host's own programs and their libraries;
 *  2. a child in new mount, PID, UTS and IPC namespaces (unshare(1)), parked on its stdin;
 *  3. from outside: `/` rprivate, the rootfs bound on itself, a /proc of the child's PID
 *     namespace, a tmpfs /dev with four device nodes bound in, a tmpfs /tmp, a read-only
 *     volume, a shared hot-plug slot; then pivot_root and the old root detached;
 *  4. the child is released into its workload, which reports what it sees;
 *  5. a second host directory is hot-mounted while it runs, and hot-unmounted;
 *  6. everything is torn down by the scope's finalizers — on success, failure or Ctrl-C.
 *
 * About step 5: a bind mount's source is looked up in the namespace the mount is made in,
 * and after pivot_root the container's namespace has no path to the host's directories. So
 * before the pivot we make a "sidecar": a process in a copy of the container's namespace,
 * which still sees the host's tree, joined to the container by one shared mount (the slot,
 * /mnt). A bind made under the slot in the sidecar's namespace propagates into the
 * container's — the kernel's own way to hot-plug, and still one linx-mount call with `in`.
 */

import { existsSync, rmdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import { Mount, Mounter } from "linx-mount"
import { type Container, ProcessError, startContainer, startSidecar } from "./internal/processes.js"
import { describe, parseView, Reporter, renderHot, renderView } from "./internal/report.js"
import * as Rootfs from "./internal/rootfs.js"

export interface Options {
  /** Print one JSON record at the end instead of the running account. */
  readonly json: boolean
  /** A host directory to bind read-only at /volume; default: a temporary one made here. */
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

/** A host directory: the user's, or a temporary one made and removed here. */
const hostDirectory = (given: string | undefined, prefix: string, file: string, text: string) =>
  given === undefined
    ? Effect.acquireRelease(
        Effect.sync(() => Rootfs.hostDirectory(prefix, file, text)),
        (path) => Effect.sync(() => Rootfs.remove(path)),
      )
    : Effect.succeed(given)

const walkthrough = (options: Options, report: Reporter) =>
  Effect.gen(function* () {
    const record = report.record

    // 1. The rootfs, and the two host directories the container will get.
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
    const volume = yield* hostDirectory(
      options.volume,
      "linx-volume-",
      "hello.txt",
      "hello from the host's volume\n",
    )
    const hot = yield* hostDirectory(
      options.hot,
      "linx-hot-",
      "plugged.txt",
      "hot-plugged while the container ran\n",
    )
    record.volume = volume
    record.hotDirectory = hot

    // 2. The child, parked at its first checkpoint.
    const container: Container = yield* Effect.acquireRelease(
      report.step(
        "started the container, parked",
        (c) =>
          `unshare --mount --pid --fork --uts --ipc --propagation private --kill-child: its pid 1 is pid ${c.pid} to us`,
        startContainer,
      ),
      (c) =>
        report.step(
          "stopped the container",
          `pid ${container.pid} and unshare (pid ${container.unsharePid}) reaped; their namespaces, and every mount in them, are gone`,
          c.stop,
        ),
    )
    record.container = { pid: container.pid, unsharePid: container.unsharePid }
    const inside = { in: { pid: container.pid } } as const
    const at = (path: string) => join(rootfs.path, path)

    // 3. Assembling the container's filesystem, from outside, in its namespace.
    yield* report.step(
      "made its / recursively private",
      code(`Mount.makePrivate("/", { recursive: true, in: { pid: ${container.pid} } })`),
      Mount.makePrivate("/", { recursive: true, ...inside }),
    )
    yield* report.step(
      "bound the rootfs on itself",
      `${code("Mount.bind(rootfs, rootfs, { in })")}: pivot_root needs the new root to be a mount`,
      Mount.bind(rootfs.path, rootfs.path, inside),
    )
    yield* report.step(
      "mounted /proc of its PID namespace",
      `${code('Mount.mount("proc", rootfs/proc, "proc", { flags: ["nosuid", "nodev", "noexec"], in })')}`,
      Mount.mount("proc", at("proc"), "proc", { flags: ["nosuid", "nodev", "noexec"], ...inside }),
    )
    yield* report.step(
      "mounted a tmpfs on /dev",
      code(
        'Mount.mount("tmpfs", rootfs/dev, "tmpfs", { data: "mode=755,size=64k", flags: ["nosuid", "noexec"], in })',
      ),
      Mount.mount("tmpfs", at("dev"), "tmpfs", {
        data: "mode=755,size=64k",
        flags: ["nosuid", "noexec"],
        ...inside,
      }),
    )
    const devices = ["null", "zero", "random", "urandom"]
    yield* report.step(
      "bound 4 device nodes into /dev",
      `${code("Mount.bind(/dev/X, rootfs/dev/X, { create: true, in })")} × 4: ${devices.join(" ")}`,
      Effect.all(
        devices.map((name) =>
          Mount.bind(`/dev/${name}`, at(`dev/${name}`), { create: true, ...inside }),
        ),
        { discard: true },
      ),
    )
    yield* report.step(
      "mounted a tmpfs on /tmp",
      code(
        'Mount.mount("tmpfs", rootfs/tmp, "tmpfs", { data: "mode=1777,size=16m", flags: ["nosuid", "nodev"], in })',
      ),
      Mount.mount("tmpfs", at("tmp"), "tmpfs", {
        data: "mode=1777,size=16m",
        flags: ["nosuid", "nodev"],
        ...inside,
      }),
    )
    yield* report.step(
      "bound the volume read-only on /volume",
      `${code('Mount.bind(volume, rootfs/volume, { flags: ["ro", "nosuid", "nodev"], in })')} from ${volume}`,
      Mount.bind(volume, at("volume"), { flags: ["ro", "nosuid", "nodev"], ...inside }),
    )
    yield* report.step(
      "made /mnt a shared hot-plug slot",
      `${code("Mount.bind(rootfs/mnt, rootfs/mnt, { in })")} + ${code("Mount.makeShared(rootfs/mnt, { in })")}`,
      Effect.andThen(Mount.bind(at("mnt"), at("mnt"), inside), Mount.makeShared(at("mnt"), inside)),
    )
    const sidecar = yield* Effect.acquireRelease(
      report.step(
        "started the hot-plug sidecar",
        (s) =>
          `nsenter -t ${container.pid} -m unshare -m --propagation unchanged: pid ${s.pid}, in a copy of the container's namespace whose /mnt is a peer of the container's`,
        startSidecar(container.pid),
      ),
      (s) =>
        report.step(
          "stopped the sidecar",
          `pid ${s.pid} killed and reaped, its namespace gone`,
          s.stop,
        ),
    )
    record.container = { ...record.container, sidecarPid: sidecar.pid }
    yield* report.step(
      "pivoted the root",
      code(`Mount.pivotRoot(rootfs, rootfs/old_root, { in: { pid: ${container.pid} } })`),
      Mount.pivotRoot(rootfs.path, at("old_root"), inside),
    )
    yield* report.step(
      "detached the old root",
      `${code('Mount.umount("/old_root", { flags: ["detach"], in })')}, then the empty /old_root removed`,
      Effect.andThen(
        Mount.umount("/old_root", { flags: ["detach"], ...inside }),
        Effect.sync(() => rmdirSync(at("old_root"))),
      ),
    )

    // 4. Released: the workload runs and reports, up to its hot-mount checkpoint.
    yield* report.step(
      "released the workload",
      "the parked sh execs /bin/sh /init inside the new root; it reports what it sees",
      Effect.andThen(container.release, container.reached("hot-mount")),
    )
    record.view = parseView(container.sections())
    for (const line of renderView(record.view)) report.print(line)
    if (options.hold > 0) {
      report.print(
        `       holding for ${options.hold} s: nsenter -t ${container.pid} -m -p -u -i /bin/sh — or Ctrl-C`,
      )
      yield* Effect.sleep(options.hold * 1000)
    }

    // 5. Hot-plugging into the running container, through the sidecar's peer of its slot.
    const slotTarget = at("mnt/hot")
    yield* report.step(
      "hot-mounted a host directory on /mnt/hot",
      (table: ReadonlyArray<{ mountPoint: string }>) =>
        `${code(`Mount.bind(hot, rootfs/mnt/hot, { in: { pid: ${sidecar.pid} } })`)} from ${hot}; ` +
        `propagated: ${table.some((m) => m.mountPoint === "/mnt/hot") ? "" : "NOT "}in ${code(`Mount.list({ pid: ${container.pid} })`)}`,
      Effect.andThen(
        Mount.bind(hot, slotTarget, { in: { pid: sidecar.pid } }),
        Mount.list({ pid: container.pid }),
      ),
    )
    yield* report.step(
      "let the workload look",
      "released past its hot-mount checkpoint",
      Effect.andThen(container.release, container.reached("hot-unmount")),
    )
    record.view = parseView(container.sections())
    for (const line of renderHot(record.view)) report.print(line)
    yield* report.step(
      "hot-unmounted it",
      (table: ReadonlyArray<{ mountPoint: string }>) =>
        `${code(`Mount.umount(rootfs/mnt/hot, { in: { pid: ${sidecar.pid} } })`)}; the unmount propagated too: ` +
        `${table.some((m) => m.mountPoint === "/mnt/hot") ? "still" : "no longer"} in the container's table`,
      Effect.andThen(
        Mount.umount(slotTarget, { in: { pid: sidecar.pid } }),
        Mount.list({ pid: container.pid }),
      ),
    )
    const exitCode = yield* report.step(
      "let the workload finish",
      (status) => `it saw /mnt/hot empty again and exited with status ${status}`,
      Effect.gen(function* () {
        yield* container.release
        yield* container.reached("done")
        return yield* Effect.promise(() => container.exited)
      }),
    )
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
      const pids =
        c === undefined
          ? []
          : [c.pid, c.unsharePid, ...(c.sidecarPid === undefined ? [] : [c.sidecarPid])]
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
