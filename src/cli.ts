#!/usr/bin/env node
/**
 * The `linx-mount` command: `list` is findmnt(8), `mount`/`umount`/`remount`/… are
 * mount(8)/umount(8), `watch` prints mount events — in this mount namespace or any other.
 *
 * This file only dispatches: each command's module is imported when it is the one asked
 * for, so that `list`, `--help` and `--version` never load Effect or the worker pool (the
 * verbs need both). Arguments are read with their exact bytes (`/proc/self/cmdline`).
 *
 * @since 0.1.0
 */
import { commandArgs } from "./internal/cli/args.js"

const usage = `
Usage:
 linx-mount <command> [options]

Commands:
 list       the mount table, findmnt(8)'s way (tree, -o columns, -r, -J, -l, filters)
 watch      print each change to a mount table as it happens
 mount      mount(8): mount a filesystem, --bind, --rbind, --move, --make-*, -o remount
 umount     umount(8): unmount one or more targets (-R recursively, -l lazily)
 remount    change a mount's options, merged with its current ones as mount(8) does
 bind       a bind mount (-o ro really read-only; --source-in self from this namespace)
 move       move a mount (mount --move)
 setattr    set and clear mount attributes: mount_setattr(2) (also set-attributes)
 pivot-root pivot_root(2) in a mount namespace
 make-private, make-shared, make-slave, make-unbindable   propagation (-R recursive)

Every command but list takes --pid <pid> or --ns <path> (a mount-namespace file) to work
in another mount namespace; list takes -N/--pid <pid> and --ns <path>.

 -h, --help     display this help ('linx-mount <command> --help' for a command's)
 -V, --version  display version

Exit status: 0; 1 bad usage or nothing done (for list: nothing matched, as findmnt);
32 the kernel refused (mount(8)'s).
`

const verbs = new Set([
  "mount",
  "umount",
  "remount",
  "bind",
  "move",
  "setattr",
  "set-attributes",
  "pivot-root",
  "make-private",
  "make-shared",
  "make-slave",
  "make-unbindable",
  "make-rprivate",
  "make-rshared",
  "make-rslave",
  "make-runbindable",
])

const main = async (): Promise<number> => {
  const args = commandArgs()
  const [first, ...rest] = args
  const command = first?.text
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(usage)
    return 0
  }
  if (command === "--version" || command === "-V") {
    const { version } = await import("./internal/cli/version.js")
    process.stdout.write(`linx-mount ${version()}\n`)
    return 0
  }
  if (command === "list") {
    const { listCommand } = await import("./internal/cli/list.js")
    return listCommand(rest, process.stdout, process.stderr)
  }
  if (command === "watch") {
    const { watchCommand } = await import("./internal/cli/poll.js")
    return watchCommand(rest, process.stdout, process.stderr)
  }
  if (command !== undefined && verbs.has(command)) {
    const { verbCommand } = await import("./internal/cli/verbs.js")
    return verbCommand(command, rest, process.stdout, process.stderr)
  }
  process.stderr.write(
    command === undefined
      ? `linx-mount: no command given\nTry 'linx-mount --help' for more information.\n`
      : `linx-mount: unknown command '${command}'\nTry 'linx-mount --help' for more information.\n`,
  )
  return 1
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`linx-mount: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  },
)
