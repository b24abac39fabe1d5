/**
 * Real processes to aim cross-namespace operations at, started with unshare(1). Each is
 * returned once it really lives in its new namespaces (unshare needs a moment before it
 * execs), and is killed by pid when the test is done with it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync, readlinkSync } from "node:fs"

export interface Target {
  /** The pid to pass as `in: { pid }`: the process inside the new namespaces. */
  readonly pid: number
  readonly kill: () => void
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const waitFor = async <A>(what: string, probe: () => A | undefined): Promise<A> => {
  for (let i = 0; i < 500; i++) {
    try {
      const value = probe()
      if (value !== undefined) return value
    } catch {
      // not there yet
    }
    await sleep(10)
  }
  throw new Error(`timed out waiting for ${what}`)
}

const ours = (kind: string) => readlinkSync(`/proc/self/ns/${kind}`)

const started = (child: ChildProcess): number => {
  if (child.pid === undefined) throw new Error("unshare did not start")
  return child.pid
}

/**
 * A process in a new, private mount namespace (`unshare -m --propagation private`),
 * running `command` (default: sleep).
 */
export async function mountNamespaceTarget(
  command: ReadonlyArray<string> = ["sleep", "600"],
  unshareFlags: ReadonlyArray<string> = [],
): Promise<Target> {
  const child = spawn(
    "unshare",
    ["--mount", "--propagation", "private", ...unshareFlags, "--", ...command],
    {
      stdio: "ignore",
    },
  )
  const pid = started(child)
  const kill = () => child.kill("SIGKILL")
  try {
    await waitFor("the target's mount namespace", () =>
      readlinkSync(`/proc/${pid}/ns/mnt`) !== ours("mnt") &&
      readlinkSync(`/proc/${pid}/exe`) !== "/usr/bin/unshare"
        ? true
        : undefined,
    )
  } catch (error) {
    kill()
    throw error
  }
  return { pid, kill }
}

/**
 * A process that is pid 1 of a new PID namespace and lives in a new mount namespace
 * (`unshare -m -p -f --propagation private`); `pid` is its pid as we see it.
 */
export async function pidNamespaceTarget(): Promise<Target> {
  const child = spawn(
    "unshare",
    [
      "--mount",
      "--pid",
      "--fork",
      "--kill-child",
      "--propagation",
      "private",
      "--",
      "sleep",
      "600",
    ],
    {
      stdio: "ignore",
    },
  )
  const outer = started(child)
  const kill = () => child.kill("SIGKILL")
  try {
    const pid = await waitFor("the pid namespace's init", () => {
      const children = readFileSync(`/proc/${outer}/task/${outer}/children`, "utf8").trim()
      if (children === "") return undefined
      const inner = Number(children.split(" ")[0])
      return readlinkSync(`/proc/${inner}/ns/pid`) !== ours("pid") &&
        readlinkSync(`/proc/${inner}/exe`).endsWith("sleep")
        ? inner
        : undefined
    })
    // Killing the namespace's init ends every process in it; then unshare itself.
    const killBoth = () => {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // already gone
      }
      kill()
    }
    return { pid, kill: killBoth }
  } catch (error) {
    kill()
    throw error
  }
}
