#!/usr/bin/env node
/**
 * list — `Mount.list()` (listmount + statmount) next to the mountinfo read of the same table,
 * the kernel's own costs and findmnt, on plain tables of 1,000 and 10,000 mounts and in a
 * slave namespace whose mounts share one big peer group; all in the same run.
 *
 *   node bench/list/list.mjs [--json] [--quick]      (as root; needs `npm run build`)
 *
 * Readers, each timed from start to a complete result:
 *   linx            Effect.runPromise(list()) — statmount on the threadpool, decoded in slices
 *   kernel          fs.readFileSync of the mountinfo file, no parse: the floor for any parser
 *   linx-mountinfo  list() made to read mountinfo instead (its fallback on older kernels)
 *   statmount       the addon's listmount + statmount loop alone, called synchronously, no
 *                   decode: the floor for the statmount reader
 *   cat, findmnt    `cat` of the mountinfo file, `findmnt --raw` (-N PID in the slave case),
 *                   spawned, output collected
 * and, while list() runs back to back, how late a 1 ms setInterval fires (max) and the
 * event-loop delay histogram (perf_hooks.monitorEventLoopDelay, p99 and max), for both routes.
 *
 * Plain tables: a tmpfs of our own holding k small tmpfs mounts, then k-1 recursive binds of
 * their parent directory (each one mount plus k submounts): k² + k - 1 mounts in 2k mount(8)
 * calls. Slave tables: a shared tmpfs, k binds of it and k-1 recursive binds of their parent
 * directory (k² + 1 peers of one group in ~2k calls); a process started with `unshare -m
 * --propagation slave` then holds a namespace where each of them is a slave of that group,
 * and its mountinfo computes every mount's propagate_from by walking the group's peers
 * (get_dominating_id: O(mounts × peers)), which statmount is never asked for. The slave
 * tables are read with { pid }. One lazy detach of our tmpfs removes a table.
 *
 * Alone, it re-executes itself under `unshare --mount --propagation private` and mounts its
 * own scratch tmpfs; under bench/run.mjs it uses the runner's namespace and
 * LINX_BENCH_SCRATCH. With --json it prints `{ records: [...] }` (the runner's shape) on
 * stdout; the table goes to stderr.
 */
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmdirSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { emitReport, quick } from "../support/harness.mjs"
import { ensurePrivateMountNamespace } from "../support/private-namespace.mjs"

const args = process.argv.slice(2)
const runs = quick ? 5 : 15
const warmup = quick ? 2 : 4

if (process.getuid?.() !== 0) {
  console.error("bench/list needs root: it mounts its tables in a private mount namespace.")
  process.exit(2)
}

// ---- a private mount namespace of our own, unless the runner made one -----------------------

ensurePrivateMountNamespace(import.meta.url, args)

