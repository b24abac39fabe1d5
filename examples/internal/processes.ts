/**
 * The processes the walk-through starts. Each comes with a `stop` that kills what is left of
 * it (by pid) and waits until it is reaped; container.ts acquires them in a scope whose
 * finalizers call it, whatever happened in between:
 *
 * - the container: `unshare` with new mount, PID, UTS and IPC namespaces, whose child (pid 1
 *   inside) parks on its stdin until we release it into its workload. Its stdout is the
 *   workload's report, split into sections; `@@wait name` lines are checkpoints.
 * - the idmap holder: a sleeping process in a new user namespace (`unshare --user`), whose
 *   uid and gid maps we write as root (what newuidmap(1) would do). An idmapped bind takes
 *   its mapping from that namespace (`idmap: { pid }`).
 */

import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync, readlinkSync, writeFileSync } from "node:fs"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/** Something a process of ours did not do, or did too late. */
export class ProcessError extends Data.TaggedError("ProcessError")<{ readonly message: string }> {}

export interface Container {
  /** The container's pid 1, as we see it: what `in: { pid }` takes. */
  readonly pid: number
  /** The `unshare` process that started it. */
  readonly unsharePid: number
  /** Lets the container past its current checkpoint. */
  readonly release: Effect.Effect<void>
  /** Waits until the workload reaches checkpoint `name` (or finishes, when `name` is "done"). */
  readonly reached: (name: string) => Effect.Effect<void, ProcessError>
  /** The workload's sections so far: name → lines. */
  readonly sections: () => ReadonlyMap<string, ReadonlyArray<string>>
  /** Resolves with the exit code once `unshare` has exited. */
  readonly exited: Promise<number | null>
  /** Kills the container if it still runs (its pid 1 first) and reaps it. */
  readonly stop: Effect.Effect<void>
}

export interface UserNamespace {
  /** A process in the user namespace: what `idmap: { pid }` takes. */
  readonly pid: number
  /** The maps written to its /proc/PID/uid_map and gid_map. */
  readonly uidMap: string
  readonly gidMap: string
  /** Kills it and reaps it. */
  readonly stop: Effect.Effect<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const killQuietly = (pid: number): void => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // already gone
  }
}

const exitOf = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
    else child.once("exit", (code) => resolve(code))
  })

const pollFor = <A>(what: string, probe: () => A | undefined, ms = 5_000) =>
  Effect.tryPromise({
    try: async () => {
      for (let waited = 0; waited < ms; waited += 5) {
        try {
          const value = probe()
          if (value !== undefined) return value
        } catch {
          // not there yet
        }
        await sleep(5)
      }
      throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    },
    catch: (error) => new ProcessError({ message: (error as Error).message }),
  })

/** Kills what is left of a process tree of ours and waits for `child` to be reaped. */
const stop = (child: ChildProcess, inner: ReadonlyArray<number>) =>
  Effect.promise(async () => {
    const exited = exitOf(child)
    // pid 1 of a PID namespace first: when it dies the kernel kills everything inside, and
    // unshare, its parent, reaps it and exits by itself.
    for (const pid of inner) if (alive(pid)) killQuietly(pid)
    if (inner.length === 0 && child.pid !== undefined) killQuietly(child.pid)
    const timeout = new Promise<"late">((resolve) =>
      setTimeout(() => resolve("late"), 2_000).unref(),
    )
    if ((await Promise.race([exited, timeout])) === "late" && child.pid !== undefined)
      killQuietly(child.pid)
    await exited
  })

// Parked: the host's sh reads one line (our "go"), then execs the rootfs's sh on /init — by
// then the pivot has made the rootfs its /. The cwd is / so that pivot_root moves it too.
const park = 'echo "@@parked"; read -r _go || exit 1; cd / && exec /bin/sh /init'

