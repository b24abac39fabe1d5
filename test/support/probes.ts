/**
 * What the reliability tests measure about this process, from /proc rather than from the
 * code's own belief: open descriptors, threads, children and zombies, the descriptors a
 * child inherited, and the part of the mount table a test may compare before and after.
 */
import { spawn } from "node:child_process"
import { readdirSync, readFileSync, readlinkSync } from "node:fs"
import type { MountEntry } from "linx-mount"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The pids of this process's children (of every thread), from /proc/self/task/<tid>/children. */
export function children(): Array<number> {
  const pids = new Set<number>()
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const text = readFileSync(`/proc/self/task/${tid}/children`, "utf8").trim()
      for (const pid of text.split(" ")) if (pid !== "") pids.add(Number(pid))
    } catch {
      // the thread ended meanwhile
    }
  }
  return [...pids].sort((a, b) => a - b)
}

/** The state letter of a process (`Z` for a zombie), or undefined once it is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
  } catch {
    return undefined
  }
}

/** This process's children that are zombies. */
export const zombies = (): Array<number> => children().filter((pid) => processState(pid) === "Z")

export interface Resources {
  readonly fds: number
  readonly threads: number
  readonly children: ReadonlyArray<number>
  readonly zombies: ReadonlyArray<number>
}

/** Open descriptors, threads, children and zombie children of this process, right now. */
export function resources(): Resources {
  return {
    fds: readdirSync("/proc/self/fd").length,
    threads: readdirSync("/proc/self/task").length,
    children: children(),
    zombies: zombies(),
  }
}

/**
 * Waits (up to `ms`) until fds and threads are back to `baseline` and no child is a zombie,
 * and returns the last reading: worker threads and their native threads end asynchronously
 * after a pool is destroyed.
 */
export async function settledResources(baseline: Resources, ms = 10_000): Promise<Resources> {
  const deadline = Date.now() + ms
  let now = resources()
  while (Date.now() < deadline) {
    if (now.fds <= baseline.fds && now.threads <= baseline.threads && now.zombies.length === 0)
      return now
    await sleep(50)
    now = resources()
  }
  return now
}

/** Where each open descriptor of `pid` points (`readlink /proc/<pid>/fd/<n>`). */
export function fdLinks(pid: number | "self"): Map<number, string> {
  const links = new Map<number, string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      links.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`))
    } catch {
      // closed meanwhile
    }
  }
  return links
}

/** A descriptor link that is a namespace file or a /proc directory (an O_PATH pin). */
export const isNamespaceOrProcLink = (link: string): boolean =>
  /^(mnt|pid|net|user|uts|ipc|cgroup|time|pid_for_children|time_for_children):\[\d+\]$/.test(
    link,
  ) || link.startsWith("/proc/")

/**
 * The part of a mount table one test file may compare before and after: everything but
 * the scratch tmpfs of other test files, which run concurrently in the same private mount
 * namespace (test/run.mjs) and mount under /tmp/linx-*. Our own scratch (`base`) is kept.
 */
export function comparable(entries: ReadonlyArray<MountEntry>, base: string): Array<unknown> {
  return entries
    .filter(
      (e) =>
        !e.mountPoint.startsWith("/tmp/") ||
        e.mountPoint === base ||
        e.mountPoint.startsWith(`${base}/`),
    )
    .map((e) => e.toJSON())
}

/** A pid that is certainly free: a child that has exited and been reaped. */
export async function deadPid(): Promise<number> {
  const child = spawn("true", { stdio: "ignore" })
  const pid = child.pid!
  await new Promise((resolve) => child.once("exit", resolve))
  while (processState(pid) !== undefined) await sleep(5)
  return pid
}
