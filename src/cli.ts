#!/usr/bin/env node
/**
 * The `linx-mount` command: `list` (findmnt-like) and the mutating verbs (mount(8)-like).
 *
 * @since 0.1.0
 */
import { listCommand } from "./internal/cli/list.js"
import { isVerb, verbCommand, verbUsage } from "./internal/cli/verbs.js"

const usage = `Usage: linx-mount <command> [options]

  linx-mount list [--pid N | --file PATH] [--json] [--tree] [filters]   the mount table (see list --help)
${verbUsage}
`

const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [command, ...rest] = argv
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(usage)
    return command === undefined ? 1 : 0
  }
  if (command === "list") return listCommand(rest, process.stdout, process.stderr)
  if (isVerb(command)) return verbCommand(command, rest, process.stderr)
  process.stderr.write(`linx-mount: unknown command ${JSON.stringify(command)}\n\n${usage}`)
  return 1
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`linx-mount: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  },
)