/** Starts the container, parked before its workload, and returns once its pid 1 exists. */
export const startContainer: Effect.Effect<Container, ProcessError> = Effect.gen(function* () {
  const child = spawn(
    "unshare",
    [
      "--mount",
      "--pid",
      "--fork",
      "--uts",
      "--ipc",
      "--propagation",
      "private",
      "--kill-child",
    ].concat(["--", "/bin/sh", "-c", park]),
    // Its own process group, so a Ctrl-C reaches us only: we stop it in order.
    { cwd: "/", stdio: ["pipe", "pipe", "pipe"], detached: true },
  )
  const sections = new Map<string, Array<string>>()
  const stderr: Array<string> = []
  let current: Array<string> = []
  const waiters = new Map<string, () => void>()
  const seen = new Set<string>()
  const mark = (name: string) => {
    seen.add(name)
    waiters.get(name)?.()
  }
  let buffered = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk
    const lines = buffered.split("\n")
    buffered = lines.pop() ?? ""
    for (const line of lines) {
      if (line === "@@parked" || line === "@@done") mark(line.slice(2))
      else if (line.startsWith("@@wait ")) mark(line.slice(7))
      else if (line.startsWith("@@ ")) {
        current = []
        sections.set(line.slice(3), current)
      } else current.push(line)
    }
  })
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk))
  child.stdin.on("error", () => {}) // EPIPE when it is gone: reported through `reached`
  const exited = exitOf(child)

  const reached = (name: string) =>
    Effect.callback<void, ProcessError>((resume) => {
      if (seen.has(name)) return resume(Effect.void)
      waiters.set(name, () => resume(Effect.void))
      exited.then((code) =>
        resume(
          Effect.fail(
            new ProcessError({
              message: `the container exited (code ${code}) before "${name}"${
                stderr.length > 0 ? `: ${stderr.join("").trim()}` : ""
              }`,
            }),
          ),
        ),
      )
    }).pipe(
      Effect.timeoutOrElse({
        duration: "20 seconds",
        orElse: () => Effect.fail(new ProcessError({ message: `timed out waiting for "${name}"` })),
      }),
    )

  const handle = { child, pid: 0 }
  const unsharePid = child.pid
  if (unsharePid === undefined) {
    return yield* new ProcessError({ message: "could not start unshare(1)" })
  }
  yield* reached("parked").pipe(Effect.tapError(() => stop(child, [])))
  // unshare --fork: the parked sh is unshare's only child, pid 1 of the new namespace.
  handle.pid = yield* pollFor("the container's pid 1", () => {
    const children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, "utf8").trim()
    return children === "" ? undefined : Number(children.split(" ")[0])
  }).pipe(Effect.tapError(() => stop(child, [])))

  return {
    pid: handle.pid,
    unsharePid,
    release: Effect.sync(() => {
      child.stdin.write("go\n")
    }),
    reached,
    sections: () => sections,
    exited,
    stop: stop(child, [handle.pid]),
  } satisfies Container
})

/**
 * Starts a process in a new user namespace and gives the namespace its maps: `uidMap` and
 * `gidMap` in proc(5)'s form, "inside outside count". As root we may write them directly
 * (no newuidmap(1), no setgroups deny). `unshare` execs `sleep` in place: the pid is sleep's.
 */
export const startUserNamespace = (
  uidMap: string,
  gidMap: string,
): Effect.Effect<UserNamespace, ProcessError> =>
  Effect.gen(function* () {
    const child = spawn("unshare", ["--user", "--", "sleep", "infinity"], {
      cwd: "/",
      stdio: "ignore",
      detached: true,
    })
    const pid = child.pid
    if (pid === undefined) return yield* new ProcessError({ message: "could not start unshare(1)" })
    const ours = readlinkSync("/proc/self/ns/user")
    yield* pollFor("the user namespace", () =>
      readlinkSync(`/proc/${pid}/ns/user`) !== ours &&
      readFileSync(`/proc/${pid}/comm`, "utf8") === "sleep\n"
        ? true
        : undefined,
    ).pipe(Effect.tapError(() => stop(child, [])))
    yield* Effect.try({
      try: () => {
        writeFileSync(`/proc/${pid}/uid_map`, `${uidMap}\n`)
        writeFileSync(`/proc/${pid}/gid_map`, `${gidMap}\n`)
      },
      catch: (error) =>
        new ProcessError({ message: `could not write the user namespace's maps: ${error}` }),
    }).pipe(Effect.tapError(() => stop(child, [])))
    return { pid, uidMap, gidMap, stop: stop(child, []) }
  })
