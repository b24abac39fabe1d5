#!/usr/bin/env node
/**
 * list — `Mount.list()` on tables of 1,000 and 10,000 mounts, next to the kernel's own cost
 * and to findmnt, all measured in the same run and the same mount namespace.
 *
 *   node bench/list/list.mjs [--json] [--quick]      (as root; needs `npm run build:ts`)
 *
 * Readers, each timed from start to a complete result:
 *   linx      Effect.runPromise(list()) — read (threadpool) + parse into MountEntry objects
 *   kernel    fs.readFileSync("/proc/self/mountinfo"), no parse: the floor for any parser
 *   cat       `cat /proc/self/mountinfo` spawned, output collected (the kernel + a spawn)
 *   findmnt   `findmnt --raw` spawned, output collected (libmount)
 * and, while list() runs back to back, how late a 1 ms setInterval fires (max) and the
 * event-loop delay histogram (perf_hooks.monitorEventLoopDelay, p99 and max).
 *
 * The tables: a tmpfs of our own holding k small tmpfs mounts, then k-1 recursive binds of
 * their parent directory (each one mount plus k submounts): k² + k - 1 mounts in 2k mount(8)
 * calls, well under a second for 10,000. One lazy detach of our tmpfs removes them all.
 *
 * Alone, it re-executes itself under `unshare --mount --propagation private` and mounts its
 * own scratch tmpfs; under bench/run.mjs it uses the runner's namespace and
 * LINX_BENCH_SCRATCH. With --json it prints `{ records: [...] }` (the runner's shape) on
 * stdout; the table goes to stderr.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync } from "node:fs"
import { join } from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { ensurePrivateMountNamespace } from "../support/private-namespace.mjs"

const args = process.argv.slice(2)
const json = args.includes("--json")
const quick = args.includes("--quick")
const runs = quick ? 5 : 15
const warmup = quick ? 2 : 4

if (process.getuid?.() !== 0) {
  console.error("bench/list needs root: it mounts its tables in a private mount namespace.")
  process.exit(2)
}

// ---- a private mount namespace of our own, unless the runner made one -----------------------

ensurePrivateMountNamespace(import.meta.url, args)

const distList = new URL("../../dist/src/internal/list.js", import.meta.url)
const distEffect = new URL("../../node_modules/effect/dist/Effect.js", import.meta.url)
let list
let Effect
try {
  ;({ list } = await import(distList.href))
  Effect = await import(distEffect.href)
} catch (error) {
  console.error(
    `cannot load ${fileURLToPath(distList)} (run \`npm run build:ts\` first): ${error.message}`,
  )
  process.exit(2)
}

// ---- scratch ------------------------------------------------------------------------------

let ownScratch
const base =
  process.env.LINX_BENCH_SCRATCH ??
  (() => {
    ownScratch = mkdtempSync("/tmp/linx-bench-list-")
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "linx-bench", ownScratch])
    execFileSync("mount", ["--make-private", ownScratch])
    return ownScratch
  })()
mkdirSync(base, { recursive: true })

const sh = (script, cwd) =>
  execFileSync("sh", ["-ec", script], { cwd, stdio: ["ignore", "ignore", "inherit"] })

/** Builds k² + k - 1 mounts under `<base>/table-<k>` (itself a tmpfs); returns that path. */
const buildTable = (k) => {
  const dir = join(base, `table-${k}`)
  mkdirSync(dir)
  sh(
    `mount -t tmpfs -o size=1m linx-table "${dir}" && mount --make-private "${dir}"
     cd "${dir}" && mkdir t && cd t && for i in $(seq 1 ${k}); do mkdir $i; mount -t tmpfs -o size=4k b$i $i; done
     cd .. && for i in $(seq 2 ${k}); do mkdir c$i; mount --rbind t c$i; done`,
    dir,
  )
  return dir
}

/** One lazy detach takes a whole table (umount --recursive would walk 10,000 one by one). */
const dropTable = (dir) => {
  execFileSync("umount", ["--lazy", dir])
  rmdirSync(dir)
}

// ---- measuring ----------------------------------------------------------------------------

const summarize = (values) => {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return {
    runs: values,
    median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2,
    min: s[0],
    max: s.at(-1),
  }
}

const spawnCollect = (file, argv) =>
  new Promise((resolve, reject) => {
    execFile(file, argv, { maxBuffer: 1 << 30, encoding: "buffer" }, (error, stdout) =>
      error ? reject(error) : resolve(stdout.length),
    )
  })

const readers = {
  linx: async () => (await Effect.runPromise(list())).length,
  kernel: async () => readFileSync("/proc/self/mountinfo").length,
  cat: () => spawnCollect("cat", ["/proc/self/mountinfo"]),
  findmnt: () => spawnCollect("findmnt", ["--raw"]),
}

