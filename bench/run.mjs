#!/usr/bin/env node
/**
 * `npm run bench`: runs every case file under bench/<scope>/*.mjs, prints one table with each
 * linx-mount figure next to its baselines from the same run, checks the targets of issues 11
 * and 14 (and 13 item 6, CLI start-up, when bench/cli/ has its case),
 * and writes bench/results.json (and bench/results.md, the table as Markdown).
 *
 *   node bench/run.mjs [--quick] [--only pairs,proc/mounts,...] [--strict] [--list-cases]
 *
 *   --quick   a smoke run (fewer, shorter runs; 10,000 instead of 100,000 ops): proves the
 *             harness and the whole stack work, in well under a minute
 *   --only    run these scopes or cases only; results go to results.partial.{json,md}
 *             (and a --quick run to results.quick.{json,md}): only a full run replaces
 *             results.json and results.md
 *   --strict  exit 1 when a target is not met (otherwise only a failing case does)
 *
 * Everything runs as root inside a private mount namespace of its own (the runner re-execs
 * itself under `unshare --mount --propagation private`), on a scratch tmpfs it mounts itself:
 * whatever a case mounts disappears with the run. Each case file runs in a process of its own
 * (`node <file> --json [--quick]`), so pools, heaps and event loops never leak between cases;
 * it gets a directory of its own on the tmpfs in LINX_BENCH_SCRATCH.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { availableParallelism, cpus, loadavg } from "node:os"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { adaptList } from "./support/adapt-list.mjs"
import { checkGoals } from "./support/goals.mjs"
import { ensurePrivateMountNamespace } from "./support/private-namespace.mjs"
import { renderMarkdown, renderTable } from "./support/table.mjs"

const benchDir = fileURLToPath(new URL(".", import.meta.url))
const repoDir = join(benchDir, "..")
const args = process.argv.slice(2)
const quick = args.includes("--quick")
const onlyArg = args.indexOf("--only")
const only = onlyArg >= 0 ? (args[onlyArg + 1] ?? "").split(",").filter(Boolean) : []
// Folders under bench/ that are not scopes.
const notScopes = new Set(["support", "c", "bin", "node_modules"])
// Scopes run in this order (cheap and independent first); any other folder runs after.
const order = [
  "pairs",
  "batch",
  "proc",
  "scaling",
  "eventloop",
  "resources",
  "breakdown",
  "cli",
  "list",
]
const fileOrder = ["same-ns.mjs", "cross-ns.mjs"]

// ---- into a private mount namespace ----------------------------------------------------

if (process.getuid?.() !== 0) {
  console.error(
    "npm run bench must run as root: it mounts (inside a private mount namespace of its own).",
  )
  process.exit(1)
}
ensurePrivateMountNamespace(import.meta.url, args)

// ---- cases -------------------------------------------------------------------------------

const scopes = readdirSync(benchDir, { withFileTypes: true })
  .filter(
    (d) =>
      d.isDirectory() &&
      !notScopes.has(d.name) &&
      !d.name.startsWith(".") &&
      !d.name.startsWith("_"),
  )
  .map((d) => d.name)
  .sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || a.localeCompare(b))
const files = scopes.flatMap((scope) =>
  readdirSync(join(benchDir, scope))
    .filter((f) => f.endsWith(".mjs"))
    .sort(
      (a, b) =>
        (fileOrder.indexOf(a) + 1 || 99) - (fileOrder.indexOf(b) + 1 || 99) || a.localeCompare(b),
    )
    .map((f) => ({ scope, name: `${scope}/${f.slice(0, -4)}`, path: join(benchDir, scope, f) })),
)
const selected = only.length
  ? files.filter((f) =>
      only.some((o) => f.name === o || f.scope === o || f.name.startsWith(`${o}/`)),
    )
  : files
if (args.includes("--list-cases")) {
  for (const f of files) console.log(f.name)
  process.exit(0)
}
if (selected.length === 0) {
  console.error(
    `no case matches --only ${only.join(",")}; cases: ${files.map((f) => f.name).join(" ")}`,
  )
  process.exit(1)
}

// ---- the C baseline ------------------------------------------------------------------

const cSource = join(benchDir, "c", "mountbench.c")
const cBinary = join(benchDir, "bin", "mountbench")
if (!existsSync(cBinary) || statSync(cBinary).mtimeMs < statSync(cSource).mtimeMs) {
  mkdirSync(join(benchDir, "bin"), { recursive: true })
  const cc = process.env.CC ?? "cc"
  console.error(`building ${relative(repoDir, cBinary)} with ${cc}`)
  execFileSync(cc, ["-O2", "-Wall", "-pthread", "-o", cBinary, cSource], { stdio: "inherit" })
}

// ---- scratch tmpfs --------------------------------------------------------------------------

const scratch = mkdtempSync("/tmp/linx-bench-")
execFileSync("mount", ["-t", "tmpfs", "-o", "size=256m,mode=755", "linx-bench", scratch])
execFileSync("mount", ["--make-private", scratch])
let cleaned = false
const cleanup = () => {
  if (cleaned) return
  cleaned = true
  // One recursive lazy detach of our own tmpfs, then the empty directory it hid.
  spawnSync("umount", ["--recursive", "--lazy", scratch])
  try {
    rmdirSync(scratch)
  } catch {
    // left for the next boot's /tmp cleaning
  }
}
let running // the case process in flight, killed by pid if we are interrupted
process.on("exit", () => {
  if (running?.pid) {
    try {
      process.kill(running.pid, "SIGKILL")
    } catch {}
  }
  cleanup()
})
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130))

// ---- run --------------------------------------------------------------------------------

const gitCommit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: repoDir,
      encoding: "utf8",
    }).trim()
  } catch {
    return undefined
  }
})()
const meta = {
  date: new Date().toISOString(),
  quick,
  commit: gitCommit,
  node: process.version,
  kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
  cpus: availableParallelism(),
  cpuModel: cpus()[0]?.model,
  transparentHugepages: (() => {
    try {
      return /\[(\w+)\]/.exec(
        readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8"),
      )?.[1]
    } catch {
      return undefined
    }
  })(),
  loadavgBefore: loadavg(),
}

const timeoutMs = quick ? 120_000 : 900_000

const runCase = (file) =>
  new Promise((resolve) => {
    const dir = join(scratch, file.name.replaceAll("/", "-"))
    mkdirSync(dir, { recursive: true })
    const started = performance.now()
    const loadBefore = loadavg()[0]
    const child = spawn(process.execPath, [file.path, "--json", ...(quick ? ["--quick"] : [])], {
      cwd: repoDir,
      env: { ...process.env, LINX_BENCH_SCRATCH: dir },
      stdio: ["ignore", "pipe", "inherit"],
    })
    running = child
    let stdout = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk) => {
      stdout += chunk
    })
    const timer = setTimeout(() => {
      console.error(
        `${file.name}: still running after ${timeoutMs / 1000} s, killing pid ${child.pid}`,
      )
      child.kill("SIGKILL")
    }, timeoutMs)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      running = undefined
      const seconds = (performance.now() - started) / 1000
      let parsed
      // The last line that parses as JSON is the case's report.
      for (const line of stdout.trim().split("\n").reverse()) {
        try {
          parsed = JSON.parse(line)
          break
        } catch {}
      }
      if (parsed === undefined) {
        try {
          parsed = JSON.parse(stdout)
        } catch {}
      }
      const records = normalize(file, parsed)
      const error =
        code !== 0 || signal
          ? `exited with ${signal ?? `code ${code}`}`
          : records.length === 0
            ? "reported no figures"
            : undefined
      if (error) console.error(`${file.name}: ${error}`)
      // The 1-minute load average at its start and end: other work on the machine moves
      // every figure, and a reader should see when it did.
      const load = [loadBefore, loadavg()[0]]
      resolve({ name: file.name, seconds, load, error, records })
    })
  })

/** A case's JSON as records: ours are `{ records }`; anything else goes through adapters. */
function normalize(file, parsed) {
  if (parsed === undefined || parsed === null) return []
  if (Array.isArray(parsed.records)) return parsed.records.map((r) => ({ source: file.name, ...r }))
  if (file.scope === "list") return adaptList(file, parsed)
  return []
}

