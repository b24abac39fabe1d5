/**
 * The container's root filesystem, built in a plain temporary directory from this host's own
 * programs: each one is copied to /bin together with the shared libraries `ldd` names for it,
 * at the paths the dynamic loader looks for them. Nothing is downloaded and nothing is
 * mounted here: the directory becomes a mount only inside the container's namespace.
 */
import { execFileSync } from "node:child_process"
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"

/** The programs the workload uses. `sh` runs it; the others are what it shows us. */
export const programs = ["sh", "ls", "cat", "ps", "touch", "hostname", "mkdir", "sleep"] as const

/** Directories that exist empty in the rootfs, to be mounted on from outside. */
export const mountPoints = ["proc", "dev", "tmp", "volume", "mnt/hot", "old_root"] as const

export interface Rootfs {
  readonly path: string
  /** Written to /LINX-ROOTFS: the container reads it back to prove its / is this directory. */
  readonly marker: string
  readonly programs: number
  readonly libraries: number
}

/** The absolute path of `program` on this host's PATH. */
const which = (program: string): string =>
  execFileSync("sh", ["-c", 'command -v "$1"', "sh", program], { encoding: "utf8" }).trim()

/** The absolute paths of the shared objects `ldd` resolves for `binary` (none if static). */
const libraries = (binary: string): ReadonlyArray<string> => {
  let text: string
  try {
    text = execFileSync("ldd", [binary], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
  } catch {
    return [] // "not a dynamic executable"
  }
  // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)";
  // linux-vdso has no file and is skipped.
  return text
    .split("\n")
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined)
}

/** Copies `from` to `root` + `to`, following symlinks, so the rootfs holds real files. */
const copyInto = (root: string, from: string, to: string): void => {
  const destination = join(root, to)
  mkdirSync(dirname(destination), { recursive: true })
  copyFileSync(from, destination)
  chmodSync(destination, 0o755)
}

/** The workload the container runs as its pid 1 once released (its comments say how it talks). */
const workload = `#!/bin/sh
# The container's workload. It runs as pid 1 of its own PID namespace, inside the new root.
# "@@ name" starts a section of output; "@@wait name" is a checkpoint: the parent does
# something, then writes a line to our stdin. If the parent is gone, stdin ends: we stop.
exec 2>&1
section() { echo "@@ $1"; }
checkpoint() { echo "@@wait $1"; read -r _go || exit 1; }
# A listing with numeric owners, then a write: "accepted" or "refused" on the last line.
probe() {
  section "listing $1"; ls -ln "$1"
  section "write $1"
  if touch "$1/written-by-the-container"; then echo "accepted"; else echo "refused"; fi
}

hostname linx-demo
section hostname; hostname
section ps; ps -o pid,ppid,args -e
section mounts; cat /proc/self/mounts
section ls; ls -1 /
section marker; cat /LINX-ROOTFS
section old_root; if [ -e /old_root ]; then echo present; else echo absent; fi
probe /volume
# Every mount below /volume (the volume's submounts, brought along by "rec").
while read -r _source target _rest; do
  case "$target" in /volume/*) probe "$target" ;; esac
done < /proc/self/mounts

checkpoint hot-mount
section hot; ls -1 /mnt/hot
section hot-read; cat /mnt/hot/*
section hot-mounts; cat /proc/self/mounts

checkpoint hot-unmount
section hot-after; ls -1 /mnt/hot
echo "@@done"
`

/** Builds the rootfs in a new directory under the system's temporary directory. */
export const build = (): Rootfs => {
  const path = mkdtempSync(join(tmpdir(), "linx-rootfs-"))
  try {
    const shared = new Set<string>()
    for (const program of programs) {
      const binary = which(program)
      copyInto(path, binary, join("bin", basename(program)))
      for (const library of libraries(binary)) shared.add(library)
    }
    // At the same absolute path: that is where the loader (itself one of them) looks.
    for (const library of shared) copyInto(path, library, library)
    for (const point of mountPoints) mkdirSync(join(path, point), { recursive: true })
    mkdirSync(join(path, "etc"))
    writeFileSync(join(path, "etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")
    writeFileSync(join(path, "etc/group"), "root:x:0:\n")
    const marker = `linx-rootfs ${basename(path)}`
    writeFileSync(join(path, "LINX-ROOTFS"), `${marker}\n`)
    writeFileSync(join(path, "init"), workload, { mode: 0o755 })
    return { path, marker, programs: programs.length, libraries: shared.size }
  } catch (error) {
    remove(path)
    throw error
  }
}

/**
 * Removes a directory this example created. Only ever called once nothing is mounted below
 * it in any namespace of ours (the container is gone), and never crossing into a mount.
 */
export const remove = (path: string): void => {
  rmSync(path, { recursive: true, force: true })
}

/** A host directory with a file in it, standing in for a directory a user would bring. */
export const hostDirectory = (prefix: string, file: string, text: string): string => {
  const path = mkdtempSync(join(tmpdir(), prefix))
  writeFileSync(join(path, file), text)
  return path
}

/** Who owns the example's volume on the host (its files, and the submount's). */
export const volumeOwner = 1000

export interface Volume {
  /** The host directory bound at /volume. */
  readonly path: string
  /**
   * The directory mounted on `path/nested` in the container's namespace (never in ours), so
   * that the volume has a submount for `rec` to bring along.
   */
  readonly nested: string
}

/**
 * The example's own volume: a directory with a file owned by {@link volumeOwner}, and an
 * empty `nested` directory on which a second host directory (with a file of its own, same
 * owner) is bound, in the container's namespace only, to give the volume a submount.
 */
export const volume = (): Volume => {
  const path = mkdtempSync(join(tmpdir(), "linx-volume-"))
  let nested: string | undefined
  try {
    nested = mkdtempSync(join(tmpdir(), "linx-nested-"))
    const own = (file: string) => chownSync(file, volumeOwner, volumeOwner)
    writeFileSync(join(path, "hello.txt"), "hello from the host's volume\n")
    own(join(path, "hello.txt"))
    mkdirSync(join(path, "nested"), { mode: 0o755 })
    own(join(path, "nested"))
    writeFileSync(join(nested, "notes.txt"), "a submount of the volume\n")
    own(join(nested, "notes.txt"))
    chmodSync(nested, 0o755)
    own(nested)
    return { path, nested }
  } catch (error) {
    remove(path)
    if (nested !== undefined) remove(nested)
    throw error
  }
}
