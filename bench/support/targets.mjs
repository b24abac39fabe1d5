/**
 * Processes to aim cross-namespace operations at, started with unshare(1) as in
 * test/support/targets.ts: an `unshare -m` target, and an `unshare -m -p -f` one whose
 * pid-namespace init is the pid to use. Each is killed by pid when the case is done, and on
 * exit whatever happens, so a case never leaves one behind.
 */
import { spawn } from "node:child_process"
import { readFileSync, readlinkSync } from "node:fs"

const started = new Set()

const killPid = (pid) => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // already gone
  }
}

process.on("exit", () => {
  for (const pid of started) killPid(pid)
})
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(130))
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const waitFor = async (what, probe) => {
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

const ours = (kind) => readlinkSync(`/proc/self/ns/${kind}`)

/** A process in a new private mount namespace (`unshare -m`). */
export async function mountNamespaceTarget() {
  const child = spawn("unshare", ["--mount", "--propagation", "private", "--", "sleep", "3600"], {
    stdio: "ignore",
  })
  const pid = child.pid
  started.add(pid)
  const kill = () => {
    killPid(pid)
    started.delete(pid)
  }
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

/** pid 1 of a new PID namespace, in a new mount namespace (`unshare -m -p -f`). */
export async function pidNamespaceTarget() {
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
      "3600",
    ],
    { stdio: "ignore" },
  )
  const outer = child.pid
  started.add(outer)
  let inner
  const kill = () => {
    if (inner !== undefined) killPid(inner)
    killPid(outer)
    started.delete(outer)
    started.delete(inner)
  }
  try {
    inner = await waitFor("the pid namespace's init", () => {
      const children = readFileSync(`/proc/${outer}/task/${outer}/children`, "utf8").trim()
      if (children === "") return undefined
      const pid = Number(children.split(" ")[0])
      return readlinkSync(`/proc/${pid}/ns/pid`) !== ours("pid") &&
        readlinkSync(`/proc/${pid}/exe`).endsWith("sleep")
        ? pid
        : undefined
    })
    started.add(inner)
  } catch (error) {
    kill()
    throw error
  }
  return { pid: inner, kill }
}