console.error(
  `linx-mount bench${quick ? " (quick)" : ""}: ${selected.length} case file(s), scratch tmpfs ${scratch}, ` +
    `${meta.cpus} CPUs, load ${meta.loadavgBefore.map((x) => x.toFixed(2)).join(" ")}`,
)
const startedAt = performance.now()
const cases = []
for (const file of selected) {
  console.error(`\n▶ ${file.name} (load ${loadavg()[0].toFixed(2)})`)
  cases.push(await runCase(file))
}
meta.seconds = (performance.now() - startedAt) / 1000
meta.loadavgAfter = loadavg()
cleanup()

const records = cases.flatMap((c) => c.records)
const goals = checkGoals(records)
const table = renderTable(records, goals, meta, cases)
console.log(`\n${table}`)
const failed = cases.filter((c) => c.error)
if (failed.length)
  console.log(`\ncases that failed: ${failed.map((c) => `${c.name} (${c.error})`).join(", ")}`)

const partial = only.length > 0
const out = {
  meta: { ...meta, only: partial ? only : undefined },
  cases: cases.map(({ name, seconds, load, error }) => ({ name, seconds, load, error })),
  goals,
  records,
}
// Only a full run of every case replaces results.json/.md; a quick or partial one writes
// results.quick.* or results.partial.* (gitignored) beside them.
const suffix = partial ? ".partial" : quick ? ".quick" : ""
const resultsJson = join(benchDir, `results${suffix}.json`)
writeFileSync(resultsJson, `${JSON.stringify(out, null, 2)}\n`)
writeFileSync(join(benchDir, `results${suffix}.md`), renderMarkdown(records, goals, meta, cases))
console.log(`\nwrote ${relative(repoDir, resultsJson)} (${meta.seconds.toFixed(0)} s)`)
const unmet = goals.filter((g) => g.status === "not met")
process.exitCode = failed.length || (args.includes("--strict") && unmet.length) ? 1 : 0
