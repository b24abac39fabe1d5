#!/usr/bin/env node
/**
 * cli/startup — how long the `linx-mount` command takes from exec to exit, next to a bare
 * `node -e 0` and `findmnt`, all in the same run: the target is `list`, `--help`
 * and `--version` within 2× of `node -e 0` (they load neither Effect nor the pool).
 *
 *   node bench/cli/startup.mjs [--json] [--quick]      (needs `npm run build`)
 *
 * Each command is spawned (stdout to a pipe, as `linx-mount list | …` would have it) and
 * timed from spawn to exit; the commands take turns, one run each per round, so that a
 * noisy neighbour on the machine slows them all alike. Medians, min and max of the rounds.
 * `list` and `findmnt` print this process's mount table (it mounts nothing: no namespace of
 * its own is needed).
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { emitReport, median, quick } from "../support/harness.mjs"

const cli = fileURLToPath(new URL("../../dist/src/cli.js", import.meta.url))
if (!existsSync(cli)) {
  console.error(`cannot find ${cli}: run \`npm run build\` first`)
  process.exit(2)
}
const node = process.execPath
const rounds = quick ? 10 : 40
const warmup = quick ? 2 : 5

const commands = [
  { key: "linx-list", role: "linx", label: "linx-mount list", argv: [node, cli, "list"] },
  {
    key: "linx-version",
    role: "linx",
    label: "linx-mount --version",
    argv: [node, cli, "--version"],
  },
  { key: "linx-help", role: "linx", label: "linx-mount --help", argv: [node, cli, "--help"] },
  {
    key: "linx-list-json",
    role: "linx",
    label: "linx-mount list -J",
    argv: [node, cli, "list", "-J"],
  },
  {
    key: "linx-mount-help",
    role: "linx",
    label: "linx-mount mount --help",
    argv: [node, cli, "mount", "--help"],
  },
  { key: "node", role: "baseline", label: "node -e 0", argv: [node, "-e", "0"] },
  { key: "findmnt", role: "baseline", label: "findmnt", argv: ["findmnt"] },
]

const time = (argv) => {
  const started = process.hrtime.bigint()
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited with ${r.status}: ${r.stderr}`)
  return ms
}

for (let i = 0; i < warmup; i++) for (const c of commands) time(c.argv)
const samples = new Map(commands.map((c) => [c.key, []]))
for (let i = 0; i < rounds; i++) for (const c of commands) samples.get(c.key).push(time(c.argv))

const records = commands.map((c) => {
  const xs = samples.get(c.key)
  return {
    case: "cli/startup",
    key: c.key,
    role: c.role,
    label: c.label,
    unit: "ms",
    better: "lower",
    median: median(xs),
    min: Math.min(...xs),
    max: Math.max(...xs),
    runs: xs.length,
  }
})
const byKey = Object.fromEntries(records.map((r) => [r.key, r]))
const bare = byKey.node.median
const lines = [`\nCLI start-up, ${rounds} rounds, ms (median [min – max])`]
for (const r of records) {
  const ratio = r.key === "node" ? "" : `  ${(r.median / bare).toFixed(2)}× node -e 0`
  lines.push(
    `  ${r.label.padEnd(26)}${r.median.toFixed(1).padStart(8)}  [${r.min.toFixed(1)} – ${r.max.toFixed(1)}]${ratio}`,
  )
}
for (const key of ["linx-list", "linx-help", "linx-version"]) {
  const ratio = byKey[key].median / bare
  lines.push(
    `  target ${byKey[key].label}: ≤ 2× node -e 0 → ${ratio.toFixed(2)}× ${ratio <= 2 ? "met" : "NOT MET"}`,
  )
}
emitReport(lines, records)
