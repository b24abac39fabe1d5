/**
 * A FUSE filesystem that never answers: the test process opens /dev/fuse and mount(8) mounts
 * a fuse filesystem on that descriptor inside a target's namespace, and nobody ever reads
 * the device. Every lookup below the mount point then waits in the kernel for the daemon's
 * INIT reply — the shape of a hostile container's hung filesystem. `release()` closes the
 * device, which aborts the connection: every waiting syscall returns (ENOTCONN), and the
 * threads stuck in them come back.
 */
import { spawnSync } from "node:child_process"
import { closeSync, openSync } from "node:fs"

export interface HangingFuse {
  /** The mount point, inside the target's namespace. */
  readonly mountPoint: string
  /** Aborts the connection: the hung syscalls return. Idempotent. */
  readonly release: () => void
}

/** Mounts a FUSE filesystem that never answers on `mountPoint` inside `pid`'s namespace. */
export function hangingFuse(pid: number, mountPoint: string): HangingFuse {
  const device = openSync("/dev/fuse", "r+")
  const result = spawnSync(
    "nsenter",
    [
      "-t",
      String(pid),
      "-m",
      "mount",
      "-t",
      "fuse",
      "-o",
      "fd=3,rootmode=40000,user_id=0,group_id=0,allow_other",
      "linx-hang",
      mountPoint,
    ],
    { stdio: ["ignore", "ignore", "pipe", device], encoding: "utf8" },
  )
  if (result.status !== 0) {
    closeSync(device)
    throw new Error(`mounting the hanging FUSE filesystem failed: ${result.stderr}`)
  }
  let open = true
  return {
    mountPoint,
    release: () => {
      if (open) closeSync(device)
      open = false
    },
  }
}
