/**
 * Builds the files `hostileCases` aims at on a fresh scratch tmpfs: a plain directory, a
 * regular file, a FIFO, a listening Unix socket, a symlink to a namespace of the wrong
 * type, an unbindable mount, and a live process in a mount namespace of its own.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:net"
import type { Fixtures } from "./hostile.js"
import { removeScratch, scratchTmpfs } from "./privileged.js"
import { mountNamespaceTarget, type Target } from "./targets.js"

export interface HostileSetup {
  readonly fixtures: Fixtures
  readonly dispose: () => Promise<void>
}

export async function hostileSetup(prefix: string): Promise<HostileSetup> {
  const base = scratchTmpfs(prefix)
  const dir = `${base}/dir`
  mkdirSync(`${dir}/old`, { recursive: true })
  const file = `${base}/file`
  writeFileSync(file, "not a namespace\n")
  const fifo = `${base}/fifo`
  execFileSync("mkfifo", [fifo])
  const socket = `${base}/socket`
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(socket, resolve))
  const netLink = `${base}/net-link`
  symlinkSync("/proc/self/ns/net", netLink)
  const unbindable = `${base}/unbindable`
  mkdirSync(unbindable)
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "linx-unbindable", unbindable])
  execFileSync("mount", ["--make-unbindable", unbindable])
  const target: Target = await mountNamespaceTarget()
  const pidMax = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8"))
  return {
    fixtures: {
      base,
      dir,
      file,
      fifo,
      socket,
      netLink,
      missing: `${base}/missing`,
      livePid: target.pid,
      noSuchPid: Math.min(pidMax + 1, 4_194_304),
      unbindable,
    },
    dispose: async () => {
      target.kill()
      await new Promise((resolve) => server.close(resolve))
      removeScratch(base)
    },
  }
}