const repo = new URL("../../", import.meta.url)
let list
let listWith
let Effect
let addon
try {
  ;({ list, listWith } = await import(new URL("dist/src/internal/list.js", repo).href))
  Effect = await import(new URL("node_modules/effect/dist/Effect.js", repo).href)
  const require = createRequire(import.meta.url)
  addon = require("node-gyp-build")(fileURLToPath(repo))
} catch (error) {
  console.error(
    `cannot load ${fileURLToPath(repo)}dist (run \`npm run build\` first): ${error.message}`,
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

/**
 * Builds one peer group of k² + 1 mounts under `<base>/slave-<k>`: a shared tmpfs `s`, k
 * binds of it in `p`, then k-1 recursive binds of `p` (each copy of a shared mount joins its
 * group). Everything else there is private, so nothing propagates while it is built.
 */
const buildPeerGroup = (k) => {
  const dir = join(base, `slave-${k}`)
  mkdirSync(dir)
  sh(
    `mount -t tmpfs -o size=1m linx-slave "${dir}" && mount --make-private "${dir}"
     cd "${dir}" && mkdir s p && mount -t tmpfs -o size=4k linx-peer s && mount --make-shared s
     cd p && for i in $(seq 1 ${k}); do mkdir $i; mount --bind ../s $i; done
     cd .. && for i in $(seq 2 ${k}); do mkdir c$i; mount --rbind p c$i; done`,
    dir,
  )
  return dir
}

/** A process in a new mount namespace where every mount is a slave (`unshare -m --propagation slave`). */
const startSlave = async () => {
  const ours = readlinkSync("/proc/self/ns/mnt")
  const child = spawn("unshare", ["--mount", "--propagation", "slave", "sleep", "3600"], {
    stdio: "ignore",
  })
  for (let i = 0; i < 500; i++) {
    try {
      if (
        readlinkSync(`/proc/${child.pid}/ns/mnt`) !== ours &&
        readlinkSync(`/proc/${child.pid}/exe`).endsWith("sleep")
      ) {
        return child
      }
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  child.kill("SIGKILL")
  throw new Error("the slave namespace's process did not start")
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

const maxBytes = 64 * 1024 * 1024
const listMounts = (nsPath) => {
  const result = addon.listMountsSync(nsPath, maxBytes, 1_000_000)
  if (!Buffer.isBuffer(result)) throw new Error(`listMountsSync: ${JSON.stringify(result)}`)
  return result.length
}

/** The readers of one table: this process's (pid undefined) or the process `pid`'s. */
const readersFor = (pid) => {
  const target = pid === undefined ? undefined : { pid }
  const file = pid === undefined ? "/proc/self/mountinfo" : `/proc/${pid}/mountinfo`
  return {
    // list() first and the kernel's read second: the goals (bench/support/goals.mjs) take the
    // first "linx" and the first "kernel" figure of a case.
    linx: async () => (await Effect.runPromise(list(target))).length,
    kernel: async () => readFileSync(file).length,
    "linx-mountinfo": async () =>
      (await Effect.runPromise(listWith(target, { via: "mountinfo" }))).length,
    statmount: async () => listMounts(pid === undefined ? null : `/proc/${pid}/ns/mnt`),
    cat: () => spawnCollect("cat", [file]),
    findmnt: () =>
      spawnCollect("findmnt", pid === undefined ? ["--raw"] : ["--raw", "-N", `${pid}`]),
  }
}

const time = async (fn) => {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

/** Every reader `n` times, interleaved round by round so drift hits them all alike. */
const measureReaders = async (readers, n, warm) => {
  for (let i = 0; i < warm; i++) for (const fn of Object.values(readers)) await fn()
  const times = Object.fromEntries(Object.keys(readers).map((k) => [k, []]))
  for (let r = 0; r < n; r++) {
    for (const [name, fn] of Object.entries(readers)) times[name].push(await time(fn))
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summarize(v)]))
}

/** `read` back to back for a while; how late a 1 ms timer fires, and the loop-delay histogram. */
const measureEventLoop = async (calls, read) => {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  let late = 0
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    late = Math.max(late, now - last - 1)
    last = now
  }, 1)
  histogram.enable()
  for (let i = 0; i < calls; i++) await read()
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
  linx: "linx-mount Mount.list() (listmount + statmount, decoded)",
  kernel: "kernel: fs.readFileSync of mountinfo, no parse (floor)",
  "linx-mountinfo": "linx-mount list() reading mountinfo instead",
  statmount: "listmount + statmount in the addon, no decode (floor)",
  cat: "cat of the mountinfo file (spawned)",
  findmnt: "findmnt --raw (spawned)",
}

const record = (c, key, role, label, nominal, mounts, figure) =>
  records.push({
    case: c,
    key,
    role,
    label,
    unit: "ms",
    better: "lower",
    mounts: nominal,
    actualMounts: mounts,
    ...figure,
  })

const loopLabel = (key) => (key === "timerLateMax" ? "1 ms timer lateness, max" : `delay ${key}`)

let slave
try {
  // Plain tables, read by this process.
  for (const [nominal, k] of [
    [1000, 31],
    [10000, 100],
  ]) {
    const started = performance.now()
    const dir = buildTable(k)
    const buildMs = performance.now() - started
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean).length
    console.error(`table of ${mounts} mounts built in ${buildMs.toFixed(0)} ms; measuring…`)
    const figures = await measureReaders(readersFor(undefined), runs, warmup)
    const calls = quick ? 10 : 30
    const loop = await measureEventLoop(calls, () => Effect.runPromise(list()))
    const loopMountinfo = await measureEventLoop(calls, () =>
      Effect.runPromise(listWith(undefined, { via: "mountinfo" })),
    )
    dropTable(dir)
    for (const [reader, figure] of Object.entries(figures)) {
      const role = reader.startsWith("linx") ? "linx" : "baseline"
      record(
        `list/${nominal}`,
        `${reader}-${nominal}`,
        role,
        `${labels[reader]}, ${nominal} mounts`,
        nominal,
        mounts,
        figure,
      )
    }
    for (const [route, figures] of [
      ["", loop],
      ["-mountinfo", loopMountinfo],
    ]) {
      for (const [key, value] of Object.entries(figures)) {
        record(
          `list/${nominal}-eventloop`,
          `eventloop-${key}-${nominal}${route}`,
          "linx",
          `event-loop ${loopLabel(key)} during list()${route ? " reading mountinfo" : ""}, ${nominal} mounts`,
          nominal,
          mounts,
          { median: value, min: value, max: value },
        )
      }
    }
    rows.push({
      title: `${mounts} mounts`,
      buildMs,
      figures,
      loops: { statmount: loop, mountinfo: loopMountinfo },
      n: runs,
    })
  }

  // Slave namespaces whose mounts share one big peer group, read with { pid }. Each of the
  // four mountinfo readers takes ~2 s a read at 10,000 peers: a smoke run (--quick) stops at
  // 1,000.
  const slaveTables = [
    [1000, 32],
    [10000, 100],
  ]
  for (const [nominal, k] of quick ? slaveTables.slice(0, 1) : slaveTables) {
    const started = performance.now()
    const dir = buildPeerGroup(k)
    slave = await startSlave()
    const buildMs = performance.now() - started
    const pid = slave.pid
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n").filter(Boolean).length
    const slaves = readFileSync(`/proc/${pid}/mountinfo`, "utf8").split(" master:").length - 1
    console.error(
      `slave namespace of ${mounts} mounts (${slaves} slaves of a group of ${k * k + 1}) built in ${buildMs.toFixed(0)} ms; measuring…`,
    )
    // The mountinfo readers cost O(mounts × peers) here (~2 s a read at 10,000, and the
    // ratio to list() is ~100×): three runs there keep the full bench near 4 minutes.
    const n = nominal >= 10000 ? Math.min(runs, 3) : runs
    const figures = await measureReaders(readersFor(pid), n, 1)
    slave.kill("SIGKILL")
    slave = undefined
    dropTable(dir)
    for (const [reader, figure] of Object.entries(figures)) {
      const role = reader.startsWith("linx") ? "linx" : "baseline"
      record(
        `list/slave-${nominal}`,
        `${reader}-slave-${nominal}`,
        role,
        `${labels[reader]}, slave namespace, ${nominal} peers`,
        nominal,
        mounts,
        figure,
      )
    }
    rows.push({
      title: `slave namespace: ${mounts} mounts, ${slaves} slaves of one group of ${k * k + 1} peers`,
      buildMs,
      figures,
      n,
    })
  }
} finally {
  if (slave) slave.kill("SIGKILL")
  if (ownScratch) {
    spawnSync("umount", ["--recursive", "--lazy", ownScratch])
    try {
      rmdirSync(ownScratch)
    } catch {}
  }
}

// ---- report -------------------------------------------------------------------------------

const f = (x) => x.toFixed(2).padStart(8)
const lines = []
for (const { title, buildMs, figures, loops, n } of rows) {
  lines.push(`\n${title} (built in ${buildMs.toFixed(0)} ms), ${n} runs, ms`)
  lines.push(
    `  ${"reader".padEnd(58)}${"median".padStart(8)}${"min".padStart(8)}${"max".padStart(8)}   ratio`,
  )
  for (const [reader, fig] of Object.entries(figures)) {
    // Each reader against the kernel's read of mountinfo, and against list().
    const ratio =
      reader === "linx"
        ? `${(fig.median / figures.kernel.median).toFixed(2)}× the mountinfo read`
        : `${(fig.median / figures.linx.median).toFixed(2)}× list()`
    lines.push(
      `  ${labels[reader].padEnd(58)}${f(fig.median)}${f(fig.min)}${f(fig.max)}   ${ratio}`,
    )
  }
  if (loops) {
    for (const [route, loop] of Object.entries(loops)) {
      lines.push(
        `  event loop during list() (${route}): 1 ms timer late by ≤ ${loop.timerLateMax.toFixed(2)} ms; ` +
          `delay p99 ${loop.p99.toFixed(2)} ms, max ${loop.max.toFixed(2)} ms`,
      )
    }
  }
}
emitReport(lines, records)