const time = async (fn) => {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

/** Every reader `runs` times, interleaved round by round so drift hits them all alike. */
const measureReaders = async () => {
  for (let i = 0; i < warmup; i++) for (const fn of Object.values(readers)) await fn()
  const times = Object.fromEntries(Object.keys(readers).map((k) => [k, []]))
  for (let r = 0; r < runs; r++) {
    for (const [name, fn] of Object.entries(readers)) times[name].push(await time(fn))
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summarize(v)]))
}

/** list() back to back for a while; how late a 1 ms timer fires, and the loop-delay histogram. */
const measureEventLoop = async (calls) => {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  let late = 0
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    late = Math.max(late, now - last - 1)
    last = now
  }, 1)
  histogram.enable()
  for (let i = 0; i < calls; i++) await Effect.runPromise(list())
  histogram.disable()
  clearInterval(timer)
  // The histogram counts from its resolution (1 ms); report the delay beyond it.
  const beyond = (ns) => Math.max(0, ns / 1e6 - 1)
  return { timerLateMax: late, p99: beyond(histogram.percentile(99)), max: beyond(histogram.max) }
}

// ---- run ----------------------------------------------------------------------------------

const records = []
const rows = []
const labels = {
  linx: "linx-mount Mount.list() (read + parse)",
  kernel: "kernel: fs.readFileSync, no parse (floor)",
  cat: "cat /proc/self/mountinfo (spawned)",
  findmnt: "findmnt --raw (spawned)",
}
try {
  for (const [nominal, k] of [
    [1000, 31],
    [10000, 100],
  ]) {
    const started = performance.now()
    const dir = buildTable(k)
    const buildMs = performance.now() - started
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean).length
    console.error(`table of ${mounts} mounts built in ${buildMs.toFixed(0)} ms; measuring…`)
    const figures = await measureReaders()
    const loop = await measureEventLoop(quick ? 10 : 30)
    dropTable(dir)
    for (const [reader, figure] of Object.entries(figures)) {
      records.push({
        case: `list/${nominal}`,
        key: `${reader}-${nominal}`,
        role: reader === "linx" ? "linx" : "baseline",
        label: `${labels[reader]}, ${nominal} mounts`,
        unit: "ms",
        better: "lower",
        mounts: nominal,
        actualMounts: mounts,
        ...figure,
      })
    }
    for (const [key, value] of Object.entries(loop)) {
      records.push({
        case: `list/${nominal}-eventloop`,
        key: `eventloop-${key}-${nominal}`,
        role: "linx",
        label: `event-loop ${key === "timerLateMax" ? "1 ms timer lateness, max" : `delay ${key}`} during list(), ${nominal} mounts`,
        unit: "ms",
        better: "lower",
        mounts: nominal,
        actualMounts: mounts,
        median: value,
        min: value,
        max: value,
      })
    }
    rows.push({ nominal, mounts, buildMs, figures, loop })
  }
} finally {
  if (ownScratch) {
    spawnSync("umount", ["--lazy", ownScratch])
    try {
      rmdirSync(ownScratch)
    } catch {}
  }
}

// ---- report -------------------------------------------------------------------------------

const f = (x) => x.toFixed(2).padStart(8)
const lines = []
for (const { mounts, buildMs, figures, loop } of rows) {
  lines.push(`\n${mounts} mounts (built in ${buildMs.toFixed(0)} ms), ${runs} runs, ms`)
  lines.push(
    `  ${"reader".padEnd(46)}${"median".padStart(8)}${"min".padStart(8)}${"max".padStart(8)}   ratio`,
  )
  for (const [reader, fig] of Object.entries(figures)) {
    // list() against the kernel floor; each baseline against list() (>1: list() is faster).
    const ratio =
      reader === "linx"
        ? `${(fig.median / figures.kernel.median).toFixed(2)}× the kernel floor`
        : `${(fig.median / figures.linx.median).toFixed(2)}× list()`
    lines.push(
      `  ${labels[reader].padEnd(46)}${f(fig.median)}${f(fig.min)}${f(fig.max)}   ${ratio}`,
    )
  }
  lines.push(
    `  event loop during list(): 1 ms timer late by ≤ ${loop.timerLateMax.toFixed(2)} ms; ` +
      `delay p99 ${loop.p99.toFixed(2)} ms, max ${loop.max.toFixed(2)} ms`,
  )
}
const report = `${lines.join("\n")}\n`
if (json) {
  process.stderr.write(report)
  process.stdout.write(`${JSON.stringify({ records })}\n`)
} else {
  process.stdout.write(report)
}
